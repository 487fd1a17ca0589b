"""TSV, CSV and JSON-lines renderers, and an atomic file writer.

Renderers take rows and return text; they know nothing of binaries or engines. Files are written to a
temporary name beside the target and renamed into place, so an interrupted run never leaves a
half-written output behind.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import islice
from typing import Optional

from ..analysis.records import Row
from ..collector import collector_paused
from ..errors import OutputError
from ..inputs import describe_mode
from ..tempfiles import create_temporary
from .rows import COLUMNS, rows_cells, rows_json, rows_tsv_lines

FORMATS = ("tsv", "csv", "jsonl")


def render(rows: Iterable[Row], fmt: str) -> str:
    """The rows as text, with the cyclic garbage collector paused (``collector.py`` says why)."""
    with collector_paused():
        if fmt == "jsonl":
            return "".join(rows_json(rows))
        if fmt not in ("tsv", "csv"):
            raise ValueError(f"unknown format {fmt}")
        kept = rows if isinstance(rows, Sequence) else list(rows)
        if fmt == "tsv":
            plain = _plain_tsv(kept, COLUMNS)
            if plain is not None:
                return plain
        return _table_text(lambda: rows_cells(kept), COLUMNS, fmt)


#: What the TSV writer escapes: never in a plain text cell.
_TSV_ESCAPED = ("\t", "\n", "\\", '"', "\r", "\0")


def _plain_tsv(rows: Sequence[Row], names: Sequence[str]) -> Optional[str]:
    """The TSV text of the rows joined without the writer when no text cell holds what the writer escapes
    (then it is what the csv writer writes for them, byte for byte); None when any cell holds a tab, a
    newline, a backslash, a quote, a carriage return or a NUL (the writer then escapes it). The numbers'
    cells are digits, so the text cells (``rows_tsv_lines``' ``texts``) are all that is searched.

    The lines are kept in one list with the header and joined once, their cells searched a batch of rows at a
    time: the cells searched are gone before the text is made, and no second copy of the text is made to put
    the header in front (at 1x the text is 7.7 MB, the cells 5 MB, all of them at the run's peak of memory)."""
    texts: list[str] = []
    lines = ["\t".join(names) + "\n"]
    made = rows_tsv_lines(rows, texts)
    while True:
        count = len(lines)
        lines.extend(islice(made, _TSV_BATCH))
        held = "".join(texts)
        if any(c in held for c in _TSV_ESCAPED):
            return None
        texts.clear()
        if len(lines) - count < _TSV_BATCH:
            return "".join(lines)


#: Rows whose text cells ``_plain_tsv`` searches at once.
_TSV_BATCH = 2048


def render_table(rows: Iterable[Mapping[str, object]], columns: Sequence[str], fmt: str) -> str:
    """A header and one line per row, as TSV (backslash-escaped, unquoted) or CSV."""
    if fmt not in ("tsv", "csv"):
        raise ValueError(f"unknown format {fmt}")
    names = list(columns)
    if fmt == "tsv" and len(names) == 1:  # csv refuses a lone empty field unquoted; in TSV it is an empty line
        lines = _Lines()
        writer = _writer(lines, fmt)
        writer.writerow(names)
        for row in rows:
            if row.get(names[0]) in ("", None):
                lines.append("\n")
            else:
                writer.writerow(_cells(row, names))
        return "".join(lines)
    kept = rows if isinstance(rows, Sequence) else list(rows)
    return _table_text(lambda: (_cells(row, names) for row in kept), names, fmt)


def _table_text(cells: Callable[[], Iterable[Sequence[object]]], names: Sequence[str], fmt: str) -> str:
    """The header and the rows' cells (made by ``cells``, as the writer takes them, never all held at
    once) through one writer call. A carriage return is not special to a writer whose line terminator is
    "\n": written raw it would split the row for every reader, so when the text holds one, the rows
    holding one are written again by a writer that escapes (TSV) or quotes (CSV) it."""
    lines = _Lines()
    writer = _writer(lines, fmt)
    writer.writerow(names)
    writer.writerows(cells())
    text = "".join(lines)
    if "\r" not in text:
        return text
    lines.clear()
    writer.writerow(names)
    guarded = None
    for row in cells():
        writer.writerow(row)  # one line per row: only a line holding "\r" is written again
        if "\r" in lines[-1] and any(isinstance(v, str) and "\r" in v for v in row):
            lines.pop()
            guarded = guarded or _carriage_return_writer(lines, fmt)
            guarded.writerow(row)
            if fmt == "tsv":  # that writer ended the row with "\r\n"; every row ends with "\n"
                lines[-1] = lines[-1][:-2] + "\n"
    return "".join(lines)


def _writer(lines: _Lines, fmt: str):  # -> csv's (private) writer type
    import csv  # here: a plain TSV (nearly every analyze run) is written without the module

    if fmt == "csv":
        return csv.writer(lines, lineterminator="\n")
    return csv.writer(lines, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, escapechar="\\")


class _Lines(list):
    """A csv writer's file: each written line kept as one string (a row can be looked at and replaced)."""

    write = list.append


def _cells(row: Mapping[str, object], names: list[str]) -> list[object]:
    """The row's cells in column order, as ``csv.DictWriter`` takes them (missing: empty; unknown: an error)."""
    if len(row) == len(names):
        try:
            return [row[name] for name in names]
        except KeyError:
            pass
    extra = row.keys() - set(names)
    if extra:
        raise ValueError("dict contains fields not in fieldnames: " + ", ".join([repr(x) for x in extra]))
    return [row.get(name, "") for name in names]


def _carriage_return_writer(lines: _Lines, fmt: str):  # -> csv's (private) writer type
    import csv

    if fmt == "csv":
        return csv.writer(lines, lineterminator="\n", quoting=csv.QUOTE_ALL)
    return csv.writer(lines, delimiter="\t", lineterminator="\r\n", quoting=csv.QUOTE_NONE, escapechar="\\")


#: How text that cannot be encoded (a lone surrogate from a hostile name) is written: as a ``\\udc80`` escape.
ENCODING_ERRORS = "backslashreplace"


def encode_text(text: str) -> bytes:
    """UTF-8 bytes of ``text``; what UTF-8 cannot hold is escaped rather than failing the whole run."""
    return text.encode("utf-8", ENCODING_ERRORS)


def refuse_non_regular(path: str) -> None:
    """Raise OutputError unless ``path`` is absent or a regular file (never a FIFO, device or symlink)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        raise OutputError(f"{path}: is a symbolic link; refusing to replace it (give the target's path)")
    what = describe_mode(info.st_mode)
    if what is not None:
        raise OutputError(f"{path}: is {what}; only a regular file is replaced (use -o - for stdout)")


def _write_stdout(data: bytes) -> None:
    """``data`` on standard output. A reader gone (broken pipe) is the caller's to take as the end; stdout closed
    (``>&-``) or full (``>/dev/full``) was an internal error (AttributeError, OSError): it is exit 11, and the
    bytes left in the buffer are dropped so the flush at exit does not report it a second time."""
    stdout = sys.stdout
    if stdout is None:
        raise OutputError("cannot write stdout: it is closed")
    try:
        buffer = getattr(stdout, "buffer", None)
        if buffer is not None:
            stdout.flush()
            buffer.write(data)
            buffer.flush()
        else:  # a text stream without bytes underneath (tests capture into StringIO)
            stdout.write(data.decode("utf-8"))
            stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a closed file object
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the exit's flush writes nowhere
        except OSError:
            pass
        raise OutputError(f"cannot write stdout ({getattr(exc, 'strerror', None) or exc})") from None


def write_output(text: str, path: str) -> None:
    """Write ``text`` to ``path`` atomically; ``-`` means standard output.

    Only a regular file (or nothing) is replaced; the temporary file is removed on every failure,
    interruption included.
    """
    data = encode_text(text)
    if path == "-":
        _write_stdout(data)
        return
    refuse_non_regular(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = create_temporary(folder, ".tmp", 0o666)  # the permissions the umask gives a new file
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
    done = False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        refuse_non_regular(path)  # again, just before the rename: nothing replaced a FIFO meanwhile
        os.replace(tmp, path)
        done = True
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from None
    finally:
        if not done:
            try:
                os.unlink(tmp)
            except OSError:
                pass
