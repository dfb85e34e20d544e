"""The worker: ConnectHub's worker protocol (docs/worker-protocol.md).

It registers its handlers, keeps its node alive, long-polls for runs, runs
each in a thread of its own, heartbeats the leases of the runs it holds
(honouring cancel requests and lost leases), streams their logs, records
their outcomes (retrying until the server has them), and on stop lets the
runs in flight finish within the shutdown timeout, hands back the rest and
deregisters: what `connecthub worker` does.
"""

import logging
import threading
import time

from . import logcapture
from .client import APIError, Aborter
from .handlers import REGISTRY
from .tasks import (CAUSE_CANCELED, CAUSE_LOST, CAUSE_SHUTDOWN, CAUSE_TIMEOUT, Task,
                    outcome_of_cause, outcome_of_exception, outcome_of_return, parse_duration)

VERSION = "0.1.0"
CLAIM_WAIT = 20.0        # seconds the server may hold a claim (at most 30)
LOG_FLUSH_EVERY = 0.2    # seconds between two sends of a run's new log lines
FINAL_FLUSH_TIMEOUT = 10.0

log = logging.getLogger("connecthub_worker")


class FatalError(Exception):
    """The worker cannot run: the server refused it in a way that asking
    again will not change (a token bound to other node names, say)."""


def explain_refusal(err, name, queues):
    """A message that says what to do about a refused registration."""
    if err.status == 401:
        return ("the server refused the worker token (unknown or revoked): create one with "
                "`connecthub token create --name NAME --scope worker` and pass it with --token "
                "or CONNECTHUB_WORKER_TOKEN")
    if err.code == "node_not_allowed":
        return ("node name %r is not allowed for this worker token: a worker token serves only node "
                "names that start with its node prefix (by default the token's name). Pass --name "
                "with that prefix, or create a token with `--node-prefix`. Server: %s" % (name, err.message))
    if err.code == "node_owned":
        return ("node name %r is taken: it is a server's node, or a live node another worker token "
                "registered. Choose another --name, or wait until that node is declared dead. Server: %s"
                % (name, err.message))
    if err.code == "queue_not_allowed":
        return ("this worker token may not serve queues %s: create a token with `--queues` listing them, "
                "or pass --queues with the token's queues. Server: %s" % (",".join(queues), err.message))
    if err.code == "forbidden_scope":
        return "the token is not allowed to call the worker protocol. Server: %s" % err.message
    field = " (field %s)" % err.field if err.field else ""
    return "the server refused the registration%s: %s" % (field, err.message or err)


class Worker:
    """A ConnectHub worker node. Create it, then call run() (which returns
    after a stop) or start() and later stop() and wait()."""

    def __init__(self, client, name, queues=("default",), concurrency=4, heartbeat=None,
                 shutdown_timeout=25.0, handler_grace=3.0, registry=None, legacy=None,
                 labels=None, log_level=logging.INFO, claim_wait=CLAIM_WAIT):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.c = client
        self.name = name
        self.queues = list(queues)
        self.concurrency = concurrency
        self.heartbeat_every = heartbeat or 5.0
        self._heartbeat_fixed = heartbeat is not None
        self.shutdown_timeout = shutdown_timeout
        self.handler_grace = handler_grace
        self.registry = registry if registry is not None else REGISTRY
        self.legacy = legacy
        self.labels = dict(labels or {})
        self.labels.setdefault("lang", "python")
        self.claim_wait = claim_wait
        self.router = logcapture.install(log_level)

        self.stopping = threading.Event()
        self.stopped = threading.Event()
        self.paused = False
        self._lock = threading.Lock()
        self._held = {}                  # run id -> Task
        self._slots = threading.Semaphore(concurrency)
        self._claim_abort = Aborter()
        self._give_up_at = None          # completions stop retrying after it (shutdown)
        self._threads = []

    # -- registration and keepalive -------------------------------------

    def handler_specs(self):
        specs = [h.spec() for h in self.registry.handlers()]
        if self.legacy is not None:
            specs.append(self.legacy.spec())
        return specs

    def handler_names(self):
        return [s["name"] for s in self.handler_specs()]

    def register(self):
        node = self.c.call("/register", {
            "name": self.name,
            "version": "connecthub-worker-python " + VERSION,
            "queues": self.queues,
            "handlers": self.handler_specs(),
            "max_concurrency": self.concurrency,
            "labels": self.labels,
        })
        self.paused = node.get("setting_state") == "inactive"
        log.info("registered node %s (setting_state %s)", self.name, node.get("setting_state"))
        return node

    def register_until_done(self):
        """Registers, retrying while the server cannot be reached; raises
        FatalError when it refuses the registration."""
        wait = 0.2
        while not self.stopping.is_set():
            try:
                return self.register()
            except APIError as e:
                if 400 <= e.status < 500 and e.status != 429:
                    raise FatalError(explain_refusal(e, self.name, self.queues)) from None
                log.warning("cannot register yet (%s); retrying", e)
            except OSError as e:
                log.warning("cannot reach the server at %s yet (%s); retrying", self.c.server, e)
            self.stopping.wait(wait)
            wait = min(wait * 2, 5.0)
        return None

    def keepalive(self, state):
        with self._lock:
            running = len(self._held)
        try:
            node = self.c.call("/keepalive", {"name": self.name, "state": state, "running": running})
            paused = node.get("setting_state") == "inactive"
            if paused != self.paused:
                log.info("an operator %s this node", "stopped" if paused else "started")
            self.paused = paused
        except APIError as e:
            if not self._register_again(e):
                log.warning("keepalive refused: %s", e)
        except OSError as e:
            log.warning("keepalive failed (server unreachable?): %s", e)

    def _register_again(self, err):
        """Registers again when err says the server forgot the node (it
        was declared dead and cleaned, say); False for any other error."""
        if err.code != "not_registered" or self.stopping.is_set():
            return False
        log.warning("the server forgot this node; registering again")
        try:
            self.register()
        except (OSError, APIError) as e:
            log.warning("registering again failed: %s", e)
        return True

    def _keepalive_loop(self):
        while not self.stopped.wait(self.heartbeat_every):
            self.keepalive("deactivating" if self.stopping.is_set() else "active")

    # -- leases ----------------------------------------------------------

    def _heartbeat_loop(self):
        while not self.stopped.wait(self.heartbeat_every):
            with self._lock:
                tasks = list(self._held.values())
            if not tasks:
                continue
            try:
                ans = self.c.call("/heartbeat", {
                    "name": self.name,
                    "runs": [{"id": t.id, "attempt": t.attempt} for t in tasks],
                })
            except (OSError, APIError) as e:
                log.warning("heartbeat failed: %s", e)
                continue
            by_id = {t.id: t for t in tasks}
            for r in ans.get("runs") or []:
                t = by_id.get(r.get("id"))
                if t is None:
                    continue
                if r.get("lost"):
                    log.warning("lost the lease of run %s: stopping it, recording nothing", t.id)
                    self._lose(t)
                elif r.get("cancel_requested") and t.cause is None:
                    log.info("run %s: cancel requested", t.id)
                    self._interrupt(t, CAUSE_CANCELED)

    # -- run logs --------------------------------------------------------

    def _send_log(self, task, deadline=None):
        """Sends the task's pending lines in order. Lines that could not be
        sent are kept for the next try, until deadline passes."""
        with task.runlog.send_lock:
            while not task.lost:
                lines = task.runlog.take()
                if not lines:
                    return True
                try:
                    self.c.call("/runs/%s/log" % task.id, {"name": self.name, "attempt": task.attempt, "lines": lines})
                except APIError as e:
                    if e.status == 409:
                        self._lose(task)
                        return False
                    if e.status == 404:
                        return False  # the run was deleted with its job
                    log.warning("log of run %s refused: %s", task.id, e)
                    if not e.retryable:
                        return False
                    task.runlog.requeue(lines)
                    return False
                except OSError as e:
                    task.runlog.requeue(lines)
                    if deadline is None or time.monotonic() >= deadline:
                        log.warning("log of run %s not sent yet: %s", task.id, e)
                        return False
                    time.sleep(0.2)
            return False

    def _flush_loop(self):
        while not self.stopped.wait(LOG_FLUSH_EVERY):
            with self._lock:
                tasks = list(self._held.values())
            for t in tasks:
                if t.runlog.has_pending():
                    self._send_log(t)

    # -- running ---------------------------------------------------------

    def _execute(self, task):
        """Runs in the task's own thread: calls its handler with the run's
        logging routed to its log, then records the outcome unless the
        worker already gave up on the handler."""
        logcapture.ensure_installed()
        self.router.bind(task.runlog)
        timer = None
        if task.timeout > 0:
            timer = threading.Timer(task.timeout, self._interrupt, (task, CAUSE_TIMEOUT))
            timer.daemon = True
            timer.start()
        try:
            try:
                outcome = outcome_of_return(task, self._call(task))
            except BaseException as e:  # the handler failed; SystemExit too
                outcome = outcome_of_exception(task, e)
        finally:
            self.router.unbind()
            if timer is not None:
                timer.cancel()
            self._slots.release()
        if task.decide():
            self._finish(task, outcome)
        else:
            log.warning("the handler of run %s returned after the worker gave up on it; its outcome is ignored", task.id)

    def _call(self, task):
        h = self.registry.get(task.handler)
        if h is not None:
            return h.fn(task)
        if self.legacy is not None and self.legacy.serves(task.handler):
            return self.legacy.run(task)
        from .legacy import LegacyError
        raise LegacyError("this worker does not serve handler %r" % task.handler)

    def _interrupt(self, task, cause):
        """Asks the handler to stop; if it has not returned after the
        handler grace, records the outcome without it and abandons its
        thread (Python cannot stop a thread), which keeps its slot until
        it returns."""
        if task.finished.is_set():
            return
        task.interrupt(cause)
        if cause == CAUSE_TIMEOUT:
            task.log("connecthub-worker: the run exceeded its timeout of %gs; stopping it" % task.timeout)
        grace = 0 if cause == CAUSE_SHUTDOWN else self.handler_grace
        t = threading.Timer(grace, self._force, (task,))
        t.daemon = True
        t.start()

    def _force(self, task):
        if not task.decide():
            return
        log.warning("the handler of run %s did not stop within %gs after %s; abandoning its thread",
                    task.id, self.handler_grace, task.cause)
        self._finish(task, outcome_of_cause(task))

    def _lose(self, task):
        task.interrupt(CAUSE_LOST)
        if task.decide():
            self._finish(task, None)

    def _finish(self, task, outcome):
        """Sends the rest of the log, then the outcome (None: record
        nothing), and stops holding the run."""
        try:
            if outcome is not None and not task.lost:
                self._send_log(task, deadline=time.monotonic() + FINAL_FLUSH_TIMEOUT)
                if outcome["status"] != "HANDBACK":
                    outcome["message"] = task.runlog.message(outcome.get("message", ""))
                if not task.lost:
                    self.complete(task, outcome)
        finally:
            with self._lock:
                if self._held.get(task.id) is task:
                    del self._held[task.id]
            task.finished.set()

    def complete(self, task, body):
        """Records an outcome, retrying until the server answers: an outcome
        must not be lost. Completing the same attempt again is answered 200
        again; 409 means the lease was lost (someone else may run it now).
        While the worker stops it gives up at the shutdown's end: the run
        is then rescued when its lease expires."""
        body = dict(body, name=self.name, attempt=task.attempt)
        wait = 0.1
        while True:
            try:
                self.c.call("/runs/%s/complete" % task.id, body)
                return True
            except APIError as e:
                if e.status in (404, 409) or not e.retryable:
                    log.warning("outcome %s of run %s not recorded: %s", body["status"], task.id, e)
                    return False
                log.warning("complete of run %s failed (%s); retrying", task.id, e)
            except OSError as e:
                log.warning("complete of run %s failed (%s); retrying", task.id, e)
            if self._give_up_at is not None and time.monotonic() >= self._give_up_at:
                log.error("giving up on recording run %s: it is rescued when its lease expires", task.id)
                return False
            time.sleep(wait)
            wait = min(wait * 2, 5.0)

    def _claim_loop(self):
        backoff = False
        while not self.stopping.is_set():
            if self.paused or backoff:
                backoff = False
                self.stopping.wait(1.0 if self.paused else 0.5)
                continue
            # One slot for the claim, then as many as are free.
            if not self._slots.acquire(timeout=0.5):
                continue
            free = 1
            while free < self.concurrency and self._slots.acquire(blocking=False):
                free += 1
            runs = []
            try:
                ans = self.c.call("/claim", {"name": self.name, "max": free, "wait": "%gs" % self.claim_wait},
                                  timeout=self.claim_wait + 30, aborter=self._claim_abort)
                runs = ans.get("runs") or []
                if not self._heartbeat_fixed and ans.get("heartbeat"):
                    try:
                        self.heartbeat_every = max(0.05, parse_duration(ans["heartbeat"]))
                    except ValueError:
                        pass
            except APIError as e:
                if not self._register_again(e):
                    log.warning("claim refused: %s", e)
                    self.stopping.wait(5.0 if e.status in (401, 403) else 1.0)
                backoff = True
            except OSError as e:
                if not self.stopping.is_set():
                    log.warning("claim failed (server unreachable?): %s", e)
                backoff = True
            for _ in range(free - len(runs)):
                self._slots.release()
            for run in runs:
                self._start(Task(run))

    def _start(self, task):
        with self._lock:
            self._held[task.id] = task
        if self.stopping.is_set():
            # Claimed as the worker stops: give it back unexecuted.
            task.interrupt(CAUSE_SHUTDOWN)
            self._slots.release()
            if task.decide():
                self._finish(task, {"status": "HANDBACK"})
            return
        th = threading.Thread(target=self._execute, args=(task,), name="run-" + task.id, daemon=True)
        th.start()

    # -- lifecycle -------------------------------------------------------

    def start(self):
        """Registers (raising FatalError when the server refuses) and starts
        the worker's threads."""
        if not self.handler_names():
            raise FatalError("no handlers to serve: import modules with @handler functions (--module) "
                             "or pass --legacy-path")
        if self.register_until_done() is None:
            return False
        for target in (self._keepalive_loop, self._heartbeat_loop, self._flush_loop):
            th = threading.Thread(target=target, daemon=True, name=target.__name__.strip("_"))
            th.start()
            self._threads.append(th)
        self.keepalive("active")
        log.info("running: node %s, queues %s, handlers %s, concurrency %d",
                 self.name, ",".join(self.queues), ",".join(self.handler_names()), self.concurrency)
        self._claimer = threading.Thread(target=self._claim_loop, daemon=True, name="claim")
        self._claimer.start()
        return True

    def stop(self):
        """Asks the worker to stop (a signal handler may call it)."""
        self.stopping.set()
        self._claim_abort.abort()

    def held(self):
        with self._lock:
            return len(self._held)

    def run(self):
        """Runs until stop() is called, then shuts down gracefully."""
        try:
            if not self.start():
                return
            while not self.stopping.wait(0.5):
                pass
            self.shutdown()
        finally:
            self.stopped.set()

    def shutdown(self):
        """Stops claiming, lets the runs in flight finish within the
        shutdown timeout (still heartbeating them), hands back the rest,
        and deregisters."""
        self.stop()
        log.info("shutting down: no more claims; letting %d runs finish (up to %gs)", self.held(), self.shutdown_timeout)
        self.keepalive("deactivating")
        deadline = time.monotonic() + self.shutdown_timeout
        self._give_up_at = deadline + 15.0
        claimer = getattr(self, "_claimer", None)
        if claimer is not None:
            claimer.join(max(0.0, deadline - time.monotonic()))
        while self.held() and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            left = list(self._held.values())
        for task in left:
            # Python threads cannot be stopped: hand the run back, and
            # make sure its late outcome is never sent.
            self._interrupt(task, CAUSE_SHUTDOWN)
        for task in left:
            task.finished.wait(max(0.0, self._give_up_at - time.monotonic()))
        try:
            self.c.call("/prestop", {"name": self.name})
        except (OSError, APIError) as e:
            log.warning("prestop failed: %s", e)
        self.stopped.set()
        log.info("stopped")


__all__ = ["Worker", "FatalError", "VERSION", "CAUSE_LOST"]
