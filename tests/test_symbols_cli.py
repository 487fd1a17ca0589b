"""End to end: analyze a binary whose PDB comes from a symbol server on 127.0.0.1, and the two commands."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading

import pytest
from conftest import run_cli, synth_exe, synth_pdb

from api_to_etw.binary.pe import load_pe
from api_to_etw.errors import ExitCode


@pytest.fixture
def server(tmp_path):
    """A symbol store served over HTTP from 127.0.0.1: NAME/GUIDAGE/NAME and NAME/TIMESTAMPSIZE/NAME."""
    store = tmp_path / "store"
    image = load_pe(synth_exe("O2"))
    cv = image.codeview
    pdb_dir = store / cv.pdb_name / cv.signature
    pdb_dir.mkdir(parents=True)
    shutil.copy(synth_pdb("O2"), pdb_dir / cv.pdb_name)
    exe_key = f"{image.timestamp:08X}{image.size_of_image:x}"
    exe_dir = store / "synthkernel.exe" / exe_key
    exe_dir.mkdir(parents=True)
    shutil.copy(synth_exe("O2"), exe_dir / "synthkernel.exe")

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(store))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", image, exe_key
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_analyze_with_symbol_server_equals_pdb(tmp_path, server, monkeypatch):
    url, image, _key = server
    lonely = tmp_path / "bin"
    lonely.mkdir()
    exe = lonely / "synthkernel.exe"
    shutil.copy(synth_exe("O2"), exe)
    cache = tmp_path / "cache"
    monkeypatch.setenv("_NT_SYMBOL_PATH", f"srv*{cache}*{url}/")
    via_server = run_cli("analyze", exe, "-o", "-")
    assert via_server.code == ExitCode.OK, via_server.stderr
    with_pdb = run_cli("analyze", synth_exe("O2"), "--pdb", synth_pdb("O2"), "-o", "-")
    assert via_server.stdout == with_pdb.stdout
    cv = image.codeview
    assert (cache / cv.pdb_name / cv.signature / cv.pdb_name).is_file()


def test_offline_goes_on_without_symbols(tmp_path, server, monkeypatch):
    url, _image, _key = server
    exe = tmp_path / "synthkernel.exe"
    shutil.copy(synth_exe("O2"), exe)
    monkeypatch.setenv("_NT_SYMBOL_PATH", f"srv*{tmp_path / 'cache'}*{url}/")
    result = run_cli("analyze", exe, "-o", "-", "--offline")
    assert result.code == ExitCode.OK
    assert "using exports only" in result.stderr
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.pdb"))


def test_symbols_command_prints_the_cached_pdb(tmp_path, server):
    url, image, _key = server
    exe = tmp_path / "synthkernel.exe"
    shutil.copy(synth_exe("O2"), exe)
    result = run_cli("symbols", exe, "--symbol-path", f"srv*{tmp_path / 'cache'}*{url}")
    assert result.code == ExitCode.OK, result.stderr
    path = result.stdout.strip()
    assert os.path.isfile(path) and path.startswith(str(tmp_path / "cache"))


def test_symbols_command_without_a_source(tmp_path):
    exe = tmp_path / "synthkernel.exe"
    shutil.copy(synth_exe("O2"), exe)
    result = run_cli("symbols", exe, "--symbol-path", "", "--offline")
    assert result.code == ExitCode.SYMBOLS_UNAVAILABLE
    assert len(result.stderr.strip().splitlines()) == 1


def test_fetch_binary_by_index(tmp_path, server):
    url, image, key = server
    result = run_cli("fetch-binary", "synthkernel.exe", f"{image.timestamp:X}", f"{image.size_of_image:X}",
                     "--symbol-path", f"srv*{tmp_path / 'cache'}*{url}")
    assert result.code == ExitCode.OK, result.stderr
    fetched = result.stdout.strip()
    assert open(fetched, "rb").read() == open(synth_exe("O2"), "rb").read()
