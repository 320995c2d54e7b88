"""Talking to the ELN server with http.client: a streamed multipart upload, the status query,
and retrying while the server is away."""
import dataclasses
import hashlib
import http.client
import json
import logging
import os
import random
import re
import secrets
import ssl
import time
import urllib.parse

from eln.harvester import __version__

log = logging.getLogger("eln.harvester")

CHUNK = 256 * 1024
USER_AGENT = f"eln-harvester/{__version__}"


class ServerAway(Exception):
    """Worth retrying: no connection, a timeout, 5xx, 429 or 408."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Rejected(Exception):
    """The server refused this file (4xx): sending the same bytes again will not help."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message = status, message


class ConfigError(Exception):
    """Nothing will get through until a person fixes the set-up (token, address, certificate)."""


class FileProblem(Exception):
    """The file could not be read to the end (shrunk, locked, gone): try again on a later poll."""


class GaveUp(Exception):
    """The server stayed away for longer than we were willing to wait."""


class MultipartFile:
    """A multipart/form-data body with one file field, read from disk piece by piece.

    Its length is known up front (preamble + file size + epilogue), so the request carries an
    explicit Content-Length rather than chunked encoding, and the file is never held in memory.
    The SHA-256 of the file's bytes is computed on the way. Only the bytes present when the file
    was opened are sent, so a file that grows meanwhile still gives a consistent body.
    """

    def __init__(self, path, *, field: str = "file", filename: str | None = None, progress=None):
        self._file = open(path, "rb")
        stat = os.fstat(self._file.fileno())
        self.size, self.mtime_ns = stat.st_size, stat.st_mtime_ns
        self.boundary = "eln-harvester-" + secrets.token_hex(16)
        self.content_type = f"multipart/form-data; boundary={self.boundary}"
        name = quote_filename(filename or os.path.basename(path))
        self._pre = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self._post = f"\r\n--{self.boundary}--\r\n".encode()
        self.length = len(self._pre) + self.size + len(self._post)
        self._sha256 = hashlib.sha256()
        self._progress = progress
        self.sent = 0

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(CHUNK), b""))
        file_end = len(self._pre) + self.size
        if self.sent < len(self._pre):
            piece = self._pre[self.sent:self.sent + size]
        elif self.sent < file_end:
            try:
                piece = self._file.read(min(size, file_end - self.sent))
            except OSError as exc:
                raise FileProblem(f"reading {self._file.name} failed: {exc}") from exc
            if not piece:
                raise FileProblem(f"{self._file.name} became shorter while it was being sent")
            self._sha256.update(piece)
        else:
            piece = self._post[self.sent - file_end:self.sent - file_end + size]
        self.sent += len(piece)
        if self._progress and piece:
            self._progress(self.sent, self.length)
        return piece

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def quote_filename(name: str) -> str:
    # What browsers do (WHATWG): percent-encode the three characters that would break the header.
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


@dataclasses.dataclass
class Uploaded:
    status: int
    answer: dict
    sha256: str
    size: int
    mtime_ns: int
    seconds: float


class Client:
    """The cycler's side of the upload API, authenticated with ``Authorization: Cycler <key>``."""

    def __init__(self, server: str, token: str, *, timeout: float = 300.0):
        parts = urllib.parse.urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the server address {server!r} should look like https://eln.example.org")
        self.server, self.token, self.timeout = server, token, timeout
        self._parts = parts
        self._prefix = parts.path.rstrip("/")

    def _connection(self) -> http.client.HTTPConnection:
        host, port = self._parts.hostname, self._parts.port
        if self._parts.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, blocksize=CHUNK,
                                               context=ssl.create_default_context())
        return http.client.HTTPConnection(host, port, timeout=self.timeout, blocksize=CHUNK)

    def _request(self, method: str, path: str, body=None, headers=None) -> tuple[int, dict]:
        headers = {"Authorization": f"Cycler {self.token}", "Accept": "application/json",
                   "User-Agent": USER_AGENT, **(headers or {})}
        connection = self._connection()
        try:
            try:
                connection.request(method, self._prefix + path, body=body, headers=headers)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer before reading the whole body (too large, bad token):
                # that answer is more useful than the broken pipe. No answer -> ServerAway below.
                pass
            response = connection.getresponse()
            status, raw, retry_after = response.status, response.read(), response.getheader("Retry-After")
        except ssl.SSLCertVerificationError as exc:
            raise ConfigError(f"the server's certificate was not accepted: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise ServerAway(f"no answer from {self._parts.netloc} ({exc.__class__.__name__}: {exc})") from exc
        finally:
            connection.close()
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:  # an HTML error page from a proxy or the server: its text, briefly
            answer = {"detail": " ".join(re.sub(r"<[^>]*>", " ", raw[:2000].decode(errors="replace")).split())[:200]}
        if not isinstance(answer, dict):
            answer = {"detail": str(answer)}
        check(status, answer, retry_after)
        return status, answer

    def upload(self, run: str, path, *, filename: str | None = None, progress=None) -> Uploaded:
        """POST one file to a run's raw files; raises ServerAway, Rejected, ConfigError or FileProblem."""
        url = f"/api/v1/cycling-runs/{urllib.parse.quote(run, safe='')}/raw-files/"
        started = time.monotonic()
        try:
            body = MultipartFile(path, filename=filename, progress=progress)
        except OSError as exc:
            raise FileProblem(f"cannot open {path}: {exc}") from exc
        with body:
            status, answer = self._request("POST", url, body, {"Content-Type": body.content_type,
                                                              "Content-Length": str(body.length)})
        server_sha = (answer.get("raw_file") or {}).get("sha256")
        if body.sent != body.length or server_sha != body.sha256:
            raise ServerAway(f"the server stored sha256 {server_sha}, we sent {body.sha256}: sending again")
        return Uploaded(status, answer, body.sha256, body.size, body.mtime_ns, time.monotonic() - started)

    def status(self, dataset: str) -> dict:
        """A dataset's processing state as the server reports it."""
        return self._request("GET", f"/api/v1/datasets/{urllib.parse.quote(dataset, safe='')}/status/")[1]


def message_of(answer: dict) -> str:
    """The server's explanation: DRF puts it in ``detail`` or in per-field lists."""
    if "detail" in answer:
        return str(answer["detail"])
    return "; ".join(f"{key}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for key, v in answer.items())


def check(status: int, answer: dict, retry_after: str | None = None):
    if status < 300:
        return
    message = message_of(answer) or http.client.responses.get(status, "")
    if status >= 500 or status in (408, 429):
        try:
            wait = float(retry_after) if retry_after else None
        except ValueError:  # an HTTP date: use our own back-off
            wait = None
        raise ServerAway(f"HTTP {status} {message}", retry_after=wait)
    if status in (401, 403):
        raise ConfigError(f"the server refused the cycler token (HTTP {status}): {message}")
    if status < 400:
        raise ConfigError(f"the server answered HTTP {status} (a redirect): check the --server address")
    raise Rejected(status, message)


class Backoff:
    """Exponential back-off: base, 2·base, 4·base … up to ``cap``, each scaled by a random factor
    between 0.5 and 1 so that many cycler PCs do not all come back at the same instant."""

    def __init__(self, cap: float = 300.0, base: float = 1.0, rng=random.random):
        self.cap, self.base, self.rng = cap, min(base, cap), rng

    def delays(self):
        attempt = 0
        while True:
            yield min(self.cap, self.base * 2 ** attempt) * (0.5 + self.rng() / 2)
            attempt += 1


def with_retries(call, *, backoff: Backoff, give_up_after: float = 0, what: str = "",
                 sleep=time.sleep, clock=time.monotonic):
    """``call()`` until it does not raise ServerAway; ``give_up_after`` seconds (0: never) -> GaveUp."""
    start = clock()
    for delay in backoff.delays():
        try:
            return call()
        except ServerAway as exc:
            wait = max(delay, min(exc.retry_after or 0, backoff.cap))
            if give_up_after and clock() - start + wait > give_up_after:
                raise GaveUp(f"{exc}; gave up after {clock() - start:.0f} s") from exc
            log.warning("%s%s; retrying in %.1f s", what, exc, wait)
            sleep(wait)
