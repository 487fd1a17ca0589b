"""The builds of one binary in FileVersion order, each compared with the one before by the ``diff`` logic.

A build is a stored binary of that name analysed without error. Builds are ordered by FileVersion
(numerically, ``10.0.9`` before ``10.0.10``), then TimeDateStamp, then when they were stored; each is
read into a ``diff`` table and compared with its predecessor, so "added", "removed" and "changed" mean
exactly what ``api-to-etw diff`` says between two TSVs of those builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..binary.version import version_key
from ..diff import DiffResult, Table, build_table, compare, normalise
from ..errors import InputNotFoundError
from .db import OK, BinaryRow, Store
from .query import Filters, install_regexp, where_clause


@dataclass
class Build:
    binary: BinaryRow
    table: Table

    @property
    def label(self) -> str:
        b = self.binary
        version = b["file_version"] or f"TimeDateStamp {int(b['time_date_stamp'] or 0):08X}"
        return f"{b['name']} {version} ({str(b['sha256'])[:12]})"


@dataclass
class Step:
    """One build against the build before it (``previous`` is None for the first build)."""

    build: Build
    previous: Optional[Build]
    result: Optional[DiffResult]


def builds(store: Store, name: str, filters: Optional[Filters] = None) -> list[Build]:
    """Every successfully analysed build of ``name``, oldest first, its rows narrowed by ``filters``
    (row filters only: the binaries are chosen by name)."""
    found = store.binaries("WHERE name = ? COLLATE NOCASE AND status = ?", (name, OK))
    if not found:
        known = store.binaries("WHERE name = ? COLLATE NOCASE", (name,))
        why = "only failed analyses" if known else "no binary of that name"
        raise InputNotFoundError(f"{name}: {why} in {store.path}")
    found.sort(key=lambda b: (version_key(b["file_version"]), b["time_date_stamp"] or 0, b["id"]))
    install_regexp(store.db)
    where, params = where_clause(store, filters or Filters())
    out = []
    for binary in found:
        rows = store.rows_of(int(binary["id"]), where, params)
        build = Build(binary, Table("", "store", {}, 0))
        build.table = build_table(build.label, "store", [normalise(dict(row), n) for n, row in enumerate(rows, 1)])
        out.append(build)
    return out


def history(store: Store, name: str, filters: Optional[Filters] = None) -> list[Step]:
    steps: list[Step] = []
    previous: Optional[Build] = None
    for build in builds(store, name, filters):
        steps.append(Step(build, previous, compare(previous.table, build.table) if previous else None))
        previous = build
    return steps
