import logging
import threading
import time
import unittest

from support import WorkerCase

from connecthub_worker import Cancelled, Client, FatalError, Worker, handler
from connecthub_worker.tasks import parse_duration


class DecoratorHandlers(WorkerCase):
    def test_register_publishes_handlers_with_schemas(self):
        schema = {"type": "object", "required": ["since"]}
        handler("acme.invoices", description="Sync invoices", config_schema=schema,
                secret_keys=["api_key"], registry=self.registry)(lambda task: "ok")
        self.start_worker(labels={"zone": "a"})
        node = self.fake.nodes["py-1"]
        self.assertEqual(node["handlers"], [{"name": "acme.invoices", "description": "Sync invoices",
                                             "config_schema": schema, "secret_keys": ["api_key"]}])
        self.assertEqual(node["labels"], {"zone": "a", "lang": "python"})
        self.assertEqual(node["max_concurrency"], 4)

    def test_return_values(self):
        @handler("h", registry=self.registry)
        def h(task):
            return task.config["value"]
        self.start_worker()
        cases = [
            ("str", "synced 3", {"status": "SUCCESS", "message": "synced 3"}),
            ("dict", {"n": 1}, {"status": "SUCCESS", "message": "", "result": {"n": 1}}),
            ("list", [1, "a"], {"status": "SUCCESS", "message": "", "result": [1, "a"]}),
            ("none", None, {"status": "SUCCESS", "message": ""}),
            ("tuple", ["m", {"k": True}], {"status": "SUCCESS", "message": "m", "result": {"k": True}}),
        ]
        for run_id, value, want in cases:
            with self.subTest(run_id):
                if run_id == "tuple":
                    self.registry.get("h").fn = lambda task: tuple(task.config["value"])
                self.fake.queue(run_id, "h", public_cfg={"value": value})
                got = self.fake.wait_complete(run_id)
                self.assertEqual({k: got[k] for k in want}, want)
                self.assertEqual((got["name"], got["attempt"]), ("py-1", 1))
                self.assertNotIn("result", set(got) - set(want))

    def test_upstream_of_a_chained_run(self):
        seen = {}

        @handler("h", registry=self.registry)
        def h(task):
            seen[task.id] = task.upstream
            return "ok"
        self.start_worker()
        self.fake.queue("chained", "h", upstream={"run_id": "p-1", "job_id": "get_token", "status": "SUCCESS",
                                                   "result": {"token": "t-1"}})
        self.fake.queue("plain", "h")
        for run_id in ("chained", "plain"):
            self.assertEqual(self.fake.wait_complete(run_id)["status"], "SUCCESS")
        up = seen["chained"]
        self.assertEqual((up.run_id, up.job_id, up.status, up.result, up.error),
                         ("p-1", "get_token", "SUCCESS", {"token": "t-1"}, ""))
        self.assertIsNone(seen["plain"])

    def test_log_lines_and_warning_summary(self):
        @handler("h", registry=self.registry)
        def h(task):
            task.log("hello %s" % task.config["who"])
            logging.getLogger("acme.sync").info("through logging")
            logging.getLogger("acme.sync").debug("below the level")
            task.warning("slow answer")
            return "done"
        self.start_worker()
        self.fake.queue("r1", "h", public_cfg={"who": "py"})
        got = self.fake.wait_complete("r1")
        self.assertEqual(got["message"], "done\n\nWarnings (1):\nslow answer")
        lines = self.fake.log_of("r1")
        self.assertEqual([line.split(" ", 2)[1:] for line in lines],
                         [["INFO", "hello py"], ["INFO", "acme.sync: through logging"], ["WARNING", "slow answer"]])
        self.assertRegex(lines[0], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO ")

    def test_exception_is_retry_with_traceback(self):
        @handler("h", registry=self.registry)
        def h(task):
            raise RuntimeError("boom on attempt %d" % task.attempt)
        self.start_worker()
        self.fake.queue("r1", "h", attempt=2, max_attempts=2)
        got = self.fake.wait_complete("r1")
        self.assertEqual((got["status"], got["error"], got["attempt"]), ("RETRY", "RuntimeError: boom on attempt 2", 2))
        self.assertIn("Traceback (most recent call last)", got["traceback"])
        self.assertIn("raise RuntimeError", got["traceback"])

    def test_unencodable_result_fails(self):
        handler("h", registry=self.registry)(lambda task: {"when": object()})
        self.start_worker()
        self.fake.queue("r1", "h")
        got = self.fake.wait_complete("r1")
        self.assertEqual(got["status"], "FAILURE")
        self.assertIn("cannot be encoded as JSON", got["error"])


class Registration(WorkerCase):
    def test_registers_again_when_forgotten(self):
        handler("h", registry=self.registry)(lambda task: "after")
        self.start_worker()
        registers = lambda: [c for c in self.fake.calls if c[0].endswith("/register")]  # noqa: E731
        with self.fake.cond:
            del self.fake.nodes["py-1"]  # declared dead and cleaned
        self.fake.wait_for("a second registration", lambda: len(registers()) == 2)
        self.fake.queue("r1", "h")
        self.assertEqual(self.fake.wait_complete("r1")["message"], "after")

    def test_operator_stop_pauses_claiming(self):
        handler("h", registry=self.registry)(lambda task: "ran")
        w, _ = self.start_worker()
        with self.fake.cond:
            self.fake.nodes["py-1"]["setting_state"] = "inactive"
        self.fake.wait_for("the worker to pause", lambda: w.paused)
        claims = lambda: len([c for c in self.fake.calls if c[0].endswith("/claim")])  # noqa: E731
        before = claims()
        self.fake.queue("r1", "h")
        time.sleep(1.0)
        self.assertLessEqual(claims() - before, 1, "a paused worker kept claiming")
        with self.fake.cond:
            self.fake.nodes["py-1"]["setting_state"] = "active"
        self.assertEqual(self.fake.wait_complete("r1")["message"], "ran")


class Interruptions(WorkerCase):
    def test_cancel_cooperative_and_forced(self):
        release = threading.Event()
        self.addCleanup(release.set)

        @handler("polite", registry=self.registry)
        def polite(task):
            if task.cancelled.wait(10):
                raise Cancelled()
            return "not cancelled"

        @handler("stubborn", registry=self.registry)
        def stubborn(task):
            release.wait(10)
            return "too late"
        self.start_worker()
        for run_id in ("polite", "stubborn"):
            with self.subTest(run_id):
                self.fake.queue(run_id, run_id)
                self.fake.wait_for("the run to be claimed", lambda: run_id in self.fake.held)
                with self.fake.cond:
                    self.fake.cancel.add(run_id)
                got = self.fake.wait_complete(run_id)
                self.assertEqual((got["status"], got["error"]), ("CANCELED", "canceled"))
        release.set()
        time.sleep(0.1)
        self.assertEqual(len(self.fake.completes["stubborn"]), 1, "the abandoned handler's late outcome was sent")

    def test_timeout_is_retry(self):
        @handler("slow", registry=self.registry)
        def slow(task):
            task.cancelled.wait(10)
            raise Cancelled()
        self.start_worker()
        self.fake.queue("r1", "slow", timeout="150ms")
        got = self.fake.wait_complete("r1")
        self.assertEqual((got["status"], got["error"]), ("RETRY", "timeout: run exceeded 0.15s"))

    def test_lost_lease_records_nothing(self):
        @handler("h", registry=self.registry)
        def h(task):
            task.cancelled.wait(10)
            task.log("after the lease was lost")
            return "late"
        w, _ = self.start_worker()
        self.fake.queue("r1", "h")
        self.fake.wait_for("the run to be held", lambda: w.held() == 1)
        with self.fake.cond:
            self.fake.lost.add("r1")
        self.fake.wait_for("the worker to drop the run", lambda: w.held() == 0)
        time.sleep(0.3)  # the handler logs and returns meanwhile
        self.assertNotIn("r1", self.fake.completes)
        self.assertEqual(self.fake.log_of("r1"), [])


class Shutdown(WorkerCase):
    def test_drains_then_hands_back_then_prestops(self):
        @handler("quick", registry=self.registry)
        def quick(task):
            time.sleep(0.3)
            return "finished while draining"

        @handler("endless", registry=self.registry)
        def endless(task):
            threading.Event().wait(30)
        w, th = self.start_worker(shutdown_timeout=1.0)
        self.fake.queue("q", "quick")
        self.fake.queue("e", "endless")
        self.fake.wait_for("both runs held", lambda: w.held() == 2)
        started = time.monotonic()
        w.stop()
        th.join(10)
        self.assertFalse(th.is_alive())
        self.assertLess(time.monotonic() - started, 5, "the shutdown waited past its timeout")
        self.assertEqual(self.fake.completes["q"][-1]["status"], "SUCCESS")
        self.assertEqual(self.fake.completes["e"][-1]["status"], "HANDBACK")
        self.assertEqual(self.fake.prestopped, ["py-1"])
        states = [c[1].get("state") for c in self.fake.calls if c[0].endswith("/keepalive")]
        self.assertIn("deactivating", states)

    def test_stop_abandons_the_long_poll_at_once(self):
        handler("h", registry=self.registry)(lambda task: "x")
        w, th = self.start_worker(claim_wait=20.0)
        self.fake.wait_for("a claim", lambda: any(c[0].endswith("/claim") for c in self.fake.calls))
        started = time.monotonic()
        w.stop()
        th.join(10)
        self.assertLess(time.monotonic() - started, 3, "stop waited for the claim's long poll")
        self.assertEqual(self.fake.prestopped, ["py-1"])


class BoundTokens(WorkerCase):
    def setUp(self):
        super().setUp()
        self.fake.tokens = {"etl": "etl-", "other": "etl-"}
        handler("h", registry=self.registry)(lambda task: "x")

    def worker(self, name, token):
        return Worker(Client(self.fake.url, token), name, registry=self.registry, heartbeat=0.05)

    def test_name_outside_the_prefix(self):
        with self.assertRaises(FatalError) as cm:
            self.worker("py-1", "etl").start()
        msg = str(cm.exception)
        self.assertIn("node name 'py-1' is not allowed for this worker token", msg)
        self.assertIn("node prefix", msg)

    def test_node_owned_by_another_token(self):
        self.start_worker(name="etl-1", token="etl")
        with self.assertRaises(FatalError) as cm:
            self.worker("etl-1", "other").start()
        self.assertIn("node name 'etl-1' is taken", str(cm.exception))

    def test_unknown_token(self):
        with self.assertRaises(FatalError) as cm:
            self.worker("etl-1", "nope").start()
        self.assertIn("unknown or revoked", str(cm.exception))

    def test_matching_name_serves(self):
        self.start_worker(name="etl-7", token="etl")
        self.fake.queue("r1", "h")
        self.assertEqual(self.fake.wait_complete("r1")["status"], "SUCCESS")


class Durations(unittest.TestCase):
    def test_parse(self):
        for text, want in [("0s", 0), ("1.5s", 1.5), ("2m30s", 150), ("300ms", 0.3), ("1h", 3600), (12, 12), ("", 0)]:
            self.assertAlmostEqual(parse_duration(text), want, msg=text)
        for bad in ("5", "s", "1x", "1s2", "--1s"):
            with self.assertRaises(ValueError, msg=bad):
                parse_duration(bad)


if __name__ == "__main__":
    unittest.main()
