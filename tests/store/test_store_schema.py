"""The store file: created with its schema version, refused when it is not a store or from another version,
new output columns stored generically, one transaction per binary."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from conftest import SAMPLES, run_cli

from api_to_etw.errors import ExitCode, StoreError
from api_to_etw.render.rows import COLUMNS
from api_to_etw.store import db as storedb
from api_to_etw.store.db import SCHEMA_VERSION, BinaryRecord, Store


def _row(**extra: str) -> dict[str, str]:
    row = {c: "" for c in COLUMNS}
    row.update(Function="NtTest", ProviderGuid="22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716", EventDescriptorSymbol="EV",
               Id="1", Kind="manifest", ContainingFunction="Inner", CallDepth="2")
    row.update(extra)
    return row


def test_new_store_has_schema_and_wal(tmp_path):
    path = tmp_path / "s.db"
    with Store.open(str(path)) as store:
        assert store.columns == COLUMNS
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con = sqlite3.connect(path)
    assert dict(con.execute("SELECT key, value FROM meta"))["schema_version"] == str(SCHEMA_VERSION)
    indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"rows_Function", "rows_EventDescriptorSymbol", "rows_binary", "binaries_sha256"} <= indexes


def test_extra_columns_flow_in_and_are_queryable(tmp_path):
    path = tmp_path / "s.db"
    with Store.open(str(path)) as store:
        store.add(BinaryRecord("a.sys", "a.sys", "aa" * 32, rows=[_row()], row_count=1))
        store.add(BinaryRecord("b.sys", "b.sys", "bb" * 32, rows=[_row(Ioctl="0x222003")], row_count=1))
        assert store.columns == COLUMNS + [c for c in ("Ioctl",) if c not in COLUMNS]  # a column of h2-entries
        assert store.counts() == {"binaries": 2, "providers": 1, "events": 1, "rows": 2}
    result = run_cli("query", "--db", path, "--sql", "SELECT Ioctl FROM rows ORDER BY row_id")
    assert result.stdout.splitlines() == ["Ioctl", "", "0x222003"], result.stderr
    result = run_cli("query", "--db", path, "--match", "ioctl=0x222003", "--format", "jsonl")
    assert [(r["Binary"], r["Ioctl"]) for r in map(json.loads, result.stdout.splitlines())] == [("b.sys", "0x222003")]
    result = run_cli("query", "--db", path, "--match", "Nope=1")
    assert result.code == ExitCode.USAGE and "one of the stored columns" in result.stderr
    with pytest.raises(StoreError, match="not a plain identifier"):
        storedb.quote('x"; DROP TABLE rows; --')


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "s.db"
    Store.open(str(path)).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    con.commit()
    con.close()
    result = run_cli("query", "--db", path, "--api", "x")
    assert result.code == ExitCode.STORE_ERROR
    assert result.stderr.count("\n") == 1 and "is newer than this api-to-etw's" in result.stderr


def test_older_schema_is_migrated_or_refused(tmp_path, monkeypatch):
    path = tmp_path / "s.db"
    Store.open(str(path)).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION - 1),))
    con.commit()
    con.close()
    result = run_cli("scan", os.path.join(SAMPLES, "tlg", "tlg.dll"), "--db", path)
    assert result.code == ExitCode.STORE_ERROR and result.stderr.count("\n") == 1
    assert "cannot be migrated; scan into a new --db" in result.stderr
    result = run_cli("query", "--db", path, "--api", "x")
    assert result.code == ExitCode.STORE_ERROR and "run a scan on it to migrate it" in result.stderr
    with pytest.raises(StoreError, match="cannot be migrated; scan into a new --db"):
        Store.open(str(path))

    def add_notes(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE binaries ADD COLUMN notes TEXT")

    monkeypatch.setitem(storedb.MIGRATIONS, SCHEMA_VERSION - 1, add_notes)
    with Store.open(str(path)) as store:
        version = store.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        assert version == str(SCHEMA_VERSION)
        assert "notes" in [r[1] for r in store.db.execute("PRAGMA table_info(binaries)")]


@pytest.mark.parametrize("content", [b"SQLite format 3\0" + b"\xff" * 200, b"hello\n"])
def test_not_a_store(tmp_path, content):
    path = tmp_path / "s.db"
    path.write_bytes(content)
    result = run_cli("query", "--db", path, "--api", "x")
    assert result.code == ExitCode.STORE_ERROR and result.stderr.count("\n") == 1
    assert "not an api-to-etw store" in result.stderr


def test_other_sqlite_file_is_not_a_store(tmp_path):
    path = tmp_path / "s.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    result = run_cli("scan", path, "--db", path)
    assert result.code == ExitCode.STORE_ERROR and "without its meta table" in result.stderr


def test_missing_store_for_query(tmp_path):
    result = run_cli("query", "--db", tmp_path / "none.db")
    assert result.code == ExitCode.STORE_ERROR and "no such store" in result.stderr


def test_failed_transaction_leaves_nothing(tmp_path):
    path = tmp_path / "s.db"
    with Store.open(str(path)) as store:
        bad = BinaryRecord("a.sys", "a.sys", "aa" * 32, rows=[_row(), {"Bad Column": "x"}], row_count=2)
        bad.rows[1] = {**_row(), "Bad Column": "x"}
        bad.rows.reverse()  # the unstorable column name comes first
        with pytest.raises(StoreError):
            store.add(bad)
        assert store.counts()["binaries"] == 0 and store.counts()["rows"] == 0
