"""Symbol location: symbol-path parsing, local stores, a real HTTP symbol server on 127.0.0.1, hostile names.

Every test runs with the default cache inside tmp_path, no proxy variables, and a guard that fails any
connection to a host other than 127.0.0.1: nothing here touches the internet.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import require_tools, synth_exe, synth_pdb

from api_to_etw.binary.pe import CodeViewInfo, load_pe
from api_to_etw.binary.symsrv import (
    FOLDER,
    HTTP,
    STORE,
    USER_AGENT,
    SymbolPathElement,
    binary_key,
    binary_keys,
    compressed_name,
    default_cache_dir,
    fetch_binary,
    limits,
    locate_pdb,
    parse_hex,
    parse_symbol_path,
    pdb_key,
    pdb_keys,
    require_pdb,
    resolve_symbol_path,
    safe_file_name,
)
from api_to_etw.binary.symsrv.limits import TransferLimits
from api_to_etw.errors import ExitCode, SymbolsUnavailableError, UsageError

PDB = "synthkernel.pdb"
EXE = "synthkernel.exe"

# ---------------------------------------------------------------------- file-system audit
_AUDIT: dict = {"active": False, "events": []}
_WATCHED = {"open", "os.rename", "os.mkdir", "os.remove", "os.rmdir", "os.listdir", "os.scandir", "shutil.copyfile"}


def _audit_hook(event, args):
    if _AUDIT["active"] and event in _WATCHED:
        for arg in args:
            if isinstance(arg, (str, bytes, os.PathLike)):
                _AUDIT["events"].append((event, os.fsdecode(arg)))


sys.addaudithook(_audit_hook)


@contextmanager
def watch_files():
    """Record every path opened, listed, created, renamed or removed inside the block."""
    _AUDIT["events"] = []
    _AUDIT["active"] = True
    try:
        yield _AUDIT["events"]
    finally:
        _AUDIT["active"] = False


def touched(events, forbidden):
    """The recorded paths that resolve to one of the ``forbidden`` paths or lie below a forbidden folder."""
    bad = []
    for event, path in events:
        real = os.path.realpath(path)
        for item in forbidden:
            item = os.path.realpath(item)
            if real == item or real.startswith(item + os.sep):
                bad.append((event, path))
    return bad


def tree(root):
    """Every file below ``root``, relative, sorted."""
    out = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            out.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(out)


# ---------------------------------------------------------------------- fixtures
@dataclass
class Sample:
    exe: str
    pdb: str
    other_pdb: str
    codeview: CodeViewInfo
    key: str
    timestamp: int
    size_of_image: int


@pytest.fixture(scope="module")
def sample():
    image = load_pe(synth_exe("O2"))
    return Sample(synth_exe("O2"), synth_pdb("O2"), synth_pdb("O1"), image.codeview, image.codeview.signature,
                  image.timestamp, image.size_of_image)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Default cache in tmp, no proxies, fast back-off, and only 127.0.0.1 may be connected to."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                "no_proxy", "NO_PROXY", "_NT_SYMBOL_PATH", "_NT_ALT_SYMBOL_PATH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(limits, "RETRY_BACKOFF", 0.01)
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] == "127.0.0.1", f"test tried to connect to {address!r}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


def put(root, name, key, source=None, data=None, two_tier=False, filename=None):
    """Place a file in a symbol store at NAME/KEY/FILENAME (two-tier: NAME[:2]/NAME/KEY/FILENAME)."""
    parts = [name[:2], name, key] if two_tier else [name, key]
    folder = os.path.join(root, *parts)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, filename or name)
    if source is not None:
        shutil.copyfile(source, path)
    else:
        with open(path, "wb") as handle:
            handle.write(data)
    return path


def mszip_cab(name, data):
    """A minimal single-file MSZIP cabinet (see test_cab.py for the full writer and its checks)."""
    blocks, window = [], b""
    for start in range(0, max(len(data), 1), 32768):
        chunk = data[start : start + 32768]
        extra = {"zdict": window} if window else {}
        packer = zlib.compressobj(9, zlib.DEFLATED, -15, **extra)
        payload = b"CK" + packer.compress(chunk) + packer.flush()
        blocks.append(struct.pack("<IHH", 0, len(payload), len(chunk)) + payload)
        window = (window + chunk)[-32768:]
    entry = struct.pack("<IIHHHH", len(data), 0, 0, 0, 0, 0) + name.encode() + b"\0"
    files_offset = 36 + 8
    data_offset = files_offset + len(entry)
    body = b"".join(blocks)
    header = b"MSCF" + struct.pack("<IIIIIBBHHHHH", 0, data_offset + len(body), 0, files_offset, 0, 3, 1, 1, 1, 0, 0, 0)
    return header + struct.pack("<IHH", data_offset, len(blocks), 1) + entry + body


def compress(kind, name, source, tmp_path):
    data = open(source, "rb").read()
    if kind == "mszip":
        return mszip_cab(name, data)
    if kind == "zip":
        path = tmp_path / "z.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(name, data)
        return path.read_bytes()
    require_tools("gcab")
    work = tmp_path / "gcab"
    work.mkdir(exist_ok=True)
    shutil.copyfile(source, work / name)
    subprocess.run(["gcab", "-c", "-n", "-z", str(work / "out.cab"), str(work / name)], check=True, capture_output=True)
    return (work / "out.cab").read_bytes()


def send(handler, code, body=b"", headers=None, length=True):
    handler.send_response(code)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    if length:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if body:
        handler.wfile.write(body)


class SymbolServer:
    """A real HTTP server on 127.0.0.1 serving a store folder under /symbols/, with scripted routes."""

    def __init__(self, root, tls=None):
        self.root = root
        self.routes = {}
        self.requests = []
        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server naming
                outer.requests.append((self.client_address[0], self.path, dict(self.headers)))
                try:
                    route = outer.routes.get(self.path)
                    if route is not None:
                        route(self)
                    else:
                        outer.serve_file(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.url = self.base + "/symbols"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def serve_file(self, handler):
        path = urllib.parse.unquote(handler.path)
        root = os.path.realpath(self.root)
        full = os.path.realpath(os.path.join(root, path[len("/symbols/") :])) if path.startswith("/symbols/") else ""
        if not full.startswith(root + os.sep) or not os.path.isfile(full):
            return send(handler, 404, b"not here")
        with open(full, "rb") as handle:
            send(handler, 200, handle.read())

    def paths(self):
        return [path for _ip, path, _headers in self.requests]

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    srv = SymbolServer(str(served))
    yield srv
    srv.close()
    for ip, path, headers in srv.requests:
        assert ip == "127.0.0.1"
        assert headers.get("Host") == f"127.0.0.1:{srv.port}"
        assert headers.get("User-Agent") == USER_AGENT
        assert ".." not in path and "%2e" not in path.lower() and "\\" not in path


def pdb_path_on(server, sample, filename=PDB):
    return f"/symbols/{PDB}/{sample.key}/{filename}"


def locate(sample, symbol_path, binary=None, **kwargs):
    kwargs.setdefault("timeout", 5)
    return locate_pdb(sample.codeview, binary or "/nonexistent/dir/synthkernel.exe", None, symbol_path, **kwargs)


# ---------------------------------------------------------------------- parsing and keys
def test_default_cache_dir(monkeypatch, tmp_path):
    assert default_cache_dir() == str(tmp_path / "xdg" / "api-to-etw" / "symbols")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert default_cache_dir() == os.path.join(os.path.expanduser("~"), ".cache", "api-to-etw", "symbols")


def test_parse_symbol_path(tmp_path):
    d = default_cache_dir()
    url = "https://msdl.microsoft.com/download/symbols"
    cases = {
        f"srv*/c*{url}": [(STORE, "/c", None), (HTTP, url, "/c")],
        f"SRV*{url}": [(STORE, d, None), (HTTP, url, d)],
        f"srv**{url}": [(STORE, d, None), (HTTP, url, d)],
        f"symsrv*symsrv.dll*/c*{url}": [(STORE, "/c", None), (HTTP, url, "/c")],
        f"srv*/a*/b*{url}": [(STORE, "/a", None), (STORE, "/b", "/a"), (HTTP, url, "/a")],
        "srv*/local/store": [(STORE, "/local/store", None)],
        "srv*/a*/upstream": [(STORE, "/a", None), (STORE, "/upstream", "/a")],
        f"cache*/c;/plain;{url};srv*{url}": [(STORE, "/c", None), (FOLDER, "/plain", "/c"), (HTTP, url, "/c")],
        f"cache*;{url}": [(STORE, d, None), (HTTP, url, d)],
        f"srv*C:\\sym*{url}": [(STORE, d, None), (HTTP, url, d)],
        "C:\\symbols;\\\\server\\share\\syms": [
            (FOLDER, "C:\\symbols", None),
            (FOLDER, "\\\\server\\share\\syms", None),
        ],
        " ;; \t; ": [],
        "ftp://example.invalid/x;file:///etc": [],
        "/one;/two;/one": [(FOLDER, "/one", None), (FOLDER, "/two", None)],
    }
    for text, expected in cases.items():
        got = [(e.kind, e.location, e.cache) for e in parse_symbol_path(text)]
        assert got == expected, text
    assert all(e.source == f"srv*/c*{url}" for e in parse_symbol_path(f"srv*/c*{url}"))
    assert parse_symbol_path(None) == []


def test_resolve_symbol_path():
    env = {"_NT_SYMBOL_PATH": "srv*/c*https://h", "_NT_ALT_SYMBOL_PATH": "/alt"}
    assert resolve_symbol_path(None, env) == "srv*/c*https://h;/alt"
    assert resolve_symbol_path("/cli", env) == "/cli"
    assert resolve_symbol_path("", env) == ""
    assert resolve_symbol_path(None, {}) == ""


def test_keys_and_names():
    guid = uuid.UUID("42ac0098-adb5-e796-8c0e-161d2814780e")
    assert pdb_key(guid, 1) == "42AC0098ADB5E7968C0E161D2814780E1"
    cv = CodeViewInfo("k.pdb", guid, 0x1A)
    assert pdb_keys(cv) == [cv.signature, "42AC0098ADB5E7968C0E161D2814780E1a"]
    assert binary_key(0xAFBF9EF6, 0x354000) == "AFBF9EF6354000"
    assert binary_key(0x0D9F641E, 0x599000) == "0D9F641E599000"  # TimeDateStamp keeps its leading zero
    assert binary_key(0x5F8A1B2C, 0x1047000) == "5F8A1B2C1047000"
    assert binary_keys(0x54E3AECF, 0xD3000) == ["54E3AECFd3000", "54E3AECFD3000"]
    with pytest.raises(ValueError):
        binary_key(1 << 32, 1)
    assert compressed_name("ntkrnlmp.pdb") == "ntkrnlmp.pd_"
    assert compressed_name("ntoskrnl.exe") == "ntoskrnl.ex_"
    for good in ("k.pdb", "ntkrnlmp.pdb", "a-b_c+d.sys"):
        assert safe_file_name(good) == good
    for bad in ("", ".", "..", ".hidden", "a/b", "a\\b", "c:x", "a..b", "a\nb", "a\0b", "CON", "nul.pdb", "x" * 201,
                None, "k.pdb ", "ｋ.pdb", "%2e%2e"):
        assert safe_file_name(bad) is None, bad
    assert parse_hex("0x9CBC890A", "t") == 0x9CBC890A
    assert parse_hex("9000", "s") == 0x9000
    for bad in ("", "0x", "1" * 9, "xyz", "-1"):
        with pytest.raises(UsageError):
            parse_hex(bad, "t")


# ---------------------------------------------------------------------- beside the binary, local stores
def test_explicit_pdb_is_returned_unverified(sample):
    result = locate_pdb(sample.codeview, sample.exe, sample.other_pdb, "srv*/x*https://127.0.0.1:1/")
    assert result.path == sample.other_pdb and result.source == "--pdb" and result.pdb is None


def test_beside_the_binary(sample, tmp_path):
    exe = tmp_path / EXE
    shutil.copyfile(sample.exe, exe)
    shutil.copyfile(sample.pdb, tmp_path / PDB)
    result = locate_pdb(sample.codeview, str(exe))
    assert result.path == str(tmp_path / PDB) and result.source == "beside the binary"
    assert result.pdb is not None and result.pdb.matches(sample.codeview.guid, sample.codeview.age)
    assert result.pdb.path == result.path


def test_mismatch_beside_the_binary_is_skipped_and_listed(sample, tmp_path):
    exe = tmp_path / EXE
    shutil.copyfile(sample.exe, exe)
    shutil.copyfile(sample.other_pdb, tmp_path / PDB)
    result = locate_pdb(sample.codeview, str(exe))
    assert result.path is None and result.pdb is None
    assert result.mismatched == [str(tmp_path / PDB)]
    assert result.note.startswith("no PDB found") and "did not match" in result.note
    with pytest.raises(SymbolsUnavailableError) as info:
        require_pdb(result)
    assert info.value.exit_code == ExitCode.SYMBOLS_UNAVAILABLE
    assert "\n" not in str(info.value) and str(tmp_path / PDB) in str(info.value)


@pytest.mark.parametrize("form", ["folder", "srv"])
@pytest.mark.parametrize("two_tier", [False, True])
def test_local_store(sample, tmp_path, form, two_tier):
    store = tmp_path / "store"
    store.mkdir()
    if two_tier:
        (store / "index2.txt").write_text("")
    placed = put(store, PDB, sample.key, sample.pdb, two_tier=two_tier)
    before = tree(store)
    result = locate(sample, str(store) if form == "folder" else f"srv*{store}")
    assert result.path == placed  # used in place
    assert tree(store) == before
    assert not os.path.exists(default_cache_dir())


def test_flat_folder(sample, tmp_path):
    folder = tmp_path / "flat"
    (folder / "exe").mkdir(parents=True)
    shutil.copyfile(sample.pdb, folder / "exe" / PDB)
    result = locate(sample, str(folder), binary=str(tmp_path / "bin" / EXE))
    assert result.path == str(folder / "exe" / PDB)
    shutil.copyfile(sample.pdb, folder / PDB)
    assert locate(sample, str(folder)).path == str(folder / PDB)
    # After cache*DIR, what later elements find is copied into DIR (in store layout).
    cache = tmp_path / "cache"
    assert locate(sample, f"cache*{cache};{folder}").path == str(cache / PDB / sample.key / PDB)


def test_mismatched_pdb_in_a_store_is_skipped(sample, tmp_path):
    bad, good = tmp_path / "bad", tmp_path / "good"
    wrong = put(bad, PDB, sample.key, sample.other_pdb)
    right = put(good, PDB, sample.key, sample.pdb)
    result = locate(sample, f"{bad};srv*{good}")
    assert result.path == right
    assert result.mismatched == [wrong]
    assert any(wrong in line and "does not match" in line for line in result.tried)


def test_corrupt_pdb_in_a_store_is_skipped(sample, tmp_path):
    bad, good = tmp_path / "bad", tmp_path / "good"
    put(bad, PDB, sample.key, data=b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0" + b"\xff" * 100)
    right = put(good, PDB, sample.key, sample.pdb)
    result = locate(sample, f"{bad};{good}")
    assert result.path == right
    assert any("unusable" in line for line in result.tried)


def test_upstream_store_is_copied_into_the_cache(sample, tmp_path):
    cache, upstream = tmp_path / "cache", tmp_path / "upstream"
    put(upstream, PDB, sample.key, sample.pdb)
    result = locate(sample, f"srv*{cache}*{upstream}")
    assert result.path == str(cache / PDB / sample.key / PDB)
    assert tree(cache) == [os.path.join(PDB, sample.key, PDB)]


@pytest.mark.parametrize("kind", ["mszip", "gcab", "zip"])
def test_compressed_file_in_a_local_store(sample, tmp_path, kind):
    store, cache = tmp_path / "store", tmp_path / "cache"
    put(store, PDB, sample.key, data=compress(kind, PDB, sample.pdb, tmp_path), filename=compressed_name(PDB))
    before = tree(store)
    result = locate(sample, f"srv*{cache}*{store}")
    assert result.path == str(cache / PDB / sample.key / PDB)
    assert open(result.path, "rb").read() == open(sample.pdb, "rb").read()
    assert tree(store) == before
    assert tree(cache) == [os.path.join(PDB, sample.key, PDB)]


def test_corrupt_compressed_file_leaves_no_litter(sample, tmp_path):
    store, cache = tmp_path / "store", tmp_path / "cache"
    put(store, PDB, sample.key, data=b"MSCF" + b"\0" * 60, filename=compressed_name(PDB))
    result = locate(sample, f"srv*{cache}*{store}")
    assert result.path is None
    assert any("corrupt cabinet" in p for p in result.problems)
    assert tree(cache) == []


def test_file_ptr_in_a_local_store(sample, tmp_path):
    store = tmp_path / "store"
    inside = store / "files" / PDB
    inside.parent.mkdir(parents=True)
    shutil.copyfile(sample.pdb, inside)
    put(store, PDB, sample.key, data=b"PATH:../../files/" + PDB.encode(), filename="file.ptr")
    assert locate(sample, f"srv*{store}").path == str(inside)


@pytest.mark.parametrize("pointer", ["PATH:{outside}", "{outside}", "PATH:../../../outside/" + PDB,
                                     "PATH:\\\\server\\share\\" + PDB, "PATH:C:\\syms\\" + PDB])
def test_file_ptr_leaving_a_local_store_is_refused(sample, tmp_path, pointer):
    store = tmp_path / "store"
    outside = tmp_path / "outside" / PDB
    outside.parent.mkdir()
    shutil.copyfile(sample.pdb, outside)  # a matching PDB: following the pointer would "work"
    put(store, PDB, sample.key, data=pointer.format(outside=outside).encode(), filename="file.ptr")
    with watch_files() as events:
        result = locate(sample, f"srv*{store}")
    assert result.path is None
    assert touched(events, [outside]) == []


def test_file_ptr_message_in_a_local_store(sample, tmp_path):
    store = tmp_path / "store"
    put(store, PDB, sample.key, data=b"MSG:withdrawn by the publisher", filename="file.ptr")
    result = locate(sample, f"srv*{store}")
    assert result.path is None
    assert any("withdrawn by the publisher" in line for line in result.tried)


def test_windows_paths_are_skipped_and_nothing_is_written_here(sample, tmp_path, monkeypatch, server):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    put(server.root, PDB, sample.key, sample.pdb)
    result = locate(sample, f"C:\\symbols;\\\\server\\share;srv*C:\\sym*{server.url}")
    assert result.path == os.path.join(default_cache_dir(), PDB, sample.key, PDB)
    assert os.listdir(work) == []
    assert sum("Windows path" in line for line in result.tried) == 2


def test_no_codeview_record_means_no_store_search(sample, tmp_path):
    store = tmp_path / "store"
    put(store, PDB, sample.key, sample.pdb)
    result = locate_pdb(None, str(tmp_path / EXE), None, f"srv*{store}")
    assert result.path is None
    assert any("no CodeView" in line for line in result.tried)


# ---------------------------------------------------------------------- HTTP symbol server
def test_http_plain_hit_cache_and_progress(sample, tmp_path, server):
    put(server.root, PDB, sample.key, sample.pdb)
    cache = tmp_path / "cache"
    calls = []
    result = locate(sample, f"srv*{cache}*{server.url}", progress=lambda done, total: calls.append((done, total)))
    size = os.path.getsize(sample.pdb)
    assert result.path == str(cache / PDB / sample.key / PDB)
    assert result.pdb is not None and result.pdb.path == result.path
    assert result.source == f"srv*{cache}*{server.url}"
    assert server.paths() == ["/symbols/index2.txt", pdb_path_on(server, sample)]
    assert calls[0] == (0, size) and calls[-1] == (size, size)
    assert tree(cache) == [os.path.join(PDB, sample.key, PDB)]
    # The second time the cache answers and the server is not asked.
    again = locate(sample, f"srv*{cache}*{server.url}")
    assert again.path == result.path and len(server.requests) == 2


def test_http_default_cache(sample, server):
    put(server.root, PDB, sample.key, sample.pdb)
    result = locate(sample, f"srv*{server.url}")
    assert result.path == os.path.join(default_cache_dir(), PDB, sample.key, PDB)


def test_http_two_tier_server(sample, tmp_path, server):
    open(os.path.join(server.root, "index2.txt"), "w").close()
    put(server.root, PDB, sample.key, sample.pdb, two_tier=True)
    cache = tmp_path / "cache"
    result = locate(sample, f"srv*{cache}*{server.url}")
    assert result.path == str(cache / PDB / sample.key / PDB)
    assert server.paths()[-1] == f"/symbols/sy/{PDB}/{sample.key}/{PDB}"


def test_http_redirect(sample, tmp_path, server):
    data = open(sample.pdb, "rb").read()
    server.routes[pdb_path_on(server, sample)] = lambda h: send(h, 302, headers={"Location": "/blob/1"})
    server.routes["/blob/1"] = lambda h: send(h, 307, headers={"Location": f"{server.base}/blob/2"})
    server.routes["/blob/2"] = lambda h: send(h, 200, data)
    result = locate(sample, f"srv*{tmp_path / 'cache'}*{server.url}")
    assert result.path is not None
    assert server.paths()[-2:] == ["/blob/1", "/blob/2"]


def test_http_redirect_loop_and_bad_schemes_are_refused(sample, tmp_path, server):
    loop = pdb_path_on(server, sample)
    server.routes[loop] = lambda h: send(h, 302, headers={"Location": loop})
    packed = pdb_path_on(server, sample, compressed_name(PDB))
    server.routes[packed] = lambda h: send(h, 302, headers={"Location": "ftp://127.0.0.1:9/k.pd_"})
    pointer = pdb_path_on(server, sample, "file.ptr")
    server.routes[pointer] = lambda h: send(h, 302, headers={"Location": "file:///etc/passwd"})
    with watch_files() as events:
        result = locate(sample, f"srv*{tmp_path / 'cache'}*{server.url}")
    assert result.path is None
    assert server.paths().count(loop) <= limits.MAX_REDIRECTS + 1
    assert any("infinite loop" in p for p in result.problems)
    assert any("refused redirect to a ftp URL" in p for p in result.problems)
    assert any("file.ptr" in line and "not allowed" in line for line in result.tried)
    assert touched(events, ["/etc/passwd"]) == []
    assert tree(tmp_path / "cache") == []


@pytest.mark.parametrize("kind", ["mszip", "gcab", "zip"])
def test_http_compressed(sample, tmp_path, server, kind):
    put(server.root, PDB, sample.key, data=compress(kind, PDB, sample.pdb, tmp_path), filename=compressed_name(PDB))
    cache = tmp_path / "cache"
    result = locate(sample, f"srv*{cache}*{server.url}")
    assert result.path == str(cache / PDB / sample.key / PDB)
    assert open(result.path, "rb").read() == open(sample.pdb, "rb").read()
    assert server.paths()[1:] == [pdb_path_on(server, sample), pdb_path_on(server, sample, compressed_name(PDB))]
    assert tree(cache) == [os.path.join(PDB, sample.key, PDB)]


def test_http_file_ptr_to_a_url(sample, tmp_path, server):
    data = open(sample.pdb, "rb").read()
    server.routes["/elsewhere/real.pdb"] = lambda h: send(h, 200, data)
    put(server.root, PDB, sample.key, data=f"PATH:{server.base}/elsewhere/real.pdb".encode(), filename="file.ptr")
    result = locate(sample, f"srv*{tmp_path / 'cache'}*{server.url}")
    assert result.path == str(tmp_path / "cache" / PDB / sample.key / PDB)
    assert server.paths()[-2:] == [pdb_path_on(server, sample, "file.ptr"), "/elsewhere/real.pdb"]


def test_http_file_ptr_never_reaches_the_local_file_system(sample, tmp_path, server):
    local = tmp_path / "local" / PDB
    local.parent.mkdir()
    shutil.copyfile(sample.pdb, local)  # matching, so following the pointer would "work"
    put(server.root, PDB, sample.key, data=f"PATH:{local}".encode(), filename="file.ptr")
    with watch_files() as events:
        result = locate(sample, f"srv*{tmp_path / 'cache'}*{server.url}")
    assert result.path is None
    assert touched(events, [local]) == []
    assert any("never followed" in line for line in result.tried)


def test_http_file_ptr_message(sample, tmp_path, server):
    put(server.root, PDB, sample.key, data=b"MSG:Access restricted\r\n", filename="file.ptr")
    result = locate(sample, f"srv*{tmp_path / 'cache'}*{server.url}")
    assert result.path is None
    assert any("server says: Access restricted" in line for line in result.tried)


def test_http_not_found_everywhere(sample, tmp_path, server):
    cache = tmp_path / "cache"
    result = locate(sample, f"srv*{cache}*{server.url}")
    assert result.path is None and result.problems == []
    assert server.paths() == [
        "/symbols/index2.txt",
        pdb_path_on(server, sample),
        pdb_path_on(server, sample, compressed_name(PDB)),
        pdb_path_on(server, sample, "file.ptr"),
    ]
    assert tree(cache) == [] and os.listdir(cache) == []  # no empty folders left behind
    assert result.note.startswith(f"no PDB found for {PDB} ({sample.key})")
    with pytest.raises(SymbolsUnavailableError, match="not found"):
        require_pdb(result)


def test_http_slow_server_times_out_quickly(sample, tmp_path, server):
    slow = pdb_path_on(server, sample)

    def late(handler):
        server.stop.wait(10)
        send(handler, 200, b"too late")

    server.routes[slow] = late
    local = tmp_path / "local"
    right = put(local, PDB, sample.key, sample.pdb)
    started = time.monotonic()
    result = locate(sample, f"srv*{tmp_path / 'cache'}*{server.url};{local}", timeout=0.5, retries=2)
    elapsed = time.monotonic() - started
    assert result.path == right  # the search went on past the dead server
    assert elapsed < 4, elapsed
    assert server.paths().count(slow) == 2
    assert any("timed out" in p for p in result.problems)


def test_http_retries_a_server_error(sample, tmp_path, server):
    data = open(sample.pdb, "rb").read()
    count = {"n": 0}

    def flaky(handler):
        count["n"] += 1
        if count["n"] == 1:
            send(handler, 500, b"try again")
        else:
            send(handler, 200, data)

    server.routes[pdb_path_on(server, sample)] = flaky
    result = locate(sample, f"srv*{tmp_path / 'cache'}*{server.url}")
    assert result.path is not None and count["n"] == 2


def test_http_server_error_that_persists_is_noted_and_skipped(sample, tmp_path, server):
    target = pdb_path_on(server, sample)
    server.routes[target] = lambda h: send(h, 503, b"down")
    second = SymbolServer(str(tmp_path / "served2"))
    try:
        os.makedirs(second.root)
        put(second.root, PDB, sample.key, sample.pdb)
        result = locate(sample, f"srv*{tmp_path / 'c1'}*{server.url};srv*{tmp_path / 'c2'}*{second.url}", retries=3)
    finally:
        second.close()
    assert result.path == str(tmp_path / "c2" / PDB / sample.key / PDB)
    assert server.paths().count(target) == 3
    assert any("HTTP 503" in p for p in result.problems)
    assert tree(tmp_path / "c1") == []


def test_http_oversize_body_with_length_is_refused(sample, tmp_path, server):
    server.routes[pdb_path_on(server, sample)] = lambda h: send(h, 200, headers={"Content-Length": str(1 << 40)},
                                                                 length=False)
    result = locate(sample, f"srv*{tmp_path / 'cache'}*{server.url}", max_bytes=1 << 20)
    assert result.path is None
    assert any("over the 1048576-byte limit" in p for p in result.problems)
    assert tree(tmp_path / "cache") == []


def test_http_oversize_stream_is_abandoned_and_deleted(sample, tmp_path, server):
    def endless(handler):
        handler.send_response(200)
        handler.end_headers()
        block = b"\0" * 65536
        for _ in range(200):  # 12.5 MiB at most; the client gives up after 1 MiB
            if server.stop.is_set():
                return
            handler.wfile.write(block)

    server.routes[pdb_path_on(server, sample)] = endless
    result = locate(sample, f"srv*{tmp_path / 'cache'}*{server.url}", max_bytes=1 << 20)
    assert result.path is None
    assert any("larger than the 1048576-byte limit" in p for p in result.problems)
    assert tree(tmp_path / "cache") == []


def test_http_wrong_file_under_the_right_key_is_rejected(sample, tmp_path, server):
    put(server.root, PDB, sample.key, sample.other_pdb)
    result = locate(sample, f"srv*{tmp_path / 'cache'}*{server.url}")
    assert result.path is None
    assert len(result.mismatched) == 1
    assert tree(tmp_path / "cache") == []


def test_unreachable_server_is_noted_and_the_search_goes_on(sample, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    local = tmp_path / "local"
    right = put(local, PDB, sample.key, sample.pdb)
    started = time.monotonic()
    result = locate(sample, f"srv*{tmp_path / 'cache'}*http://127.0.0.1:{port}/s;{local}", timeout=1)
    assert result.path == right
    assert time.monotonic() - started < 4
    assert any("connection refused" in p for p in result.problems)


@pytest.fixture
def self_signed(tmp_path):
    require_tools("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    return context, cert


@pytest.mark.parametrize("trusted", [False, True])
def test_https_verifies_certificates(sample, tmp_path, monkeypatch, self_signed, trusted):
    context, cert = self_signed
    if trusted:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    os.makedirs(tmp_path / "tls")
    put(tmp_path / "tls", PDB, sample.key, sample.pdb)
    local = tmp_path / "local"
    right = put(local, PDB, sample.key, sample.pdb)
    secure = SymbolServer(str(tmp_path / "tls"), tls=context)
    try:
        result = locate(sample, f"srv*{tmp_path / 'cache'}*{secure.url};{local}")
    finally:
        secure.close()
    if trusted:
        assert result.path == str(tmp_path / "cache" / PDB / sample.key / PDB)
        assert [path for _ip, path, _h in secure.requests][-1] == pdb_path_on(secure, sample)
    else:
        assert result.path == right
        assert secure.requests == []
        assert any("TLS certificate verification failed" in p for p in result.problems)


def test_offline_never_touches_the_network(sample, tmp_path, server, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network used while offline")

    monkeypatch.setattr(socket, "create_connection", no_network)
    put(server.root, PDB, sample.key, sample.pdb)
    result = locate(sample, f"srv*{tmp_path / 'cache'}*{server.url};{server.url}", offline=True)
    assert result.path is None and server.requests == []
    assert sum("skipped (offline)" in line for line in result.tried) == 2


# ---------------------------------------------------------------------- binaries by index
def test_fetch_binary_over_http(sample, tmp_path, server):
    key = binary_key(sample.timestamp, sample.size_of_image)
    put(server.root, EXE, key, sample.exe)
    cache = tmp_path / "cache"
    path = fetch_binary(EXE, sample.timestamp, sample.size_of_image, f"srv*{cache}*{server.url}", timeout=5)
    assert path == str(cache / EXE / key / EXE)
    assert open(path, "rb").read() == open(sample.exe, "rb").read()
    assert server.paths()[-1] == f"/symbols/{EXE}/{key}/{EXE}"


def test_fetch_compressed_binary(sample, tmp_path, server):
    key = binary_key(sample.timestamp, sample.size_of_image)
    put(server.root, EXE, key, data=mszip_cab(EXE, open(sample.exe, "rb").read()), filename="synthkernel.ex_")
    path = fetch_binary(EXE, sample.timestamp, sample.size_of_image, f"srv*{tmp_path / 'cache'}*{server.url}")
    assert open(path, "rb").read() == open(sample.exe, "rb").read()


def test_fetch_binary_from_a_local_store_and_failures(sample, tmp_path, server):
    key = binary_key(sample.timestamp, sample.size_of_image)
    store = tmp_path / "store"
    placed = put(store, EXE, key, sample.exe)
    assert fetch_binary(EXE, sample.timestamp, sample.size_of_image, str(store)) == placed
    # A different binary under this key is rejected; the error lists where it looked.
    put(server.root, EXE, key, synth_exe("O1"))
    with pytest.raises(SymbolsUnavailableError) as info:
        fetch_binary(EXE, sample.timestamp, sample.size_of_image, f"srv*{tmp_path / 'cache'}*{server.url}")
    message = str(info.value)
    assert "\n" not in message and "does not match" in message and server.base in message
    assert info.value.exit_code == ExitCode.SYMBOLS_UNAVAILABLE
    with pytest.raises(SymbolsUnavailableError, match="no symbol path"):
        fetch_binary(EXE, 1, 2, "")
    for bad in ("../x.exe", "a/b.exe", "C:\\x.exe", "x\n.exe"):
        with pytest.raises(UsageError):
            fetch_binary(bad, 1, 2, str(store))
    with pytest.raises(UsageError):
        fetch_binary(EXE, -1, 2, str(store))


# ---------------------------------------------------------------------- hostile CodeView names
def patched_exe(source, target, name):
    """A copy of ``source`` whose RSDS PDB name is replaced by ``name`` (NUL-padded to the original length)."""
    data = bytearray(open(source, "rb").read())
    start = data.find(b"RSDS") + 24
    room = data.index(b"\0", start) - start
    if len(name) > room:
        pytest.skip(f"name of {len(name)} bytes does not fit the {room} bytes of the fixture's RSDS record")
    data[start : start + room] = name + b"\0" * (room - len(name))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as handle:
        handle.write(data)
    return target


HOSTILE = [
    (b"..\\..\\evil.pdb", "evil.pdb"),
    (b"C:\\x\\y.pdb", "y.pdb"),
    (b"a/../../b.pdb", "b.pdb"),
    (b"/etc/passwd", "passwd"),
    (b"evil.pdb\0/../q", "evil.pdb"),
    (b"ev\nil.pdb", None),
    (b"e\x01vil.pdb", None),
    (b"..\\..", None),
    (b"x/..\\..", None),
    (b"CON", None),
    (b"nul.pdb", None),
    (b"%2e%2e%2fa.pdb", None),
]


@pytest.mark.parametrize("raw,sanitized", HOSTILE)
def test_hostile_codeview_name(sample, tmp_path, monkeypatch, server, raw, sanitized):
    outside = tmp_path / "outside"
    binary = patched_exe(sample.exe, str(outside / "w" / "x" / EXE), raw)
    # Where a naive join would land: matching PDBs there would be accepted if ever read.
    traps = [outside / "evil.pdb", outside / "b.pdb", outside / "C:\\x\\y.pdb", outside / "sentinel.txt"]
    for trap in traps:
        shutil.copyfile(sample.pdb, trap)
    monkeypatch.chdir(outside)
    codeview = load_pe(binary).codeview
    assert codeview.guid == sample.codeview.guid
    store, cache = tmp_path / "store", tmp_path / "cache"
    store.mkdir()
    if sanitized:
        put(server.root, sanitized, sample.key, sample.pdb)
    with watch_files() as events:
        result = locate_pdb(codeview, binary, None, f"{store};srv*{cache}*{server.url}", timeout=5)
    assert touched(events, traps + ["/etc/passwd"]) == []
    if sanitized:
        assert result.path == str(cache / sanitized / sample.key / sanitized)
        assert tree(cache) == [os.path.join(sanitized, sample.key, sanitized)]
        assert all(path in ("/symbols/index2.txt",) or path.startswith(f"/symbols/{sanitized}/")
                   for path in server.paths())
    else:
        assert result.path is None
        assert server.requests == []
        assert any("not a plain file name" in p for p in result.problems)
        assert not cache.exists() or tree(cache) == []
    for trap in traps:
        assert open(trap, "rb").read() == open(sample.pdb, "rb").read()


@pytest.mark.parametrize("name", [
    "..\\..\\..\\..\\..\\..\\..\\..\\etc\\passwd",
    "../" * 60 + "tmp/evil.pdb",
    "\\\\server\\share\\k.pdb",
    "/" * 5000,
    "a" * 300 + ".pdb",
    "k.pdb\r\n",
    "k.pdb?x=1",
    " k.pdb",
    "ｋ.pdb",
    "",
])
def test_hostile_names_never_leave_the_roots(sample, tmp_path, server, name):
    codeview = CodeViewInfo(name, sample.codeview.guid, sample.codeview.age)
    cache = tmp_path / "cache"
    with watch_files() as events:
        result = locate_pdb(codeview, str(tmp_path / "bin" / EXE), None, f"srv*{cache}*{server.url}", timeout=5)
    allowed = [str(tmp_path / "bin"), str(cache)]
    for _event, path in events:
        real = os.path.realpath(path)
        assert any(real == os.path.realpath(a) or real.startswith(os.path.realpath(a) + os.sep) for a in allowed) \
            or not real.startswith(str(tmp_path)), path
    assert touched(events, ["/etc/passwd", os.path.join(os.sep, "tmp", "evil.pdb")]) == []
    assert result.path is None
    for file in tree(cache) if cache.exists() else []:
        assert file.count(os.sep) == 2


def test_symlink_in_the_cache_is_refused(sample, tmp_path, server):
    put(server.root, PDB, sample.key, sample.pdb)
    cache, elsewhere = tmp_path / "cache", tmp_path / "elsewhere"
    cache.mkdir()
    elsewhere.mkdir()
    os.symlink(elsewhere, cache / PDB)
    result = locate(sample, f"srv*{cache}*{server.url}")
    assert result.path is None
    assert any("symbolic link" in p for p in result.problems)
    assert tree(elsewhere) == []


def test_elements_accept_parsed_lists(sample, tmp_path):
    store = tmp_path / "store"
    right = put(store, PDB, sample.key, sample.pdb)
    result = locate(sample, [SymbolPathElement(STORE, str(store))])
    assert result.path == right


# ---------------------------------------------------------------------- deadlines (issue 13)
def trickle(server, every=0.2):
    """A 200 reply without Content-Length that sends one byte per ``every`` seconds, for as long as
    the client listens: each receive succeeds well within any socket timeout, the body never ends."""

    def route(handler):
        handler.send_response(200)
        handler.end_headers()
        while not server.stop.wait(every):
            handler.wfile.write(b"M")
            handler.wfile.flush()

    return route


def parts_left(root):
    return [p for p in tree(root) if p.endswith(".part") or os.path.basename(p).startswith(".api-to-etw-")]


def test_trickling_server_ends_at_the_download_deadline(sample, tmp_path, server):
    server.routes[pdb_path_on(server, sample)] = trickle(server)
    cache = tmp_path / "cache"
    started = time.monotonic()
    result = locate(sample, f"srv*{cache}*{server.url}", limits=TransferLimits(timeout=5, download_deadline=1.0))
    elapsed = time.monotonic() - started
    assert result.path is None and elapsed < 4, elapsed
    assert any("1s download deadline" in p for p in result.problems), result.problems
    # The server is given up after the deadline: no .pd_ or file.ptr tried on it, nothing left in the cache.
    assert server.paths().count(pdb_path_on(server, sample)) == 1
    assert parts_left(cache) == [] and not os.path.isdir(cache / PDB)


def test_lookup_deadline_bounds_the_whole_symbol_path(sample, tmp_path, server):
    """Three trickling servers, each within its download deadline: the lookup deadline stops the search."""
    other = [SymbolServer(str(tmp_path / "served")) for _ in range(2)]
    try:
        for srv in (server, *other):
            srv.routes[pdb_path_on(srv, sample)] = trickle(srv)
        path = ";".join(f"srv*{tmp_path / 'cache'}*{srv.url}" for srv in (server, *other))
        started = time.monotonic()
        result = locate(sample, path, limits=TransferLimits(timeout=5, download_deadline=30, lookup_deadline=1.5))
        elapsed = time.monotonic() - started
    finally:
        for srv in other:
            srv.close()
    assert result.path is None and elapsed < 5, elapsed
    assert any("lookup deadline of 1.5s reached" in p for p in result.problems), result.problems
    assert not other[1].requests  # the search stopped before the last server
    assert parts_left(tmp_path / "cache") == []


def test_fetch_binary_has_the_same_deadline(sample, tmp_path, server, monkeypatch):
    key = binary_key(sample.timestamp, sample.size_of_image)
    server.routes[f"/symbols/{EXE}/{key}/{EXE}"] = trickle(server)
    cache = tmp_path / "cache"
    monkeypatch.setenv("API_TO_ETW_DOWNLOAD_DEADLINE", "1")
    started = time.monotonic()
    from conftest import run_cli

    result = run_cli("fetch-binary", EXE, f"{sample.timestamp:X}", f"{sample.size_of_image:X}",
                     "--symbol-path", f"srv*{cache}*{server.url}")
    assert result.code == ExitCode.SYMBOLS_UNAVAILABLE, result.stderr
    assert time.monotonic() - started < 4 and "download deadline" in result.stderr
    assert parts_left(cache) == []
    result = run_cli("fetch-binary", EXE, "1", "2", "--symbol-path", str(cache), "--download-deadline", "-3")
    assert result.code == ExitCode.USAGE and "positive number of seconds" in result.stderr


def test_deadline_settings():
    assert TransferLimits.from_options(environ={}).download_deadline == limits.DEFAULT_DOWNLOAD_DEADLINE
    env = {"API_TO_ETW_DOWNLOAD_DEADLINE": "12.5", "API_TO_ETW_LOOKUP_DEADLINE": "40"}
    assert TransferLimits.from_options(environ=env) == TransferLimits(download_deadline=12.5, lookup_deadline=40)
    assert TransferLimits.from_options(3, None, environ=env).download_deadline == 3
    for bad in ("soon", "0", "-1", "inf", "nan"):
        with pytest.raises(UsageError):
            TransferLimits.from_options(environ={"API_TO_ETW_LOOKUP_DEADLINE": bad})


def test_sigterm_during_a_download_leaves_no_part_file(sample, tmp_path, server):
    """Killed mid-download (``timeout``, ``kill``), the command unwinds like Ctrl-C and removes its temporary file."""
    import signal

    server.routes[pdb_path_on(server, sample)] = trickle(server, every=0.05)
    cache = tmp_path / "cache"
    exe = tmp_path / EXE
    shutil.copyfile(sample.exe, exe)
    proc = subprocess.Popen([sys.executable, "-m", "api_to_etw", "symbols", str(exe), "--symbol-path",
                             f"srv*{cache}*{server.url}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not parts_left(cache) and time.monotonic() < deadline:  # wait until the download has begun
        time.sleep(0.05)
    assert parts_left(cache), "the download never started"
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in err
    assert parts_left(cache) == []
