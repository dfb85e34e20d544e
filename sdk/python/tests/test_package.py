"""The package as users get it: the wheel the in-tree build backend
writes (what `pip install ./sdk/python` installs, offline), and the
command line."""

import base64
import hashlib
import os
import subprocess
import sys
import tempfile
import unittest
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "_build"))

import backend  # noqa: E402


class Wheel(unittest.TestCase):
    def test_wheel_holds_the_package_shim_and_script(self):
        with tempfile.TemporaryDirectory() as d:
            name = backend.build_wheel(d)
            self.assertRegex(name, r"^connecthub_worker-\d+\.\d+\.\d+-py3-none-any\.whl$")
            with zipfile.ZipFile(os.path.join(d, name)) as z:
                names = set(z.namelist())
                for want in ("connecthub_worker/__init__.py", "connecthub_worker/__main__.py",
                             "connecthub_worker/legacy_shim/app/jobs/base.py",
                             "connecthub_worker/legacy_shim/app/__init__.py"):
                    self.assertIn(want, names)
                self.assertFalse([n for n in names if "__pycache__" in n or n.startswith("tests/")])
                info = name.split("-py3")[0] + ".dist-info/"
                self.assertIn("connecthub-worker = connecthub_worker.cli:main",
                              z.read(info + "entry_points.txt").decode())
                self.assertIn("Requires-Python: >=3.9", z.read(info + "METADATA").decode())
                for row in z.read(info + "RECORD").decode().splitlines():
                    path, digest, size = row.split(",")
                    if path == info + "RECORD":
                        continue
                    data = z.read(path)
                    want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                    self.assertEqual((digest, int(size)), (want, len(data)), path)

    def test_build_needs_nothing(self):
        self.assertEqual(backend.get_requires_for_build_wheel(), [])
        self.assertEqual(backend.get_requires_for_build_editable(), [])


class CommandLine(unittest.TestCase):
    def main(self, *args):
        """Runs the command in this process; returns (exit code, stderr)."""
        import contextlib
        import io
        import logging
        from connecthub_worker import cli
        err = io.StringIO()
        import signal
        handlers = list(logging.getLogger("connecthub_worker").handlers)
        signals = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            with contextlib.redirect_stderr(err):
                try:
                    code = cli.main(list(args))
                except SystemExit as e:
                    code = e.code
        finally:
            logging.getLogger("connecthub_worker").handlers = handlers
            for s, h in signals.items():
                signal.signal(s, h)
        return code, err.getvalue()

    def test_refusals(self):
        cases = [
            ((), "a worker token is required"),
            (("--token", "t", "--concurrency", "0"), "--concurrency must be at least 1"),
            (("--token", "t", "--legacy-path", "/nonexistent/dir"), "is not a directory"),
            (("--token", "t", "--label", "novalue"), "must be KEY=VALUE"),
            (("--token", "t", "--module", "no_such_module_here"), "cannot import --module no_such_module_here"),
            (("--token", "t", "--server", "ftp://x"), "must be http(s)://host[:port]"),
            (("--token", "t", "--heartbeat", "soon"), "is not a duration"),
            (("--token", "t", "--shutdown-timeout", "-1"), "is negative"),
            (("--token", "t", "--log-level", "LOUD"), "is not a logging level"),
            (("--token", "t", "--server", "http://127.0.0.1:9"), "no handlers to serve"),
        ]
        saved = os.environ.pop("CONNECTHUB_WORKER_TOKEN", None)
        if saved is not None:
            self.addCleanup(os.environ.__setitem__, "CONNECTHUB_WORKER_TOKEN", saved)
        for args, want in cases:
            with self.subTest(args):
                code, stderr = self.main(*args)
                self.assertEqual(code, 2, stderr)
                self.assertIn(want, stderr)

    def test_python_m(self):
        """python3 -m connecthub_worker runs from the source tree."""
        p = subprocess.run([sys.executable, "-m", "connecthub_worker", "--version"],
                           env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("connecthub-worker ", p.stdout)


if __name__ == "__main__":
    unittest.main()
