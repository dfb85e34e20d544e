"""connecthub-worker: ConnectHub's worker protocol in Python (standard
library only, Python 3.9 or later).

Write handlers with the decorator and run the worker::

    from connecthub_worker import handler

    @handler("acme.invoices", config_schema={"type": "object"}, secret_keys=["api_key"])
    def sync_invoices(task):
        task.log("syncing since %s" % task.config.get("since"))
        return "synced 3 invoices", {"synced": 3}

    $ connecthub-worker --module myhandlers --name py-1

or serve the Python ConnectHub's jobs unchanged with
`connecthub-worker --legacy-path /opt/old-connecthub`. See
docs/python-worker.md.
"""

from .client import APIError, Client
from .handlers import REGISTRY, Cancelled, Handler, Registry, handler
from .legacy import LegacyError, LegacyJobs
from .tasks import Task, Upstream
from .worker import VERSION, FatalError, Worker

__version__ = VERSION

__all__ = [
    "APIError", "Cancelled", "Client", "FatalError", "Handler", "LegacyError", "LegacyJobs",
    "REGISTRY", "Registry", "Task", "Upstream", "Worker", "handler", "__version__",
]
