#!/usr/bin/env python3
"""Generate Fernet test vectors for internal/secret from Python's `cryptography`.

ConnectHub must read secrets written by the Python ConnectHub, and the Python
side must be able to read ours, so the reference implementation here is
`cryptography.fernet` itself (the vectors in vectors.json were made with
cryptography 48.0.0 on Python 3.11).

Usage (from the repository root):

    python3 internal/secret/testdata/gen_vectors.py
        Rewrites internal/secret/testdata/vectors.json. The output is
        deterministic: keys and IVs are derived from fixed labels, so a rerun
        produces the same file and a diff shows real changes only.

    python3 internal/secret/testdata/gen_vectors.py --verify FILE
        Decrypts tokens made by the Go code (FILE is written by
        `go test ./internal/secret -run TestGoTokensDecryptInPython -python`)
        and exits non-zero if Python cannot read any of them.

Determinism relies on Fernet._encrypt_from_parts (the private method behind
Fernet.encrypt that takes the timestamp and IV as arguments) and, for the one
MultiFernet.rotate vector, on replacing os.urandom inside cryptography.fernet
for the duration of the call. Both are fine for a test generator pinned to a
known library version; the tests that consume the file do not need Python.
"""

import base64
import contextlib
import hashlib
import hmac
import json
import os
import sys

import cryptography
import cryptography.fernet as fernet_module
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "vectors.json")


def derive(label: str, n: int) -> bytes:
    """Returns n deterministic bytes for label."""
    return hashlib.sha256(("connecthub-fernet-vector:" + label).encode()).digest()[:n]


def key_for(label: str) -> str:
    return base64.urlsafe_b64encode(derive("key:" + label, 32)).decode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@contextlib.contextmanager
def fixed_urandom(label: str):
    """Makes os.urandom inside cryptography.fernet deterministic."""
    original = fernet_module.os.urandom

    class _OS:
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def urandom(n):
            return derive("urandom:" + label, n)

    fernet_module.os = _OS()
    try:
        yield
    finally:
        fernet_module.os = os
        assert fernet_module.os.urandom is original


def make_token(key: str, plaintext: bytes, ts: int, iv: bytes) -> str:
    return Fernet(key)._encrypt_from_parts(plaintext, ts, iv).decode()


def raw_token(key: str, ts: int, iv: bytes, ciphertext: bytes) -> str:
    """Builds a correctly signed token around arbitrary ciphertext bytes, to
    produce tokens that pass the HMAC check but are broken inside."""
    raw = base64.urlsafe_b64decode(key)
    body = b"\x80" + ts.to_bytes(8, "big") + iv + ciphertext
    mac = hmac.new(raw[:16], body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(body + mac).decode()


def must_fail(keys, token: str) -> None:
    """Asserts that Python's MultiFernet rejects token, so the Go expectation
    of an error is the reference behaviour too."""
    try:
        MultiFernet([Fernet(k) for k in keys]).decrypt(token.encode())
    except InvalidToken:
        return
    raise AssertionError("Python accepted a token the vectors say is invalid: " + token)


def generate() -> dict:
    k1, k2, k3 = key_for("one"), key_for("two"), key_for("three")

    plaintexts = [
        ("empty", b""),
        ("short", b"hello"),
        ("block_minus_one", b"A" * 15),
        ("exact_block", b"B" * 16),
        ("block_plus_one", b"C" * 17),
        ("all_bytes", bytes(range(256))),
        ("utf8", "密钥 clé ключ".encode()),
        ("long", bytes((i * 7 + 3) % 256 for i in range(1000))),
    ]
    timestamps = [0, 1, 1700000000, 4102444800, 2**63 + 12345, 2**64 - 1]

    decrypt = []
    for i, (name, pt) in enumerate(plaintexts):
        ts = timestamps[i % len(timestamps)]
        iv = derive("iv:" + name, 16)
        token = make_token(k1, pt, ts, iv)
        assert Fernet(k1).decrypt(token) == pt
        assert Fernet(k1).extract_timestamp(token) == ts
        decrypt.append({
            "name": name,
            "key": k1,
            "plaintext_b64": b64(pt),
            "timestamp": ts,
            "iv_b64": b64(iv),
            "token": token,
        })

    # secret_cfg as the Python ConnectHub stores it: json.dumps of a dict.
    cfgs = [
        ("ascii_escaped", {"api_key": "sk-123", "password": "p@ss\"w0rd", "port": 5432}, True),
        ("unicode_raw", {"用户": "张三", "token": "тайна", "nested": {"a": [1, 2.5, None, True]}}, False),
        ("big_number", {"app_id": 12345678901234567890, "ratio": 0.1}, True),
        ("empty_object", {}, True),
    ]
    json_vectors = []
    for name, obj, ascii_only in cfgs:
        text = json.dumps(obj, ensure_ascii=ascii_only)
        token = make_token(k2, text.encode(), 1700000000, derive("iv:json:" + name, 16))
        json_vectors.append({"name": name, "key": k2, "json": text, "token": token})

    # MultiFernet: the first key encrypts, every key decrypts, rotate
    # re-encrypts with the first key and keeps the original timestamp.
    old_token = make_token(k2, b"made with the old key", 1600000000, derive("iv:multi:old", 16))
    new_token = make_token(k1, b"made with the new key", 1700000000, derive("iv:multi:new", 16))
    third_token = make_token(k3, b"made with the oldest key", 1500000000, derive("iv:multi:third", 16))
    ring = MultiFernet([Fernet(k1), Fernet(k2), Fernet(k3)])
    with fixed_urandom("rotate"):
        rotated = ring.rotate(old_token.encode()).decode()
    assert Fernet(k1).decrypt(rotated) == b"made with the old key"
    assert Fernet(k1).extract_timestamp(rotated) == 1600000000
    multi = {
        "keys": [k1, k2, k3],
        "tokens": [
            {"name": "first_key", "token": new_token, "plaintext_b64": b64(b"made with the new key"),
             "timestamp": 1700000000, "needs_rotation": False},
            {"name": "second_key", "token": old_token, "plaintext_b64": b64(b"made with the old key"),
             "timestamp": 1600000000, "needs_rotation": True},
            {"name": "third_key", "token": third_token, "plaintext_b64": b64(b"made with the oldest key"),
             "timestamp": 1500000000, "needs_rotation": True},
            {"name": "python_rotated", "token": rotated, "plaintext_b64": b64(b"made with the old key"),
             "timestamp": 1600000000, "needs_rotation": False},
        ],
    }
    for t in multi["tokens"]:
        assert ring.decrypt(t["token"]) == base64.b64decode(t["plaintext_b64"])

    # Tokens Python rejects, with the error the Go code must give.
    good = make_token(k1, b"a secret worth keeping", 1700000000, derive("iv:invalid", 16))
    raw = bytearray(base64.urlsafe_b64decode(good))
    tampered = bytearray(raw)
    tampered[30] ^= 0x01
    bad_version = bytearray(raw)
    bad_version[0] = 0x81
    iv = derive("iv:broken", 16)
    enc = Cipher(algorithms.AES(base64.urlsafe_b64decode(k1)[16:]), modes.CBC(iv)).encryptor()
    unpadded_block = enc.update(b"sixteen bytes!!\x00") + enc.finalize()
    invalid = [
        {"name": "wrong_key", "keys": [k2, k3], "token": good, "error": "wrong_key"},
        {"name": "tampered_ciphertext", "keys": [k1], "token": base64.urlsafe_b64encode(bytes(tampered)).decode(),
         "error": "wrong_key"},
        {"name": "bad_version", "keys": [k1], "token": base64.urlsafe_b64encode(bytes(bad_version)).decode(),
         "error": "malformed"},
        {"name": "signed_no_ciphertext", "keys": [k1], "token": raw_token(k1, 1700000000, iv, b""),
         "error": "malformed"},
        {"name": "signed_unaligned_ciphertext", "keys": [k1], "token": raw_token(k1, 1700000000, iv, b"x" * 20),
         "error": "malformed"},
        {"name": "signed_bad_padding", "keys": [k1], "token": raw_token(k1, 1700000000, iv, unpadded_block),
         "error": "malformed"},
        {"name": "not_base64", "keys": [k1], "token": "this is not a token!", "error": "malformed"},
    ]
    for n in (1, 2, 3, 12, 40, 76, 97, len(good) - 8, len(good) - 4):
        invalid.append({"name": "truncated_%d_chars" % n, "keys": [k1], "token": good[:n], "error": "truncated"})
    for v in invalid:
        must_fail(v["keys"], v["token"])

    return {
        "comment": "Generated by gen_vectors.py; do not edit by hand.",
        "generator": "cryptography %s, Python %d.%d" % (cryptography.__version__, *sys.version_info[:2]),
        "decrypt": decrypt,
        "json": json_vectors,
        "multi": multi,
        "invalid": invalid,
    }


def verify(path: str) -> int:
    """Decrypts Go-made tokens: [{"keys": [...], "token": ..., "plaintext_b64": ..., "timestamp": n}]."""
    with open(path) as f:
        cases = json.load(f)
    failures = 0
    for c in cases:
        ring = MultiFernet([Fernet(k) for k in c["keys"]])
        want = base64.b64decode(c["plaintext_b64"])
        try:
            got = ring.decrypt(c["token"])
            ts = ring.extract_timestamp(c["token"])
        except InvalidToken:
            print("FAIL %s: Python rejected the Go token" % c.get("name"), file=sys.stderr)
            failures += 1
            continue
        if got != want:
            print("FAIL %s: plaintext mismatch" % c.get("name"), file=sys.stderr)
            failures += 1
        elif "timestamp" in c and ts != c["timestamp"]:
            print("FAIL %s: timestamp %d, want %d" % (c.get("name"), ts, c["timestamp"]), file=sys.stderr)
            failures += 1
    print("%d Go tokens checked, %d failures" % (len(cases), failures))
    return 1 if failures else 0


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        return verify(sys.argv[2])
    if len(sys.argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(OUT, "w") as f:
        json.dump(generate(), f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote", OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
