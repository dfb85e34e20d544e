"""A PEP 517 build backend for connecthub-worker, standard library only.

The package has no dependencies and no compiled parts, so building it
needs no setuptools or wheel: this backend writes the wheel (a zip file
with the package and its dist-info) itself. `pip install ./sdk/python`
therefore works offline, with or without --no-build-isolation, on any
Python 3.9+ with pip, whatever build tools the machine has.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

NAME = "connecthub-worker"
DIST = "connecthub_worker"
PACKAGE = "connecthub_worker"
SUMMARY = "A ConnectHub worker in Python: decorator handlers and the Python ConnectHub's jobs, unchanged"
REQUIRES_PYTHON = ">=3.9"
SCRIPTS = {"connecthub-worker": "connecthub_worker.cli:main"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _version():
    with open(os.path.join(ROOT, PACKAGE, "worker.py"), encoding="utf-8") as f:
        m = re.search(r'^VERSION = "([^"]+)"', f.read(), re.M)
    if not m:
        raise RuntimeError("no VERSION in %s/worker.py" % PACKAGE)
    return m.group(1)


def _metadata():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\nRequires-Python: %s\n"
            "Description-Content-Type: text/markdown\n\n%s" % (NAME, _version(), SUMMARY, REQUIRES_PYTHON, readme))


def _entry_points():
    return "[console_scripts]\n" + "".join("%s = %s\n" % kv for kv in sorted(SCRIPTS.items()))


def _package_files():
    """The package's files, relative to ROOT: every .py file, caches out."""
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, PACKAGE)):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for fn in sorted(filenames):
            if fn.endswith(".py"):
                out.append(os.path.relpath(os.path.join(dirpath, fn), ROOT))
    return out


def _dist_info_files():
    wheel = "Wheel-Version: 1.0\nGenerator: connecthub-worker _build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    return {"METADATA": _metadata(), "WHEEL": wheel, "entry_points.txt": _entry_points()}


def _write_wheel(directory, files):
    """Writes a wheel holding files ({archive name: bytes}) plus its
    dist-info and RECORD; returns its file name."""
    version = _version()
    info = "%s-%s.dist-info" % (DIST, version)
    for name, text in _dist_info_files().items():
        files["%s/%s" % (info, name)] = text.encode("utf-8")
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (name, digest, len(data)))
    record.append("%s/RECORD,," % info)
    files["%s/RECORD" % info] = ("\n".join(record) + "\n").encode("utf-8")
    filename = "%s-%s-py3-none-any.whl" % (DIST, version)
    with zipfile.ZipFile(os.path.join(directory, filename), "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            zi = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return filename


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    info = "%s-%s.dist-info" % (DIST, _version())
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    for name, text in _dist_info_files().items():
        with open(os.path.join(metadata_directory, info, name), "w", encoding="utf-8") as f:
            f.write(text)
    return info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {}
    for rel in _package_files():
        with open(os.path.join(ROOT, rel), "rb") as f:
            files[rel.replace(os.sep, "/")] = f.read()
    return _write_wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """An editable install: a .pth file that puts the source tree on
    sys.path, so edits take effect without reinstalling."""
    return _write_wheel(wheel_directory, {"%s.pth" % DIST: (ROOT + "\n").encode("utf-8")})


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (DIST, _version())
    filename = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz") as tar:
        rels = _package_files() + ["pyproject.toml", "README.md", os.path.join("_build", "backend.py")]
        for rel in rels:
            tar.add(os.path.join(ROOT, rel), arcname="%s/%s" % (base, rel.replace(os.sep, "/")))
        pkg_info = _metadata().encode("utf-8")
        ti = tarfile.TarInfo("%s/PKG-INFO" % base)
        ti.size = len(pkg_info)
        tar.addfile(ti, io.BytesIO(pkg_info))
    return filename
