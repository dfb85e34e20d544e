#!/usr/bin/env python3
"""A ConnectHub worker in Python with one handler, py.echo: a user of the
connecthub-worker package (sdk/python, standard library only).

The package speaks the worker protocol (docs/worker-protocol.md): it
registers the handlers below, keeps the node alive, long-polls for runs,
runs each in a thread, heartbeats their leases (honouring cancel
requests), streams their logs, records their outcomes, and on SIGTERM or
SIGINT drains, hands back what did not finish, and deregisters.

    pip install ./sdk/python            # or: export PYTHONPATH=sdk/python
    CONNECTHUB_SERVER_URL=http://127.0.0.1:8000 \\
    CONNECTHUB_WORKER_TOKEN=chw_... \\
    python3 examples/python-worker/worker.py --name py-1

The same handlers can be served with `connecthub-worker --module worker`
(with this directory on PYTHONPATH).
"""

import os
import sys
import time

try:
    import connecthub_worker  # noqa: F401  installed with pip
except ImportError:  # running from a checkout: use the package next door
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python"))

from connecthub_worker import Cancelled, handler  # noqa: E402
from connecthub_worker.cli import main  # noqa: E402


@handler(
    "py.echo",
    description="Logs its configuration and returns it (an example Python handler).",
    config_schema={
        "type": "object",
        "properties": {
            "message": {"type": "string", "description": "Logged and returned."},
            "lines": {"type": "integer", "minimum": 0, "maximum": 1000,
                      "description": "Extra numbered log lines."},
            "seconds": {"type": "number", "minimum": 0, "maximum": 3600,
                        "description": "How long to work (honours cancel)."},
            "fail": {"type": "boolean", "description": "Raise an error instead."},
        },
        "additionalProperties": False,
    },
)
def echo(task):
    cfg = task.config
    task.log("hello from python: %s" % cfg.get("message", ""))
    for i in range(int(cfg.get("lines", 0))):
        task.log("line %d" % (i + 1))
    if task.secrets:
        # The values are masked in the stored log (by the server, too).
        task.log("secret keys: %s" % ", ".join(sorted(task.secrets)))
    deadline = time.monotonic() + float(cfg.get("seconds", 0))
    while time.monotonic() < deadline:
        if task.cancelled.wait(0.05):
            raise Cancelled()
    if cfg.get("fail"):
        raise RuntimeError("asked to fail (attempt %d)" % task.attempt)
    task.warning("this line is summarised in the run's message")
    return "echoed", {"echo": cfg, "attempt": task.attempt}


if __name__ == "__main__":
    sys.exit(main())
