"""The HTTP side of the worker protocol (docs/worker-protocol.md)."""

import http.client
import json
import ssl
import threading
import urllib.parse

# How long a call may take. Short enough that a hung connection cannot
# hold heartbeats up for a whole lease (30s by default): the call fails and
# is retried. A claim waits on the server up to its `wait`, so the worker
# gives claims their own, longer timeout.
HTTP_TIMEOUT = 15.0


class APIError(Exception):
    """An error the server answered: status is the HTTP status, code the
    error code of its body (`node_not_allowed`, `lease_lost`, ...)."""

    def __init__(self, status, code, message, field=""):
        text = "%s (HTTP %d %s)" % (message or "error", status, code or "?")
        super().__init__(text)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    @property
    def retryable(self):
        """Whether asking again may be answered differently: a 5xx, or a
        401/403/429 that an operator can fix while the worker waits. Other
        4xx answers will be the same again."""
        return self.status >= 500 or self.status in (401, 403, 429)


class Aborter:
    """Lets another thread abandon a call in flight (a claim's long poll
    when the worker stops): abort() closes its connection, and the call
    raises OSError."""

    def __init__(self):
        self._lock = threading.Lock()
        self._conn = None
        self._aborted = False

    def _attach(self, conn):
        with self._lock:
            if self._aborted:
                raise ConnectionAbortedError("call abandoned")
            self._conn = conn

    def _detach(self):
        with self._lock:
            self._conn = None

    def abort(self):
        with self._lock:
            self._aborted = True
            conn = self._conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(2)  # socket.SHUT_RDWR: wakes the reader
            except OSError:
                pass


class Client:
    """Calls /api/v1/worker/* with the worker's bearer token."""

    def __init__(self, server, token, timeout=HTTP_TIMEOUT, user_agent="connecthub-worker"):
        u = urllib.parse.urlsplit(server.rstrip("/"))
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("server URL %r must be http(s)://host[:port]" % server)
        self.scheme = u.scheme
        self.host = u.hostname
        self.port = u.port
        self.base = u.path + "/api/v1/worker"
        self.server = server
        self.token = token
        self.timeout = timeout
        self.user_agent = user_agent
        self._ssl = ssl.create_default_context() if u.scheme == "https" else None

    def _connect(self, timeout):
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self._ssl)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def call(self, path, body, timeout=None, aborter=None):
        """POSTs body as JSON and returns the decoded answer (None for an
        empty one). Raises APIError for an answer of 400 or more, and
        OSError when the server cannot be reached (or aborter aborted)."""
        data = json.dumps(body).encode("utf-8")
        conn = self._connect(timeout or self.timeout)
        try:
            if aborter is not None:
                aborter._attach(conn)
            try:
                conn.request("POST", self.base + path, body=data, headers={
                    "Authorization": "Bearer " + self.token,
                    "Content-Type": "application/json",
                    "User-Agent": self.user_agent,
                })
                resp = conn.getresponse()
                raw = resp.read()
            except http.client.HTTPException as e:
                raise OSError("HTTP error talking to %s: %s" % (self.server, e)) from None
        finally:
            if aborter is not None:
                aborter._detach()
            conn.close()
        if resp.status >= 400:
            raise _api_error(resp.status, resp.reason, raw)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise OSError("the server's answer to %s is not JSON" % path) from None


def _api_error(status, reason, raw):
    """Reads ConnectHub's {"error": {"code", "message", "field"}} body."""
    try:
        err = json.loads(raw)["error"]
        return APIError(status, err.get("code", ""), err.get("message", ""), err.get("field", ""))
    except Exception:  # not a ConnectHub error body (a proxy's page, say)
        return APIError(status, str(status), str(reason))
