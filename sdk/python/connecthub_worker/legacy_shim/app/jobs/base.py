"""The base class of the Python ConnectHub's jobs, as far as the jobs use
it: subclasses implement run(self, params, secrets) and log through
`logging` (self.logger is a logger named after the job's module)."""

import logging


class BaseJob:
    """Subclass it and implement run(params, secrets): params is the job's
    public_cfg, secrets its decrypted secret_cfg. Return a str (the run's
    message), a dict or list (its result), or None; raise to fail."""

    name = None
    description = ""

    def __init__(self, *args, **kwargs):
        self.logger = logging.getLogger(type(self).__module__)

    def run(self, params, secrets):
        raise NotImplementedError("%s must implement run(params, secrets)" % type(self).__name__)
