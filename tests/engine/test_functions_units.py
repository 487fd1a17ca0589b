"""Unit tests of function discovery (engine/native/functions.py) on every committed fixture, with truth from
the PE itself: pefile's exception directory, exports and imports, and the direct calls and jumps that
``llvm-objdump -d`` prints (a disassembler independent of ours)."""

from __future__ import annotations

import os
import re
import subprocess

import pefile
import pytest
from conftest import SAMPLES, code_fixtures, require_tools
from unwind_fixture import build_chained

from api_to_etw.binary.loader import open_binary
from api_to_etw.binary.pe import load_pe
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.engine.native.functions import discover
from api_to_etw.model import CallSite, Function

FIXTURES = code_fixtures()
IDS = [os.path.relpath(p, SAMPLES) for p in FIXTURES]
#: ``180001234:  callq 0x180001500 <f>``, ``callq *5214(%rip)  # 0x180002480`` (--no-show-raw-insn).
LINE = re.compile(r"^\s*([0-9a-f]+):\s+(callq|jmp|jmpq)\s+(\*-?\d+\(%rip\)\s+# 0x([0-9a-f]+)|0x([0-9a-f]+))")


@pytest.fixture(scope="module", params=FIXTURES, ids=IDS)
def case(request):
    path = request.param
    loaded = open_binary(path)
    facts = NativeEngine(loaded.image, loaded.pdb).load()
    return path, pefile.PE(path), facts


def _pdata(pe) -> list[tuple[int, int]]:
    return [(e.struct.BeginAddress, e.struct.EndAddress) for e in getattr(pe, "DIRECTORY_ENTRY_EXCEPTION", [])]


def _objdump(path: str, base: int) -> list[tuple[int, str, int, bool]]:
    """(rva, mnemonic, target rva, through memory) of every call and jump with a static target."""
    require_tools("llvm-objdump")
    text = subprocess.run(["llvm-objdump", "-d", "--no-show-raw-insn", path], check=True, capture_output=True,
                          text=True).stdout
    out = []
    for line in text.splitlines():
        match = LINE.match(line)
        if match:
            slot, direct = match.group(4), match.group(5)
            out.append((int(match.group(1), 16) - base, match.group(2), int(slot or direct, 16) - base,
                        slot is not None))
    return out


def test_every_pdata_entry_is_a_function_with_its_extent(case):
    _path, pe, facts = case
    for begin, end in _pdata(pe):
        assert begin in facts.functions, hex(begin)
        assert facts.functions[begin].size == end - begin
        assert not facts.functions[begin].imported


def test_functions_do_not_overlap(case):
    _path, _pe, facts = case
    spans = sorted((f.rva, f.rva + f.size) for f in facts.functions.values() if not f.imported)
    assert all(a_end <= b for (_a, a_end), (b, _b_end) in zip(spans, spans[1:]))


def test_exports_are_named_functions(case):
    _path, pe, facts = case
    export_dir = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
    code = [s for s in pe.sections if s.Characteristics & 0x20000000]
    for sym in export_dir.symbols if export_dir is not None else []:
        if not any(s.VirtualAddress <= sym.address < s.VirtualAddress + s.Misc_VirtualSize for s in code):
            continue  # an exported variable (a TraceLogging provider, a GUID)
        func = facts.functions[sym.address]
        assert func.exported
        assert func.name == sym.name.decode()


def test_imports_are_named_iat_slots(case):
    _path, pe, facts = case
    for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []):
        for imp in entry.imports:
            func = facts.functions[imp.address - pe.OPTIONAL_HEADER.ImageBase]
            assert func.imported and func.size == 0
            assert func.name == imp.name.decode()


def test_direct_calls_and_import_calls_are_edges(case):
    path, pe, facts = case
    base = pe.OPTIONAL_HEADER.ImageBase
    edges = {(c.rva, c.callee, c.tail) for c in facts.calls}
    calls = [(rva, target) for rva, mn, target, _mem in _objdump(path, base) if mn == "callq"]
    # The engine's other (non-tail) call sites are calls through a register loaded from the IAT
    # (``mov rdi, [__imp_X]; call rdi``), which have no static target for objdump.
    text = subprocess.run(["llvm-objdump", "-d", "--no-show-raw-insn", path], check=True, capture_output=True,
                          text=True).stdout
    register_calls = {int(m.group(1), 16) - base for m in re.finditer(r"^\s*([0-9a-f]+):\s+callq\s+\*%r", text, re.M)}
    # Exception-handler funclets are no instruction's target: their site is the funclet's entry (Facts.funclets).
    funclet_sites = {c.rva for c in facts.calls if c.rva == c.callee and (c.caller, c.callee) in facts.funclets}
    assert {c.rva for c in facts.calls if not c.tail} - {rva for rva, _t in calls} - funclet_sites <= register_calls
    for rva, target in calls:
        assert target in facts.functions, f"call at {rva:#x}: no function at {target:#x}"
        assert (rva, target, False) in edges, f"call at {rva:#x} to {target:#x}"
        assert facts.functions[next(c.caller for c in facts.calls if c.rva == rva)].rva <= rva


#: ``movq 7909(%rip), %rbx  # 0x180002830`` and ``callq *%rbx`` (--no-show-raw-insn).
_RIP_LOAD = re.compile(r"^\s*([0-9a-f]+):\s+movq\s+-?\d+\(%rip\), %(\w+)\s+# 0x([0-9a-f]+)")
_REGISTER_CALL = re.compile(r"^\s*([0-9a-f]+):\s+callq\s+\*%(\w+)\s*$")


def test_calls_through_a_register_loaded_from_the_iat_are_edges(case):
    """``mov rbx, [__imp_X]`` ... ``call rbx``: a site calling the IAT slot, with each caller's sites in instruction
    order (discovery decodes such functions again once the extents are final and replaces their edges). Truth:
    llvm-objdump's loads and register calls in the same function (the exception directory's extents), with no
    other write to the register between them, and pefile's import slots."""
    path, pe, facts = case
    base = pe.OPTIONAL_HEADER.ImageBase
    slots = {imp.address - base for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []) for imp in entry.imports}
    pdata = _pdata(pe)
    text = subprocess.run(["llvm-objdump", "-d", "--no-show-raw-insn", path], check=True, capture_output=True,
                          text=True).stdout
    loaded: dict[str, tuple[int, int]] = {}  # register -> (function start, IAT slot)
    expected = set()
    for line in text.splitlines():
        load, call = _RIP_LOAD.match(line), _REGISTER_CALL.match(line)
        rva = int((load or call).group(1), 16) - base if load or call else None
        function = next((b for b, e in pdata if rva is not None and b <= rva < e), None)
        if load and int(load.group(3), 16) - base in slots:
            loaded[load.group(2)] = (function, int(load.group(3), 16) - base)
            continue
        if call and call.group(2) in loaded and loaded[call.group(2)][0] == function and function is not None:
            expected.add((rva, loaded[call.group(2)][1]))
            continue
        for register in list(loaded):  # any other write to the register ends what it holds
            if re.search(rf",\s*%{register}\s*$", line) or re.search(rf"\bpopq\s+%{register}\b", line):
                del loaded[register]
    edges = {(c.rva, c.callee) for c in facts.calls if not c.tail}
    assert expected <= edges
    if "idioms" in path:
        assert len(expected) >= 5, "the idiom fixture calls imports through registers"
    by_caller: dict[int, list[int]] = {}
    for site in facts.calls:
        if not facts.functions[site.caller].fragments:
            by_caller.setdefault(site.caller, []).append(site.rva)
    assert all(rvas == sorted(rvas) for rvas in by_caller.values())


def test_each_functions_sites_are_its_sites_in_the_facts(case):
    """The engine's per-function sites (``SitesByFunction``: slices of the list the sites were first made in, the
    sites of functions decoded again for their IAT loads after its end) are discovery's own site objects of that
    caller, in their order (sites the run-time import resolver adds come after them)."""
    path, _pe, _facts = case
    loaded = open_binary(path)
    engine = NativeEngine(loaded.image, loaded.pdb)
    engine.load()
    by_caller: dict[int, list] = {}
    for site in engine._fmap.calls:
        by_caller.setdefault(site.caller, []).append(site)
    assert by_caller, "every fixture calls something"
    for caller, sites in by_caller.items():
        known = engine._sites_by_function.get(caller)
        assert known is not None, f"{caller:#x} has sites"
        expected = {s.rva: s for s in sites}  # an instruction with two edges keeps its last, as the engine does
        assert list(known)[: len(expected)] == list(expected)
        assert all(known[rva] is site for rva, site in expected.items())


def test_discovered_objects_are_those_their_constructors_make(case):
    """Discovery makes its ``Function`` and ``CallSite`` objects without their ``__init__`` (``object.__new__``,
    every field set by hand): each must equal, field for field, the object the constructor makes of its fields, so
    a field added to the model and not set there fails here."""
    _path, _pe, facts = case
    assert facts.functions and facts.calls
    for function in facts.functions.values():
        assert function == Function(*(getattr(function, name) for name in Function._fields))
    for site in facts.calls:
        assert site == CallSite(*(getattr(site, name) for name in CallSite._fields))
        assert site.args is None


def test_tail_jumps_to_other_functions_are_edges(case):
    path, pe, facts = case
    base = pe.OPTIONAL_HEADER.ImageBase
    edges = {(c.rva, c.callee) for c in facts.calls if c.tail}
    pdata = _pdata(pe)
    slots = {imp.address - base for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []) for imp in entry.imports}
    found = 0
    for rva, mn, target, memory in _objdump(path, base):
        if mn == "callq":
            continue
        if memory and target in slots:  # ``jmp [__imp_EventWrite]``
            assert (rva, target) in edges, f"tail jump at {rva:#x} through {target:#x}"
            found += 1
            continue
        here = [b for b, e in pdata if b <= rva < e]
        if not memory and target in {b for b, _e in pdata} and here and here[0] != target:
            assert (rva, target) in edges, f"tail jump at {rva:#x} to {target:#x}"
            found += 1
    if path.endswith(os.path.join("O2", "idioms.dll")):
        assert found, "the -O2 idiom fixture tail-jumps to EventWrite"


def test_chained_fragment_belongs_to_its_parent(tmp_path):
    image = load_pe(build_chained(str(tmp_path)))
    f_rva = next(rva for rva, names in image.exports.items() if names == ["f"])
    g_rva = next(rva for rva, names in image.exports.items() if names == ["g"])
    (fragment,) = [r for r in image.runtime_functions if r.parent is not None]
    fmap = discover(image, {})
    assert fragment.begin not in fmap.functions
    assert fmap.functions[f_rva].fragments == [(fragment.begin, fragment.end)]
    assert fmap.owner(fragment.begin) == f_rva and fmap.owner(fragment.end - 1) == f_rva
    # The fragment's ``call g`` is f's edge; f's ``jne cold`` into its own fragment is no edge.
    assert [(c.caller, c.callee, c.tail) for c in fmap.calls] == [(f_rva, g_rva, False)]


def test_straight_line_code_is_the_false_flow_control() -> None:
    """The decode loop skips straight-line instructions by the truth of their flow control (``scan_work``,
    ``_scan``): NEXT must be the one false value (a call, a jump, a return, an undecodable byte are true)."""
    from iced_x86 import Decoder, FlowControl

    assert FlowControl.NEXT == 0
    # nop; call $+5; jmp $+2; ret; then a byte 64-bit mode does not decode (06)
    kinds = [instr.flow_control for instr in Decoder(64, b"\x90\xe8\x00\x00\x00\x00\xeb\x00\xc3\x06", 0, 0x1000)]
    assert [bool(kind) for kind in kinds] == [False, True, True, True, True]
