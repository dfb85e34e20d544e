"""A fake ConnectHub server for the worker's unit tests, built from the
documented worker protocol (docs/worker-protocol.md): registration with
bound worker tokens, keepalive, prestop, long-poll claims, heartbeats,
logs and completions. Tests queue runs, flag cancels or lost leases, and
read back what the worker sent."""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from connecthub_worker.tasks import parse_duration  # noqa: E402


class FakeServer:
    def __init__(self, tokens=None, heartbeat="0.1s"):
        # token -> node prefix (None: an admin token, not bound)
        self.tokens = tokens if tokens is not None else {"tok": None}
        self.heartbeat = heartbeat
        self.cond = threading.Condition()
        self.nodes = {}
        self.queued = []
        self.held = {}
        self.logs = {}
        self.completes = {}
        self.cancel = set()
        self.lost = set()
        self.calls = []
        self.prestopped = []
        self.down = False  # answer every call 503
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- what tests do -----------------------------------------------------

    def queue(self, run_id, handler, public_cfg=None, secrets=None, timeout="0s", attempt=1, max_attempts=1,
              upstream=None):
        with self.cond:
            run = {
                "id": run_id, "job_id": "job-" + run_id, "attempt": attempt, "max_attempts": max_attempts,
                "handler": handler, "queue": "default", "public_cfg": public_cfg or {},
                "secrets": secrets or {}, "timeout": timeout, "trigger": "manual",
                "scheduled_for": "2026-03-01T02:00:00Z", "lease_expires_at": "2026-03-01T02:00:30Z",
            }
            if upstream is not None:
                # A chained run, as the server sends one (trigger chain).
                run["trigger"], run["upstream"] = "chain", upstream
            self.queued.append(run)
            self.cond.notify_all()

    def wait_for(self, what, predicate, timeout=15.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for " + what)
                self.cond.wait(left)

    def wait_complete(self, run_id, timeout=15.0):
        self.wait_for("run %s to complete" % run_id, lambda: run_id in self.completes, timeout)
        with self.cond:
            return self.completes[run_id][-1]

    def log_of(self, run_id):
        with self.cond:
            return list(self.logs.get(run_id, []))

    # -- the protocol ----------------------------------------------------

    def _handler_class(self):
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                token = self.headers.get("Authorization", "")[len("Bearer "):]
                status, answer = fake._serve(self.path, token, body)
                data = b"" if answer is None else json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    # The worker went away (it abandoned a long poll): the
                    # runs claimed for it are handed back, as the server does.
                    if self.path.endswith("/claim"):
                        fake._hand_back(answer["runs"])

        return H

    @staticmethod
    def _err(status, code, message):
        return status, {"error": {"code": code, "message": message}}

    def _serve(self, path, token, body):
        with self.cond:
            self.calls.append((path, body))
            self.cond.notify_all()
            if self.down:
                return self._err(503, "unavailable", "down for the test")
        if token not in self.tokens:
            return self._err(401, "unauthorized", "unknown token")
        prefix = self.tokens[token]
        name = body.get("name", "")
        if prefix is not None and not name.startswith(prefix):
            return self._err(403, "node_not_allowed", "node %r is outside the token's node prefix %r" % (name, prefix))
        path = path[len("/api/v1/worker"):]
        if path == "/register":
            return self._register(token, body)
        with self.cond:
            node = self.nodes.get(name)
            if path == "/prestop":
                self.nodes.pop(name, None)
                self.prestopped.append(name)
                self.cond.notify_all()
                return 204, None
            if node is None:
                return self._err(404, "not_registered", "register first")
            if path == "/keepalive":
                node["state"], node["running"] = body.get("state", ""), body.get("running", 0)
                return 200, dict(node)
        if path == "/claim":
            return self._claim(node, body)
        if path == "/heartbeat":
            with self.cond:
                out = []
                for r in body["runs"]:
                    out.append({"id": r["id"], "cancel_requested": r["id"] in self.cancel, "lost": r["id"] in self.lost})
                return 200, {"runs": out}
        run_id, _, op = path[len("/runs/"):].partition("/")
        with self.cond:
            if run_id in self.lost:
                return self._err(409, "lease_lost", "lease lost")
            if op == "log":
                self.logs.setdefault(run_id, []).extend(body.get("lines") or [])
                self.cond.notify_all()
                return 204, None
            if op == "complete":
                self.completes.setdefault(run_id, []).append(body)
                self.cond.notify_all()
                return 200, {"id": run_id, "status": body["status"]}
        return self._err(404, "not_found", "no such endpoint " + path)

    def _hand_back(self, runs):
        with self.cond:
            for r in runs:
                self.held.pop(r["id"], None)
                self.queued.append(r)
            self.cond.notify_all()

    def _register(self, token, body):
        with self.cond:
            name = body["name"]
            old = self.nodes.get(name)
            if old is not None and old["owner"] != token:
                return self._err(409, "node_owned", "node %r belongs to another worker token" % name)
            node = {"name": name, "kind": "worker", "setting_state": "active", "present_state": "activating",
                    "handlers": body["handlers"], "queues": body["queues"], "owner": token,
                    "labels": body.get("labels", {}), "max_concurrency": body.get("max_concurrency")}
            self.nodes[name] = node
            self.cond.notify_all()
            return 200, dict(node)

    @staticmethod
    def _serves(node, handler):
        for h in node["handlers"]:
            n = h["name"]
            if n == handler or (n.endswith("*") and len(n) > 1 and handler.startswith(n[:-1])):
                return True
        return False

    def _claim(self, node, body):
        deadline = time.monotonic() + parse_duration(body.get("wait", "0s"))
        with self.cond:
            while True:
                runs = [r for r in self.queued if self._serves(node, r["handler"])][:body["max"]]
                if node["setting_state"] == "inactive":
                    runs = []  # a stopped node gets nothing, after the wait
                if runs or time.monotonic() >= deadline:
                    break
                self.cond.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            for r in runs:
                self.queued.remove(r)
                self.held[r["id"]] = r
            return 200, {"runs": runs, "lease_ttl": "30s", "heartbeat": self.heartbeat}
