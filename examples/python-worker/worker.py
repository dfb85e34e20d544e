#!/usr/bin/env python3
"""A complete ConnectHub worker in Python 3, standard library only.

It speaks the worker protocol (docs/worker-protocol.md): it registers its
handlers, keeps its node alive, long-polls for runs, runs each in a thread,
heartbeats the leases of the runs it holds (and honours cancel requests),
streams their logs, records their outcomes (retrying until the server has
them), and on SIGTERM or SIGINT stops claiming, lets the runs in flight
finish, hands back what did not, and deregisters.

    CONNECTHUB_SERVER_URL=http://127.0.0.1:8000 \\
    CONNECTHUB_WORKER_TOKEN=chw_... \\
    python3 worker.py --name py-1

Add handlers with the @handler decorator below; a handler gets a Task and
returns a message (str) or a (message, result) tuple, or raises.
"""

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request

VERSION = "example-1"
CLAIM_WAIT = "20s"        # the server waits up to this long for runs (max 30s)
HTTP_TIMEOUT = 60         # seconds; must outlast CLAIM_WAIT


# --- handlers -----------------------------------------------------------

HANDLERS = {}


def handler(name, description="", config_schema=None, secret_keys=()):
    """Registers a function as the handler `name`."""
    def wrap(fn):
        HANDLERS[name] = {
            "fn": fn,
            "spec": {
                "name": name,
                "description": description,
                "config_schema": config_schema,
                "secret_keys": list(secret_keys),
            },
        }
        return fn
    return wrap


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
    task.log("WARNING this line is summarised in the run's message")
    return "echoed", {"echo": cfg, "attempt": task.attempt}


# --- protocol client ----------------------------------------------------

class APIError(Exception):
    """An error answered by the server."""

    def __init__(self, status, code, message):
        super().__init__("%s (HTTP %d %s)" % (message, status, code))
        self.status, self.code = status, code


class Client:
    def __init__(self, server, token):
        self.base = server.rstrip("/") + "/api/v1/worker"
        self.token = token

    def call(self, path, body):
        """POSTs body as JSON; returns the decoded answer (None for 204).
        Raises APIError for an answer >= 400 and OSError when the server
        cannot be reached."""
        req = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": "Bearer " + self.token,
                     "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
                data = resp.read()
                return json.loads(data) if data else None
        except urllib.error.HTTPError as e:
            try:
                err = json.loads(e.read())["error"]
            except Exception:  # not a ConnectHub error body
                err = {"code": str(e.code), "message": e.reason}
            raise APIError(e.code, err.get("code", ""), err.get("message", "")) from None


# --- the worker ---------------------------------------------------------

class Cancelled(Exception):
    """Raised by a handler that stopped because its run was cancelled."""


class Task:
    """One claimed run, as a handler sees it."""

    def __init__(self, worker, run):
        self.worker = worker
        self.id = run["id"]
        self.job_id = run["job_id"]
        self.attempt = run["attempt"]
        self.max_attempts = run["max_attempts"]
        self.handler = run["handler"]
        self.config = run.get("public_cfg") or {}
        self.secrets = run.get("secrets") or {}   # keep in memory only
        self.cancelled = threading.Event()        # set on cancel or lost lease
        self.lost = False

    def log(self, line):
        """Appends a line to the run log (whole lines, so masking works)."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.worker.send_log(self, ["%s %s" % (stamp, line)])


class Worker:
    def __init__(self, client, name, queues, concurrency, heartbeat, shutdown_timeout):
        self.c = client
        self.name = name
        self.queues = queues
        self.slots = threading.Semaphore(concurrency)
        self.concurrency = concurrency
        self.heartbeat_every = heartbeat
        self.shutdown_timeout = shutdown_timeout
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.held = {}          # run id -> Task
        self.threads = []
        self.paused = False     # an operator stopped this node (setting_state inactive)

    def info(self, msg, *args):
        print("py-worker %s: %s" % (self.name, msg % args), file=sys.stderr, flush=True)

    # Registration and keepalive.

    def register(self):
        node = self.c.call("/register", {
            "name": self.name,
            "version": VERSION,
            "queues": self.queues,
            "handlers": [h["spec"] for h in HANDLERS.values()],
            "max_concurrency": self.concurrency,
            "labels": {"lang": "python"},
        })
        self.info("registered (setting_state %s)", node.get("setting_state"))
        return node

    def register_until_done(self):
        wait = 0.2
        while not self.stopping.is_set():
            try:
                return self.register()
            except (OSError, APIError) as e:
                if isinstance(e, APIError) and e.status in (400, 401, 403):
                    raise
                self.info("cannot register yet (%s); retrying", e)
                self.stopping.wait(wait)
                wait = min(wait * 2, 10)
        return None

    def keepalive_loop(self):
        while not self.stopping.wait(self.heartbeat_every):
            self.keepalive("active")

    def keepalive(self, state):
        with self.lock:
            running = len(self.held)
        try:
            node = self.c.call("/keepalive", {"name": self.name, "state": state, "running": running})
            self.paused = node.get("setting_state") == "inactive"
        except APIError as e:
            if e.code == "not_registered":
                self.info("the server forgot this node; registering again")
                try:
                    self.register()
                except (OSError, APIError) as e2:
                    self.info("registering again failed: %s", e2)
            else:
                self.info("keepalive refused: %s", e)
        except OSError as e:
            self.info("keepalive failed (server unreachable?): %s", e)

    # Leases.

    def heartbeat_loop(self):
        while not self.stopping.is_set() or self.held:
            time.sleep(self.heartbeat_every)
            with self.lock:
                tasks = list(self.held.values())
            if not tasks:
                continue
            try:
                ans = self.c.call("/heartbeat", {
                    "name": self.name,
                    "runs": [{"id": t.id, "attempt": t.attempt} for t in tasks],
                })
            except (OSError, APIError) as e:
                self.info("heartbeat failed: %s", e)
                continue
            by_id = {t.id: t for t in tasks}
            for r in ans["runs"]:
                t = by_id.get(r["id"])
                if t is None:
                    continue
                if r["lost"]:
                    self.info("lost the lease of run %s: stopping it", t.id)
                    t.lost = True
                    t.cancelled.set()
                elif r["cancel_requested"]:
                    self.info("run %s: cancel requested", t.id)
                    t.cancelled.set()

    # Runs.

    def send_log(self, task, lines):
        if task.lost:
            return
        try:
            self.c.call("/runs/%s/log" % task.id, {"name": self.name, "attempt": task.attempt, "lines": lines})
        except APIError as e:
            if e.status == 409:
                task.lost = True
                task.cancelled.set()
            else:
                self.info("log of run %s refused: %s", task.id, e)
        except OSError as e:
            self.info("log of run %s not sent: %s", task.id, e)

    def complete(self, task, body):
        """Records an outcome, retrying until the server answers: outcomes
        must not be lost. A repeated complete of the same attempt is
        answered 200 again; 409 means the lease was lost."""
        body = dict(body, name=self.name, attempt=task.attempt)
        wait = 0.1
        while True:
            try:
                self.c.call("/runs/%s/complete" % task.id, body)
                return
            except APIError as e:
                if e.status in (404, 409):
                    self.info("outcome of run %s not recorded: %s", task.id, e)
                    return
                if 400 <= e.status < 500 and e.status not in (401, 403, 429):
                    self.info("outcome of run %s refused: %s", task.id, e)
                    return
                self.info("complete of run %s failed (%s); retrying", task.id, e)
            except OSError as e:
                self.info("complete of run %s failed (%s); retrying", task.id, e)
            time.sleep(wait)
            wait = min(wait * 2, 5)

    def execute(self, task):
        try:
            h = HANDLERS.get(task.handler)
            if h is None:
                body = {"status": "FAILURE", "error": "unknown handler %r" % task.handler}
            else:
                try:
                    out = h["fn"](task)
                    message, result = out if isinstance(out, tuple) else (out, None)
                    body = {"status": "SUCCESS", "message": message or "", "result": result}
                except Cancelled:
                    body = {"status": "CANCELED", "error": "canceled"}
                except Exception as e:  # the handler failed
                    tb = traceback.format_exc()
                    if task.cancelled.is_set():
                        body = {"status": "CANCELED", "error": "canceled"}
                    else:
                        # RETRY re-queues with back-off while attempts
                        # remain; on the last attempt the server ends the
                        # run FAILURE.
                        body = {"status": "RETRY", "error": "%s: %s" % (type(e).__name__, e), "traceback": tb}
            if not task.lost:
                self.complete(task, body)
        finally:
            with self.lock:
                if self.held.get(task.id) is task:
                    del self.held[task.id]
            self.slots.release()

    def claim_loop(self):
        while not self.stopping.is_set():
            if self.paused:
                self.stopping.wait(1)
                continue
            # Take one slot for the claim; ask for as many runs as are free.
            self.slots.acquire()
            free = 1
            while free < self.concurrency and self.slots.acquire(blocking=False):
                free += 1
            try:
                ans = self.c.call("/claim", {"name": self.name, "max": free, "wait": CLAIM_WAIT})
                runs = ans["runs"]
            except APIError as e:
                runs = []
                if e.code == "not_registered":
                    self.register_until_done()
                else:
                    self.info("claim refused: %s", e)
                    self.stopping.wait(1)
            except OSError as e:
                runs = []
                self.info("claim failed (server unreachable?): %s", e)
                self.stopping.wait(1)
            for _ in range(free - len(runs)):
                self.slots.release()
            for run in runs:
                task = Task(self, run)
                with self.lock:
                    self.held[task.id] = task
                if self.stopping.is_set():
                    # Claimed as we stop: give it back unexecuted.
                    self.complete(task, {"status": "HANDBACK"})
                    with self.lock:
                        self.held.pop(task.id, None)
                    self.slots.release()
                    continue
                th = threading.Thread(target=self.execute, args=(task,), daemon=True)
                th.start()
                self.threads.append(th)

    def run(self):
        if self.register_until_done() is None:
            return
        threading.Thread(target=self.keepalive_loop, daemon=True).start()
        hb = threading.Thread(target=self.heartbeat_loop, daemon=True)
        hb.start()
        self.keepalive("active")
        self.info("running: queues %s, handlers %s", ",".join(self.queues), ",".join(HANDLERS))
        claimer = threading.Thread(target=self.claim_loop, daemon=True)
        claimer.start()
        while not self.stopping.wait(0.5):
            pass
        self.shutdown()

    def shutdown(self):
        self.info("shutting down: no more claims; letting %d runs finish", len(self.held))
        self.keepalive("deactivating")
        deadline = time.monotonic() + self.shutdown_timeout
        for th in self.threads:
            th.join(max(0, deadline - time.monotonic()))
        with self.lock:
            left = list(self.held.values())
        for task in left:
            # Python threads cannot be killed: hand the run back and make
            # sure its late outcome is never sent.
            task.lost = True
            task.cancelled.set()
            self.complete(task, {"status": "HANDBACK"})
        try:
            self.c.call("/prestop", {"name": self.name})
        except (OSError, APIError) as e:
            self.info("prestop failed: %s", e)
        self.info("stopped")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--server", default=os.environ.get("CONNECTHUB_SERVER_URL", "http://127.0.0.1:8000"))
    p.add_argument("--token", default=os.environ.get("CONNECTHUB_WORKER_TOKEN", ""))
    p.add_argument("--name", default="%s-py-%d" % (socket.gethostname(), os.getpid()))
    p.add_argument("--queues", default=os.environ.get("CONNECTHUB_QUEUES", "default"))
    p.add_argument("--concurrency", type=int, default=int(os.environ.get("CONNECTHUB_WORKERS", "4")))
    p.add_argument("--heartbeat", type=float, default=5.0, help="seconds between heartbeats")
    p.add_argument("--shutdown-timeout", type=float, default=25.0)
    args = p.parse_args()
    if not args.token:
        p.error("a worker token is required: --token or CONNECTHUB_WORKER_TOKEN")
    if args.concurrency < 1:
        p.error("--concurrency must be at least 1")
    w = Worker(Client(args.server, args.token), args.name,
               [q.strip() for q in args.queues.split(",") if q.strip()],
               args.concurrency, args.heartbeat, args.shutdown_timeout)

    def on_signal(signum, _frame):
        if w.stopping.is_set():
            os._exit(1)  # a second signal: exit at once
        w.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    w.run()


if __name__ == "__main__":
    main()
