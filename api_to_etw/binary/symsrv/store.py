"""The search of one symbol path for one file: folders, local stores and symbol servers, in order.

Store layout (symstore/symsrv): ``NAME/KEY/NAME``, or ``NAME[:2]/NAME/KEY/NAME`` when the store root
holds ``index2.txt`` (two-tier). Beside ``NAME`` a store may hold the compressed ``NAME`` with its last
character replaced by ``_`` (a CAB, or a ZIP) or a ``file.ptr`` holding ``PATH:<path>`` or
``MSG:<text>`` (symstore pointer stores write the bare path). Over HTTP the same URLs are tried in that
order (``index2.txt`` is probed first). Files in local stores and folders are used in place, except
that hits in an upstream store (``srv*CACHE*STORE``) or in an element after ``cache*DIR`` are copied
into the cache, and compressed files are expanded into the element's cache (or the default cache).

``file.ptr`` policy: in a local store a ``PATH`` is followed only when it resolves to a regular file
inside that same store (relative paths are taken from the ``file.ptr`` folder); on an HTTP server a
``PATH`` is followed only when it is an http(s) URL (not https to http), never to the local file
system. Downloads are renamed into place only when complete and verified. A server that stays
unreachable is noted and skipped for the rest of the search; ``offline=True`` never touches the
network.
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Optional, TypeVar

from ...errors import ApiToEtwError, CorruptFileError
from ...inputs import open_regular
from .http import FileError, HttpClient, LookupDeadline, ServerError
from .keys import compressed_name, display_url, printable
from .limits import CHUNK, SMALL_FILE_LIMIT, Clock, ProgressCallback, TransferLimits
from .path import HTTP, STORE, SymbolPathElement, default_cache_dir, is_foreign_path, is_http
from .safety import UnsafePath, make_dirs, prune_empty, remove_quietly, store_parts, temp_in, within

_T = TypeVar("_T")


class Target:
    """What is being looked for, and how a candidate file is accepted. (A plain class: never compared, it
    needs none of a dataclass's generated methods, compiled at import.)"""

    __slots__ = ("name", "keys", "verify", "flat_dirs")

    def __init__(self, name: str, keys: list[str], verify: Callable[[str], Optional[str]],
                 flat_dirs: Optional[list[str]] = None) -> None:
        self.name = name
        self.keys = keys
        #: Returns None when the file is the right one, else why not ("does not match ..." for a wrong index).
        self.verify = verify
        self.flat_dirs = flat_dirs if flat_dirs is not None else [""]


class StoreSearch:
    def __init__(self, logger: logging.Logger, progress: Optional[ProgressCallback], limits: TransferLimits,
                 offline: bool) -> None:
        self.log = logger
        self.progress = progress
        self.limits = limits
        self.clock = Clock(limits)
        self.max_bytes = limits.max_bytes
        self.offline = offline
        self.tried: list[str] = []
        self.problems: list[str] = []
        self.mismatched: list[str] = []
        self.dead: dict[str, str] = {}
        self.two_tier: dict[str, bool] = {}
        self._http: Optional[HttpClient] = None

    # -- bookkeeping
    def note(self, text: str, level: int = logging.DEBUG) -> None:
        self.tried.append(text)
        self.log.log(level, "symbols: %s", text)

    def problem(self, text: str) -> None:
        self.problems.append(text)
        self.note(text, logging.INFO)

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            self._http = HttpClient(self.limits, self.clock, self.progress, self.log)
        return self._http

    def check(self, target: Target, path: str, label: str, context: str = "") -> bool:
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
    def run(self, target: Target, elements: list[SymbolPathElement]) -> tuple[Optional[str], str]:
        for element in elements:
            if self.clock.lookup_expired():
                self.problem(f"lookup deadline of {self.limits.lookup_deadline:g}s reached; "
                             f"{element.describe()} and what follows not searched")
                return None, ""
            try:
                if element.kind == HTTP:
                    found = self.server(target, element)
                elif element.kind == STORE:
                    found = self.store(target, element.location, element.cache, element.describe())
                else:
                    found = self.folder(target, element)
            except LookupDeadline as exc:
                self.problem(f"{element.describe()}: {exc}; search stopped")
                return None, ""
            except UnsafePath as exc:
                self.problem(f"{element.describe()}: refused: {exc}")
                found = None
            except ApiToEtwError as exc:  # a file that changed under us (now a FIFO, say), or too large
                self.problem(f"{element.describe()}: {exc}")
                found = None
            except OSError as exc:
                self.problem(f"{element.describe()}: {exc.strerror or exc}")
                found = None
            if found:
                return found, element.source or element.describe()
        return None, ""

    def readable_root(self, root: str, where: str) -> bool:
        """A folder or store root can be searched here: not a Windows path, and an existing folder."""
        if is_foreign_path(root):
            self.note(f"{where}: a Windows path, not available here")
            return False
        if not os.path.isdir(root):
            self.note(f"{where}: no such folder")
            return False
        return True

    def folder(self, target: Target, element: SymbolPathElement) -> Optional[str]:
        root = element.location
        if not self.readable_root(root, f"folder {root}"):
            return None
        for sub in target.flat_dirs:
            path = os.path.join(root, sub, target.name)
            if not within(root, path):
                continue
            if os.path.isfile(path):
                if self.check(target, path, path, f"folder {root}"):
                    if element.cache and not within(element.cache, path):
                        return self.copy_to_cache(target, path, element.cache, target.keys[0]) or path
                    return path
            else:
                self.note(f"folder {root}: {path}: not found")
        return self.store(target, root, element.cache, f"folder {root} (as a store)")

    def store(self, target: Target, root: str, cache: Optional[str], where: str) -> Optional[str]:
        if not self.readable_root(root, where):
            return None
        for key in target.keys:
            for parts in store_parts(root, target.name, key):
                folder = os.path.join(root, *parts)
                if not within(root, folder):
                    self.problem(f"{where}: {folder}: leaves the store; refused")
                    continue
                if not os.path.isdir(folder):
                    self.note(f"{where}: {os.path.join(folder, target.name)}: not found")
                    continue
                found = self.store_folder(target, root, folder, key, cache, where)
                if found:
                    return found
        return None

    def store_folder(self, target: Target, root: str, folder: str, key: str, cache: Optional[str],
                     where: str) -> Optional[str]:
        plain = os.path.join(folder, target.name)
        if os.path.isfile(plain):
            if not within(root, plain):
                self.problem(f"{where}: {plain} leads outside the store; refused")
            elif self.check(target, plain, plain, where):
                if cache and not within(cache, plain):
                    return self.copy_to_cache(target, plain, cache, key) or plain
                return plain
        packed = os.path.join(folder, compressed_name(target.name))
        if os.path.isfile(packed) and within(root, packed):
            found = self.expand_into_cache(target, packed, cache or default_cache_dir(), key, where)
            if found:
                return found
        pointer = os.path.join(folder, "file.ptr")
        if os.path.isfile(pointer) and within(root, pointer):
            with open_regular(pointer, kind="names") as handle:
                text = handle.read(SMALL_FILE_LIMIT)
            kind, value = parse_pointer(text)
            if kind == "MSG":
                self.note(f"{where}: file.ptr says: {printable(value)}", logging.INFO)
            elif kind == "PATH":
                return self.follow_local_pointer(target, root, folder, value, where)
            else:
                self.note(f"{where}: {pointer}: not a usable file.ptr")
        if not os.path.isfile(plain):
            self.note(f"{where}: {plain}: not found")
        return None

    def follow_local_pointer(self, target: Target, root: str, folder: str, value: str, where: str) -> Optional[str]:
        if is_foreign_path(value) or is_http(value):
            self.note(f"{where}: file.ptr points at {printable(value)}; not followed (not a path in this store)")
            return None
        path = os.path.normpath(os.path.join(folder, os.path.expanduser(value)))
        if not within(root, path):
            self.problem(f"{where}: file.ptr points outside the store ({printable(value)}); not followed")
            return None
        if not os.path.isfile(path):
            self.note(f"{where}: file.ptr target {path}: not found")
            return None
        return path if self.check(target, path, path, f"{where} (file.ptr)") else None

    def copy_to_cache(self, target: Target, source: str, cache: str, key: str) -> Optional[str]:
        try:
            folder = make_dirs(cache, store_parts(cache, target.name, key)[0])
            import shutil  # here: a PDB beside the binary is used in place, never copied

            handle, temp = temp_in(folder)
            with handle, open_regular(source, max_size=self.max_bytes) as src:
                shutil.copyfileobj(src, handle, CHUNK)
            final = os.path.join(folder, target.name)
            os.replace(temp, final)
        except (OSError, UnsafePath, ApiToEtwError) as exc:
            self.note(f"could not copy {source} into the cache {cache}: {exc}")
            return None
        self.note(f"copied {source} to {final}", logging.INFO)
        return final

    def expand_into_cache(self, target: Target, packed: str, cache: str, key: str, where: str) -> Optional[str]:
        from .compressed import expand_compressed  # here: the CAB reader is needed only for a .pd_ hit

        folder = make_dirs(cache, store_parts(cache, target.name, key)[0])
        handle, temp = temp_in(folder)
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
                remove_quietly(temp)
                prune_empty(cache, folder)

    # -- HTTP servers
    def server(self, target: Target, element: SymbolPathElement) -> Optional[str]:
        url = element.location.rstrip("/")
        shown = display_url(url)
        if self.offline:
            self.note(f"server {shown}: skipped (offline)")
            return None
        if url in self.dead:
            self.note(f"server {shown}: skipped ({self.dead[url]})")
            return None
        import urllib.parse  # here: only a symbol server's URLs are quoted (with ipaddress, 2.5 ms to import)

        cache = element.cache or default_cache_dir()
        try:
            two_tier = self.probe_two_tier(url)
            for key in target.keys:
                parts = [target.name[:2], target.name, key] if two_tier else [target.name, key]
                base = url + "/" + "/".join(urllib.parse.quote(p, safe="") for p in parts)
                found = self.server_key(target, base, cache, key, shown)
                if found:
                    return found
        except ServerError as exc:
            self.dead[url] = f"unreachable: {exc}"
            self.problem(f"server {shown}: {exc}")
        return None

    def probe_two_tier(self, url: str) -> bool:
        if url not in self.two_tier:
            try:
                self.two_tier[url] = self.http.fetch_small(url + "/index2.txt") is not None
            except FileError:
                self.two_tier[url] = False
        return self.two_tier[url]

    def server_key(self, target: Target, base: str, cache: str, key: str, shown: str) -> Optional[str]:
        import urllib.parse

        folder = make_dirs(cache, store_parts(cache, target.name, key)[0])
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
                prune_empty(cache, folder)

    def _fetched(self, fetch: Callable[[], Optional[_T]], shown: str, report: Callable[[str], None]) -> Optional[_T]:
        """What ``fetch`` returns, or None: a 404 is noted, a failed transfer goes to ``report``."""
        try:
            data = fetch()
        except FileError as exc:
            report(f"{shown}: {exc}")
            return None
        if data is None:
            self.note(f"{shown}: not found (404)")
        return data

    def download(self, target: Target, url: str, folder: str, final: str,
                 packed: Optional[str] = None) -> Optional[str]:
        shown = display_url(url)
        temp: Optional[str] = None
        expanded: Optional[str] = None
        try:  # one try from the fetch on: a signal between two statements must not leave a .part file
            temp = self._fetched(lambda: self.http.fetch_file(url, folder), shown, self.problem)
            if temp is None:
                return None
            if packed is not None:
                from .compressed import expand_compressed

                handle, expanded = temp_in(folder)
                try:
                    with handle:
                        expand_compressed(temp, handle, target.name, self.max_bytes)
                except CorruptFileError as exc:
                    self.problem(f"{shown}: {exc}")
                    return None
                remove_quietly(temp)
                temp, expanded = expanded, None
            if not self.check(target, temp, shown):
                return None
            os.replace(temp, final)
            temp = None
            self.note(f"saved {final}", logging.INFO)
            return final
        finally:
            remove_quietly(temp)
            remove_quietly(expanded)

    def server_pointer(self, target: Target, url: str, folder: str, final: str) -> Optional[str]:
        shown = display_url(url)
        data = self._fetched(lambda: self.http.fetch_small(url), shown, self.note)
        if data is None:
            return None
        kind, value = parse_pointer(data)
        if kind == "MSG":
            self.note(f"{shown}: server says: {printable(value)}", logging.INFO)
        elif kind == "PATH" and is_http(value):
            if url.lower().startswith("https:") and value.lower().startswith("http:"):
                self.note(f"{shown}: points at {display_url(value)}; not followed (https to http)")
                return None
            return self.download(target, value, folder, final)
        elif kind == "PATH":
            self.note(f"{shown}: points at {printable(value)}; a server's file.ptr is never followed to local paths")
        else:
            self.note(f"{shown}: not a usable file.ptr")
        return None


def parse_pointer(data: bytes) -> tuple[str, str]:
    """(``PATH``/``MSG``/``""``, value) from a file.ptr. symstore pointer files hold a bare path."""
    text = data.decode("utf-8", "replace").strip().lstrip("\ufeff")
    line = text.splitlines()[0].strip() if text else ""
    head, sep, rest = line.partition(":")
    if sep and head.upper() in ("PATH", "MSG"):
        return head.upper(), rest.strip()
    if line and "\0" not in line:
        return "PATH", line
    return "", ""

