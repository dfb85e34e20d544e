#!/usr/bin/env python3
"""Build a database of the Python ConnectHub as the seed product has it.

Tables ``jobs`` and ``job_logs`` with the seed's columns, JSON as text
(SQLite) or ``json`` (PostgreSQL), naive Asia/Shanghai timestamps, and
``secret_cfg`` tokens made with ``cryptography.fernet`` -- including the
dirty ones an import must cope with: a quoted token, one with line breaks,
a truncated one and one made with another key. Job logs have a mix of
statuses including RUNNING.

Standard library plus Debian's python3-cryptography only. Usage:

  make_fixture.py --key-file K --other-key-file K2 --sql-out F --dialect postgres
  make_fixture.py --key-file K --other-key-file K2 --sqlite DB

Other options: --seeyon-url/--didi-url and --creds (the example jobs' servers
and credentials), --logs N
(extra job_logs rows of custom.report, for benchmarks), --minimal-columns
(an older install without the optional columns), --extensions DIR (an
old-style extensions/ tree with BaseJob subclasses).

It prints one JSON line describing what it made (ids, secrets, slots), which
the Go tests read, so that they never repeat the fixture's values by hand.
"""

import argparse
import datetime
import json
import os
import sqlite3
import sys
import time
import uuid

from cryptography.fernet import Fernet

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))

# The example jobs' credentials, unless --creds (a JSON object) overrides
# them with those of the fake servers a test runs.
DEFAULT_CREDS = {
    "rest_user": "hr-sync", "rest_password": "pw-seeyon-9f8e7d",
    "client_secret": "didi-cs-5a4b3c", "sign_key": "didi-sign-2b1a0f", "phone": "13800138000",
    "didi_client_id": "client-1", "didi_company_id": "company-1",
}


def naive(dt):
    """A Shanghai wall-clock time without zone, as SQLAlchemy stores it."""
    return dt.astimezone(SHANGHAI).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def token(f, obj):
    return f.encrypt(json.dumps(obj).encode()).decode()


def build(args):
    key = Fernet.generate_key()
    other = Fernet.generate_key()
    with open(args.key_file, "wb") as fh:
        fh.write(key + b"\n")
    os.chmod(args.key_file, 0o600)
    with open(args.other_key_file, "wb") as fh:
        fh.write(other + b"\n")
    f, g = Fernet(key), Fernet(other)

    # The last hourly slot is the one that began this hour: it fired already,
    # so the ConnectHub that takes over must not fire it again, and the next
    # one is an hour later. In the first seconds of an hour, wait until that
    # slot's fake log lines (at most two seconds after it) lie in the past;
    # in its last minute, wait for the next hour, so that a test using the
    # fixture does not see the next slot come due while it runs.
    exact = datetime.datetime.now(SHANGHAI)
    into_hour = exact.minute * 60 + exact.second + exact.microsecond / 1e6
    if into_hour < 5:
        time.sleep(5 - into_hour)
    elif into_hour > 3540:
        time.sleep(3600 + 5 - into_hour)
    exact = datetime.datetime.now(SHANGHAI)
    now = exact.replace(second=0, microsecond=0)
    last_slot = now.replace(minute=0)

    creds = dict(DEFAULT_CREDS, **json.loads(args.creds or "{}"))
    oa_secret = {"rest_user": creds["rest_user"], "rest_password": creds["rest_password"]}
    didi_secret = dict(oa_secret, client_secret=creds["client_secret"], sign_key=creds["sign_key"], phone=creds["phone"])
    report_secret = {"api_key": "sk-live-abcdef123456"}
    clean = token(f, oa_secret)
    jobs = [
        # id, enabled, cron, handler_path, public_cfg, secret_cfg, last_run_at
        ("oa.check-token", True, "0 8 * * *", "extensions.sync_oa_to_didi.job:SyncOAToDidiTokenJob",
         {"seeyon_base_url": args.seeyon_url, "seeyon_login_name": creds["rest_user"]}, '"%s"' % clean, None),
        ("oa.export-form", True, "30 8 * * *", "extensions.sync_oa_to_didi.job.SyncOAToDidiExportFormJob",
         {"seeyon_base_url": args.seeyon_url, "template_code": "FORM001"},
         (lambda t: t[:40] + "\n" + t[40:] + "\n")(token(f, oa_secret)), None),
        ("oa.legal-entity", False, "0 2 * * *", "extensions.sync_oa_to_didi.job:SyncOAToDidiLegalEntitySyncJob",
         {"seeyon_base_url": args.seeyon_url, "template_code": "FORM001", "didi_base_url": args.didi_url,
          "didi_client_id": creds["didi_client_id"], "didi_company_id": creds["didi_company_id"], "edit_interval": "0s"},
         "  " + token(f, didi_secret) + "  ", None),
        ("custom.report", True, "0 * * * *", "extensions.reports.daily:DailyReportJob",
         {"recipients": ["ops@example.com"]}, token(f, report_secret), naive(last_slot)),
        ("custom.broken", False, "", "extensions.reports.daily.BrokenJob", {}, None, None),
        ("bad.truncated", True, "0 9 * * *", "extensions.reports.daily:DailyReportJob", {}, clean[:-7], None),
        ("bad.other-key", True, "0 9 * * *", "extensions.reports.daily:DailyReportJob", {}, token(g, report_secret), None),
        ("bad.cron", True, "61 * * * *", "extensions.reports.daily:DailyReportJob", {}, None, None),
        ("bad id", True, "", "extensions.reports.daily:DailyReportJob", {}, None, None),
        ("bad.public-cfg", True, "", "extensions.reports.daily:DailyReportJob", [1, 2], None, None),
    ]

    logs = []

    def log(job_id, status, start, seconds, message="", tb="", run_log="", trigger="cron", attempt=1):
        finished = None if status == "RUNNING" else naive(start + datetime.timedelta(seconds=seconds))
        logs.append((job_id, status, json.dumps({"handler_path": "", "meta": {"trigger": trigger}}),
                     message, tb, run_log, str(uuid.uuid4()), attempt, naive(start), finished))

    # custom.report: hourly history up to last_slot, masked secret in logs.
    for i in range(12, 0, -1):
        slot = last_slot - datetime.timedelta(hours=i)
        log("custom.report", "SUCCESS", slot + datetime.timedelta(seconds=2), 3,
            message="sent 3 reports", run_log="INFO using key sk-live-abcdef123456\nWARNING slow mail server\n")
    log("custom.report", "FAILURE", last_slot - datetime.timedelta(minutes=20), 1, message="failed",
        tb='Traceback (most recent call last):\n  File "daily.py", line 9, in run\nValueError: mail server said no',
        trigger="manual")
    log("custom.report", "FAILURE", last_slot - datetime.timedelta(minutes=10), 1, message="retry failed",
        tb="Traceback (most recent call last):\nValueError: again", trigger="retry", attempt=2)
    log("custom.report", "RUNNING", last_slot + datetime.timedelta(seconds=1), 0, run_log="INFO started\n")
    log("oa.check-token", "SUCCESS", now - datetime.timedelta(days=1, hours=3), 1, message="token ok (6e1d…)")
    log("bad.truncated", "SUCCESS", now - datetime.timedelta(days=2), 1, message="from a refused job")
    for i in range(args.logs):
        t = last_slot - datetime.timedelta(hours=13 + i)
        log("custom.report", "SUCCESS" if i % 10 else "FAILURE", t + datetime.timedelta(seconds=1), 2,
            message="bulk %d" % i, run_log="INFO line %d of a bulk run with sk-live-abcdef123456\n" % i,
            tb="" if i % 10 else "Traceback (most recent call last):\nRuntimeError: bulk")

    desc = {
        "key_file": args.key_file,
        "jobs": [j[0] for j in jobs],
        "refused": ["bad.truncated", "bad.other-key", "bad.cron", "bad id", "bad.public-cfg"],
        "report_secret": report_secret["api_key"],
        "oa_secret": oa_secret["rest_password"],
        "last_slot": last_slot.isoformat(),
        "logs": len(logs),
        "report_logs": sum(1 for l in logs if l[0] == "custom.report"),
        "running_logs": sum(1 for l in logs if l[1] == "RUNNING"),
    }
    return jobs, logs, desc


SCHEMA = {
    "sqlite": [
        """CREATE TABLE jobs (id VARCHAR(128) NOT NULL PRIMARY KEY, enabled BOOLEAN NOT NULL DEFAULT 1,
           cron_expr VARCHAR(64), handler_path VARCHAR(256) NOT NULL, public_cfg TEXT, secret_cfg TEXT,
           last_run_at DATETIME{opt_jobs})""",
        """CREATE TABLE job_logs (id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, job_id VARCHAR(128) NOT NULL,
           status VARCHAR(16) NOT NULL, snapshot_params TEXT, message TEXT, traceback TEXT, run_log TEXT,
           started_at DATETIME, finished_at DATETIME{opt_logs})""",
    ],
    "postgres": [
        """CREATE TABLE jobs (id varchar(128) NOT NULL PRIMARY KEY, enabled boolean NOT NULL DEFAULT true,
           cron_expr varchar(64), handler_path varchar(256) NOT NULL, public_cfg json, secret_cfg text,
           last_run_at timestamp without time zone{opt_jobs})""",
        """CREATE TABLE job_logs (id bigserial PRIMARY KEY, job_id varchar(128) NOT NULL,
           status varchar(16) NOT NULL, snapshot_params json, message text, traceback text, run_log text,
           started_at timestamp without time zone, finished_at timestamp without time zone{opt_logs})""",
    ],
}
OPT_JOBS = {"sqlite": ", created_at DATETIME, updated_at DATETIME",
            "postgres": ", created_at timestamp without time zone, updated_at timestamp without time zone"}
OPT_LOGS = {"sqlite": ", celery_task_id VARCHAR(64), attempt INTEGER", "postgres": ", celery_task_id varchar(64), attempt integer"}


def schema(dialect, minimal):
    return [s.format(opt_jobs="" if minimal else OPT_JOBS[dialect], opt_logs="" if minimal else OPT_LOGS[dialect])
            for s in SCHEMA[dialect]]


def rows(jobs, logs, minimal, dialect):
    true = (lambda b: 1 if b else 0) if dialect == "sqlite" else (lambda b: b)
    now = naive(datetime.datetime.now(SHANGHAI))
    jcols = ["id", "enabled", "cron_expr", "handler_path", "public_cfg", "secret_cfg", "last_run_at"]
    lcols = ["job_id", "status", "snapshot_params", "message", "traceback", "run_log", "started_at", "finished_at"]
    if not minimal:
        jcols += ["created_at", "updated_at"]
        lcols += ["celery_task_id", "attempt"]
    jrows = []
    for (jid, en, cron, path, pub, sec, last) in jobs:
        r = [jid, true(en), cron, path, json.dumps(pub), sec, last]
        if not minimal:
            r += [now, now]
        jrows.append(r)
    lrows = []
    for (jid, st, snap, msg, tb, rl, celery, attempt, start, fin) in logs:
        r = [jid, st, snap, msg, tb, rl, start, fin]
        if not minimal:
            r += [celery, attempt]
        lrows.append(r)
    return jcols, jrows, lcols, lrows


def sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def write_sql(path, dialect, jobs, logs, minimal):
    jcols, jrows, lcols, lrows = rows(jobs, logs, minimal, dialect)
    with open(path, "w", encoding="utf-8") as out:
        for s in schema(dialect, minimal):
            out.write(s + ";\n")
        for table, cols, data in (("jobs", jcols, jrows), ("job_logs", lcols, lrows)):
            for i in range(0, len(data), 1000):
                chunk = data[i:i + 1000]
                out.write("INSERT INTO %s (%s) VALUES\n" % (table, ", ".join(cols)))
                out.write(",\n".join("(" + ", ".join(sql_literal(v) for v in r) + ")" for r in chunk))
                out.write(";\n")


def write_sqlite(path, jobs, logs, minimal):
    jcols, jrows, lcols, lrows = rows(jobs, logs, minimal, "sqlite")
    db = sqlite3.connect(path)
    with db:
        for s in schema("sqlite", minimal):
            db.execute(s)
        db.executemany("INSERT INTO jobs (%s) VALUES (%s)" % (", ".join(jcols), ", ".join("?" * len(jcols))), jrows)
        db.executemany("INSERT INTO job_logs (%s) VALUES (%s)" % (", ".join(lcols), ", ".join("?" * len(lcols))), lrows)
    db.close()


DAILY = '''import logging

from app.jobs.base import BaseJob

log = logging.getLogger(__name__)


class DailyReportJob(BaseJob):
    """Logs, warns, reads a secret and returns a dict."""

    def run(self, params, secrets):
        log.info("sending reports to %s with key %s", params.get("recipients"), secrets["api_key"])
        log.warning("mail server is slow")
        return {"sent": len(params.get("recipients", [])), "ok": True}


class BrokenJob(BaseJob):
    def run(self, params, secrets):
        raise ValueError("the report template is missing")
'''


def write_extensions(root):
    pkg = os.path.join(root, "extensions", "reports")
    os.makedirs(pkg, exist_ok=True)
    for p in (os.path.join(root, "extensions", "__init__.py"), os.path.join(pkg, "__init__.py")):
        open(p, "w").close()
    with open(os.path.join(pkg, "daily.py"), "w") as fh:
        fh.write(DAILY)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--key-file", required=True)
    ap.add_argument("--other-key-file", required=True)
    ap.add_argument("--sqlite")
    ap.add_argument("--sql-out")
    ap.add_argument("--dialect", choices=["sqlite", "postgres"], default="postgres")
    ap.add_argument("--seeyon-url", default="http://127.0.0.1:1")
    ap.add_argument("--didi-url", default="http://127.0.0.1:1")
    ap.add_argument("--creds", help="JSON object overriding the example jobs' credentials")
    ap.add_argument("--logs", type=int, default=0)
    ap.add_argument("--minimal-columns", action="store_true")
    ap.add_argument("--extensions")
    args = ap.parse_args()
    if not args.sqlite and not args.sql_out:
        ap.error("give --sqlite DB or --sql-out FILE")
    jobs, logs, desc = build(args)
    if args.sqlite:
        write_sqlite(args.sqlite, jobs, logs, args.minimal_columns)
    if args.sql_out:
        write_sql(args.sql_out, args.dialect, jobs, logs, args.minimal_columns)
    if args.extensions:
        write_extensions(args.extensions)
    json.dump(desc, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
