"""The corpus store: one SQLite file (WAL) of binaries, providers, events and result rows.

Only the scan's coordinator writes it, one transaction per binary, so a scan killed at any point
leaves whole binaries only and the next scan resumes where it stopped. Rows keep every output column
as rendered (``render.rows.row_columns``); a column the tool did not have when the store was created (new
analysis columns) is added to the ``rows`` table the first time a row carries it, and listed in
``columns`` so queries print the columns in their order. The schema version lives in ``meta``: an
older store is migrated step by step where a migration exists, anything else is refused.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Callable, Optional, TypedDict, cast

from .. import __version__
from ..errors import InputNotFoundError, OutputError, StoreError
from ..render.rows import COLUMNS

SCHEMA_VERSION = 1
APPLICATION = "api-to-etw store"
OK = "ok"
FAILED = "failed"

#: Migrations from version N to N+1, applied in order inside one transaction.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {}

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

#: Columns of ``binaries`` in the order the scan fills them.
BINARY_FIELDS = ("name", "path", "sha256", "machine", "time_date_stamp", "size_of_image", "file_version",
                 "pdb_guid", "pdb_age", "pdb_used", "tool_version", "options", "status", "error", "exit_code",
                 "seconds", "row_count", "fetched_as")

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE binaries (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT,
    machine TEXT,
    time_date_stamp INTEGER,
    size_of_image INTEGER,
    file_version TEXT,
    pdb_guid TEXT,
    pdb_age INTEGER,
    pdb_used INTEGER NOT NULL DEFAULT 0,
    tool_version TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    error TEXT,
    exit_code TEXT,
    seconds REAL,
    row_count INTEGER NOT NULL DEFAULT 0,
    fetched_as TEXT,
    analyzed_at TEXT NOT NULL
);
CREATE UNIQUE INDEX binaries_sha256 ON binaries (sha256, tool_version) WHERE sha256 IS NOT NULL;
CREATE UNIQUE INDEX binaries_fetched ON binaries (fetched_as, tool_version) WHERE fetched_as IS NOT NULL;
CREATE INDEX binaries_name ON binaries (name COLLATE NOCASE);
CREATE TABLE providers (
    id INTEGER PRIMARY KEY,
    guid TEXT NOT NULL,
    symbol TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (guid, symbol, name)
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    provider_id INTEGER NOT NULL REFERENCES providers (id),
    kind TEXT NOT NULL,
    symbol TEXT NOT NULL,
    name TEXT NOT NULL,
    event_id TEXT NOT NULL,
    version TEXT NOT NULL,
    channel TEXT NOT NULL,
    level TEXT NOT NULL,
    opcode TEXT NOT NULL,
    task TEXT NOT NULL,
    keyword TEXT NOT NULL,
    hook_id TEXT NOT NULL,
    UNIQUE (provider_id, kind, symbol, name, event_id, version, channel, level, opcode, task, keyword, hook_id)
);
CREATE INDEX events_symbol ON events (symbol);
CREATE INDEX events_name ON events (name);
CREATE TABLE columns (position INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE rows (
    row_id INTEGER PRIMARY KEY,
    binary_id INTEGER NOT NULL REFERENCES binaries (id) ON DELETE CASCADE,
    event_id INTEGER NOT NULL REFERENCES events (id)
);
CREATE INDEX rows_binary ON rows (binary_id);
CREATE INDEX rows_event ON rows (event_id);
"""

#: Output columns that get an index: the lookups of ``query`` and ``history``.
INDEXED_COLUMNS = ("Function", "ContainingFunction", "ProviderGuid", "EventDescriptorSymbol", "EventName", "Kind")

#: Row columns that identify the provider and the event (normalised into their own tables).
_PROVIDER_COLUMNS = ("ProviderGuid", "ProviderSymbol", "ProviderName")
_EVENT_COLUMNS = ("Kind", "EventDescriptorSymbol", "EventName", "Id", "Version", "Channel", "Level", "Opcode",
                  "Task", "Keyword", "HookId")


@functools.cache
def tool_version() -> str:
    """``__version__`` plus a digest of the package's own Python source, so that rows made by other code
    (a development checkout, a patched install) are analysed again instead of skipped."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, root).replace(os.sep, "/").encode() + b"\0")
            with open(path, "rb") as handle:
                digest.update(handle.read())
    return f"{__version__}+{digest.hexdigest()[:12]}"


def quote(column: str) -> str:
    """A row column as an SQL identifier; only plain identifiers are ever accepted as column names."""
    if not _IDENT.match(column):
        raise StoreError(f"column name {column!r} cannot be stored (not a plain identifier)")
    return f'"{column}"'


class BinaryRow(TypedDict):
    """One row of the ``binaries`` table, as :meth:`Store.binaries` returns it (SQLite's NULL is None)."""

    id: int
    name: str
    path: str
    sha256: Optional[str]
    machine: Optional[str]
    time_date_stamp: Optional[int]
    size_of_image: Optional[int]
    file_version: Optional[str]
    pdb_guid: Optional[str]
    pdb_age: Optional[int]
    pdb_used: int
    tool_version: str
    options: str
    status: str
    error: Optional[str]
    exit_code: Optional[str]
    seconds: Optional[float]
    row_count: int
    fetched_as: Optional[str]
    analyzed_at: str


@dataclass
class BinaryRecord:
    """One analysed (or failed) binary as the coordinator stores it; rows are column -> text."""

    name: str
    path: str
    sha256: Optional[str]
    tool_version: str = field(default_factory=tool_version)
    #: The analysis options the rows were made with (``ScanOptions.identity``).
    options: str = ""
    status: str = OK
    machine: Optional[str] = None
    time_date_stamp: Optional[int] = None
    size_of_image: Optional[int] = None
    file_version: Optional[str] = None
    pdb_guid: Optional[str] = None
    pdb_age: Optional[int] = None
    pdb_used: bool = False
    error: Optional[str] = None
    exit_code: Optional[str] = None
    seconds: float = 0.0
    fetched_as: Optional[str] = None
    rows: list[dict[str, str]] = field(default_factory=list)
    #: len(rows), kept when the coordinator drops the rows after storing them.
    row_count: int = 0
    #: Not stored: what the worker measured and noted.
    peak_rss_kb: int = 0
    worker: str = ""
    warnings: list[str] = field(default_factory=list)



def fetch_key(name: str, time_date_stamp: int, size_of_image: int) -> str:
    """How a binary fetched by its index is remembered before its bytes are known (symbol-store key)."""
    return f"{name.lower()}/{time_date_stamp:08X}{size_of_image:x}"


def _refuse_special(path: str, readonly: bool) -> None:
    """A store is a regular file: SQLite's read-only open of a FIFO blocked until some writer came (``query`` and
    ``history`` hung), and a device or directory gave "disk I/O error". Looked at without blocking, before
    SQLite opens the path: exit 3 for a store read, 11 for one written, as for other inputs and outputs."""
    from ..inputs import describe_mode

    try:
        what = describe_mode(os.stat(path).st_mode)
    except OSError:
        return  # SQLite's own open reports it
    if what is not None:
        error = InputNotFoundError if readonly else OutputError
        raise error(f"{path}: is {what}, not a regular file; a store is an SQLite file")


class Store:
    """An open store; ``Store.open(path)`` creates, migrates or refuses it."""

    def __init__(self, connection: sqlite3.Connection, path: str, readonly: bool):
        self.db = connection
        self.path = path
        self.readonly = readonly
        self._columns: Optional[list[str]] = None

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str, readonly: bool = False, create: bool = True) -> Store:
        exists = os.path.exists(path)
        if not exists and (readonly or not create):
            raise StoreError(f"{path}: no such store")
        if exists:
            _refuse_special(path, readonly)
        try:
            if readonly:
                uri = "file:" + _uri_path(os.path.abspath(path)) + "?mode=ro"
                connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            else:
                folder = os.path.dirname(os.path.abspath(path))
                os.makedirs(folder, exist_ok=True)
                connection = sqlite3.connect(path, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise OutputError(f"{path}: cannot open the store ({exc})") from None
        store = cls(connection, path, readonly)
        try:
            store._prepare(exists)
        except sqlite3.DatabaseError as exc:
            connection.close()
            raise StoreError(f"{path}: not an {APPLICATION} ({exc})") from None
        except StoreError:
            connection.close()
            raise
        return store

    def _prepare(self, existed: bool) -> None:
        db = self.db
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            if self.readonly:
                raise StoreError(f"{self.path}: empty file, not an {APPLICATION}")
            self._create()
        elif "meta" not in tables:
            raise StoreError(f"{self.path}: not an {APPLICATION} (an SQLite file without its meta table)")
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("application") != APPLICATION:
            raise StoreError(f"{self.path}: not an {APPLICATION}")
        version = int(meta.get("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: store schema {version} is newer than this api-to-etw's "
                             f"({SCHEMA_VERSION}); upgrade api-to-etw {meta.get('created_by', '')}".rstrip())
        if version < SCHEMA_VERSION:
            if self.readonly:
                raise StoreError(f"{self.path}: store schema {version} is older than {SCHEMA_VERSION}; "
                                 "run a scan on it to migrate it")
            self._migrate(version)
        if not self.readonly:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")

    def _create(self) -> None:
        """Every table, the meta rows and the output columns in one script, so creation is atomic."""
        meta = [("application", APPLICATION), ("schema_version", str(SCHEMA_VERSION)), ("created_by", __version__)]
        script = ["BEGIN;", _SCHEMA]
        script += [f"INSERT INTO meta (key, value) VALUES ('{k}', '{v}');" for k, v in meta]
        script += [self._column_sql(name, position) for position, name in enumerate(COLUMNS)]
        script.append("COMMIT;")
        self.db.executescript("\n".join(script))

    @staticmethod
    def _column_sql(name: str, position: int) -> str:
        sql = (f"ALTER TABLE rows ADD COLUMN {quote(name)} TEXT NOT NULL DEFAULT '';"
               f"INSERT INTO columns (position, name) VALUES ({position}, '{name}');")
        if name in INDEXED_COLUMNS:
            sql += f"CREATE INDEX rows_{name} ON rows ({quote(name)});"
        return sql

    def _migrate(self, version: int) -> None:
        missing = [v for v in range(version, SCHEMA_VERSION) if v not in MIGRATIONS]
        if missing:
            raise StoreError(f"{self.path}: store schema {version} is older than {SCHEMA_VERSION} and cannot be "
                             "migrated; scan into a new --db")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](self.db)
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        except BaseException:
            self.db.execute("ROLLBACK")  # the store stays at its old version, whole
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ columns
    @property
    def columns(self) -> list[str]:
        """The output columns the rows table holds, in output order."""
        if self._columns is None:
            self._columns = [r[0] for r in self.db.execute("SELECT name FROM columns ORDER BY position")]
        return self._columns

    def _add_columns(self, names: Iterable[str]) -> None:
        """Add row columns not yet stored (inside the caller's transaction)."""
        have = list(self.columns)
        for name in names:
            if name not in have:
                for statement in self._column_sql(name, len(have)).split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                have.append(name)
        self._columns = None

    # ------------------------------------------------------------------ what is already there
    def done_hashes(self, options: str, failed: bool = True) -> set[str]:
        """sha256 of the binaries this tool version stored with these options (failed ones unless told)."""
        return {r[0] for r in self.db.execute(
            "SELECT sha256 FROM binaries WHERE tool_version = ? AND options = ? AND sha256 IS NOT NULL "
            "AND (? OR status = ?)", (tool_version(), options, failed, OK))}

    def done_fetches(self, options: str, failed: bool = True) -> set[str]:
        """Fetch keys (``fetch_key``) of the binaries this tool version fetched and stored with these options."""
        return {r[0] for r in self.db.execute(
            "SELECT fetched_as FROM binaries WHERE tool_version = ? AND options = ? AND fetched_as IS NOT NULL "
            "AND (? OR status = ?)", (tool_version(), options, failed, OK))}

    # ------------------------------------------------------------------ writing
    def add(self, record: BinaryRecord) -> int:
        """Store one binary and its rows in one transaction, replacing an earlier result of the same
        tool version for the same bytes or the same fetch index (``--force``, other options)."""
        db = self.db
        extra = [c for c in _ordered_keys(record.rows) if c not in self.columns]
        db.execute("BEGIN IMMEDIATE")
        try:
            if extra:
                self._add_columns(extra)
            if record.sha256:
                db.execute("DELETE FROM binaries WHERE sha256 = ? AND tool_version = ?",
                           (record.sha256, record.tool_version))
            if record.fetched_as:
                db.execute("DELETE FROM binaries WHERE fetched_as = ? AND tool_version = ?",
                           (record.fetched_as, record.tool_version))
            values = [getattr(record, f) for f in BINARY_FIELDS]
            values[BINARY_FIELDS.index("pdb_used")] = int(record.pdb_used)
            cursor = db.execute(
                f"INSERT INTO binaries ({', '.join(BINARY_FIELDS)}, analyzed_at) "
                f"VALUES ({', '.join('?' * len(BINARY_FIELDS))}, ?)",
                values + [datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")])
            binary_id = int(cursor.lastrowid or 0)
            columns = self.columns
            placeholders = ", ".join("?" * (len(columns) + 2))
            insert = f"INSERT INTO rows (binary_id, event_id, {', '.join(map(quote, columns))}) VALUES ({placeholders})"
            events: dict[tuple, int] = {}
            batch = []
            for row in record.rows:
                key = tuple(str(row.get(c, "")) for c in _PROVIDER_COLUMNS + _EVENT_COLUMNS)
                event = events.get(key)
                if event is None:
                    event = events[key] = self._event_id(key)
                batch.append([binary_id, event] + [str(row.get(c, "")) for c in columns])
            db.executemany(insert, batch)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return binary_id

    def _event_id(self, key: tuple) -> int:
        provider, event = key[:len(_PROVIDER_COLUMNS)], key[len(_PROVIDER_COLUMNS):]
        db = self.db
        db.execute("INSERT OR IGNORE INTO providers (guid, symbol, name) VALUES (?, ?, ?)", provider)
        (provider_id,) = db.execute("SELECT id FROM providers WHERE guid = ? AND symbol = ? AND name = ?",
                                    provider).fetchone()
        fields = ("kind", "symbol", "name", "event_id", "version", "channel", "level", "opcode", "task", "keyword",
                  "hook_id")
        db.execute(f"INSERT OR IGNORE INTO events (provider_id, {', '.join(fields)}) "
                   f"VALUES (?, {', '.join('?' * len(fields))})", (provider_id,) + event)
        where = " AND ".join(f"{f} = ?" for f in fields)
        (event_id,) = db.execute(f"SELECT id FROM events WHERE provider_id = ? AND {where}",
                                 (provider_id,) + event).fetchone()
        return int(event_id)

    # ------------------------------------------------------------------ reading
    def binaries(self, where: str = "", params: Sequence[object] = ()) -> list[BinaryRow]:
        cursor = self.db.execute(f"SELECT * FROM binaries {where}", params)
        names = [d[0] for d in cursor.description]
        return [cast(BinaryRow, dict(zip(names, r))) for r in cursor.fetchall()]

    def rows_of(self, binary_id: int, where: str = "", params: Sequence[object] = ()) -> list[dict[str, str]]:
        """The stored rows of one binary (``where`` over ``rows r``), in the order the analysis produced them."""
        columns = self.columns
        sql = (f"SELECT {', '.join('r.' + quote(c) for c in columns)} FROM rows r WHERE r.binary_id = ? "
               f"{('AND ' + where) if where else ''} ORDER BY r.row_id")
        return [dict(zip(columns, r)) for r in self.db.execute(sql, (binary_id, *params))]

    def counts(self) -> dict[str, int]:
        out = {}
        for table in ("binaries", "providers", "events", "rows"):
            (out[table],) = self.db.execute(f"SELECT count(*) FROM {table}").fetchone()
        return out

    def snapshot(self) -> Iterator[tuple]:
        """The store's content without ids, times and paths' folders: equal for equal scans."""
        skip = {"id", "seconds", "analyzed_at", "path"}
        for binary in sorted(self.binaries(), key=lambda b: (str(b["sha256"]), str(b["name"]))):
            fields = tuple((k, v) for k, v in binary.items() if k not in skip)
            rows = sorted(tuple(r.items()) for r in self.rows_of(int(binary["id"])))
            yield fields, tuple(rows)


def _ordered_keys(rows: Sequence[Mapping[str, object]]) -> list[str]:
    """Every column any row carries, in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _uri_path(path: str) -> str:
    from urllib.parse import quote as urlquote

    return urlquote(path)
