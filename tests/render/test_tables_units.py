"""Unit tests of render/tables.py: TSV/CSV/JSONL text of rows read back with the standard library, and the
atomic writer's refusals beyond the FIFO/symlink/device/interrupt cases of test_hostile_input.py."""

from __future__ import annotations

import csv
import io
import json
import os

import pytest

from api_to_etw.analysis.records import (
    ENTRY_UNREFERENCED,
    KIND_MANIFEST,
    KIND_TRACELOGGING,
    EventInfo,
    EventNames,
    Row,
)
from api_to_etw.errors import OutputError
from api_to_etw.render.rows import COLUMNS, row_cells, row_columns, row_record, rows_tsv_lines
from api_to_etw.render.tables import encode_text, refuse_non_regular, render, render_table, write_output

TRICKY = {"a": "tab\there", "b": 'say "hi", ok', "c": "back\\slash", "d": "Ünïcødé ✓ 事件"}


def _read_tsv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))


def _row(**event) -> Row:
    info = EventInfo(kind=KIND_MANIFEST, write_function="EtwWrite", provider_guid="{1-2}", id=7, version=1,
                     channel=0x10, level=4, opcode=0, task=3, keyword=0x8000000000000001, **event)
    return Row(info, "NtCreateFile", "IopCreate", ["NtCreateFile", "IopCreate"], 1, 0x1234,
               EventNames(event_name="FileCreate", keyword_names=("KW_A", "KW_B"), fields=("Name", "Size")))


def test_tsv_escapes_tabs_quotes_backslashes_and_keeps_unicode():
    text = render_table([TRICKY], list(TRICKY), "tsv")
    assert text.count("\n") == 2  # header and one row
    assert _read_tsv(text) == [list(TRICKY), list(TRICKY.values())]


def test_tsv_newline_in_a_value_round_trips():
    text = render_table([{"a": "one\ntwo", "b": "x"}], ["a", "b"], "tsv")
    assert _read_tsv(text) == [["a", "b"], ["one\ntwo", "x"]]


@pytest.mark.parametrize("fmt", ["tsv", "csv"])
def test_carriage_return_in_a_value_round_trips(fmt):
    text = render_table([{"a": "one\rtwo", "b": "x"}], ["a", "b"], fmt)
    read = _read_tsv(text) if fmt == "tsv" else list(csv.reader(io.StringIO(text, newline="")))
    assert read == [["a", "b"], ["one\rtwo", "x"]]


def _dict_writer_table(rows: list[dict], columns: list[str], fmt: str) -> str:
    """The table as csv.DictWriter writes it, a row holding "\r" through a writer that escapes or quotes it
    (the one-writer-per-row form render_table had before it wrote lists): the reference for its output."""
    buf = io.StringIO()
    tsv = dict(delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\") if fmt == "tsv" else {}
    plain = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", **tsv)
    guarded = csv.DictWriter(buf, fieldnames=columns, lineterminator="\r\n", **tsv) if fmt == "tsv" else \
        csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", quoting=csv.QUOTE_ALL)
    plain.writeheader()
    for row in rows:
        if any(isinstance(v, str) and "\r" in v for v in row.values()):
            guarded.writerow(row)
            if fmt == "tsv":
                text = buf.getvalue()
                buf.seek(len(text) - 2)
                buf.truncate()
                buf.write("\n")
        else:
            plain.writerow(row)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["tsv", "csv"])
def test_tables_are_what_dict_writer_writes(fmt):
    columns = ["a", "b", "c"]
    rows = [dict(a="one\rtwo", b="x", c=""), dict(a="1", b=None, c=3), dict(a="q\"uote", b="t\tab", c="new\nline"),
            dict(a="\r", b="\r\n", c="\\"), dict(a="plain")] + [dict(a=str(k), b="Ünï ✓", c="") for k in range(40)]
    assert render_table(iter(rows), columns, fmt) == _dict_writer_table(rows, columns, fmt)
    with pytest.raises(ValueError, match="fields not in fieldnames: 'z'"):
        render_table([dict(a="1", z="2")], columns, fmt)
    with pytest.raises(ValueError, match="fields not in fieldnames"):
        render_table([dict(a="1", b="2", z="3")], columns, fmt)


def test_csv_quotes_what_needs_quoting():
    values = dict(TRICKY, e="multi\nline")
    text = render_table([values], list(values), "csv")
    assert list(csv.reader(io.StringIO(text, newline=""))) == [list(values), list(values.values())]
    assert text.startswith(",".join(values) + "\n")


def test_missing_keys_are_empty_and_unknown_formats_refused():
    assert render_table([{"a": "1"}], ["a", "b"], "tsv") == "a\tb\n1\t\n"
    with pytest.raises(ValueError):
        render_table([], ["a"], "xml")


def test_rows_render_every_column_in_order():
    for fmt, split in (("tsv", _read_tsv), ("csv", lambda t: list(csv.reader(io.StringIO(t, newline=""))))):
        table = split(render([_row()], fmt))
        assert table[0] == COLUMNS
        values = dict(zip(table[0], table[1]))
        assert values["Keyword"] == "0x8000000000000001" and values["WriteRva"] == "0x1234"
        assert values["CallPath"] == "[NtCreateFile->IopCreate]" and values["CallDepth"] == "2"
        assert values["KeywordNames"] == "KW_A KW_B" and values["EventName"] == "FileCreate"


@pytest.mark.parametrize("fmt", ["tsv", "csv"])
def test_rows_in_bulk_are_the_named_cells_table(fmt):
    """``render`` feeds the writer every row's cells at once; a row holding a carriage return (a hostile
    symbol name) is written again by the escaping writer, exactly as ``render_table`` writes the named cells."""
    rows = [_row(), Row(EventInfo(kind=KIND_MANIFEST, write_function="EtwWrite", descriptor_symbol="Ev\rent"),
                        "f\r", "g", ["f\r", "g"], 0, 0x20), _row(message="Ünï ✓")]
    assert render(rows, fmt) == render_table([row_columns(r) for r in rows], COLUMNS, fmt)
    assert render(rows[:1], fmt) == render_table([row_columns(rows[0])], COLUMNS, fmt)
    read = _read_tsv(render(rows, fmt)) if fmt == "tsv" else list(csv.reader(io.StringIO(render(rows, fmt),
                                                                                         newline="")))
    assert len(read) == 4 and read[2][0] == "f\r" and dict(zip(COLUMNS, read[2]))["CallPath"] == "[f\r->g]"


def test_tracelogging_rows_print_a_dash_for_missing_numbers():
    info = EventInfo(kind=KIND_TRACELOGGING, write_function="_tlgWriteTransfer", descriptor_symbol="MyEvent")
    values = dict(zip(COLUMNS, _read_tsv(render([Row(info, "f", "f", ["f"], 0, 0x10)], "tsv"))[1]))
    assert (values["Id"], values["Version"], values["Task"], values["Channel"]) == ("-", "-", "-", "")
    assert values["EventName"] == "MyEvent"


def test_jsonl_records_are_typed():
    text = render([_row(), _row(message="Ünï ✓")], "jsonl")
    lines = text.splitlines()
    assert len(lines) == 2 and text.endswith("\n")
    record = json.loads(lines[0])
    assert record["id"] == 7 and record["keyword"] == 0x8000000000000001 and record["write_rva"] == 0x1234
    assert record["call_path"] == ["NtCreateFile", "IopCreate"] and record["call_depth"] == 2
    assert record["fields"] == ["Name", "Size"] and record["keyword_names"] == ["KW_A", "KW_B"]
    assert record["resolved"] is True and record["group_mask"] is None
    assert not {"event_key", "provider_key", "tracelogging_provider"} & set(record)
    assert json.loads(lines[1])["message"] == "Ünï ✓"


def test_encode_text_escapes_lone_surrogates_only():
    assert encode_text("é\udc80") == "é".encode() + b"\\udc80"


# ------------------------------------------------------------------------------------- the writer


def _names(folder) -> list[str]:
    return sorted(os.listdir(folder))


def test_write_creates_folders_and_uses_the_umask(tmp_path):
    target = tmp_path / "deep" / "er" / "out.tsv"
    old = os.umask(0o027)
    try:
        write_output("a\tb\n", str(target))
    finally:
        os.umask(old)
    assert target.read_bytes() == b"a\tb\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert _names(target.parent) == ["out.tsv"]


def test_write_to_stdout_is_utf8_bytes(capfdbinary):
    write_output("é\n", "-")
    assert capfdbinary.readouterr().out == "é\n".encode()


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(OutputError, match="directory"):
        write_output("x", str(tmp_path))
    with pytest.raises(OutputError, match="directory"):
        refuse_non_regular(str(tmp_path))


def test_a_parent_that_is_a_file_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    with pytest.raises(OutputError) as raised:
        write_output("x", str(blocker / "out.tsv"))
    assert "cannot write" in str(raised.value) and "\n" not in str(raised.value)
    assert blocker.read_text() == "keep"


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "out.tsv"
    target.write_text("old\n")
    real_fdopen = os.fdopen

    class Full(io.RawIOBase):
        def __init__(self, fd):
            self.handle = real_fdopen(fd, "wb")

        def write(self, _data):
            raise OSError(28, "No space left on device")

        def close(self):
            self.handle.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, _mode: Full(fd))
    with pytest.raises(OutputError, match="No space left"):
        write_output("new\n", str(target))
    assert target.read_text() == "old\n"
    assert _names(tmp_path) == ["out.tsv"]


@pytest.mark.parametrize("text", ["plain", "tab\there", "new\nline", 'say "hi"', "back\\slash", "nul\0byte",
                                  "Ünïcødé ✓ 事件", "", " "])
def test_plain_tsv_is_the_writers_text_or_left_to_it(text):
    """TSV rows joined without the writer (no cell holds what it escapes) are byte for byte the writer's
    text, and a row that holds such a cell anywhere goes through the writer: both are its output."""
    rows = [_row(), Row(EventInfo(kind=KIND_MANIFEST, write_function="EtwWrite", descriptor_symbol=text),
                        text, "g", [text, "g"], 0, 0x20)]
    assert render(rows, "tsv") == render_table([row_columns(r) for r in rows], COLUMNS, "tsv")
    assert _read_tsv(render(rows, "tsv"))[2][0] == text


def test_tsv_lines_are_the_rows_cells_joined():
    """A row's TSV line made from its event's cells joined once is its ``row_cells`` joined by tabs: every
    column in place, a TraceLogging event's dashes, an unreferenced row's empty WriteRva, rows sharing an
    event and names, a row without names, an empty call path."""
    tlg = EventInfo(kind=KIND_TRACELOGGING, write_function="_tlgWrite", descriptor_symbol="Ev", fields=("a",),
                    message="m", wpp_level="L", group_mask=0x10, hook_id=3, resolved=False)
    rows = [_row(), _row(message="text"), Row(tlg, "f", "g", [], 0, 0x20, event_site="s", entry="e", ioctl="0x1"),
            Row(tlg, "other", "g", ["other", "x", "g"], 2, 0x30),
            Row(tlg, "u", "", [], 0, 0, entry=ENTRY_UNREFERENCED)]
    rows.append(Row(rows[0].event, "again", "IopCreate", ["again"], 0, 0x1234, rows[0].names))
    assert list(rows_tsv_lines(rows)) == ["\t".join(row_cells(r)) + "\n" for r in rows]


def test_jsonl_lines_are_json_dumps_of_the_records():
    """The JSON lines made from shared per-event text are ``json.dumps`` of each row's record, escapes and
    all (quotes, control characters, non-ASCII, an empty path, a row without names)."""
    rows = [_row(), _row(message='q"uo\\te\n\x01 Ünï ✓ 事件'),
            Row(EventInfo(kind=KIND_TRACELOGGING, write_function="_tlgWrite", descriptor_symbol="Ev"),
                'f"\t', "g\u2028", [], 0, 0x20, event_site="s\x7f", entry="e", ioctl="0x1")]
    rows.append(Row(rows[1].event, "other", "IopCreate", ["other", "IopCreate"], 0, 0x30, rows[1].names))
    assert render(rows, "jsonl") == "".join(json.dumps(row_record(r)) + "\n" for r in rows)


@pytest.mark.parametrize("count", [1, 2048, 2049, 4097])
def test_tsv_cell_to_escape_in_a_later_batch_of_rows(count):
    """``_plain_tsv`` searches the rows' cells a batch at a time: a tab in the last row, whatever batch it is
    in, still sends every row through the writer; with none, the joined text is the writer's."""
    import api_to_etw.render.tables as tables

    rows = [_row() for _ in range(count)]
    plain = render(rows, "tsv")
    assert plain == tables._table_text(lambda: [row_cells(r) for r in rows], COLUMNS, "tsv")
    rows[-1] = Row(rows[0].event, "Nt\tCreate", "IopCreate", ["Nt\tCreate"], 1, 0x1234, rows[0].names)
    escaped = render(rows, "tsv")
    assert _read_tsv(escaped)[-1][0] == "Nt\tCreate" and escaped.count("\n") == count + 1
