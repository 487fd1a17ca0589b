"""``scan LIST.tsv``: binaries fetched by (name, TimeDateStamp, SizeOfImage) through the symbol path, and the
download slots that bound how many workers fetch at once."""

from __future__ import annotations

import os
import shutil
import threading
import time

from conftest import SAMPLES, run_cli

from api_to_etw.binary.pe import load_pe
from api_to_etw.errors import ExitCode
from api_to_etw.store.db import Store
from api_to_etw.store.task import download_slot

FETCHED = ("tlg/tlg.dll", "usermode/telemetry.dll")


def _symbol_store(root) -> list[str]:
    """A local symbol store (NAME/%08X%x/NAME) holding the fixtures; returns the fetch-list lines."""
    lines = ["name\tTimeDateStamp\tSizeOfImage", "# fixtures by their index"]
    for rel in FETCHED:
        image = load_pe(os.path.join(SAMPLES, rel))
        name = os.path.basename(rel)
        folder = root / name / f"{image.timestamp:08X}{image.size_of_image:x}"
        folder.mkdir(parents=True)
        shutil.copyfile(os.path.join(SAMPLES, rel), folder / name)
        lines.append(f"{name}\t{image.timestamp:08X}\t{image.size_of_image:X}")
    lines.append("missing.dll\t12345678\t1000")
    return lines


def test_fetch_list_scans_through_the_symbol_path(tmp_path):
    symbols = tmp_path / "symbols"
    listing = tmp_path / "build.tsv"
    listing.write_text("\n".join(_symbol_store(symbols)) + "\n")
    db = tmp_path / "f.db"
    result = run_cli("scan", listing, "--db", db, "--symbol-path", symbols, "--offline", "-j", "1")
    assert result.code == 0, result.stderr
    assert "3 binaries analysed (1 failed)" in result.stderr
    assert "failed missing.dll: SYMBOLS_UNAVAILABLE" in result.stderr
    with Store.open(str(db), readonly=True) as store:
        stored = {b["name"]: b for b in store.binaries()}
        for rel in FETCHED:
            name = os.path.basename(rel)
            expected = run_cli("analyze", os.path.join(SAMPLES, rel), "-o", "-", "-q").stdout
            assert stored[name]["status"] == "ok" and stored[name]["row_count"] == expected.count("\n") - 1
            assert os.path.dirname(str(stored[name]["path"])).startswith(str(symbols))
    again = run_cli("scan", listing, "--db", db, "--symbol-path", symbols, "--offline")
    assert "0 binaries analysed (0 failed), 3 already in the store" in again.stderr
    retry = run_cli("scan", listing, "--db", db, "--symbol-path", symbols, "--offline", "--retry-failed")
    assert "1 binaries analysed (1 failed), 2 already in the store" in retry.stderr


def test_bad_fetch_list_line(tmp_path):
    listing = tmp_path / "build.tsv"
    listing.write_text("ntoskrnl.exe\tnot-hex\t1000\n")
    result = run_cli("scan", listing, "--db", tmp_path / "f.db")
    assert result.code == ExitCode.USAGE and result.stderr.count("\n") == 1


def test_missing_path_is_one_line(tmp_path):
    result = run_cli("scan", tmp_path / "nothing", "--db", tmp_path / "f.db")
    assert result.code == ExitCode.FILE_NOT_FOUND and "no such file or folder" in result.stderr
    result = run_cli("scan", str(tmp_path / "*.sys"), "--db", tmp_path / "f.db")
    assert result.code == ExitCode.FILE_NOT_FOUND and "no file matches" in result.stderr


def test_glob_picks_pe_files(tmp_path):
    result = run_cli("scan", os.path.join(SAMPLES, "wpp", "*"), "--db", tmp_path / "g.db", "-j", "1")
    assert result.code == 0, result.stderr
    with Store.open(str(tmp_path / "g.db"), readonly=True) as store:
        assert sorted(b["name"] for b in store.binaries()) == ["wppkernel.exe", "wppuser.dll"]


def test_download_slots_bound_concurrency(tmp_path):
    """Eight threads, two slots: never more than two inside at once (flock conflicts across descriptors,
    so the same bound holds between worker processes of one machine)."""
    path = f"srv*{tmp_path / 'cache'}*https://symbols.invalid/download/symbols"
    inside = []
    peak = []
    lock = threading.Lock()

    def work() -> None:
        with download_slot(path, 2):
            with lock:
                inside.append(1)
                peak.append(len(inside))
            time.sleep(0.05)
            with lock:
                inside.pop()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(peak) == 8 and max(peak) == 2
    assert sorted(os.listdir(tmp_path / "cache" / ".api-to-etw-slots")) == ["download-0.lock", "download-1.lock"]
