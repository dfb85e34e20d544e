"""Handlers written for ConnectHub: the @handler decorator and its registry."""

import threading


class Cancelled(Exception):
    """Raised by a handler that stopped because its run was cancelled (or
    timed out, or the worker is stopping): check `task.cancelled`."""


class Handler:
    """A registered handler: the function and what the worker advertises
    about it when it registers."""

    def __init__(self, name, fn, description="", config_schema=None, secret_keys=()):
        self.name = name
        self.fn = fn
        self.description = description
        self.config_schema = config_schema
        self.secret_keys = list(secret_keys)

    def spec(self):
        """The handler as the register call lists it: the server validates
        jobs against config_schema and secret_keys."""
        out = {"name": self.name, "secret_keys": self.secret_keys}
        if self.description:
            out["description"] = self.description
        if self.config_schema is not None:
            out["config_schema"] = self.config_schema
        return out


class Registry:
    """Handlers by name. The module-level REGISTRY is what @handler fills
    and what the worker serves by default."""

    def __init__(self):
        self._lock = threading.Lock()
        self._handlers = {}

    def add(self, h):
        if not isinstance(h.name, str) or not h.name:
            raise ValueError("a handler needs a name")
        if h.name.endswith("*"):
            raise ValueError("handler %r: a name ending in * is a wildcard, reserved for --legacy-path" % h.name)
        with self._lock:
            if h.name in self._handlers:
                raise ValueError("handler %r is registered twice" % h.name)
            self._handlers[h.name] = h
        return h

    def get(self, name):
        with self._lock:
            return self._handlers.get(name)

    def names(self):
        with self._lock:
            return sorted(self._handlers)

    def handlers(self):
        with self._lock:
            return [self._handlers[n] for n in sorted(self._handlers)]

    def __len__(self):
        with self._lock:
            return len(self._handlers)


REGISTRY = Registry()


def handler(name, description="", config_schema=None, secret_keys=(), registry=None):
    """Registers the decorated function as the handler `name`.

    The function gets a Task and returns a message (str), a result (dict or
    list), a (message, result) tuple, or None; an exception fails the
    attempt (the server retries it while the job has attempts left).
    config_schema is a JSON Schema (a dict) the server validates a job's
    public_cfg against; secret_keys are the secret_cfg keys a job must set.
    """
    reg = registry if registry is not None else REGISTRY

    def wrap(fn):
        reg.add(Handler(name, fn, description, config_schema, secret_keys))
        return fn

    return wrap
