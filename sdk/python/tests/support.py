"""Shared by the tests: the package from this source tree, a fake server,
and a worker running against it in a thread."""

import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from connecthub_worker import Client, Registry, Worker  # noqa: E402
from fakeserver import FakeServer  # noqa: E402,F401


class WorkerCase(unittest.TestCase):
    """A fake server per test, and workers that are stopped at the end."""

    def setUp(self):
        self.fake = FakeServer()
        self.addCleanup(self.fake.close)
        self.registry = Registry()

    def start_worker(self, name="py-1", token="tok", legacy=None, **kw):
        opts = dict(heartbeat=0.05, claim_wait=0.3, shutdown_timeout=5.0, handler_grace=0.2, concurrency=4)
        opts.update(kw)
        w = Worker(Client(self.fake.url, token), name, registry=self.registry, legacy=legacy, **opts)
        th = threading.Thread(target=w.run, daemon=True)
        th.start()
        self.fake.wait_for("node %s to register" % name, lambda: name in self.fake.nodes)

        def stop():
            w.stop()
            th.join(20)
        self.addCleanup(stop)
        return w, th
