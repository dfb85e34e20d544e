"""The `connecthub-worker` command (also `python3 -m connecthub_worker`)."""

import argparse
import importlib
import logging
import os
import signal
import socket
import sys

from .client import Client
from .handlers import REGISTRY
from .legacy import LegacyError, LegacyJobs
from .worker import VERSION, FatalError, Worker, log


def _env_int(name, default):
    v = os.environ.get(name, "")
    try:
        return int(v) if v else default
    except ValueError:
        raise SystemExit("connecthub-worker: %s=%r is not a whole number" % (name, v))


def _env_seconds(name, default):
    v = os.environ.get(name, "")
    if not v:
        return default
    try:
        return _seconds(v)
    except argparse.ArgumentTypeError:
        raise SystemExit("connecthub-worker: %s=%r is not a duration (30s, 1m) or seconds" % (name, v))


def _seconds(text):
    """A number of seconds ("0.5") or a duration ("30s", "1m")."""
    from .tasks import parse_duration
    try:
        v = float(text)
    except ValueError:
        v = None
    try:
        v = parse_duration(text) if v is None else v
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a duration (30s, 1m) or a number of seconds" % text)
    if v < 0:
        raise argparse.ArgumentTypeError("%r is negative" % text)
    return v


def parser():
    p = argparse.ArgumentParser(
        prog="connecthub-worker",
        description="A ConnectHub worker in Python: serves @handler functions (--module) and the "
                    "Python ConnectHub's jobs unchanged (--legacy-path).")
    p.add_argument("--server", default=os.environ.get("CONNECTHUB_SERVER_URL", "http://127.0.0.1:8000"),
                   help="the server's URL (CONNECTHUB_SERVER_URL; default http://127.0.0.1:8000)")
    p.add_argument("--token", default=os.environ.get("CONNECTHUB_WORKER_TOKEN", ""),
                   help="a worker token (CONNECTHUB_WORKER_TOKEN); prefer the variable: arguments are visible in ps")
    p.add_argument("--name", default=os.environ.get("CONNECTHUB_NODE_NAME", ""),
                   help="the node's name (CONNECTHUB_NODE_NAME; default HOSTNAME-py-PID); with a worker token "
                        "it must start with the token's node prefix")
    p.add_argument("--queues", default=os.environ.get("CONNECTHUB_QUEUES", "default"),
                   help="queues to claim from, comma-separated (CONNECTHUB_QUEUES; default default)")
    p.add_argument("--concurrency", type=int, default=_env_int("CONNECTHUB_WORKERS", 4),
                   help="runs at a time (CONNECTHUB_WORKERS; default 4)")
    p.add_argument("--module", "-m", action="append", default=[], metavar="MODULE",
                   help="import MODULE, whose @handler functions are served (repeatable)")
    p.add_argument("--legacy-path", default=os.environ.get("CONNECTHUB_LEGACY_PATH", ""), metavar="DIR",
                   help="serve every py:<handler_path> job from the Python ConnectHub code base in DIR "
                        "(CONNECTHUB_LEGACY_PATH)")
    p.add_argument("--heartbeat", type=_seconds, default=None,
                   help="seconds between keepalives and lease heartbeats (default: what the server says, 5s)")
    p.add_argument("--shutdown-timeout", type=_seconds, default=_env_seconds("CONNECTHUB_SHUTDOWN_TIMEOUT", 25.0),
                   help="how long runs in flight may finish on SIGTERM before they are handed back "
                        "(CONNECTHUB_SHUTDOWN_TIMEOUT; default 25s)")
    p.add_argument("--handler-grace", type=_seconds, default=3.0,
                   help="how long a cancelled or timed-out handler may take to stop (default 3s)")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                   help="a node label (repeatable)")
    p.add_argument("--log-level", default=os.environ.get("CONNECTHUB_RUN_LOG_LEVEL", "INFO"),
                   help="the lowest logging level captured into run logs (default INFO)")
    p.add_argument("--version", action="version", version="connecthub-worker " + VERSION)
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if not args.token:
        p.error("a worker token is required: CONNECTHUB_WORKER_TOKEN or --token")
    if args.concurrency < 1:
        p.error("--concurrency must be at least 1")
    level = logging.getLevelName(args.log_level.upper())
    if not isinstance(level, int):
        p.error("--log-level %r is not a logging level (DEBUG, INFO, WARNING, ERROR)" % args.log_level)
    labels = {}
    for kv in args.label:
        k, sep, v = kv.partition("=")
        if not sep or not k:
            p.error("--label %r must be KEY=VALUE" % kv)
        labels[k] = v
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    if not queues:
        p.error("--queues must name at least one queue")

    out = logging.StreamHandler(sys.stderr)
    out.setFormatter(logging.Formatter("%(asctime)s connecthub-worker %(levelname)s %(message)s"))
    log.addHandler(out)
    log.setLevel(logging.INFO)
    log.propagate = False  # the worker's own lines are not part of any run log

    legacy = None
    if args.legacy_path:
        legacy = LegacyJobs(args.legacy_path)
        try:
            legacy.setup()
        except LegacyError as e:
            p.error(str(e))
        if legacy.shimmed:
            log.info("%s has no app package: using the built-in app.jobs.base.BaseJob", legacy.path)
    for name in args.module:
        try:
            importlib.import_module(name)
        except Exception as e:
            p.error("cannot import --module %s: %s: %s" % (name, type(e).__name__, e))

    try:
        client = Client(args.server, args.token)
    except ValueError as e:
        p.error(str(e))
    name = args.name or "%s-py-%d" % (socket.gethostname(), os.getpid())
    w = Worker(client, name, queues, concurrency=args.concurrency, heartbeat=args.heartbeat,
               shutdown_timeout=args.shutdown_timeout, handler_grace=args.handler_grace,
               registry=REGISTRY, legacy=legacy, labels=labels, log_level=level)

    def on_signal(signum, _frame):
        if w.stopping.is_set():
            log.warning("second signal: exiting at once")
            os._exit(1)
        log.info("signal %d: stopping", signum)
        w.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        w.run()
    except FatalError as e:
        print("connecthub-worker: %s" % e, file=sys.stderr)
        return 2
    return 0
