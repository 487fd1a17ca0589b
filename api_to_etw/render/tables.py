"""TSV, CSV and JSON-lines renderers, and an atomic file writer.

Renderers take rows and return text; they know nothing of binaries or engines. Files are written to a
temporary name beside the target and renamed into place, so an interrupted run never leaves a
half-written output behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence

from ..analysis.records import COLUMNS, Row
from ..errors import OutputError

FORMATS = ("tsv", "csv", "jsonl")


def render(rows: Iterable[Row], fmt: str) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(row.as_record(), sort_keys=False) + "\n" for row in rows)
    return render_table((row.as_dict() for row in rows), COLUMNS, fmt)


def render_table(rows: Iterable[Mapping[str, object]], columns: Sequence[str], fmt: str) -> str:
    """A header and one line per row, as TSV (backslash-escaped, unquoted) or CSV."""
    if fmt not in ("tsv", "csv"):
        raise ValueError(f"unknown format {fmt}")
    buf = io.StringIO()
    if fmt == "csv":
        writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    else:
        writer = csv.DictWriter(buf, fieldnames=list(columns), delimiter="\t", lineterminator="\n",
                                quoting=csv.QUOTE_NONE, escapechar="\\")
    writer.writeheader()
    if fmt == "tsv" and len(columns) == 1:  # csv refuses a lone empty field unquoted; in TSV it is an empty line
        for row in rows:
            if row.get(columns[0]) in ("", None):
                buf.write("\n")
            else:
                writer.writerow(row)
        return buf.getvalue()
    writer.writerows(rows)
    return buf.getvalue()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_output(text: str, path: str) -> None:
    """Write ``text`` to ``path`` atomically; ``-`` means standard output."""
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".api-to-etw-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
