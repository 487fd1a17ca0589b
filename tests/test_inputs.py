"""api_to_etw.inputs: the one opener every reader uses (regular files only, size limits per kind)."""

from __future__ import annotations

import os
import socket

import pytest

from api_to_etw.errors import CorruptFileError, CorruptMetadataError, InputNotFoundError, UsageError
from api_to_etw.inputs import LIMITS, input_limit, open_regular, read_regular, read_text_regular


def test_regular_file_is_read(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"\x00MZ" * 100)
    with open_regular(str(path)) as handle:
        assert handle.read(3) == b"\x00MZ"
    assert read_regular(str(path)) == b"\x00MZ" * 100


def test_special_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # no writer: a plain open() would block here forever
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock"))
    try:
        for path, what in ((fifo, "FIFO"), (tmp_path, "directory"), ("/dev/zero", "character device"),
                           (tmp_path / "sock", "socket")):
            with pytest.raises(InputNotFoundError, match=what):
                read_regular(str(path))
    finally:
        server.close()
    with pytest.raises(InputNotFoundError, match="no such file"):
        open_regular(str(tmp_path / "missing"))


def test_limits_per_kind_and_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "m.xml"
    path.write_bytes(b"x" * 100)
    with pytest.raises(CorruptMetadataError, match="over the 99-byte limit for a manifest file"):
        read_regular(str(path), kind="manifest", max_size=99, error=CorruptMetadataError)
    monkeypatch.setenv("API_TO_ETW_MAX_MANIFEST_BYTES", "50")
    assert input_limit("manifest") == 50
    with pytest.raises(CorruptFileError, match="API_TO_ETW_MAX_MANIFEST_BYTES"):
        read_regular(str(path), kind="manifest")
    monkeypatch.setenv("API_TO_ETW_MAX_MANIFEST_BYTES", "lots")
    with pytest.raises(UsageError):
        input_limit("manifest")
    monkeypatch.delenv("API_TO_ETW_MAX_MANIFEST_BYTES")
    assert input_limit("manifest") == LIMITS["manifest"]


def test_text_is_decoded_strictly(tmp_path):
    path = tmp_path / "names.txt"
    path.write_bytes("\ufeffNtOpenProcess\n".encode() + b"bad\xff\n")
    with pytest.raises(CorruptFileError, match=r"names.txt:2: not UTF-8 text"):
        read_text_regular(str(path), kind="names", encoding="utf-8-sig")
    path.write_bytes("\ufeffNtOpenProcess\n".encode())
    assert read_text_regular(str(path), kind="names", encoding="utf-8-sig") == "NtOpenProcess\n"
