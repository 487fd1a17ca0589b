"""Locate a binary's PDB (or a binary itself) the way WinDbg and symchk do.

Search order for a PDB: an explicit ``--pdb``; beside the binary (:func:`pdb_candidates`); then each
element of the symbol path in order. A symbol path (``--symbol-path`` or ``_NT_SYMBOL_PATH``) is a
``;``-separated list of:

``srv*CACHE*URL`` / ``srv*URL`` / ``srv**URL`` / ``symsrv*symsrv.dll*CACHE*URL``
    a symbol server; files found upstream are stored in CACHE (the default cache when omitted or
    empty). ``srv*A*B*UPSTREAM`` searches A, B, then UPSTREAM (a folder or an http(s) URL).
``cache*DIR``
    DIR is searched as a store and caches what the elements after it find.
plain folder
    searched flat (``DIR/NAME``, ``DIR/EXT/NAME``, ``DIR/symbols/EXT/NAME``), then as a store.
plain http(s) URL
    a symbol server with the current (or default) cache.

Windows paths (``C:\\...``, ``\\\\server\\share``) are kept as folders but cannot exist on a POSIX
system; they are skipped with a note, and one given as a cache is replaced by the default cache.
The default cache is ``$XDG_CACHE_HOME/api-to-etw/symbols`` (``~/.cache/api-to-etw/symbols``).

Store layout (symstore/symsrv): ``NAME/KEY/NAME``, or ``NAME[:2]/NAME/KEY/NAME`` when the store root
holds ``index2.txt`` (two-tier). KEY is the GUID as 32 upper-case hex digits plus the age in hex for
a PDB, and TimeDateStamp as 8 hex digits plus SizeOfImage in hex (no padding, ``%08X%x``) for a
binary; because local file systems are case-sensitive, the lower-case-age PDB key (symsrv's form)
and the all-upper-case binary key are tried too when they differ. Beside ``NAME`` a store may hold the compressed ``NAME`` with its last character replaced by ``_`` (a CAB,
or a ZIP) or a ``file.ptr`` holding ``PATH:<path>`` or ``MSG:<text>`` (symstore pointer stores write
the bare path). Over HTTP the same URLs are tried in that order (``index2.txt`` is probed first).
Files in local stores and folders are used in place, except that hits in an upstream store
(``srv*CACHE*STORE``) or in an element after ``cache*DIR`` are copied into the cache, and
compressed files are expanded into the element's cache (or the default cache).

Security: names and indexes come from untrusted binaries. Names must be plain file names (no
separators, ``..``, drive letters, control characters or device names, at most 200 characters);
keys are formatted from integers; every path read or written is checked (``realpath``) to stay in
its store or cache root, and cache directories are created one component at a time, refusing
symlinks. ``file.ptr`` policy: in a local store a ``PATH`` is followed only when it resolves to a
regular file inside that same store (relative paths are taken from the ``file.ptr`` folder); on an
HTTP server a ``PATH`` is followed only when it is an http(s) URL (not https to http), never to
the local file system.
Downloads go to a temporary file in the destination folder and are renamed into place only when
complete and verified (PDB GUID/age, or PE TimeDateStamp/SizeOfImage); nothing else is written.

Networking uses urllib only: TLS verification on (default SSL context), a ``User-Agent`` (the
Microsoft server wants ``Microsoft-Symbol-Server/...``), at most :data:`MAX_REDIRECTS` redirects and
never from https to http, 404/410 mean "not here", timeouts/connection errors/429/5xx are retried
with bounded exponential back-off, and a byte cap aborts (and deletes) oversized downloads. A server
that stays unreachable is noted and skipped for the rest of the search; ``offline=True`` never
touches the network.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import shutil
import ssl
import struct
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Optional, Union

from ..errors import ApiToEtwError, CorruptFileError, SymbolsUnavailableError, UsageError
from .cab import extract_cab, is_cabinet
from .pdb import PdbSymbols, load_pdb
from .pe import CodeViewInfo

log = logging.getLogger(__name__)
_LOG = log

FOLDER = "folder"
STORE = "store"
HTTP = "http"

USER_AGENT = "Microsoft-Symbol-Server/10.0.0.0"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_MAX_BYTES = 1 << 30
MAX_REDIRECTS = 5
#: First back-off delay in seconds; doubled per retry and capped by MAX_BACKOFF.
RETRY_BACKOFF = 0.5
MAX_BACKOFF = 8.0
CHUNK = 1 << 16
SMALL_FILE_LIMIT = 1 << 12  # file.ptr and index2.txt
ENV_SYMBOL_PATH = "_NT_SYMBOL_PATH"
ENV_ALT_SYMBOL_PATH = "_NT_ALT_SYMBOL_PATH"

ProgressCallback = Callable[[int, Optional[int]], None]

_NAME = re.compile(r"^[A-Za-z0-9_+\-][A-Za-z0-9_.+\-]{0,199}$")
_DEVICE_NAMES = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:|\\\\)")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


# ---------------------------------------------------------------------- symbol path
@dataclass(frozen=True)
class SymbolPathElement:
    """One place to look: a plain folder, a symbol store (local) or a symbol server (http/https URL).

    ``cache`` is where files found here are stored: downloads for a server (always set), copies and
    decompressed files for a store (None means "use in place"; decompressed files then go to the
    default cache).
    """

    kind: str
    location: str
    cache: Optional[str] = None
    source: str = ""

    def describe(self) -> str:
        where = {FOLDER: "folder", STORE: "store", HTTP: "server"}.get(self.kind, self.kind)
        if self.kind == HTTP:
            return f"{where} {display_url(self.location)}"
        return f"{where} {self.location}"


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/api-to-etw/symbols``, or ``~/.cache/api-to-etw/symbols``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not base or not os.path.isabs(base):  # the XDG spec says relative values are to be ignored
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "api-to-etw", "symbols")


def resolve_symbol_path(cli_value: Optional[str], environ: Optional[Mapping[str, str]] = None) -> str:
    """The symbol path to use: ``--symbol-path`` when given (even empty), else ``_NT_SYMBOL_PATH``
    followed by ``_NT_ALT_SYMBOL_PATH`` (the order dbghelp uses). No default server: nothing goes to
    the network unless the user asks for it."""
    if cli_value is not None:
        return cli_value
    env = os.environ if environ is None else environ
    parts = [env.get(ENV_SYMBOL_PATH, ""), env.get(ENV_ALT_SYMBOL_PATH, "")]
    return ";".join(p for p in parts if p.strip())


def is_foreign_path(path: str) -> bool:
    """A Windows drive-letter or UNC path (or any path with backslashes) while running on POSIX."""
    return os.name != "nt" and (bool(_WINDOWS_PATH.match(path)) or "\\" in path)


def _is_http(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def parse_symbol_path(text: Optional[str], *, default_cache: Optional[str] = None) -> list[SymbolPathElement]:
    """Parse a ``_NT_SYMBOL_PATH``-style string into the places to search, in order."""
    default = default_cache or default_cache_dir()
    elements: list[SymbolPathElement] = []
    seen: set[tuple[str, str, Optional[str]]] = set()
    current_cache: Optional[str] = None

    def add(kind: str, location: str, cache: Optional[str], source: str) -> None:
        key = (kind, location, cache)
        if key not in seen:
            seen.add(key)
            elements.append(SymbolPathElement(kind, location, cache, source))

    def as_cache(path: str) -> str:
        path = path.strip()
        if not path:
            return default
        if is_foreign_path(path):
            log.info("symbol path: cache %s is a Windows path; using %s instead", path, default)
            return default
        return os.path.expanduser(path)

    for raw in (text or "").split(";"):
        item = raw.strip()
        if not item:
            continue
        lower = item.lower()
        if lower.startswith("cache*"):
            current_cache = as_cache(item[len("cache*") :])
            add(STORE, current_cache, None, item)
            continue
        if lower.startswith(("srv*", "symsrv*")):
            parts = [p.strip() for p in item.split("*")]
            if lower.startswith("symsrv*"):
                if len(parts) < 2 or parts[1].lower() != "symsrv.dll":
                    log.info("symbol path: %s names another server DLL; treating it as symsrv.dll", item)
                parts = parts[2:]
            else:
                parts = parts[1:]
            if not parts or not any(parts):
                add(STORE, default, None, item)
                continue
            *downstream, upstream = parts
            if not downstream:
                if _is_http(upstream):
                    cache = current_cache or default
                    add(STORE, cache, None, item)
                    add(HTTP, upstream, cache, item)
                else:
                    add(STORE, os.path.expanduser(upstream), None, item)
                continue
            caches = [as_cache(p) for p in downstream]
            for index, store in enumerate(caches):
                add(STORE, store, None if index == 0 else caches[0], item)
            if _is_http(upstream):
                add(HTTP, upstream, caches[0], item)
            elif upstream:
                add(STORE, os.path.expanduser(upstream), caches[0], item)
            continue
        if _is_http(item):
            cache = current_cache or default
            add(STORE, cache, None, item)
            add(HTTP, item, cache, item)
            continue
        if _URL_SCHEME.match(item):
            log.warning("symbol path: %s: only http:// and https:// servers are supported; skipped", item)
            continue
        add(FOLDER, os.path.expanduser(item), current_cache, item)
    return elements


# ---------------------------------------------------------------------- names and keys
def safe_file_name(name: Optional[str]) -> Optional[str]:
    """``name`` if it is a harmless bare file name to use as a store/cache path component, else None."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        return None
    if name.split(".")[0].upper() in _DEVICE_NAMES:
        return None
    return name


def compressed_name(name: str) -> str:
    """The symsrv compressed form: the last character replaced by ``_`` (``k.pdb`` -> ``k.pd_``)."""
    return name[:-1] + "_"


def pdb_key(guid: uuid.UUID, age: int) -> str:
    """``GUID`` (32 upper-case hex digits) + age in hex, built from the parsed values (like CodeViewInfo.signature)."""
    if not isinstance(guid, uuid.UUID) or not isinstance(age, int) or not 0 <= age <= 0xFFFFFFFF:
        raise ValueError("bad GUID/age")
    return guid.hex.upper() + format(age, "X")


def pdb_keys(codeview: CodeViewInfo) -> list[str]:
    """The PDB keys to try: upper-case age first, then symsrv's lower-case age (differs only for ages >= 10)."""
    key = pdb_key(codeview.guid, codeview.age)
    lower_age = codeview.guid.hex.upper() + format(codeview.age, "x")
    return _unique([key, lower_age])


def binary_key(timestamp: int, size_of_image: int) -> str:
    """The binary index: TimeDateStamp as 8 hex digits, then SizeOfImage in hex without padding (``%08X%x``)."""
    for value, what in ((timestamp, "timestamp"), (size_of_image, "SizeOfImage")):
        if not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"bad {what}")
    return f"{timestamp:08X}{size_of_image:x}"


def binary_keys(timestamp: int, size_of_image: int) -> list[str]:
    key = binary_key(timestamp, size_of_image)
    return _unique([key, key.upper()])


def parse_hex(text: str, what: str) -> int:
    """A 32-bit value given in hex on the command line (``0x`` prefix optional)."""
    cleaned = text.strip().lower()
    cleaned = cleaned[2:] if cleaned.startswith("0x") else cleaned
    if not re.fullmatch(r"[0-9a-f]{1,8}", cleaned):
        raise UsageError(f"{what} must be a 32-bit hexadecimal number, not {text!r}")
    return int(cleaned, 16)


def _unique(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def display_url(url: str) -> str:
    """A URL without any user:password part, for messages."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<bad URL>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, ""))


def _shown(text: str, limit: int = 80) -> str:
    """Untrusted text made printable and short for a one-line message."""
    clean = "".join(c if c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


# ---------------------------------------------------------------------- path safety
def _within(root: str, path: str) -> bool:
    """True if ``path`` (symlinks resolved) is ``root`` or lies below it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


class _UnsafePath(Exception):
    pass


def _store_parts(root: str, name: str, key: str) -> list[list[str]]:
    """The folder components for NAME/KEY in a store (two-tier first when ``index2.txt`` is present)."""
    single = [name, key]
    if os.path.isfile(os.path.join(root, "index2.txt")):
        return [[name[:2], name, key], single]
    return [single]


def _make_dirs(root: str, parts: list[str]) -> str:
    """Create ``root/parts...`` one component at a time, refusing symlinks and anything leaving ``root``."""
    os.makedirs(root, exist_ok=True)
    current = root
    for part in parts:
        current = os.path.join(current, part)
        if os.path.islink(current):
            raise _UnsafePath(f"{current} is a symbolic link")
        if not os.path.exists(current):
            os.mkdir(current)
        elif not os.path.isdir(current):
            raise _UnsafePath(f"{current} is not a folder")
    if not _within(root, current):
        raise _UnsafePath(f"{current} is outside {root}")
    return current


def _prune_empty(root: str, folder: str) -> None:
    """Remove empty folders from ``folder`` up to (not including) ``root``: failed downloads leave no litter."""
    real_root = os.path.realpath(root)
    current = folder
    while _within(root, current) and os.path.realpath(current) != real_root:
        try:
            os.rmdir(current)
        except OSError:
            return
        current = os.path.dirname(current)


def _remove(path: Optional[str]) -> None:
    if path:
        try:
            os.remove(path)
        except OSError:
            pass


def _temp_in(folder: str, suffix: str = ".part") -> tuple[BinaryIO, str]:
    fd, path = tempfile.mkstemp(prefix=".api-to-etw-", suffix=suffix, dir=folder)
    return os.fdopen(fd, "wb"), path


# ---------------------------------------------------------------------- decompression
def expand_compressed(source: str, out: BinaryIO, name: str, max_bytes: int) -> int:
    """Decompress a symbol-server ``NAME.xx_`` file (CAB with MSZIP/none, or ZIP) into ``out``."""
    label = os.path.basename(source)
    size = os.path.getsize(source)
    if size > max_bytes:
        raise CorruptFileError(f"{label}: {size} bytes, over the {max_bytes}-byte limit")
    with open(source, "rb") as handle:
        head = handle.read(4)
        if is_cabinet(head):
            handle.seek(0)
            return extract_cab(handle.read(), out, name=name, max_bytes=max_bytes, label=label)
    if head == b"PK\x03\x04":
        return _expand_zip(source, out, name, max_bytes, label)
    raise CorruptFileError(f"{label}: compressed symbol file is neither a CAB nor a ZIP archive")


def _expand_zip(source: str, out: BinaryIO, name: str, max_bytes: int, label: str) -> int:
    try:
        with zipfile.ZipFile(source) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            chosen = [m for m in members if m.filename.replace("\\", "/").split("/")[-1].lower() == name.lower()]
            if not chosen and len(members) == 1:
                chosen = members
            if not chosen:
                raise CorruptFileError(f"{label}: ZIP archive does not hold {name}")
            member = chosen[0]
            if member.file_size > max_bytes:
                raise CorruptFileError(f"{label}: {member.file_size} bytes, over the {max_bytes}-byte limit")
            done = 0
            with archive.open(member) as stream:
                while True:
                    chunk = stream.read(CHUNK)
                    if not chunk:
                        break
                    done += len(chunk)
                    if done > max_bytes:
                        raise CorruptFileError(f"{label}: expands past the {max_bytes}-byte limit")
                    out.write(chunk)
            return done
    except CorruptFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError) as exc:
        raise CorruptFileError(f"{label}: corrupt ZIP archive ({type(exc).__name__}: {exc})") from None


# ---------------------------------------------------------------------- HTTP
class _Retry(Exception):
    def __init__(self, message: str, delay: Optional[float] = None) -> None:
        super().__init__(message)
        self.delay = delay


class _ServerError(Exception):
    """The server cannot be used (unreachable after retries, TLS failure): skip it from now on."""


class _FileError(Exception):
    """This one file cannot be had from this server (too large, forbidden): try the next form."""


class _Redirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in ("http", "https") or (req.type == "https" and scheme == "http"):
            raise urllib.error.HTTPError(req.full_url, code, f"refused redirect to a {scheme} URL", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _Http:
    def __init__(self, timeout: float, tries: int, max_bytes: int, progress: Optional[ProgressCallback],
                 logger: logging.Logger) -> None:
        self.timeout = timeout
        self.tries = max(1, tries)
        self.max_bytes = max_bytes
        self.progress = progress
        self.log = logger
        self.opener = urllib.request.build_opener(
            _Redirects(), urllib.request.HTTPSHandler(context=ssl.create_default_context())
        )

    def fetch_file(self, url: str, folder: str) -> Optional[str]:
        """Download ``url`` to a temporary file in ``folder``; None when the server does not have it."""
        return self._with_retries(url, lambda response: self._to_file(url, response, folder))

    def fetch_small(self, url: str) -> Optional[bytes]:
        return self._with_retries(url, lambda response: self._to_bytes(url, response))

    def _with_retries(self, url: str, body: Callable[[Any], Any]) -> Any:
        last: Optional[_Retry] = None
        for attempt in range(self.tries):
            if last is not None:
                delay = min(MAX_BACKOFF, RETRY_BACKOFF * 2 ** (attempt - 1))
                if last.delay is not None:
                    delay = min(MAX_BACKOFF, max(delay, last.delay))
                self.log.debug("%s: %s; retrying in %.1fs", display_url(url), last, delay)
                time.sleep(delay)
            try:
                response = self._open(url)
                if response is None:
                    return None
                with response:
                    return body(response)
            except _Retry as exc:
                last = exc
        raise _ServerError(f"{last} ({self.tries} tries)")

    def _open(self, url: str):
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
        self.log.debug("GET %s", display_url(url))
        try:
            return self.opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in (404, 410):
                return None
            if exc.code == 429 or exc.code >= 500:
                raise _Retry(f"HTTP {exc.code}", _retry_after(exc.headers)) from None
            raise _FileError(f"HTTP {exc.code} {_shown(str(exc.reason))}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise _ServerError(f"TLS certificate verification failed ({reason.verify_message})") from None
            if isinstance(reason, ssl.SSLError):
                raise _ServerError(f"TLS error ({_shown(str(reason))})") from None
            raise _Retry(_reason(reason)) from None
        except (OSError, http.client.HTTPException) as exc:
            raise _Retry(_reason(exc)) from None

    def _length(self, url: str, response) -> Optional[int]:
        value = response.headers.get("Content-Length")
        total = int(value) if value and value.strip().isdigit() else None
        if total is not None and total > self.max_bytes:
            raise _FileError(f"{total} bytes, over the {self.max_bytes}-byte limit")
        return total

    def _to_file(self, url: str, response, folder: str) -> str:
        total = self._length(url, response)
        handle, path = _temp_in(folder)
        complete = False
        try:
            with handle:
                done = self._copy(response, handle, self.max_bytes, total)
            if total is not None and done != total:
                raise _Retry(f"connection closed after {done} of {total} bytes")
            complete = True
            return path
        finally:
            if not complete:
                _remove(path)

    def _to_bytes(self, url: str, response) -> bytes:
        data = bytearray()
        while True:
            chunk = _read(response, SMALL_FILE_LIMIT)
            if not chunk:
                return bytes(data)
            data += chunk
            if len(data) > SMALL_FILE_LIMIT:
                raise _FileError(f"over the {SMALL_FILE_LIMIT}-byte limit for this kind of file")

    def _copy(self, response, out: BinaryIO, limit: int, total: Optional[int]) -> int:
        done = 0
        if self.progress:
            self.progress(0, total)
        while True:
            chunk = _read(response, CHUNK)
            if not chunk:
                return done
            done += len(chunk)
            if done > limit:
                raise _FileError(f"larger than the {limit}-byte limit; download abandoned")
            out.write(chunk)
            if self.progress:
                self.progress(done, total)


def _read(response, size: int) -> bytes:
    try:
        return response.read(size)
    except (OSError, http.client.HTTPException) as exc:
        raise _Retry(f"download interrupted ({_reason(exc)})") from None


def _reason(exc: object) -> str:
    if isinstance(exc, TimeoutError) or "timed out" in str(exc):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return _shown(f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else str(exc))


def _retry_after(headers) -> Optional[float]:
    value = headers.get("Retry-After") if headers is not None else None
    return float(value) if value and value.strip().isdigit() else None


# ---------------------------------------------------------------------- the search
@dataclass
class _Target:
    """What is being looked for, and how a candidate file is accepted."""

    name: str
    keys: list[str]
    #: Returns None when the file is the right one, else why not ("does not match ..." for a wrong index).
    verify: Callable[[str], Optional[str]]
    flat_dirs: list[str] = field(default_factory=lambda: [""])


class _Search:
    def __init__(self, logger: logging.Logger, progress: Optional[ProgressCallback], timeout: float,
                 retries: int, max_bytes: int, offline: bool) -> None:
        self.log = logger
        self.progress = progress
        self.timeout = timeout
        self.retries = retries
        self.max_bytes = max_bytes
        self.offline = offline
        self.tried: list[str] = []
        self.problems: list[str] = []
        self.mismatched: list[str] = []
        self.dead: dict[str, str] = {}
        self.two_tier: dict[str, bool] = {}
        self._http: Optional[_Http] = None

    # -- bookkeeping
    def note(self, text: str, level: int = logging.DEBUG) -> None:
        self.tried.append(text)
        self.log.log(level, "symbols: %s", text)

    def problem(self, text: str) -> None:
        self.problems.append(text)
        self.note(text, logging.INFO)

    @property
    def http(self) -> _Http:
        if self._http is None:
            self._http = _Http(self.timeout, self.retries, self.max_bytes, self.progress, self.log)
        return self._http

    def check(self, target: _Target, path: str, label: str, context: str = "") -> bool:
        """Verify ``path``; ``label`` names it in notes and in ``mismatched`` (a URL for a download)."""
        why = target.verify(path)
        prefix = f"{context}: {label}" if context else label
        if why is None:
            self.note(f"{prefix}: found", logging.INFO)
            return True
        self.note(f"{prefix}: {why}", logging.INFO)
        if why.startswith("does not match"):
            self.mismatched.append(label)
        return False

    # -- elements
    def run(self, target: _Target, elements: list[SymbolPathElement]) -> tuple[Optional[str], str]:
        for element in elements:
            try:
                if element.kind == HTTP:
                    found = self.server(target, element)
                elif element.kind == STORE:
                    found = self.store(target, element.location, element.cache, element.describe())
                else:
                    found = self.folder(target, element)
            except _UnsafePath as exc:
                self.problem(f"{element.describe()}: refused: {exc}")
                found = None
            except OSError as exc:
                self.problem(f"{element.describe()}: {exc.strerror or exc}")
                found = None
            if found:
                return found, element.source or element.describe()
        return None, ""

    def folder(self, target: _Target, element: SymbolPathElement) -> Optional[str]:
        root = element.location
        if is_foreign_path(root):
            self.note(f"folder {root}: a Windows path, not available here")
            return None
        if not os.path.isdir(root):
            self.note(f"folder {root}: no such folder")
            return None
        for sub in target.flat_dirs:
            path = os.path.join(root, sub, target.name)
            if not _within(root, path):
                continue
            if os.path.isfile(path):
                if self.check(target, path, path, f"folder {root}"):
                    if element.cache and not _within(element.cache, path):
                        return self.copy_to_cache(target, path, element.cache, target.keys[0]) or path
                    return path
            else:
                self.note(f"folder {root}: {path}: not found")
        return self.store(target, root, element.cache, f"folder {root} (as a store)")

    def store(self, target: _Target, root: str, cache: Optional[str], where: str) -> Optional[str]:
        if is_foreign_path(root):
            self.note(f"{where}: a Windows path, not available here")
            return None
        if not os.path.isdir(root):
            self.note(f"{where}: no such folder")
            return None
        for key in target.keys:
            for parts in _store_parts(root, target.name, key):
                folder = os.path.join(root, *parts)
                if not _within(root, folder):
                    self.problem(f"{where}: {folder}: leaves the store; refused")
                    continue
                if not os.path.isdir(folder):
                    self.note(f"{where}: {os.path.join(folder, target.name)}: not found")
                    continue
                found = self.store_folder(target, root, folder, key, cache, where)
                if found:
                    return found
        return None

    def store_folder(self, target: _Target, root: str, folder: str, key: str, cache: Optional[str],
                     where: str) -> Optional[str]:
        plain = os.path.join(folder, target.name)
        if os.path.isfile(plain):
            if not _within(root, plain):
                self.problem(f"{where}: {plain} leads outside the store; refused")
            elif self.check(target, plain, plain, where):
                if cache and not _within(cache, plain):
                    return self.copy_to_cache(target, plain, cache, key) or plain
                return plain
        packed = os.path.join(folder, compressed_name(target.name))
        if os.path.isfile(packed) and _within(root, packed):
            found = self.expand_into_cache(target, packed, cache or default_cache_dir(), key, where)
            if found:
                return found
        pointer = os.path.join(folder, "file.ptr")
        if os.path.isfile(pointer) and _within(root, pointer):
            with open(pointer, "rb") as handle:
                text = handle.read(SMALL_FILE_LIMIT)
            kind, value = _parse_pointer(text)
            if kind == "MSG":
                self.note(f"{where}: file.ptr says: {_shown(value)}", logging.INFO)
            elif kind == "PATH":
                return self.follow_local_pointer(target, root, folder, value, where)
            else:
                self.note(f"{where}: {pointer}: not a usable file.ptr")
        if not os.path.isfile(plain):
            self.note(f"{where}: {plain}: not found")
        return None

    def follow_local_pointer(self, target: _Target, root: str, folder: str, value: str, where: str) -> Optional[str]:
        if is_foreign_path(value) or _is_http(value):
            self.note(f"{where}: file.ptr points at {_shown(value)}; not followed (not a path in this store)")
            return None
        path = os.path.normpath(os.path.join(folder, os.path.expanduser(value)))
        if not _within(root, path):
            self.problem(f"{where}: file.ptr points outside the store ({_shown(value)}); not followed")
            return None
        if not os.path.isfile(path):
            self.note(f"{where}: file.ptr target {path}: not found")
            return None
        return path if self.check(target, path, path, f"{where} (file.ptr)") else None

    def copy_to_cache(self, target: _Target, source: str, cache: str, key: str) -> Optional[str]:
        try:
            folder = _make_dirs(cache, _store_parts(cache, target.name, key)[0])
            handle, temp = _temp_in(folder)
            with handle, open(source, "rb") as src:
                shutil.copyfileobj(src, handle, CHUNK)
            final = os.path.join(folder, target.name)
            os.replace(temp, final)
        except (OSError, _UnsafePath) as exc:
            self.note(f"could not copy {source} into the cache {cache}: {exc}")
            return None
        self.note(f"copied {source} to {final}", logging.INFO)
        return final

    def expand_into_cache(self, target: _Target, packed: str, cache: str, key: str, where: str) -> Optional[str]:
        folder = _make_dirs(cache, _store_parts(cache, target.name, key)[0])
        handle, temp = _temp_in(folder)
        installed = False
        try:
            with handle:
                expand_compressed(packed, handle, target.name, self.max_bytes)
            if not self.check(target, temp, f"{packed} (expanded)", where):
                return None
            final = os.path.join(folder, target.name)
            os.replace(temp, final)
            installed = True
            self.note(f"expanded {packed} to {final}", logging.INFO)
            return final
        except CorruptFileError as exc:
            self.problem(f"{where}: {exc}")
            return None
        finally:
            if not installed:
                _remove(temp)
                _prune_empty(cache, folder)

    # -- HTTP servers
    def server(self, target: _Target, element: SymbolPathElement) -> Optional[str]:
        url = element.location.rstrip("/")
        shown = display_url(url)
        if self.offline:
            self.note(f"server {shown}: skipped (offline)")
            return None
        if url in self.dead:
            self.note(f"server {shown}: skipped ({self.dead[url]})")
            return None
        cache = element.cache or default_cache_dir()
        try:
            two_tier = self.probe_two_tier(url)
            for key in target.keys:
                parts = [target.name[:2], target.name, key] if two_tier else [target.name, key]
                base = url + "/" + "/".join(urllib.parse.quote(p, safe="") for p in parts)
                found = self.server_key(target, base, cache, key, shown)
                if found:
                    return found
        except _ServerError as exc:
            self.dead[url] = f"unreachable: {exc}"
            self.problem(f"server {shown}: {exc}")
        return None

    def probe_two_tier(self, url: str) -> bool:
        if url not in self.two_tier:
            try:
                self.two_tier[url] = self.http.fetch_small(url + "/index2.txt") is not None
            except _FileError:
                self.two_tier[url] = False
        return self.two_tier[url]

    def server_key(self, target: _Target, base: str, cache: str, key: str, shown: str) -> Optional[str]:
        folder = _make_dirs(cache, _store_parts(cache, target.name, key)[0])
        final = os.path.join(folder, target.name)
        try:
            if os.path.isfile(final) and self.check(target, final, final, "cache"):
                return final
            found = self.download(target, f"{base}/{urllib.parse.quote(target.name, safe='')}", folder, final)
            if found:
                return found
            packed = compressed_name(target.name)
            found = self.download(target, f"{base}/{urllib.parse.quote(packed, safe='')}", folder, final, packed)
            if found:
                return found
            return self.server_pointer(target, f"{base}/file.ptr", folder, final)
        finally:
            if not os.path.isfile(final):
                _prune_empty(cache, folder)

    def download(self, target: _Target, url: str, folder: str, final: str,
                 packed: Optional[str] = None) -> Optional[str]:
        shown = display_url(url)
        try:
            temp = self.http.fetch_file(url, folder)
        except _FileError as exc:
            self.problem(f"{shown}: {exc}")
            return None
        if temp is None:
            self.note(f"{shown}: not found (404)")
            return None
        expanded: Optional[str] = None
        try:
            if packed is not None:
                handle, expanded = _temp_in(folder)
                try:
                    with handle:
                        expand_compressed(temp, handle, target.name, self.max_bytes)
                except CorruptFileError as exc:
                    self.problem(f"{shown}: {exc}")
                    return None
                _remove(temp)
                temp, expanded = expanded, None
            if not self.check(target, temp, shown):
                return None
            os.replace(temp, final)
            temp = None
            self.note(f"saved {final}", logging.INFO)
            return final
        finally:
            _remove(temp)
            _remove(expanded)

    def server_pointer(self, target: _Target, url: str, folder: str, final: str) -> Optional[str]:
        shown = display_url(url)
        try:
            data = self.http.fetch_small(url)
        except _FileError as exc:
            self.note(f"{shown}: {exc}")
            return None
        if data is None:
            self.note(f"{shown}: not found (404)")
            return None
        kind, value = _parse_pointer(data)
        if kind == "MSG":
            self.note(f"{shown}: server says: {_shown(value)}", logging.INFO)
        elif kind == "PATH" and _is_http(value):
            if url.lower().startswith("https:") and value.lower().startswith("http:"):
                self.note(f"{shown}: points at {display_url(value)}; not followed (https to http)")
                return None
            return self.download(target, value, folder, final)
        elif kind == "PATH":
            self.note(f"{shown}: points at {_shown(value)}; a server's file.ptr is never followed to local paths")
        else:
            self.note(f"{shown}: not a usable file.ptr")
        return None


def _parse_pointer(data: bytes) -> tuple[str, str]:
    """(``PATH``/``MSG``/``""``, value) from a file.ptr. symstore pointer files hold a bare path."""
    text = data.decode("utf-8", "replace").strip().lstrip("\ufeff")
    line = text.splitlines()[0].strip() if text else ""
    head, sep, rest = line.partition(":")
    if sep and head.upper() in ("PATH", "MSG"):
        return head.upper(), rest.strip()
    if line and "\0" not in line:
        return "PATH", line
    return "", ""


# ---------------------------------------------------------------------- public API
@dataclass
class LocateResult:
    """Where the PDB was found (or None), every place tried, and a one-line summary."""

    path: Optional[str]
    tried: list[str]
    note: str
    #: The verified PDB, already loaded (reuse it rather than loading the file again).
    pdb: Optional[PdbSymbols] = None
    #: Where it came from: "--pdb", "beside the binary" or the symbol-path element.
    source: str = ""
    #: PDB files that were found by name but whose GUID/age do not match the binary.
    mismatched: list[str] = field(default_factory=list)
    #: Server failures and refusals worth showing even without -v.
    problems: list[str] = field(default_factory=list)


@dataclass
class _ImageRef:
    """The two attributes of PEImage that :func:`pdb_candidates` reads."""

    path: str
    codeview: Optional[CodeViewInfo]


def _elements(symbol_path: Union[str, list[SymbolPathElement], None]) -> list[SymbolPathElement]:
    if symbol_path is None:
        return []
    if isinstance(symbol_path, str):
        return parse_symbol_path(symbol_path)
    return list(symbol_path)


def _summary(items: list[str], limit: int = 6) -> str:
    shown = "; ".join(items[:limit])
    if len(items) > limit:
        shown += f"; and {len(items) - limit} more (-v lists them)"
    return shown


def locate_pdb(
    codeview: Optional[CodeViewInfo],
    binary_path: str,
    pdb_arg: Optional[str] = None,
    symbol_path: Union[str, list[SymbolPathElement], None] = None,
    *,
    log: Optional[logging.Logger] = None,
    progress: Optional[ProgressCallback] = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    offline: bool = False,
    pe_sections: Optional[list[tuple[str, int, int]]] = None,
) -> LocateResult:
    """Find the PDB matching ``codeview``: explicit ``pdb_arg``, beside the binary, then the symbol path.

    ``pdb_arg`` is returned as given, unverified (the caller applies ``--force-pdb``). Every other
    candidate must match the CodeView GUID and age; mismatches are skipped and listed. Unreachable
    servers are noted, not raised. ``pe_sections`` is passed to :func:`load_pdb` so the returned
    ``LocateResult.pdb`` is exactly what the caller would have loaded.
    """
    from .loader import pdb_candidates, safe_pdb_name  # here, so loader.py may import this module

    logger = log if log is not None else _LOG
    if pdb_arg:
        return LocateResult(pdb_arg, [f"--pdb {pdb_arg}"], f"symbols from {pdb_arg} (--pdb)", source="--pdb")
    search = _Search(logger, progress, timeout, retries, max_bytes, offline)
    # The search stops at the first file verify() accepts, so the last PDB accepted is the one found
    # (possibly verified under a temporary name and then renamed into the cache).
    accepted: list[PdbSymbols] = []

    def verify(path: str) -> Optional[str]:
        try:
            pdb = load_pdb(path, pe_sections)
        except ApiToEtwError as exc:
            return f"unusable ({exc})"
        if codeview is not None and not pdb.matches(codeview.guid, codeview.age):
            return f"does not match (PDB {pdb.guid}/{pdb.dbi_age}, binary wants {codeview.guid}/{codeview.age})"
        accepted.append(pdb)
        return None

    found: Optional[str] = None
    source = ""
    for candidate in pdb_candidates(_ImageRef(binary_path, codeview)):  # type: ignore[arg-type]
        if not os.path.isfile(candidate):
            search.note(f"beside the binary: {candidate}: not found")
        elif search.check(_Target(os.path.basename(candidate), [], verify), candidate, candidate,
                          "beside the binary"):
            found, source = candidate, "beside the binary"
            break

    name = safe_file_name(safe_pdb_name(codeview))
    label = f"{name} ({pdb_key(codeview.guid, codeview.age)})" if name and codeview else "the binary"
    elements = _elements(symbol_path)
    if found is None and elements:
        if codeview is None:
            search.note("symbol path not searched: the binary has no CodeView (RSDS) record", logging.INFO)
        elif name is None:
            search.problem(f"symbol path not searched: CodeView PDB name {_shown(repr(codeview.pdb_name))} "
                           "is not a plain file name")
        else:
            ext = os.path.splitext(binary_path)[1].lstrip(".").lower()
            flat = ["", ext, os.path.join("symbols", ext)] if re.fullmatch(r"[a-z0-9]{1,8}", ext) else [""]
            target = _Target(name, pdb_keys(codeview), verify, flat)
            found, source = search.run(target, elements)

    if found is not None:
        pdb = accepted[-1]
        pdb.path = found
        return LocateResult(found, search.tried, f"symbols from {found}", pdb, source, search.mismatched,
                            search.problems)
    where = "beside the binary" + (" or on the symbol path" if elements else " (no symbol path set)")
    note = f"no PDB found for {label} {where}"
    if search.mismatched:
        note += f"; {len(search.mismatched)} with the right name did not match"
    if search.problems:
        note += f"; {_summary(search.problems, 3)}"
    return LocateResult(None, search.tried, note, None, "", search.mismatched, search.problems)


def require_pdb(result: LocateResult) -> str:
    """The found PDB path, or :class:`SymbolsUnavailableError` listing where it looked (``symbols`` command)."""
    if result.path:
        return result.path
    raise SymbolsUnavailableError(f"{result.note}; tried: {_summary(result.tried, 8)}")


def pe_index(path: str) -> Optional[tuple[int, int]]:
    """(TimeDateStamp, SizeOfImage) from a PE file's headers, or None if it is not a PE file."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
            if len(head) < 0x40 or head[:2] != b"MZ":
                return None
            (e_lfanew,) = struct.unpack_from("<I", head, 0x3C)
            if e_lfanew > (1 << 20):
                return None
            handle.seek(e_lfanew)
            header = handle.read(24 + 60)
    except OSError:
        return None
    if len(header) < 24 + 60 or header[:4] != b"PE\0\0":
        return None
    (timestamp,) = struct.unpack_from("<I", header, 8)
    (size_of_image,) = struct.unpack_from("<I", header, 24 + 56)  # same offset in PE32 and PE32+
    return timestamp, size_of_image


def fetch_binary(
    name: str,
    timestamp: int,
    size_of_image: int,
    symbol_path: Union[str, list[SymbolPathElement], None],
    *,
    log: Optional[logging.Logger] = None,
    progress: Optional[ProgressCallback] = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    offline: bool = False,
) -> str:
    """Find a binary by its index (``NAME/%08X%x/NAME``) on the symbol path; returns its local path.

    Raises :class:`UsageError` for a name or index that cannot be looked up and
    :class:`SymbolsUnavailableError` (listing where it looked) when no element has it.
    """
    logger = log if log is not None else _LOG
    safe = safe_file_name(name)
    if safe is None:
        raise UsageError(f"{_shown(repr(name))} is not a plain file name (no folders, '..' or special characters)")
    try:
        keys = binary_keys(timestamp, size_of_image)
    except ValueError as exc:
        raise UsageError(f"{safe}: {exc}: timestamp and SizeOfImage must be 32-bit values") from None
    elements = _elements(symbol_path)
    label = f"{safe} ({keys[0]})"
    if not elements:
        raise SymbolsUnavailableError(f"cannot fetch {label}: no symbol path (use --symbol-path or _NT_SYMBOL_PATH)")

    def verify(path: str) -> Optional[str]:
        index = pe_index(path)
        if index is None:
            return "unusable (not a PE file)"
        if index != (timestamp, size_of_image):
            return f"does not match (index {binary_key(*index)}, wanted {keys[0]})"
        return None

    ext = os.path.splitext(safe)[1].lstrip(".").lower()
    flat = ["", ext] if re.fullmatch(r"[a-z0-9]{1,8}", ext) else [""]
    search = _Search(logger, progress, timeout, retries, max_bytes, offline)
    found, _source = search.run(_Target(safe, keys, verify, flat), elements)
    if found is None:
        raise SymbolsUnavailableError(f"{label} not found on the symbol path; tried: {_summary(search.tried, 8)}")
    return found
