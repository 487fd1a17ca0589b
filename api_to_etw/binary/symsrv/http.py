"""The HTTP client of the symbol-server search: urllib, bounded in bytes, retries and time.

TLS verification on (default SSL context), a ``User-Agent`` (the Microsoft server wants
``Microsoft-Symbol-Server/...``), at most :data:`~.limits.MAX_REDIRECTS` redirects and never from
https to http; 404/410 mean "not here"; timeouts, connection errors, 429 and 5xx are retried with
bounded exponential back-off; a byte cap aborts (and deletes) oversized downloads.

``ssl``, ``http.client`` and ``urllib.request`` are imported when a client is made: loading OpenSSL
costs about 40 ms, which every run that finds its PDB locally (or uses none) would pay for nothing.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any, BinaryIO, Callable, Optional

from . import limits
from .keys import display_url, printable
from .limits import CHUNK, MAX_BACKOFF, MAX_REDIRECTS, SMALL_FILE_LIMIT, Clock, ProgressCallback, TransferLimits
from .safety import remove_quietly, temp_in

USER_AGENT = "Microsoft-Symbol-Server/10.0.0.0"


class _Retry(Exception):
    def __init__(self, message: str, delay: Optional[float] = None) -> None:
        super().__init__(message)
        self.delay = delay


class ServerError(Exception):
    """The server cannot be used (unreachable after retries, TLS failure): skip it from now on."""


class FileError(Exception):
    """This one file cannot be had from this server (too large, forbidden): try the next form."""


class LookupDeadline(Exception):
    """The whole lookup ran out of time: stop searching."""


class _Expired(Exception):
    """This download ran out of time (its own deadline, or the lookup's)."""


@functools.lru_cache(maxsize=1)
def _redirects() -> type:
    """The redirect handler: at most MAX_REDIRECTS, only to http(s), never from https down to http."""
    import urllib.error
    import urllib.parse
    import urllib.request

    class Redirects(urllib.request.HTTPRedirectHandler):
        max_redirections = MAX_REDIRECTS

        def redirect_request(self, req, fp, code, msg, headers, newurl):
            scheme = urllib.parse.urlsplit(newurl).scheme.lower()
            if scheme not in ("http", "https") or (req.type == "https" and scheme == "http"):
                raise urllib.error.HTTPError(req.full_url, code, f"refused redirect to a {scheme} URL", headers, fp)
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return Redirects


class HttpClient:
    """GET with retries, bounded by :class:`~.limits.TransferLimits`: every download ends by its deadline
    (or the lookup's, whichever is first), however slowly the server trickles bytes."""

    def __init__(self, limits: TransferLimits, clock: Clock, progress: Optional[ProgressCallback],
                 logger: logging.Logger) -> None:
        self.timeout = limits.timeout
        self.tries = max(1, limits.retries)
        self.max_bytes = limits.max_bytes
        self.download_deadline = limits.download_deadline
        self.clock = clock
        self.progress = progress
        self.log = logger
        import ssl
        import urllib.request

        self.opener = urllib.request.build_opener(
            _redirects()(), urllib.request.HTTPSHandler(context=ssl.create_default_context())
        )

    def fetch_file(self, url: str, folder: str) -> Optional[str]:
        """Download ``url`` to a temporary file in ``folder``; None when the server does not have it."""
        return self._with_retries(url, lambda response, ends: self._to_file(url, response, folder, ends))

    def fetch_small(self, url: str) -> Optional[bytes]:
        return self._with_retries(url, lambda response, ends: self._to_bytes(url, response, ends))

    def _with_retries(self, url: str, body: Callable[[Any, float], Any]) -> Any:
        ends = self.clock.download_ends()
        last: Optional[_Retry] = None
        try:
            for attempt in range(self.tries):
                if last is not None:
                    delay = min(MAX_BACKOFF, limits.RETRY_BACKOFF * 2 ** (attempt - 1))
                    if last.delay is not None:
                        delay = min(MAX_BACKOFF, max(delay, last.delay))
                    if time.monotonic() + delay >= ends:
                        raise _Expired
                    self.log.debug("%s: %s; retrying in %.1fs", display_url(url), last, delay)
                    time.sleep(delay)
                try:
                    response = self._open(url, ends)
                    if response is None:
                        return None
                    with response:
                        return body(response, ends)
                except _Retry as exc:
                    last = exc
        except _Expired:
            if self.clock.lookup_expired():
                raise LookupDeadline(f"lookup deadline of {self.clock.limits.lookup_deadline:g}s reached "
                                     f"while fetching {display_url(url)}") from None
            raise ServerError(f"no complete answer within the {self.download_deadline:g}s download deadline "
                              f"(set {limits.ENV_DOWNLOAD_DEADLINE} or --download-deadline to wait longer)") from None
        raise ServerError(f"{last} ({self.tries} tries)")

    def _open(self, url: str, ends: float):
        import http.client
        import ssl
        import urllib.error
        import urllib.request

        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
        self.log.debug("GET %s", display_url(url))
        try:
            return self.opener.open(request, timeout=_remaining(ends, self.timeout))
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (404, 410):
                return None
            if exc.code == 429 or exc.code >= 500:
                raise _Retry(f"HTTP {exc.code}", _retry_after(exc.headers)) from None
            raise FileError(f"HTTP {exc.code} {printable(str(exc.reason))}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise ServerError(f"TLS certificate verification failed ({reason.verify_message})") from None
            if isinstance(reason, ssl.SSLError):
                raise ServerError(f"TLS error ({printable(str(reason))})") from None
            raise _Retry(_reason(reason)) from None
        except (OSError, http.client.HTTPException) as exc:
            raise _Retry(_reason(exc)) from None

    def _length(self, url: str, response) -> Optional[int]:
        value = response.headers.get("Content-Length")
        total = int(value) if value and value.strip().isdigit() else None
        if total is not None and total > self.max_bytes:
            raise FileError(f"{total} bytes, over the {self.max_bytes}-byte limit")
        return total

    def _to_file(self, url: str, response, folder: str, ends: float) -> str:
        total = self._length(url, response)
        complete = False
        path: Optional[str] = None
        try:
            handle, path = temp_in(folder)
            with handle:
                done = self._copy(response, handle, self.max_bytes, total, ends)
            if total is not None and done != total:
                raise _Retry(f"connection closed after {done} of {total} bytes")
            complete = True
            return path
        finally:
            if not complete and path is not None:
                remove_quietly(path)

    def _to_bytes(self, url: str, response, ends: float) -> bytes:
        data = bytearray()
        while True:
            chunk = self._read(response, SMALL_FILE_LIMIT, ends)
            if not chunk:
                return bytes(data)
            data += chunk
            if len(data) > SMALL_FILE_LIMIT:
                raise FileError(f"over the {SMALL_FILE_LIMIT}-byte limit for this kind of file")

    def _copy(self, response, out: BinaryIO, limit: int, total: Optional[int], ends: float) -> int:
        done = 0
        if self.progress:
            self.progress(0, total)
        while True:
            chunk = self._read(response, CHUNK, ends)
            if not chunk:
                return done
            done += len(chunk)
            if done > limit:
                raise FileError(f"larger than the {limit}-byte limit; download abandoned")
            out.write(chunk)
            if self.progress:
                self.progress(done, total)


    def _read(self, response, size: int, ends: float) -> bytes:
        """At most ``size`` bytes, returning as soon as some arrived (``read1``), never past ``ends``.

        ``read(size)`` would wait for all ``size`` bytes, so a server sending one byte per second would
        hold it for hours while every single receive finishes well within the socket timeout.
        """
        import http.client

        if time.monotonic() >= ends:
            raise _Expired
        _set_socket_timeout(response, _remaining(ends, self.timeout))
        try:
            reader = getattr(response, "read1", None)
            return reader(size) if reader is not None else response.read(size)
        except (OSError, http.client.HTTPException) as exc:
            if time.monotonic() >= ends:
                raise _Expired from None
            raise _Retry(f"download interrupted ({_reason(exc)})") from None


def _remaining(ends: float, timeout: float) -> float:
    """The socket timeout for the next operation: the usual one, or less when the deadline is nearer."""
    left = ends - time.monotonic()
    if left <= 0:
        raise _Expired
    return max(0.05, min(timeout, left))


def _set_socket_timeout(response: Any, seconds: float) -> None:
    """Shorten the receive timeout of the response's socket (http.client keeps it at ``fp.raw._sock``)."""
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    if sock is not None and hasattr(sock, "settimeout"):
        try:
            sock.settimeout(seconds)
        except OSError:
            pass


def _reason(exc: object) -> str:
    if isinstance(exc, TimeoutError) or "timed out" in str(exc):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return printable(f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else str(exc))


def _retry_after(headers) -> Optional[float]:
    value = headers.get("Retry-After") if headers is not None else None
    return float(value) if value and value.strip().isdigit() else None

