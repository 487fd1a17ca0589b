"""The symbol path grammar: ``_NT_SYMBOL_PATH`` / ``--symbol-path`` parsed into the places to search.

A symbol path is a ``;``-separated list of:

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
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Optional

from ...fieldclass import Frozen, set_field
from .keys import display_url

log = logging.getLogger("api_to_etw.binary.symsrv")

FOLDER = "folder"
STORE = "store"
HTTP = "http"
ENV_SYMBOL_PATH = "_NT_SYMBOL_PATH"
ENV_ALT_SYMBOL_PATH = "_NT_ALT_SYMBOL_PATH"

_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:|\\\\)")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


class SymbolPathElement(Frozen):
    """One place to look: a plain folder, a symbol store (local) or a symbol server (http/https URL).

    ``cache`` is where files found here are stored: downloads for a server (always set), copies and
    decompressed files for a store (None means "use in place"; decompressed files then go to the
    default cache).
    """

    kind: str
    location: str
    cache: Optional[str]
    source: str
    _fields = ("kind", "location", "cache", "source")

    def __init__(self, kind: str, location: str, cache: Optional[str] = None, source: str = "") -> None:
        set_field(self, "__dict__", {"kind": kind, "location": location, "cache": cache, "source": source})

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


def is_http(text: str) -> bool:
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
                if is_http(upstream):
                    cache = current_cache or default
                    add(STORE, cache, None, item)
                    add(HTTP, upstream, cache, item)
                else:
                    add(STORE, os.path.expanduser(upstream), None, item)
                continue
            caches = [as_cache(p) for p in downstream]
            for index, store in enumerate(caches):
                add(STORE, store, None if index == 0 else caches[0], item)
            if is_http(upstream):
                add(HTTP, upstream, caches[0], item)
            elif upstream:
                add(STORE, os.path.expanduser(upstream), caches[0], item)
            continue
        if is_http(item):
            cache = current_cache or default
            add(STORE, cache, None, item)
            add(HTTP, item, cache, item)
            continue
        if _URL_SCHEME.match(item):
            log.warning("symbol path: %s: only http:// and https:// servers are supported; skipped", item)
            continue
        add(FOLDER, os.path.expanduser(item), current_cache, item)
    return elements

