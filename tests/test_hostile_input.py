"""Hostile inputs and outputs, one regression test per failure found by fuzzing and by hand (issue 13).

Each case is the minimal input that used to end in ``internal error`` (exit 1), a hang or a replaced
device; each must now end in one line on stderr and a named exit code. Small mutated inputs are
committed under tests/fuzz/reproducers/; big ones are generated here.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from contextlib import contextmanager

import pytest
from conftest import REPO, run_cli, synth_exe

from api_to_etw.errors import ExitCode, OutputError
from api_to_etw.render.tables import refuse_non_regular, write_output

REPRODUCERS = os.path.join(REPO, "tests", "fuzz", "reproducers")


@contextmanager
def deadline(seconds: int):
    """Fail (instead of hanging the suite) if the block blocks: the bugs here used to be hangs."""

    def expired(_signum, _frame):
        raise AssertionError(f"still running after {seconds}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def one_line_error(result, code: ExitCode) -> str:
    assert result.code == code, (result.code, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("api-to-etw: error: "), result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return lines[0]


def facts_of(tmp_path, binary: str = synth_exe("O2")) -> dict:
    path = tmp_path / "saved.facts.json"
    result = run_cli("analyze", binary, "--save-facts", path, "-o", tmp_path / "saved.tsv", "-q")
    assert result.code == ExitCode.OK, result.stderr
    return json.loads(path.read_text())


# ---------------------------------------------------------------------- --manifests: XML encodings
@pytest.mark.parametrize("name", ["unknown_encoding.xml", "multibyte_encoding.xml"])
def test_manifest_encoding_is_exit_9_with_file_and_line(name):
    path = os.path.join(REPRODUCERS, "manifest_xml", name)
    line = one_line_error(run_cli("analyze", synth_exe("O2"), "--manifests", path, "-o", "-"), ExitCode.CORRUPT_METADATA)
    assert f"{path}:1: unsupported XML encoding" in line


# ---------------------------------------------------------------------- --facts
def test_facts_nested_deeply(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"format": "api-to-etw-facts", "version": 1, "functions": ' + "[" * 100000 + "]" * 100000 + "}")
    line = one_line_error(run_cli("analyze", "--facts", path, "-o", "-"), ExitCode.CORRUPT_METADATA)
    assert "nested too deeply" in line


def test_facts_value_nested_deeply(tmp_path):
    """Values nest through Offset/Load and decode recursively: a chain of 200 is refused by its depth."""
    doc = facts_of(tmp_path)
    value: object = {"c": 1}
    for _ in range(200):
        value = {"o": [value, 1]}
    site = next(c for c in doc["calls"] if c[4] is not None)
    site[4][0] = [value]
    path = tmp_path / "deepvalue.json"
    path.write_text(json.dumps(doc))
    line = one_line_error(run_cli("analyze", "--facts", path, "-o", "-"), ExitCode.CORRUPT_METADATA)
    assert "nested deeper than" in line


@pytest.mark.parametrize("number", ["1e400", "-1e400", "Infinity", "-Infinity", "NaN", "1.5", "1" * 5000, str(1 << 64)])
def test_facts_non_integer_where_an_integer_belongs(tmp_path, number):
    path = os.path.join(REPRODUCERS, "facts", "overflow_1e400.json")
    text = open(path, encoding="utf-8").read().replace("1e400", number)
    mutated = tmp_path / "n.json"
    mutated.write_text(text)
    one_line_error(run_cli("analyze", "--facts", mutated, "-o", "-"), ExitCode.CORRUPT_METADATA)


@pytest.mark.parametrize("field,index", [("image_base", None), ("functions", 0), ("calls", 1), ("symbols", 0)])
def test_facts_integer_out_of_range(tmp_path, field, index):
    doc = facts_of(tmp_path)
    if index is None:
        doc[field] = -1
    else:
        doc[field][0][index] = -5
    path = tmp_path / "range.json"
    path.write_text(json.dumps(doc))
    line = one_line_error(run_cli("analyze", "--facts", path, "-o", "-"), ExitCode.CORRUPT_METADATA)
    assert "out of range" in line


def test_facts_call_naming_a_missing_function():
    path = os.path.join(REPRODUCERS, "facts", "call_to_missing_function.json")
    line = one_line_error(run_cli("analyze", "--facts", path, "-o", "-"), ExitCode.CORRUPT_METADATA)
    assert "not a function of the file" in line


def test_facts_reference_in_a_missing_function(tmp_path):
    doc = facts_of(tmp_path, os.path.join(REPO, "samples", "tlg", "tlg.dll"))
    assert doc["references"], "tlg.dll's facts hold references to its ETW0 blobs"
    doc["references"][0][1] = 0x7FFF0000
    path = tmp_path / "ref.json"
    path.write_text(json.dumps(doc))
    line = one_line_error(run_cli("analyze", "--facts", path, "-o", "-"), ExitCode.CORRUPT_METADATA)
    assert "not a function of the file" in line


def test_valid_facts_still_replay(tmp_path):
    doc = facts_of(tmp_path)
    path = tmp_path / "ok.facts.json"
    path.write_text(json.dumps(doc))
    direct = run_cli("analyze", synth_exe("O2"), "-o", "-", "-q")
    replay = run_cli("analyze", "--facts", path, "-o", "-", "-q")
    assert replay.code == ExitCode.OK and replay.stdout == direct.stdout


# ---------------------------------------------------------------------- inputs must be regular files
def _input_cases(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    names = tmp_path / "names.txt"
    names.write_text("NtOpenProcess\n")
    table = tmp_path / "t.tsv"
    run_cli("analyze", synth_exe("O2"), "-o", table, "-q")
    return {
        "binary": lambda bad: ["analyze", bad, "-o", "-"],
        "pdb": lambda bad: ["analyze", synth_exe("O2"), "--pdb", bad, "-o", "-"],
        "tracelogging": lambda bad: ["tracelogging", bad],
        "facts": lambda bad: ["analyze", "--facts", bad, "-o", "-"],
        "manifest": lambda bad: ["analyze", synth_exe("O2"), "--manifests", bad, "-o", "-"],
        "roots": lambda bad: ["analyze", synth_exe("O2"), "--roots", bad, "-o", "-"],
        "ignore": lambda bad: ["analyze", synth_exe("O2"), "--ignore", bad, "-o", "-"],
        "diff-old": lambda bad: ["diff", bad, table],
        "diff-new": lambda bad: ["diff", table, bad],
    }, fifo


@pytest.mark.parametrize("case", ["binary", "pdb", "tracelogging", "facts", "manifest", "roots", "ignore", "diff-old",
                                  "diff-new"])
@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_special_files_are_refused_as_input(tmp_path, case, special):
    cases, fifo = _input_cases(tmp_path)
    bad = str(fifo) if special == "fifo" else special
    with deadline(20):
        line = one_line_error(run_cli(*cases[case](bad)), ExitCode.FILE_NOT_FOUND)
    assert "not a regular file" in line


def test_input_size_limit_is_configurable(tmp_path, monkeypatch):
    names = tmp_path / "roots.txt"
    names.write_text("NtOpenProcess\n" * 10)
    monkeypatch.setenv("API_TO_ETW_MAX_NAMES_BYTES", "16")
    line = one_line_error(run_cli("analyze", synth_exe("O2"), "--roots", names, "-o", "-"), ExitCode.CORRUPT_FILE)
    assert "over the 16-byte limit" in line and "API_TO_ETW_MAX_NAMES_BYTES" in line
    monkeypatch.setenv("API_TO_ETW_MAX_NAMES_BYTES", "4096")
    assert run_cli("analyze", synth_exe("O2"), "--roots", names, "-o", "-", "-q").code == ExitCode.OK


def test_undecodable_names_file(tmp_path):
    names = tmp_path / "roots.txt"
    names.write_bytes(b"NtOpenProcess\n\xff\xfe\xfa\n")
    line = one_line_error(run_cli("analyze", synth_exe("O2"), "--roots", names, "-o", "-"), ExitCode.CORRUPT_FILE)
    assert ":2: not UTF-8 text" in line


# ---------------------------------------------------------------------- outputs
def _leftovers(folder) -> list[str]:
    return [n for n in os.listdir(folder) if n.endswith(".tmp")]


def test_lone_surrogate_in_a_name_is_escaped(tmp_path):
    """A symbol name with a lone surrogate (possible in facts JSON) used to raise UnicodeEncodeError
    and leave a 0-byte .tmp file; now it is written escaped."""
    path = os.path.join(REPRODUCERS, "facts", "lone_surrogate_name.json")
    out = tmp_path / "out.tsv"
    result = run_cli("analyze", "--facts", path, "-o", out, "-q")
    assert result.code == ExitCode.OK, result.stderr
    assert "\\udc80" in out.read_text(encoding="utf-8")
    assert _leftovers(tmp_path) == []
    stdout = run_cli("analyze", "--facts", path, "-o", "-", "-q")
    assert stdout.code == ExitCode.OK and "\\udc80" in stdout.stdout


def test_temporary_file_removed_on_any_failure(tmp_path, monkeypatch):
    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_output("a\tb\n", str(tmp_path / "x.tsv"))
    assert _leftovers(tmp_path) == [] and not (tmp_path / "x.tsv").exists()


def test_output_onto_a_fifo_is_refused(tmp_path):
    fifo = tmp_path / "out.tsv"
    os.mkfifo(fifo)
    with deadline(20):
        line = one_line_error(run_cli("analyze", synth_exe("O2"), "-o", fifo), ExitCode.OUTPUT_ERROR)
    assert "FIFO" in line
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and _leftovers(tmp_path) == []


def test_output_onto_a_symlink_is_refused(tmp_path):
    target = tmp_path / "real.tsv"
    target.write_text("keep me\n")
    link = tmp_path / "link.tsv"
    link.symlink_to(target)
    line = one_line_error(run_cli("analyze", synth_exe("O2"), "-o", link), ExitCode.OUTPUT_ERROR)
    assert "symbolic link" in line
    assert os.path.islink(link) and target.read_text() == "keep me\n"


def test_output_onto_a_device_is_refused(tmp_path):
    with pytest.raises(OutputError, match="character device"):
        refuse_non_regular("/dev/zero")
    if os.geteuid() != 0:
        return  # only root can make a device node to try the whole command on
    node = tmp_path / "null"
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    line = one_line_error(run_cli("analyze", synth_exe("O2"), "-o", node), ExitCode.OUTPUT_ERROR)
    assert "character device" in line and stat.S_ISCHR(os.lstat(node).st_mode)


def test_regular_output_is_still_replaced(tmp_path):
    out = tmp_path / "out.tsv"
    out.write_text("old\n")
    assert run_cli("analyze", synth_exe("O2"), "-o", out, "-q").code == ExitCode.OK
    assert out.read_text().startswith("Function\t") and _leftovers(tmp_path) == []


def test_parity_with_a_lone_surrogate_name(tmp_path):
    """parity renders both sides' rows to compare them: the same escape policy as every output."""
    weird = os.path.join(REPRODUCERS, "facts", "lone_surrogate_name.json")
    plain = os.path.join(REPO, "tests", "fuzz", "corpus", "facts", "tlg.facts.json")
    result = run_cli("parity", weird, plain, "-o", tmp_path / "report.txt")
    assert result.code == ExitCode.DIFF_FOUND, result.stderr
    assert "internal error" not in result.stderr


def test_diff_jsonl_nested_deeply(tmp_path):
    """A JSON-lines table whose first line nests 50,000 arrays was a RecursionError (internal error)."""
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"function": ' + "[" * 50000 + "]" * 50000 + "}\n")
    table = os.path.join(REPO, "tests", "fuzz", "corpus", "diff", "tlg.tsv")
    line = one_line_error(run_cli("diff", deep, table), ExitCode.CORRUPT_METADATA)
    assert "line 1: JSON nested too deeply" in line


def test_manifest_nested_deeply_is_refused_fast(tmp_path):
    """100,000 nested <task> elements: each task searched its whole subtree for opcodes, a quadratic
    walk that never ended; element depth is now capped (a manifest needs about ten levels)."""
    n = 100000
    path = tmp_path / "deep.xml"
    path.write_text('<?xml version="1.0"?><instrumentationManifest><instrumentation><events>'
                    '<provider name="P" guid="{11111111-2222-3333-4444-555555555555}"><tasks>'
                    + '<task name="t" value="1">' * n + "</task>" * n
                    + "</tasks></provider></events></instrumentation></instrumentationManifest>\n")
    with deadline(20):
        line = one_line_error(run_cli("analyze", synth_exe("O2"), "--manifests", path, "-o", "-"),
                              ExitCode.CORRUPT_METADATA)
    assert "nested deeper than 64 levels" in line


def test_facts_memory_ranges_must_not_overlap(tmp_path):
    doc = facts_of(tmp_path)
    assert doc["memory"], "the kernel's facts hold the bytes its decoders read"
    start, data = doc["memory"][0]
    doc["memory"].append([start + 1, data])
    path = tmp_path / "overlap.json"
    path.write_text(json.dumps(doc))
    line = one_line_error(run_cli("analyze", "--facts", path, "-o", "-"), ExitCode.CORRUPT_METADATA)
    assert "overlaps" in line


# ---------------------------------------------------------------------- PE: lying VirtualSize, pointer tables
def test_pointer_table_scan_reads_only_file_backed_bytes():
    """Five sections of a 2 KB file claiming 0.5-3 GB each: the read-only pointer-table scan (entry points)
    walked 256 MB of zero fill per section, a minute for one input. It now reads what the file holds."""
    from api_to_etw.analysis.entries import MAX_TABLE_SECTION, _code_words
    from api_to_etw.binary.pe import load_pe

    path = os.path.join(REPRODUCERS, "pe", "huge_virtual_size_tables.dll")
    image = load_pe(path)
    big = [s for s in image.sections if s.virtual_size > MAX_TABLE_SECTION]
    assert big, "the reproducer's sections no longer lie about their size"
    words = sum(1 for s in big for _ in _code_words(image, s.rva, MAX_TABLE_SECTION, 0, 1 << 64))  # every word
    assert words <= sum(s.raw_size for s in big) // 8
    with deadline(60):
        result = run_cli("analyze", path, "--no-pdb", "--all-sites", "-o", "-", "-q")
    assert result.code == ExitCode.OK, result.stderr
    assert "internal error" not in result.stderr


# ---------------------------------------------------------------------- WEVT: message table code page
def test_unknown_message_table_code_page_is_exit_9_with_the_text_kept():
    """The resource data entry's code page is any 32-bit word; an ANSI message under one Python has no
    codec for raised LookupError (internal error). Found by the wevt fuzz target."""
    path = os.path.join(REPRODUCERS, "wevt", "unknown_code_page.dll")
    result = run_cli("manifest", path, "-o", "-")
    assert result.code == ExitCode.CORRUPT_METADATA, result.stderr
    assert "code page 286331153 is unknown" in result.stderr and "internal error" not in result.stderr
    assert 'level="win:Informational"' in result.stdout
    from api_to_etw.cli.manifest import open_manifest

    assert open_manifest(path).messages == {1033: {0x50000004: "Information"}}  # the ANSI entry, as cp1252


def test_a_code_page_nobody_uses_is_not_a_warning():
    """Only an ANSI entry asks for the codec: UTF-16 tables under an odd code page stay clean."""
    from api_to_etw.etw.messagetable import decode_messagetable

    utf16 = "Hi\r\n".encode("utf-16-le") + b"\0\0"
    table = bytes.fromhex("01000000") + (7).to_bytes(4, "little") * 2 + (16).to_bytes(4, "little")
    table += (len(utf16) + 4).to_bytes(2, "little") + (1).to_bytes(2, "little") + utf16
    decoded = decode_messagetable(table, 0x11111111)
    assert decoded.messages == {7: "Hi"} and decoded.warnings == []


def test_code_is_decoded_from_file_bytes_only(monkeypatch):
    """A 5 KB file whose .pdata claims 3.6 MB over every other section: the function extent estimate and
    the call scan decoded a megabyte of zero fill per function (seconds per input, a fuzzer's slow unit).
    Every byte the native engine reads is now bounded by what the file holds."""
    from api_to_etw.binary.pe import PEImage

    path = os.path.join(REPRODUCERS, "pe", "overlapping_section_zero_fill_code.dll")
    served: list[int] = []
    for name in ("read", "file_bytes"):
        original = getattr(PEImage, name)

        def counted(self, rva, size, _original=original):
            data = _original(self, rva, size)
            served.append(len(data))
            return data

        monkeypatch.setattr(PEImage, name, counted)
    with deadline(60):
        result = run_cli("analyze", path, "--no-pdb", "--all-sites", "-o", "-", "-q")
    assert result.code == ExitCode.OK, result.stderr
    assert served and max(served) <= os.path.getsize(path), max(served)
