"""One claimed run inside the worker, and how its outcome is decided."""

import json
import re
import threading
import traceback

from .handlers import Cancelled
from .legacy import LegacyError
from .logcapture import RunLog

# Why a run was interrupted before its handler returned.
CAUSE_CANCELED = "canceled"   # someone cancelled the run
CAUSE_TIMEOUT = "timeout"     # the job's timeout passed
CAUSE_SHUTDOWN = "shutdown"   # the worker is stopping: the run is handed back
CAUSE_LOST = "lost"           # the lease is gone: record nothing

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value):
    """Seconds of a protocol duration: a Go duration string ("2m30s",
    "0s") or a number of seconds. Raises ValueError."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    s = str(value).strip()
    if s in ("0", "-0"):
        return 0.0
    sign = -1.0 if s.startswith("-") else 1.0
    if s[:1] in ("+", "-"):
        s = s[1:]
    pos, total = 0, 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError("invalid duration %r" % value)
    return sign * total


def go_duration(seconds):
    """A duration as Go prints it, for messages ("2m0s", "1.5s")."""
    if seconds >= 60:
        m, s = divmod(seconds, 60)
        h, m = divmod(int(m), 60)
        return ("%dh%dm" % (h, m) if h else "%dm" % m) + ("%gs" % round(s, 3))
    return "%gs" % round(seconds, 3)


class Upstream:
    """The run whose end started a chained run (trigger "chain").

    Attributes: run_id, job_id, status ("SUCCESS" or "FAILURE"), result
    (what the parent returned, decoded from JSON; None when it returned
    nothing) and error (the parent's error, "" when none).
    """

    def __init__(self, doc):
        self.run_id = doc.get("run_id", "")
        self.job_id = doc.get("job_id", "")
        self.status = doc.get("status", "")
        self.result = doc.get("result")
        self.error = doc.get("error", "")

    @classmethod
    def of(cls, doc):
        """Returns the Upstream of a claim's upstream object, or None."""
        return cls(doc) if isinstance(doc, dict) else None

    def __repr__(self):
        return "Upstream(run_id=%r, job_id=%r, status=%r)" % (self.run_id, self.job_id, self.status)


class Task:
    """One claimed run, as a handler sees it.

    Attributes: id, job_id, attempt, max_attempts, handler, queue, trigger,
    scheduled_for, timeout (seconds, 0 = none), config (public_cfg),
    upstream (an Upstream for a run a chain started, else None),
    secrets (decrypted secret_cfg: keep them in memory, never log them) and
    cancelled, a threading.Event set when the handler should stop (cancel
    request, timeout, lost lease, shutdown).
    """

    def __init__(self, run):
        self.id = run["id"]
        self.job_id = run.get("job_id", "")
        self.attempt = int(run.get("attempt", 0))
        self.max_attempts = int(run.get("max_attempts", 1))
        self.handler = run.get("handler", "")
        self.queue = run.get("queue", "")
        self.trigger = run.get("trigger", "")
        self.scheduled_for = run.get("scheduled_for", "")
        self.config = run.get("public_cfg") or {}
        self.secrets = run.get("secrets") or {}
        self.upstream = Upstream.of(run.get("upstream"))
        try:
            self.timeout = max(0.0, parse_duration(run.get("timeout")))
        except ValueError:
            self.timeout = 0.0
        self.cancelled = threading.Event()
        self.runlog = RunLog()
        self.lost = False
        self.cause = None
        self._lock = threading.Lock()
        self._decided = False
        self.finished = threading.Event()  # the outcome was recorded or dropped

    def log(self, message, level="INFO"):
        """Adds a line to the run log. The server masks the run's secrets in
        it, but do not log them."""
        self.runlog.add(level, str(message))

    def warning(self, message):
        """Adds a WARNING line, which the run's message also lists."""
        self.log(message, "WARNING")

    def interrupt(self, cause):
        """Asks the handler to stop for cause; the first cause stays, except
        that a lost lease wins over everything (nothing may be recorded)."""
        with self._lock:
            if cause == CAUSE_LOST:
                self.lost = True
                self.cause = CAUSE_LOST
            elif self.cause is None:
                self.cause = cause
        self.cancelled.set()

    def decide(self):
        """True for the first caller only: whoever decides the outcome (the
        handler's thread when it returns, or the worker when it gives up on
        the handler) records it, and nobody else."""
        with self._lock:
            if self._decided:
                return False
            self._decided = True
            return True


def outcome_of_cause(task):
    """The outcome of a run interrupted for task.cause, as ConnectHub's own
    worker decides it; None means record nothing."""
    cause = task.cause
    if task.lost or cause == CAUSE_LOST:
        return None
    if cause == CAUSE_CANCELED:
        return {"status": "CANCELED", "error": "canceled"}
    if cause == CAUSE_SHUTDOWN:
        return {"status": "HANDBACK"}
    if cause == CAUSE_TIMEOUT:
        # RETRY: the server re-queues while attempts remain, else ends
        # the run FAILURE with this error.
        return {"status": "RETRY", "error": "timeout: run exceeded %s" % go_duration(task.timeout)}
    return None


def outcome_of_return(task, value):
    """The outcome of a handler that returned value: a str is the message,
    a dict or list the result, a (message, result) tuple both."""
    if task.lost:
        return None
    message, result = "", None
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        message, result = value
    elif isinstance(value, str):
        message = value
    elif value is not None:
        result = value
    body = {"status": "SUCCESS", "message": message}
    if result is not None:
        try:
            body["result"] = json.loads(json.dumps(result))
        except (TypeError, ValueError) as e:
            return {"status": "FAILURE",
                    "error": "handler result cannot be encoded as JSON: %s" % e}
    return body


def outcome_of_exception(task, exc):
    """The outcome of a handler that raised exc. An interrupted run ends as
    its cause says; a job that cannot be loaded fails at once; any other
    error is RETRY, which the server turns into FAILURE (with this error
    and traceback) once the job has no attempts left."""
    if task.lost:
        return None
    if task.cause is not None:
        return outcome_of_cause(task)
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, Cancelled):
        return {"status": "CANCELED", "error": "canceled"}
    text = "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__
    if isinstance(exc, LegacyError) or getattr(exc, "connecthub_permanent", False):
        return {"status": "FAILURE", "error": text, "traceback": tb}
    return {"status": "RETRY", "error": text, "traceback": tb}
