"""Run logs: what a run logs, through Task.log or Python's `logging` and
`warnings`, goes to that run's log and no other.

One RunLogRouter sits on the root logger. A run's thread binds its RunLog
to the router for as long as the handler runs; a record goes to the RunLog
bound to the thread that emitted it (record.thread), so two runs executing
at the same time never see each other's lines, whatever loggers they
share. Records of other threads (the worker's own, or threads a job starts
itself) are not part of any run.
"""

import logging
import threading
import time
import warnings

# A warning in the run's message is cut to this many characters; the run
# log has it whole. The server caps the message and the log itself.
MAX_WARNING_CHARS = 1000
# The run's message lists at most this many warnings' characters.
MAX_WARNINGS_CHARS = 50000
# What one run may hold in memory before lines are dropped (the server's
# own cap, CONNECTHUB_RUN_LOG_MAX_BYTES, is 200 KiB by default).
MAX_PENDING_BYTES = 4 << 20


def stamp(t=None):
    """The run log's time format: UTC with milliseconds, as ConnectHub's own
    worker writes it."""
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


class RunLog:
    """The log of one attempt: lines waiting to be sent, and the warnings
    that go into the run's message."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending = []
        self._pending_bytes = 0
        self._dropped = 0
        self.warnings = []
        self.warning_total = 0
        self._warning_chars = 0
        # Held while lines are sent, so that the flusher and the final
        # flush never send this run's lines out of order.
        self.send_lock = threading.Lock()

    def add(self, level, text, created=None):
        """Appends one entry: `<time> <LEVEL> <text>`. A WARNING entry is
        also summarised in the run's message."""
        text = text.rstrip("\r\n")
        line = "%s %s %s" % (stamp(created), level, text) if text else "%s %s" % (stamp(created), level)
        with self._lock:
            if level == "WARNING":
                self.warning_total += 1
                if self._warning_chars < MAX_WARNINGS_CHARS:
                    w = text[:MAX_WARNING_CHARS]
                    self.warnings.append(w)
                    self._warning_chars += len(w) + 1
            if self._pending_bytes + len(line) > MAX_PENDING_BYTES:
                self._dropped += 1
                return
            self._pending.append(line)
            self._pending_bytes += len(line) + 1

    def take(self, max_lines=500):
        """Removes and returns the oldest pending lines (at most max_lines),
        with a marker when lines had to be dropped."""
        with self._lock:
            lines = self._pending[:max_lines]
            del self._pending[:max_lines]
            self._pending_bytes -= sum(len(x) + 1 for x in lines)
            if not self._pending and self._dropped:
                lines.append("%s WARNING connecthub-worker: %d log lines dropped: the run logged faster than they could be sent"
                             % (stamp(), self._dropped))
                self._dropped = 0
            return lines

    def requeue(self, lines):
        """Puts lines that could not be sent back in front, to be sent
        first next time."""
        with self._lock:
            self._pending[:0] = lines
            self._pending_bytes += sum(len(x) + 1 for x in lines)

    def has_pending(self):
        with self._lock:
            return bool(self._pending) or bool(self._dropped)

    def message(self, result_message):
        """The run's message: the handler's message, then "Warnings (N):"
        and one warning per line, as ConnectHub's own worker writes it."""
        with self._lock:
            warnings_, total = list(self.warnings), self.warning_total
        if total == 0:
            return result_message
        out = result_message.rstrip("\r\n")
        out += ("\n\n" if out else "") + "Warnings (%d):" % total
        for w in warnings_:
            out += "\n" + w
        if total > len(warnings_):
            out += "\n… %d more, see the run log" % (total - len(warnings_))
        return out


class RunLogRouter(logging.Handler):
    """A logging handler that sends each record to the RunLog bound to the
    thread that emitted it."""

    def __init__(self, level=logging.INFO):
        super().__init__(level)
        self._sinks = {}
        self._sinks_lock = threading.Lock()
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def bind(self, log, ident=None):
        """Routes the records of thread ident (default: the calling thread)
        to log until unbind."""
        with self._sinks_lock:
            self._sinks[threading.get_ident() if ident is None else ident] = log

    def unbind(self, ident=None):
        with self._sinks_lock:
            self._sinks.pop(threading.get_ident() if ident is None else ident, None)

    def handle(self, record):
        # Only records of a run's thread are formatted at all; the base
        # class's lock is not needed, since RunLog.add locks per run.
        with self._sinks_lock:
            log = self._sinks.get(record.thread)
        if log is None or record.levelno < self.level or not self.filter(record):
            return False
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return False
        if record.name == "root":
            text = text[len("root: "):]
        log.add(record.levelname, text, record.created)
        return True

    def emit(self, record):  # handle() does the work
        self.handle(record)


_install_lock = threading.Lock()
_router = None


def install(level=logging.INFO):
    """Puts the router on the root logger (once per process) and returns
    it. The root logger is lowered to level so that a job's INFO lines are
    captured, as the Python ConnectHub's log capture did; warnings.warn
    goes through logging too (logging.captureWarnings), and is shown every
    time rather than once per place, so that every run that warns says so.
    """
    global _router
    with _install_lock:
        if _router is None:
            _router = RunLogRouter(level)
            root = logging.getLogger()
            root.addHandler(_router)
            if root.level == logging.NOTSET or root.level > level:
                root.setLevel(level)
            logging.captureWarnings(True)
            _show_warnings_every_time()
        else:
            _router.setLevel(level)
        return _router


def ensure_installed():
    """Puts the router back on the root logger if something took it off:
    an old code base that configures logging when it is imported
    (logging.config.dictConfig replaces the root logger's handlers and
    disables the loggers that existed before) would otherwise silence
    every run log from then on, or the lines of the jobs imported before
    it. Everything a job logs belongs in its run log, as it did in the
    Python ConnectHub."""
    with _install_lock:
        router = _router
    if router is None:
        return
    root = logging.getLogger()
    if router not in root.handlers:
        root.addHandler(router)
    if root.level == logging.NOTSET or root.level > router.level:
        root.setLevel(router.level)
    for lg in list(logging.root.manager.loggerDict.values()):
        if isinstance(lg, logging.Logger) and lg.disabled:
            lg.disabled = False


def _show_warnings_every_time():
    """Python shows a warning once per code location by default, so only
    the first run that warns would log it. Show every warning each time,
    except the kinds Python hides by default; -W options win."""
    import sys
    if sys.warnoptions:
        return
    warnings.simplefilter("always")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.filterwarnings("ignore", category=category)
