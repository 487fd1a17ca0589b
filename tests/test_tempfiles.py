"""The one rule for temporary files beside their final name (``api_to_etw.tempfiles``): the output tables'
and the symbol stores' downloads both make theirs with it."""

from __future__ import annotations

import os

import pytest

from api_to_etw import tempfiles
from api_to_etw.binary.symsrv.safety import temp_in


def test_a_download_file_is_its_owners_alone(tmp_path):
    old = os.umask(0o022)
    try:
        handle, path = temp_in(str(tmp_path))
    finally:
        os.umask(old)
    with handle:
        handle.write(b"pdb")
    name = os.path.basename(path)
    assert os.path.dirname(path) == str(tmp_path)
    assert name.startswith(".api-to-etw-") and name.endswith(".part")
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert open(path, "rb").read() == b"pdb"


def test_a_taken_name_is_never_reused(tmp_path, monkeypatch):
    """A name that exists (a file, or a symbolic link planted there) is skipped, not opened or followed."""
    draws = iter([b"\x01" * 8, b"\x01" * 8, b"\x02" * 8])
    monkeypatch.setattr(tempfiles.os, "urandom", lambda n: next(draws))
    target = tmp_path / "elsewhere"
    os.symlink(target, tmp_path / f".api-to-etw-{'01' * 8}.tmp")
    first, path = tempfiles.create_temporary(str(tmp_path), ".tmp", 0o666)
    os.close(first)
    assert os.path.basename(path) == f".api-to-etw-{'02' * 8}.tmp"
    assert not target.exists()


def test_no_free_name_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfiles.os, "urandom", lambda n: b"\x03" * n)
    (tmp_path / f".api-to-etw-{'03' * 8}.part").write_bytes(b"")
    with pytest.raises(FileExistsError, match="no free temporary file name"):
        tempfiles.create_temporary(str(tmp_path), ".part", 0o600)
