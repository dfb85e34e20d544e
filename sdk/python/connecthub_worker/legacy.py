"""The Python ConnectHub's jobs, unchanged: `--legacy-path DIR`.

A job the import gave the handler `py:<handler_path>` names a class of the
old code base, `pkg.mod:Class` or `pkg.mod.Class`. The worker advertises the
wildcard handler `py:*`, so the server sends it every such run; it imports
the class from DIR (first on sys.path, so the old code base's own `app`
package is the one `from app.jobs.base import BaseJob` finds), creates an
instance and calls `run(params, secrets)` in the run's thread.

When DIR has no `app` package (only `extensions/` was copied), a built-in
shim provides `app.jobs.base.BaseJob`.
"""

import importlib
import importlib.util
import os
import sys
import threading

from . import logcapture

PREFIX = "py:"
WILDCARD = PREFIX + "*"
SHIM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "legacy_shim")


class LegacyError(Exception):
    """A handler path that names nothing runnable. It fails the run at
    once: running it again would fail the same way."""


def split_handler_path(path):
    """Returns (module, attribute path) of `pkg.mod:Class` or
    `pkg.mod.Class` (the seed accepted both)."""
    if not path or path.strip() != path:
        raise LegacyError("handler path %r is empty or has blanks around it" % path)
    if ":" in path:
        module, _, attr = path.partition(":")
    else:
        module, _, attr = path.rpartition(".")
    if not module or not attr or ":" in attr:
        raise LegacyError("handler path %r is neither pkg.mod:Class nor pkg.mod.Class" % path)
    return module, attr


class LegacyJobs:
    """Loads and runs the old code base's job classes."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.shimmed = False
        self._lock = threading.Lock()
        self._classes = {}

    def setup(self):
        """Puts the old code base first on sys.path, and the BaseJob shim
        last when the old code base has no `app` package. Raises
        LegacyError when DIR is not a directory."""
        if not os.path.isdir(self.path):
            raise LegacyError("--legacy-path %s is not a directory" % self.path)
        if self.path in sys.path:
            sys.path.remove(self.path)
        sys.path.insert(0, self.path)
        importlib.invalidate_caches()
        if importlib.util.find_spec("app") is None:
            sys.path.append(SHIM_DIR)
            importlib.invalidate_caches()
            self.shimmed = True

    def spec(self):
        """The wildcard handler the worker registers."""
        return {
            "name": WILDCARD,
            "description": "Python ConnectHub jobs (py:<handler_path>) from %s" % self.path,
            "secret_keys": [],
        }

    @staticmethod
    def serves(handler_name):
        return handler_name.startswith(PREFIX)

    def load(self, handler_name):
        """Returns the class `py:<handler_path>` names, importing its
        module once. Raises LegacyError, or the import's own exception."""
        path = handler_name[len(PREFIX):]
        with self._lock:
            cls = self._classes.get(path)
        if cls is not None:
            return cls
        module_name, attr = split_handler_path(path)
        try:
            obj = importlib.import_module(module_name)
        except Exception as e:
            # Running it again would fail the same way: the run fails at
            # once, with the import's traceback chained.
            raise LegacyError("cannot import %s for handler %s: %s: %s"
                              % (module_name, handler_name, type(e).__name__, e)) from e
        for part in attr.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise LegacyError("module %s has no %s (handler %s)" % (module_name, attr, handler_name)) from None
        if not isinstance(obj, type):
            raise LegacyError("%s is not a class (handler %s)" % (path, handler_name))
        if not callable(getattr(obj, "run", None)):
            raise LegacyError("class %s has no run(params, secrets) method (handler %s)" % (path, handler_name))
        with self._lock:
            self._classes[path] = obj
        return obj

    def run(self, task):
        """Runs the task's job: the class's run(params, secrets) with the
        run's public_cfg and secrets, in the calling thread."""
        cls = self.load(task.handler)
        # Importing old code may have reconfigured logging.
        logcapture.ensure_installed()
        job = cls()
        return job.run(task.config, task.secrets)
