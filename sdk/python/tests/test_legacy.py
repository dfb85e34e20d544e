import os
import shutil
import sys
import tempfile
import textwrap
import threading
import unittest

from support import WorkerCase

from connecthub_worker import LegacyJobs, handler
from connecthub_worker.legacy import LegacyError, split_handler_path

JOB = '''
import logging
import warnings

from app.jobs.base import BaseJob

log = logging.getLogger(__name__)


class MyJob(BaseJob):
    def run(self, params, secrets):
        log.info("syncing %s", params["what"])
        warnings.warn("old API in use")
        self.logger.info("token has %d characters", len(secrets["token"]))
        return {"synced": params["n"], "own_app": getattr(BaseJob, "OWN", False)}


class Text(BaseJob):
    def run(self, params, secrets):
        return "all good"


class Boom(BaseJob):
    def run(self, params, secrets):
        log.error("about to fail")
        raise ValueError("bad data in row %d" % params["row"])
'''

OWN_BASE = '''
class BaseJob:
    OWN = True

    def __init__(self):
        import logging
        self.logger = logging.getLogger(type(self).__module__)
'''


def write_tree(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))


def forget_old_code(path):
    """Undoes what loading an old code base did to this process: the tests
    load different trees under the same package names."""
    for name in list(sys.modules):
        if name.split(".")[0] in ("app", "extensions"):
            del sys.modules[name]
    while path in sys.path:
        sys.path.remove(path)
    from connecthub_worker.legacy import SHIM_DIR
    while SHIM_DIR in sys.path:
        sys.path.remove(SHIM_DIR)


class LegacyPath(WorkerCase):
    def legacy(self, own_app=False):
        root = tempfile.mkdtemp(prefix="legacy-")
        self.addCleanup(shutil.rmtree, root, True)
        files = {"extensions/__init__.py": "", "extensions/x/__init__.py": "", "extensions/x/job.py": JOB}
        if own_app:
            files.update({"app/__init__.py": "", "app/jobs/__init__.py": "", "app/jobs/base.py": OWN_BASE})
        write_tree(root, files)
        lj = LegacyJobs(root)
        lj.setup()
        self.addCleanup(forget_old_code, lj.path)
        return lj

    def test_runs_old_jobs_with_the_shim(self):
        lj = self.legacy()
        self.assertTrue(lj.shimmed)
        self.start_worker(legacy=lj)
        self.assertEqual([h["name"] for h in self.fake.nodes["py-1"]["handlers"]], ["py:*"])
        for run_id, path in (("colon", "py:extensions.x.job:MyJob"), ("dotted", "py:extensions.x.job.MyJob")):
            with self.subTest(path):
                self.fake.queue(run_id, path, public_cfg={"what": "invoices", "n": 3}, secrets={"token": "s3cr3t-value"})
                got = self.fake.wait_complete(run_id)
                self.assertEqual(got["status"], "SUCCESS", got)
                self.assertEqual(got["result"], {"synced": 3, "own_app": False})
                self.assertTrue(got["message"].startswith("Warnings (1):\n"), got["message"])
                self.assertIn("UserWarning: old API in use", got["message"])
                log = "\n".join(self.fake.log_of(run_id))
                self.assertIn("INFO extensions.x.job: syncing invoices", log)
                self.assertIn("WARNING py.warnings: ", log)
                self.assertIn("INFO extensions.x.job: token has 12 characters", log)

        self.fake.queue("text", "py:extensions.x.job:Text")
        self.assertEqual(self.fake.wait_complete("text")["message"], "all good")

    def test_exception_carries_its_traceback(self):
        self.start_worker(legacy=self.legacy())
        self.fake.queue("boom", "py:extensions.x.job:Boom", public_cfg={"row": 7})
        got = self.fake.wait_complete("boom")
        self.assertEqual((got["status"], got["error"]), ("RETRY", "ValueError: bad data in row 7"))
        self.assertIn("extensions/x/job.py", got["traceback"])
        self.assertIn('raise ValueError("bad data in row %d" % params["row"])', got["traceback"])
        self.assertIn("ERROR extensions.x.job: about to fail", "\n".join(self.fake.log_of("boom")))

    def test_unloadable_handler_fails_at_once(self):
        self.start_worker(legacy=self.legacy())
        cases = {
            "nomodule": ("py:extensions.nope:Job", "cannot import extensions.nope"),
            "noclass": ("py:extensions.x.job:Missing", "has no Missing"),
            "noform": ("py:Job", "neither pkg.mod:Class nor pkg.mod.Class"),
        }
        for run_id, (path, want) in cases.items():
            with self.subTest(path):
                self.fake.queue(run_id, path)
                got = self.fake.wait_complete(run_id)
                self.assertEqual(got["status"], "FAILURE")
                self.assertIn(want, got["error"])

    def test_logging_config_of_the_old_code_does_not_silence_run_logs(self):
        lj = self.legacy()
        write_tree(lj.path, {"extensions/y/__init__.py": "", "extensions/y/job.py": '''
            import logging
            import logging.config

            # What an old app's settings module may do when it is imported.
            logging.config.dictConfig({"version": 1, "disable_existing_loggers": True,
                                       "root": {"level": "WARNING", "handlers": []}})
            log = logging.getLogger(__name__)


            class Job:
                def run(self, params, secrets):
                    log.info("still captured")
                    return "ok"
            '''})
        self.start_worker(legacy=lj)
        for run_id in ("first", "second"):
            self.fake.queue(run_id, "py:extensions.y.job:Job")
            self.assertEqual(self.fake.wait_complete(run_id)["status"], "SUCCESS")
            self.assertIn("INFO extensions.y.job: still captured", "\n".join(self.fake.log_of(run_id)))

    def test_own_app_package_wins(self):
        lj = self.legacy(own_app=True)
        self.assertFalse(lj.shimmed)
        self.start_worker(legacy=lj)
        self.fake.queue("r1", "py:extensions.x.job:MyJob", public_cfg={"what": "x", "n": 1}, secrets={"token": "t"})
        self.assertEqual(self.fake.wait_complete("r1")["result"], {"synced": 1, "own_app": True})

    def test_decorator_handlers_next_to_legacy(self):
        handler("py.echo", registry=self.registry)(lambda task: "echo")
        self.start_worker(legacy=self.legacy())
        self.assertEqual([h["name"] for h in self.fake.nodes["py-1"]["handlers"]], ["py.echo", "py:*"])
        self.fake.queue("r1", "py.echo")
        self.assertEqual(self.fake.wait_complete("r1")["message"], "echo")


class ConcurrentRunLogs(WorkerCase):
    def test_two_runs_never_mix_their_lines(self):
        import logging
        shared = logging.getLogger("shared.logger")
        barrier = threading.Barrier(2, timeout=10)

        @handler("chatty", registry=self.registry)
        def chatty(task):
            me = task.config["me"]
            barrier.wait()  # both runs are in their handlers now
            for i in range(100):
                shared.info("%s line %d", me, i)
                if i % 10 == 0:
                    barrier.wait()  # interleave the two runs' lines
            return me
        self.start_worker(concurrency=2)
        self.fake.queue("a", "chatty", public_cfg={"me": "run-a"})
        self.fake.queue("b", "chatty", public_cfg={"me": "run-b"})
        for run_id, me in (("a", "run-a"), ("b", "run-b")):
            self.assertEqual(self.fake.wait_complete(run_id)["status"], "SUCCESS")
            lines = self.fake.log_of(run_id)
            self.assertEqual(len(lines), 100)
            for i, line in enumerate(lines):
                self.assertTrue(line.endswith(" INFO shared.logger: %s line %d" % (me, i)), line)


class HandlerPaths(unittest.TestCase):
    def test_split(self):
        self.assertEqual(split_handler_path("extensions.x.job:MyJob"), ("extensions.x.job", "MyJob"))
        self.assertEqual(split_handler_path("extensions.x.job.MyJob"), ("extensions.x.job", "MyJob"))
        self.assertEqual(split_handler_path("pkg.mod:Outer.Inner"), ("pkg.mod", "Outer.Inner"))
        for bad in ("", "Job", "mod:", ":Job", " mod:Job", "a:b:c"):
            with self.assertRaises(LegacyError, msg=bad):
                split_handler_path(bad)

    def test_missing_directory(self):
        with self.assertRaises(LegacyError):
            LegacyJobs("/nonexistent/old-connecthub").setup()


if __name__ == "__main__":
    unittest.main()
