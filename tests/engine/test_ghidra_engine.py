"""The Ghidra engine: everything but the Ghidra calls runs here; the Ghidra runs need Ghidra and are skipped without.

1. Start-up checks and engine selection: one-line ``MissingDependencyError`` (exit 13) for a missing
   pyghidra, an unset or wrong ``GHIDRA_INSTALL_DIR``, a too-old Ghidra; nothing imports Ghidra early.
2. The p-code -> value translation, every rule, on FAKE p-code graphs (clearly marked below: they
   imitate the few Ghidra methods the translator calls and stand in for nothing else).
3. Parity of two facts files: made by the native engine on the committed fixture, one perturbed.
4. With Ghidra installed: ``--engine ghidra`` on every fixture reproduces the ground truth's rows.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import pytest
from conftest import LEVELS, REPO, SAMPLES, load_truth, pefile_exports, pefile_imports, run_cli, synth_exe, synth_pdb

from api_to_etw.engine.ghidra import extract as ex
from api_to_etw.engine.ghidra import launcher
from api_to_etw.engine.ghidra.extract import read_pe_directories
from api_to_etw.engine.pcode import (
    CALL,
    CAST,
    COPY,
    INDIRECT,
    INT_ADD,
    INT_LEFT,
    INT_SEXT,
    INT_SUB,
    INT_ZEXT,
    LOAD,
    MULTIEQUAL,
    PIECE,
    PTRADD,
    PTRSUB,
    SUBPIECE,
    PcodeTranslator,
    fill_call_args,
)
from api_to_etw.errors import ExitCode, MissingDependencyError, UsageError
from api_to_etw.etw.descriptor import EventDescriptor
from api_to_etw.model import UNKNOWN, Addr, CallSite, Const, Load, Memory, Offset, Param, StackAddr
from api_to_etw.render.rows import row_record

BASE = 0x140000000


# =============================================================================================== 1. start-up
def fake_install(root, version="11.3", pyghidra_jar=True):
    """A folder laid out like a Ghidra installation, as far as the checks look (no Java inside)."""
    (root / "Ghidra").mkdir(parents=True)
    (root / "support").mkdir()
    (root / "Ghidra" / "application.properties").write_text(
        f"application.name=Ghidra\napplication.version={version}\napplication.release.name=PUBLIC\n")
    if pyghidra_jar:
        jar = root / "Ghidra" / "Features" / "PyGhidra" / "lib"
        jar.mkdir(parents=True)
        (jar / "PyGhidra.jar").write_bytes(b"PK")
    return root


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text, f"not one line: {text!r}"
    return text


@pytest.fixture
def no_pyghidra(monkeypatch):
    """Make ``import pyghidra`` fail even where it is installed."""
    monkeypatch.setitem(sys.modules, "pyghidra", None)
    monkeypatch.setitem(sys.modules, "pyghidra.version", None)


def test_install_dir_unset(monkeypatch):
    monkeypatch.delenv("GHIDRA_INSTALL_DIR", raising=False)
    with pytest.raises(MissingDependencyError) as err:
        launcher.check_ghidra()
    assert "GHIDRA_INSTALL_DIR is not set" in one_line(err.value)
    assert err.value.exit_code == ExitCode.MISSING_DEPENDENCY == 13


def test_install_dir_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("GHIDRA_INSTALL_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(MissingDependencyError) as err:
        launcher.check_ghidra()
    assert "no such directory" in one_line(err.value) and "GHIDRA_INSTALL_DIR=" in str(err.value)


def test_install_dir_without_ghidra(monkeypatch, tmp_path):
    (tmp_path / "something").write_text("not ghidra")
    monkeypatch.setenv("GHIDRA_INSTALL_DIR", str(tmp_path))
    with pytest.raises(MissingDependencyError) as err:
        launcher.check_ghidra()
    assert "not a Ghidra installation" in one_line(err.value)
    assert "application.properties" in str(err.value)


def test_ghidra_too_old(monkeypatch, tmp_path):
    monkeypatch.setenv("GHIDRA_INSTALL_DIR", str(fake_install(tmp_path / "ghidra_10.0", "10.0")))
    with pytest.raises(MissingDependencyError) as err:
        launcher.check_ghidra()
    text = one_line(err.value)
    assert "Ghidra 10.0" in text and "too old" in text and "11.3" in text


def test_ghidra_without_pyghidra_feature(monkeypatch, tmp_path):
    monkeypatch.setenv("GHIDRA_INSTALL_DIR", str(fake_install(tmp_path / "g", "11.4", pyghidra_jar=False)))
    with pytest.raises(MissingDependencyError) as err:
        launcher.check_ghidra()
    assert "no PyGhidra feature" in one_line(err.value)


def test_pyghidra_missing(monkeypatch, tmp_path, no_pyghidra):
    monkeypatch.setenv("GHIDRA_INSTALL_DIR", str(fake_install(tmp_path / "g", "11.3.2")))
    with pytest.raises(MissingDependencyError) as err:
        launcher.check_ghidra()
    text = one_line(err.value)
    assert "pyghidra" in text and "pip install" in text


def test_explicit_install_dir_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("GHIDRA_INSTALL_DIR", str(fake_install(tmp_path / "new", "12.0")))
    with pytest.raises(MissingDependencyError) as err:
        launcher.check_ghidra(str(fake_install(tmp_path / "old", "10.4")))
    assert "10.4" in one_line(err.value)


def test_versions_parse():
    assert launcher.parse_version("11.3.2") == (11, 3, 2)
    assert launcher.parse_version("12.0-BETA") == (12, 0)
    assert launcher.parse_version("11.4_DEV") == (11, 4)
    assert launcher.parse_version("x") == ()
    assert launcher.parse_version("10.0") < launcher.MINIMUM_GHIDRA_VERSION <= launcher.parse_version("11.3")


def test_engine_checks_ghidra_before_anything_slow(monkeypatch, tmp_path):
    """Constructing the engine reports a missing Ghidra at once; no JVM, no import."""
    from api_to_etw.engine.ghidra.engine import GhidraEngine

    binary = tmp_path / "x.exe"
    binary.write_bytes(b"MZ")
    monkeypatch.delenv("GHIDRA_INSTALL_DIR", raising=False)
    with pytest.raises(MissingDependencyError) as err:
        GhidraEngine(str(binary))
    assert "GHIDRA_INSTALL_DIR" in one_line(err.value)
    with pytest.raises(UsageError):
        GhidraEngine(None)
    with pytest.raises(UsageError):
        GhidraEngine(str(binary), program="/x.exe")


def test_open_ghidra_validates_the_binary_first(monkeypatch, tmp_path):
    """--engine ghidra: the PE and its PDB are checked like the native engine's, then Ghidra."""
    from api_to_etw.cli import build_parser
    from api_to_etw.engine import EngineSource, open_engine
    from api_to_etw.errors import NotAPEError

    monkeypatch.delenv("GHIDRA_INSTALL_DIR", raising=False)
    bogus = tmp_path / "bogus.exe"
    bogus.write_bytes(b"not a PE at all" * 10)
    with pytest.raises(NotAPEError):
        open_engine("ghidra", EngineSource(binary=str(bogus)))
    if os.path.exists(synth_exe()):
        with pytest.raises(MissingDependencyError):
            open_engine("ghidra", EngineSource(binary=synth_exe()))
    args = build_parser().parse_args(["analyze", "--engine", "ghidra", "--ghidra-project", str(tmp_path),
                                      "--ghidra-program", "/k/nt.exe"])
    assert args.ghidra_project == str(tmp_path) and args.ghidra_program == "/k/nt.exe"


def test_cli_engine_ghidra_without_ghidra(monkeypatch, tmp_path):
    """Once cli.py offers --engine ghidra: one line on stderr and exit 13 when Ghidra is missing."""
    from api_to_etw.cli import build_parser

    assert build_parser().parse_args(["analyze", "x.exe", "--engine", "ghidra"]).engine == "ghidra"
    monkeypatch.delenv("GHIDRA_INSTALL_DIR", raising=False)
    res = run_cli("analyze", synth_exe(), "--engine", "ghidra", "-o", str(tmp_path / "out.tsv"))
    assert res.code == 13, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "GHIDRA_INSTALL_DIR" in lines[0]


def test_nothing_imports_ghidra_early():
    code = ("import sys\n"
            "import api_to_etw.engine.ghidra, api_to_etw.engine.ghidra.launcher, api_to_etw.engine.ghidra.extract\n"
            "import api_to_etw.engine.ghidra.engine, api_to_etw.parity, api_to_etw.cli\n"
            "bad = [m for m in ('pyghidra', 'jpype', 'ghidra', 'java') if m in sys.modules]\n"
            "assert not bad, bad\n")
    env = dict(os.environ, PYTHONPATH=REPO)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO)


def test_project_locations(tmp_path):
    from api_to_etw.engine.ghidra.engine import locate_project, split_program_path
    from api_to_etw.errors import InputNotFoundError

    (tmp_path / "Kernel.gpr").write_text("")
    (tmp_path / "Kernel.rep").mkdir()
    assert locate_project(str(tmp_path)) == (str(tmp_path), "Kernel")
    assert locate_project(str(tmp_path / "Kernel.gpr")) == (str(tmp_path), "Kernel")
    with pytest.raises(InputNotFoundError):
        locate_project(str(tmp_path / "Kernel.rep"))
    (tmp_path / "Other.gpr").write_text("")
    with pytest.raises(UsageError):
        locate_project(str(tmp_path))
    assert split_program_path("ntoskrnl.exe") == ("/", "ntoskrnl.exe")
    assert split_program_path("/ntoskrnl.exe") == ("/", "ntoskrnl.exe")
    assert split_program_path("/win11/24H2/ntoskrnl.exe") == ("/win11/24H2", "ntoskrnl.exe")
    assert split_program_path("win11\\ntoskrnl.exe") == ("/win11", "ntoskrnl.exe")


# =============================================================================================== 2. p-code rules
# ---- FAKES: imitations of Ghidra's p-code objects (Varnode, PcodeOp, PcodeBlockBasic, HighFunction,
# ---- Address) implementing only the methods the translator calls. Used ONLY to test the pure
# ---- translation logic of api_to_etw/engine/pcode.py; never a stand-in for a Ghidra run.
class FakeAddress:
    def __init__(self, offset: int, stack: bool = False):
        self.offset = offset
        self.stack = stack

    def getOffset(self):
        return self.offset

    def isStackAddress(self):
        return self.stack

    def __eq__(self, other):
        return isinstance(other, FakeAddress) and (other.offset, other.stack) == (self.offset, self.stack)

    def __hash__(self):
        return hash((self.offset, self.stack))


class FakeVarnode:
    def __init__(self, space: str, offset: int, size: int, is_input: bool = False, reg: str = "", high=None):
        self.space, self.offset, self.size = space, offset, size
        self.is_input = is_input
        self.reg = reg
        self.high = high
        self.defop = None

    def isConstant(self):
        return self.space == "const"

    def isAddress(self):
        return self.space == "ram"

    def isRegister(self):
        return self.space == "register"

    def isUnique(self):
        return self.space == "unique"

    def isInput(self):
        return self.is_input

    def getDef(self):
        return self.defop

    def getOffset(self):
        return self.offset

    def getSize(self):
        return self.size

    def getAddress(self):
        return FakeAddress(self.offset, self.space == "stack")

    def getHigh(self):
        return self.high


class FakeSeq:
    def __init__(self, at: int):
        self.at = at

    def getTarget(self):
        return FakeAddress(self.at)


class FakeOp:
    def __init__(self, opcode: int, inputs, output=None, at: int = BASE + 0x1000):
        self.opcode, self.inputs, self.output, self.at = opcode, list(inputs), output, at
        self.parent = None
        if output is not None:
            output.defop = self

    def getOpcode(self):
        return self.opcode

    def getNumInputs(self):
        return len(self.inputs)

    def getInput(self, i):
        return self.inputs[i] if 0 <= i < len(self.inputs) else None

    def getOutput(self):
        return self.output

    def getSeqnum(self):
        return FakeSeq(self.at)

    def getParent(self):
        return self.parent


class FakeBlock:
    def __init__(self, index: int, ops=(), preds=()):
        self.index, self.ops, self.preds = index, list(ops), list(preds)
        for op in self.ops:
            op.parent = self

    def getIterator(self):
        return iter(self.ops)

    def getInSize(self):
        return len(self.preds)

    def getIn(self, i):
        return self.preds[i]

    def getIndex(self):
        return self.index


class FakeHighParam:
    def __init__(self, slot):
        self.slot = slot

    def getSlot(self):
        return self.slot


class FakeHigh:
    """HighFunction: ``getPcodeOps()`` every op, ``getPcodeOps(address)`` one instruction's ops."""

    def __init__(self, ops):
        self.ops = list(ops)

    def getPcodeOps(self, address=None):
        if address is None:
            return iter(self.ops)
        return iter([op for op in self.ops if op.at == address.getOffset()])


class FakeMemory(Memory):
    """Image bytes by RVA with per-range writability (an in-memory stand-in for GhidraMemory)."""

    def __init__(self, chunks, writable_ranges=()):
        self.image_base = BASE
        self.chunks = chunks  # rva -> bytes
        self.writable_ranges = list(writable_ranges)

    def read(self, rva, size):
        for start, data in self.chunks.items():
            if start <= rva < start + len(data):
                return data[rva - start: rva - start + size]
        return b""

    def is_writable(self, rva):
        return any(a <= rva < b for a, b in self.writable_ranges)
# ---- end of FAKES


def const(value, size=8):
    return FakeVarnode("const", value, size)


def reg(name, size=8, offset=0):
    return FakeVarnode("register", offset, size, is_input=True, reg=name)


def unique(size=8, offset=0x100):
    return FakeVarnode("unique", offset, size)


def stack(offset, size=8, is_input=False):
    return FakeVarnode("stack", offset & 0xFFFFFFFFFFFFFFFF, size, is_input=is_input)


def ram(va, size=8):
    return FakeVarnode("ram", va, size)


def op(code, inputs, size=8, out=None, at=BASE + 0x1000):
    out = out if out is not None else unique(size)
    FakeOp(code, inputs, out, at)
    return out


def call(*args, at=BASE + 0x1000, target=BASE + 0x9000):
    return FakeOp(CALL, [ram(target)] + list(args), None, at)


RDATA, DATA = 0x3000, 0x5000
MEMORY = FakeMemory(
    {RDATA: struct.pack("<QIxxxx", BASE + 0x4000, 0x1234) + bytes(range(16)),
     DATA: struct.pack("<Q", 0x77)},
    writable_ranges=[(DATA, DATA + 0x1000)],
)


@pytest.fixture
def tr():
    def register_name(vn):
        return vn.reg or None

    return PcodeTranslator(BASE, 0x10000, MEMORY, register_name)


def args_of(tr, call_op, high_ops=()):
    high = FakeHigh(list(high_ops) + [call_op])
    tr.reset(lambda a: high.getPcodeOps(a))
    return tr.call_args(call_op, lambda a: high.getPcodeOps(a))


def test_constants_and_image_addresses(tr):
    assert tr.resolve(const(5, 4)) == {Const(5)}
    assert tr.resolve(const(-1, 4)) == {Const(0xFFFFFFFF)}  # Java longs arrive signed; masked to the size
    assert tr.resolve(const(BASE + 0x3000)) == {Addr(0x3000)}  # lea rcx,[rip+x] becomes an 8-byte constant
    assert tr.resolve(const(BASE + 0x3000, 4)) == {Const((BASE + 0x3000) & 0xFFFFFFFF)}  # not a pointer
    assert tr.resolve(const(BASE + 0x20000)) == {Const(BASE + 0x20000)}  # outside the image


def test_copy_chain(tr):
    a = op(COPY, [const(7, 4)], 4)
    b = op(COPY, [a], 4)
    c = op(CAST, [b], 4)
    assert tr.resolve(c) == {Const(7)}


def test_multiequal_union(tr):
    m = op(MULTIEQUAL, [op(COPY, [const(BASE + 0x3000)]), const(BASE + 0x3010), const(BASE + 0x3000)])
    assert tr.resolve(m) == {Addr(0x3000), Addr(0x3010)}


def test_ptrsub_and_ptradd(tr):
    glob = op(PTRSUB, [const(0), const(BASE + 0x3000)])
    assert tr.resolve(glob) == {Addr(0x3000)}
    field = op(PTRSUB, [glob, const(0x10)])
    assert tr.resolve(field) == {Addr(0x3010)}
    assert tr.resolve(op(PTRSUB, [reg("RCX"), const(8)])) == {Offset(Param(0), 8)}
    element = op(PTRADD, [glob, const(3), const(16)])
    assert tr.resolve(element) == {Addr(0x3030)}
    assert tr.resolve(op(PTRADD, [glob, reg("RDX"), const(16)])) == {UNKNOWN}
    assert tr.resolve(op(INT_ADD, [reg("RCX"), const(-8 & 0xFFFFFFFFFFFFFFFF)])) == {Offset(Param(0), -8)}
    assert tr.resolve(op(INT_SUB, [glob, const(0x10)])) == {Addr(0x2FF0)}
    assert tr.resolve(op(INT_ADD, [const(2), const(3)])) == {Const(5)}
    assert tr.resolve(op(INT_ADD, [reg("RCX"), reg("RDX")])) == {UNKNOWN}


def test_read_only_load_folds_writable_load_stays(tr):
    ro_ptr = op(LOAD, [const(0x1b1, 4), op(PTRSUB, [const(0), const(BASE + RDATA)])], 8)
    assert tr.resolve(ro_ptr) == {Addr(0x4000)}  # a pointer in .rdata: folded, and it is an image address
    ro_int = op(LOAD, [const(0x1b1, 4), const(BASE + RDATA + 8)], 4)
    assert tr.resolve(ro_int) == {Const(0x1234)}
    rw = op(LOAD, [const(0x1b1, 4), const(BASE + DATA)], 8)
    assert tr.resolve(rw) == {Load(Addr(DATA), 8)}  # .data: the REGHANDLE pattern, not folded
    # A global read directly as a ram varnode follows the same rules, whatever defines it.
    assert tr.resolve(ram(BASE + DATA)) == {Load(Addr(DATA), 8)}
    assert tr.resolve(ram(BASE + RDATA + 8, 4)) == {Const(0x1234)}
    assert tr.resolve(ram(BASE + RDATA + 16, 16)) == {Const(int.from_bytes(bytes(range(16)), "little"))}
    written = ram(BASE + DATA)
    FakeOp(COPY, [const(1)], written)
    assert tr.resolve(written) == {Load(Addr(DATA), 8)}
    # Through a parameter: a load from an unknown pointer stays symbolic.
    assert tr.resolve(op(LOAD, [const(0x1b1, 4), op(PTRSUB, [reg("RCX"), const(0x10)])], 8)) == \
        {Load(Offset(Param(0), 0x10), 8)}


def test_function_inputs(tr):
    assert tr.resolve(reg("RCX")) == {Param(0)}
    assert tr.resolve(reg("RDX", 4)) == {Param(1)}  # EDX: the register namer gives the base register
    assert tr.resolve(reg("R8")) == {Param(2)}
    assert tr.resolve(reg("R9")) == {Param(3)}
    assert tr.resolve(reg("XMM1_Qa")) == {Param(1)}
    assert tr.resolve(reg("RBX")) == {UNKNOWN}
    assert tr.resolve(reg("RSP")) == {StackAddr(0)}
    assert tr.resolve(stack(0x28, is_input=True)) == {Param(4)}
    assert tr.resolve(stack(0x38, 4, is_input=True)) == {Param(6)}
    assert tr.resolve(stack(-0x20, is_input=True)) == {Load(StackAddr(-0x20), 8)}  # a local never written
    assert tr.resolve(FakeVarnode("join", 0, 8, is_input=True, high=FakeHighParam(2))) == {Param(2)}
    assert tr.resolve(unique()) == {UNKNOWN}


def test_width_changes_mask(tr):
    assert tr.resolve(op(INT_ZEXT, [const(0xFFFFFFFF, 4)], 8)) == {Const(0xFFFFFFFF)}
    assert tr.resolve(op(INT_SEXT, [const(0xFF, 1)], 4)) == {Const(0xFFFFFFFF)}
    assert tr.resolve(op(INT_SEXT, [const(0x7F, 1)], 8)) == {Const(0x7F)}
    assert tr.resolve(op(SUBPIECE, [const(0x1122334455667788), const(4, 4)], 4)) == {Const(0x11223344)}
    assert tr.resolve(op(SUBPIECE, [const(0x1122334455667788), const(0, 4)], 2)) == {Const(0x7788)}
    assert tr.resolve(op(SUBPIECE, [reg("RCX"), const(0, 4)], 4)) == {Param(0)}  # ecx of the first argument
    assert tr.resolve(op(SUBPIECE, [reg("RCX"), const(4, 4)], 4)) == {UNKNOWN}
    assert tr.resolve(op(INT_ZEXT, [op(SUBPIECE, [reg("RDX"), const(0, 4)], 4)], 8)) == {Param(1)}
    assert tr.resolve(op(PIECE, [const(0x1122, 2), const(0x3344, 2)], 4)) == {Const(0x11223344)}


def test_loops(tr):
    # i = 0; loop: i = i + 1  -> the increment only reachable around the loop is unknown, not a constant
    head_out = unique(4, 0x200)
    inc = op(INT_ADD, [head_out, const(1, 4)], 4)
    FakeOp(MULTIEQUAL, [const(0, 4), inc], head_out)
    assert tr.resolve(head_out) == {Const(0), UNKNOWN}
    # A value carried around a loop unchanged (a local across the calls in the loop): just its value.
    tr.reset()
    carried = stack(-0x20, 8)
    guard = stack(-0x20, 8)
    FakeOp(MULTIEQUAL, [op(COPY, [const(BASE + 0x3000)]), guard], carried)
    FakeOp(INDIRECT, [carried, const(0, 4)], guard)
    assert tr.resolve(guard) == {Addr(0x3000)}
    assert tr.resolve(carried) == {Addr(0x3000)}


def test_call_args_by_slot(tr):
    a0 = op(COPY, [reg("RCX")])
    site = call(a0, const(3, 4), const(BASE + 0x3000), const(0), stack(0x30, is_input=True))
    args = args_of(tr, site)
    assert len(args) == 8
    assert args[:5] == ({Param(0)}, {Const(3)}, {Addr(0x3000)}, {Const(0)}, {Param(5)})
    assert args[5:] == ({UNKNOWN},) * 3  # nothing passed there


def _descriptor_bytes():
    return struct.pack("<HBBBBHQ", 5, 1, 0x10, 4, 0, 7, 0x8000000000004000)


def test_stack_descriptor_from_call_guards(tr):
    """EVENT_DESCRIPTOR d = {...}; EtwWrite(h, &d): the INDIRECT guards at the call give the bytes."""
    at = BASE + 0x1100
    raw = _descriptor_bytes()
    fields = [(-0x38, 2), (-0x36, 1), (-0x35, 1), (-0x34, 1), (-0x33, 1), (-0x32, 2), (-0x30, 8)]
    ops = []
    for off, size in fields:
        value = int.from_bytes(raw[off + 0x38: off + 0x38 + size], "little")
        stored = stack(off, size)
        ops.append(FakeOp(COPY, [const(value, size)], stored, at - 0x40))
        ops.append(FakeOp(INDIRECT, [stored, const(0, 4)], stack(off, size), at))
    handle = ram(BASE + DATA)
    desc = op(PTRSUB, [reg("RSP"), const(-0x38 & 0xFFFFFFFFFFFFFFFF)])
    site = call(handle, desc, const(0), const(0, 4), at=at)
    args = args_of(tr, site, ops)
    assert args[0] == {Load(Addr(DATA), 8)}
    (value,) = args[1]
    assert isinstance(value, StackAddr) and value.offset == -0x38
    assert value.content == tuple(raw)
    assert EventDescriptor.from_partial(value.content) == EventDescriptor.from_bytes(raw)


def test_stack_descriptor_from_earlier_stores(tr):
    """Without guards: stores earlier in the block, then in single predecessors; latest write wins."""
    at = BASE + 0x1200
    raw = _descriptor_bytes()
    first = FakeOp(COPY, [const(int.from_bytes(raw[8:], "little"))], stack(-0x30, 8), at - 0x30)
    stale = FakeOp(COPY, [const(0xFFFF, 2)], stack(-0x38, 2), at - 0x28)  # overwritten below
    pred = FakeBlock(1, [first, stale])
    low = FakeOp(COPY, [const(int.from_bytes(raw[:8], "little"))], stack(-0x38, 8), at - 0x20)
    unknown = FakeOp(COPY, [reg("RBX")], stack(-0x20, 8), at - 0x18)  # not constant: bytes stay unknown
    desc = op(PTRSUB, [reg("RSP"), const(-0x38 & 0xFFFFFFFFFFFFFFFF)], at=at - 0x10)
    site = FakeOp(CALL, [ram(BASE + 0x9000), reg("RCX"), desc], None, at)
    FakeBlock(2, [low, unknown, desc.getDef(), site], [pred])
    args = args_of(tr, site)
    (value,) = args[1]
    assert value == StackAddr(-0x38, tuple(raw))
    # A region nobody stored to: no content at all.
    other = op(PTRSUB, [reg("RSP"), const(-0x100 & 0xFFFFFFFFFFFFFFFF)])
    site2 = FakeOp(CALL, [ram(BASE + 0x9000), other], None, at + 8)
    FakeBlock(3, [site2])
    assert args_of(tr, site2)[0] == {StackAddr(-0x100)}


def test_stack_bytes_after_a_join_are_unknown(tr):
    at = BASE + 0x1300
    joined = stack(-0x38, 2)
    FakeOp(MULTIEQUAL, [const(5, 2), const(6, 2)], joined, at - 8)
    guard = FakeOp(INDIRECT, [joined, const(0, 4)], stack(-0x38, 2), at)
    desc = op(PTRSUB, [reg("RSP"), const(-0x38 & 0xFFFFFFFFFFFFFFFF)])
    site = call(reg("RCX"), desc, at=at)
    (value,) = args_of(tr, site, [guard])[1]
    assert value == StackAddr(-0x38)  # two possible ids: nothing known (as in the native engine)


def test_stack_bytes_from_pieces(tr):
    at = BASE + 0x1400
    whole = stack(-0x38, 4)
    FakeOp(PIECE, [reg("RBX", 2), const(0x0105, 2)], whole, at - 8)
    guard = FakeOp(INDIRECT, [whole, const(0, 4)], stack(-0x38, 4), at)
    desc = op(PTRSUB, [reg("RSP"), const(-0x38 & 0xFFFFFFFFFFFFFFFF)])
    site = call(reg("RCX"), desc, at=at)
    (value,) = args_of(tr, site, [guard])[1]
    # A 16-bit write over an unknown register is the written value (``mov bx, 0x105``), as the native
    # engine keeps an 8/16-bit register write: the 4 stored bytes are 05 01 00 00 in both engines.
    assert value.content[:4] == (5, 1, 0, 0)


def test_escaped_local_after_a_call(tr):
    """EtwRegister(&guid, 0, 0, &h); EtwWrite(h, ...): h after the registration is Load(StackAddr)."""
    reg_at, write_at = BASE + 0x1500, BASE + 0x1520
    before = stack(-0x20, 8, is_input=True)
    after = stack(-0x20, 8)
    handle_ptr = op(PTRSUB, [reg("RSP"), const(-0x20 & 0xFFFFFFFFFFFFFFFF)], at=reg_at)
    register = FakeOp(CALL, [ram(BASE + 0x9100), const(BASE + 0x3000), const(0), const(0), handle_ptr], None, reg_at)
    guard = FakeOp(INDIRECT, [before, const(0, 4)], after, reg_at)
    write = FakeOp(CALL, [ram(BASE + 0x9000), after, const(BASE + 0x3010)], None, write_at)
    high = FakeHigh([guard, register, write])
    sites = {0x1500: CallSite(0x1000, 0x1500, 0x9100), 0x1520: CallSite(0x1000, 0x1520, 0x9000)}
    assert fill_call_args(high, sites, tr, lambda a: a.getOffset() - BASE) == 2
    assert sites[0x1500].args[3] == {StackAddr(-0x20)}
    assert sites[0x1500].args[0] == {Addr(0x3000)}
    assert sites[0x1520].args[0] == {Load(StackAddr(-0x20), 8)}
    # A guard at a call that did not get the address passes the value through.
    tr.reset()
    plain = stack(-0x28, 8)
    FakeOp(INDIRECT, [op(COPY, [const(9)]), const(0, 4)], plain, reg_at)
    tr.reset(lambda a: high.getPcodeOps(a))
    assert tr.resolve(plain) == {Const(9)}


def test_fill_call_args_matches_sites_by_address(tr):
    c1 = FakeOp(CALL, [ram(BASE + 0x9000), const(1, 4)], None, BASE + 0x1010)
    c2 = FakeOp(CALL, [ram(BASE + 0x9000), const(2, 4)], None, BASE + 0x1020)
    high = FakeHigh([c1, c2])
    sites = {0x1010: CallSite(0x1000, 0x1010, 0x9000), 0x1030: CallSite(0x1000, 0x1030, 0x9000, tail=True)}
    assert fill_call_args(high, sites, tr, lambda a: a.getOffset() - BASE) == 1
    assert sites[0x1010].args[0] == {Const(1)}
    assert sites[0x1030].args is None  # a tail jump the decompiler kept as a branch stays unresolved


def _fill_then_trace(fill_dominates: bool):
    """memset(&h, 0, 0x30); h.Size = 0x30; TraceEvent(s, &h) as flatline gives it (no basic blocks): a register
    saved across memset reaches the call through the guards at both calls, or through a join with another way."""
    fill_at, store_at, call_at = BASE + 0x1600, BASE + 0x1608, BASE + 0x1620
    header = op(PTRSUB, [reg("RSP"), const(-0x40 & 0xFFFFFFFFFFFFFFFF)], at=fill_at)
    memset = FakeOp(CALL, [ram(BASE + 0x9200), header, const(0, 4), const(0x30)], None, fill_at)
    saved = FakeOp(INDIRECT, [reg("RBX"), const(0, 4)], FakeVarnode("register", 0x18, 8, reg="RBX"), fill_at)
    kept = saved.getOutput()
    if not fill_dominates:
        kept = op(MULTIEQUAL, [kept, reg("RBX")], at=call_at - 4)
    size = FakeOp(COPY, [const(0x30, 2)], stack(-0x40, 2), store_at)
    guards = [FakeOp(INDIRECT, [size.getOutput(), const(0, 4)], stack(-0x40, 2), call_at),
              FakeOp(INDIRECT, [kept, const(0, 4)], FakeVarnode("register", 0x18, 8, reg="RBX"), call_at)]
    trace = FakeOp(CALL, [ram(BASE + 0x9300), reg("RCX"), op(PTRSUB, [reg("RSP"), const(-0x40 & 0xFFFFFFFFFFFFFFFF)],
                                                             at=call_at)], None, call_at)
    high = FakeHigh([memset, saved, size, *guards, trace])
    sites = {0x1600: CallSite(0x1000, 0x1600, 0x9200), 0x1620: CallSite(0x1000, 0x1620, 0x9300)}
    return high, sites


@pytest.mark.parametrize("fill_dominates", [True, False])
def test_fill_call_makes_the_header_bytes_known(tr, fill_dominates):
    """The native engine's fill rule (model.fill_pattern): a memset that runs on every way to the call makes
    the bytes nobody writes afterwards its 0 (a classic header's Version); on one way only it says nothing."""
    high, sites = _fill_then_trace(fill_dominates)
    fill_call_args(high, sites, tr, lambda a: a.getOffset() - BASE, {0x1600: (1, 2)})
    (header,) = sites[0x1620].args[1]
    if fill_dominates:
        assert header.content == (0x30, 0) + (0,) * 46
    else:
        assert header.content == (0x30, 0) + (None,) * 14


def test_parameters_stored_into_a_buffer_are_its_fields(tr):
    """concrt140's trace helpers: the decompiler merges the zeroed header bytes and the Type/Level bytes taken
    from the parameters (CL, DL) into one 8-byte store ``ZEXT(PIECE(dl, cl)) << 16`` at offset 2: the parameter
    bytes are StackAddr.fields (model.parameter_field, as the native engine keeps them), the rest zero."""
    at = BASE + 0x1700
    merged = op(INT_LEFT, [op(INT_ZEXT, [op(PIECE, [reg("RDX", 1), reg("RCX", 1)], 2)], 8), const(16, 4)], 8)
    guards = [FakeOp(INDIRECT, [op(COPY, [const(0x40, 2)], 2), const(0, 4)], stack(-0x48, 2), at),
              FakeOp(INDIRECT, [merged, const(0, 4)], stack(-0x46, 8), at)]
    site = call(reg("RCX"), op(PTRSUB, [reg("RSP"), const(-0x48 & 0xFFFFFFFFFFFFFFFF)]), at=at)
    (header,) = args_of(tr, site, guards)[1]
    assert header.fields == ((4, 1, Param(0)), (5, 1, Param(1)))
    assert header.content[:10] == (0x40, 0, 0, 0, None, None, 0, 0, 0, 0)


def test_a_byte_written_over_a_copied_descriptor_keeps_the_copy(tr):
    """``d = *Descriptor; d.Level = 2`` as the decompiler gives it: the 4 bytes at d+4 are ``PIECE(SUBPIECE(loaded,
    1), 2)``. The other bytes stay the copy's (the origin), the Level byte is 2: not the value rule of a piece over
    a register (``mov dl, 5`` is 5 whole), which would make the copy's Opcode and Task zero."""
    at = BASE + 0x1800
    guards = []
    for off in (0, 8, 12):
        loaded = op(LOAD, [const(0), op(PTRADD, [reg("RCX"), const(off // 4), const(4)])], 4)
        guards.append(FakeOp(INDIRECT, [loaded, const(0, 4)], stack(-0x18 + off, 4), at))
    word = op(LOAD, [const(0), op(PTRADD, [reg("RCX"), const(1), const(4)])], 4)
    rest = op(SUBPIECE, [word, const(1)], 3, out=stack(-0x13, 3))
    patched = op(PIECE, [rest, const(2, 1)], 4, out=stack(-0x14, 4))
    guards.append(FakeOp(INDIRECT, [patched, const(0, 4)], stack(-0x14, 4), at))
    site = call(reg("RCX"), op(PTRSUB, [reg("RSP"), const(-0x18 & 0xFFFFFFFFFFFFFFFF)]), at=at)
    (copy,) = args_of(tr, site, guards)[1]
    assert copy.origin == Param(0) and copy.content[4] == 2 and copy.content[5:8] == (None, None, None)


def test_a_buffer_pointing_at_another_links_to_it(tr):
    """OB_CALLBACK_REGISTRATION on the stack whose OperationRegistration points at an array on the stack (or an
    EVENT_DATA_DESCRIPTOR's Ptr at a local): ``links`` (offset, the other buffer's offset from this one), and the
    linked buffer's image addresses among ``refs`` at their offsets from this buffer, as the native engine has them."""
    at = BASE + 0x1900
    inner = op(PTRSUB, [reg("RSP"), const(-0x60 & 0xFFFFFFFFFFFFFFFF)])
    guards = [FakeOp(INDIRECT, [inner, const(0, 4)], stack(-0x28, 8), at),               # outer+0x18 -> inner
              FakeOp(INDIRECT, [const(BASE + 0x3000), const(0, 4)], stack(-0x58, 8), at)]  # inner+8 = &rdata
    site = call(reg("RCX"), op(PTRSUB, [reg("RSP"), const(-0x40 & 0xFFFFFFFFFFFFFFFF)]), at=at)
    (outer,) = args_of(tr, site, guards)[1]
    assert outer.links == ((0x18, -0x20),)
    assert outer.refs == ((-0x18, 0x3000),)


# ---- more FAKES (memory blocks and a program) for GhidraMemory's section semantics
class FakeBlockMem:
    def __init__(self, name, start, size, initialized=True, write=False, execute=False, data=b""):
        self.name, self.start, self.size = name, start, size
        self.initialized, self.write, self.execute = initialized, write, execute
        self.data = data.ljust(size, b"\0")

    def getName(self):
        return self.name

    def getStart(self):
        return FakeRamAddress(self.start)

    def getEnd(self):
        return FakeRamAddress(self.start + self.size - 1)

    def getSize(self):
        return self.size

    def isInitialized(self):
        return self.initialized

    def isWrite(self):
        return self.write

    def isExecute(self):
        return self.execute

    def isLoaded(self):
        return True


class FakeRamAddress:
    def __init__(self, offset):
        self.offset = offset

    def getOffset(self):
        return self.offset

    def add(self, delta):
        return FakeRamAddress(self.offset + delta)

    def isMemoryAddress(self):
        return True


class FakeProgramMemory:
    def __init__(self, blocks):
        self.blocks = blocks

    def getBlock(self, address):
        for b in self.blocks:
            if b.start <= address.getOffset() < b.start + b.size:
                return b
        return None

    def getBlocks(self):
        return list(self.blocks)


class FakeProgram:
    def __init__(self, blocks):
        self.memory = FakeProgramMemory(blocks)

    def getMemory(self):
        return self.memory

    def getImageBase(self):
        return FakeRamAddress(BASE)
# ---- end of FAKES


def test_ghidra_memory_reads_like_the_native_image(monkeypatch):
    blocks = [
        FakeBlockMem(".text", BASE + 0x1000, 0x100, execute=True, data=b"\xcc" * 0x100),
        FakeBlockMem(".data", BASE + 0x2000, 0x10, write=True, data=b"A" * 0x10),
        FakeBlockMem(".data", BASE + 0x2010, 0x10, initialized=False, write=True),  # .bss part of .data
        FakeBlockMem(".rdata", BASE + 0x2020, 0x10, data=b"R" * 0x10),
    ]

    monkeypatch.setattr(ex, "read_java_bytes", _fake_read)
    mem = ex.GhidraMemory(FakeProgram(blocks))
    assert mem.image_base == BASE
    assert mem.read(0x1000, 4) == b"\xcc" * 4
    assert mem.read(0x2008, 16) == b"A" * 8 + b"\0" * 8  # continues into the uninitialised part, zero-filled
    assert mem.read(0x2018, 16) == b"\0" * 8  # stops at the end of the section, short like the native image
    assert mem.read(0x9000, 4) == b""
    assert mem.is_writable(0x2000) and not mem.is_writable(0x2020) and mem.is_writable(0x9000)
    assert mem.sections() == [(0x1000, 0x100, False, True), (0x2000, 0x10, True, False),
                              (0x2010, 0x10, True, False), (0x2020, 0x10, False, False)]
    assert mem.data_ranges() == [(0x2000, 0x10), (0x2020, 0x10)]


# ---- PE directories (the exports/imports/entry point Ghidra's memory holds), against pefile
def _pefile_reader(path):
    import pefile
    pe = pefile.PE(path, fast_load=True)

    def read(rva, size):
        try:
            return pe.get_data(rva, size)
        except pefile.PEFormatError:
            return b""
    return pe, read


def test_pe_directories_match_the_native_loader():
    from api_to_etw.binary.pe import load_pe

    for level in LEVELS:
        image = load_pe(synth_exe(level))
        first = min(sec.rva for sec in image.sections)

        def read(rva, size, image=image, first=first):  # Ghidra maps the headers too ("Headers" block)
            return image.data[rva: min(rva + size, first)] if rva < first else image.read(rva, size)

        pe = read_pe_directories(read)
        assert pe is not None
        assert pe.entry_point == image.entry_point
        assert pe.size_of_image == image.size_of_image
        assert pe.exports == image.exports
        assert pe.imports == image.imports
        assert pe.sections == [(s.rva, s.end - s.rva, s.writable, s.executable) for s in image.sections]


@pytest.mark.parametrize("name", ["tiny_x86.dll", "tiny_arm64.dll"])
def test_pe_directories_match_pefile(name):
    path = os.path.join(SAMPLES, "badinput", name)
    pe, read = _pefile_reader(path)
    pe.parse_data_directories()
    got = read_pe_directories(read)
    assert got is not None and got.entry_point == pe.OPTIONAL_HEADER.AddressOfEntryPoint
    assert got.exports == pefile_exports(pe)
    assert got.imports == pefile_imports(pe)


def test_lea_targets_like_the_native_scan():
    from api_to_etw.engine.ghidra.extract import lea_target

    assert lea_target(0x1000, bytes.fromhex("488d0d10000000")) == 0x1000 + 7 + 0x10  # lea rcx,[rip+0x10]
    assert lea_target(0x1000, bytes.fromhex("4c8d05f0ffffff")) == 0x1000 + 7 - 0x10  # lea r8,[rip-0x10]
    assert lea_target(0x1000, bytes.fromhex("488d4c2420")) is None  # lea rcx,[rsp+0x20]
    assert lea_target(0x1000, bytes.fromhex("8d0d10000000")) is None  # 32-bit destination


def test_pe_directories_reject_non_pe():
    assert read_pe_directories(lambda rva, size: b"\0" * size) is None
    assert read_pe_directories(lambda rva, size: b"") is None


# =============================================================================================== 3. parity
@pytest.fixture(scope="module")
def native_facts(tmp_path_factory):
    from api_to_etw.cli import main

    work = tmp_path_factory.mktemp("parity")
    facts = str(work / "native.facts.json")
    code = main(["analyze", synth_exe(), "--save-facts", facts, "-o", str(work / "native.tsv"), "-q"])
    assert code == 0
    return facts


def _perturb(src, dst, want_etw=True):
    """Copy a facts file, changing one resolved argument of one call (an ETW write's descriptor if any)."""
    from api_to_etw.etw.apis import lookup

    with open(src, encoding="utf-8") as handle:
        doc = json.load(handle)
    names = {f[0]: f[2] for f in doc["functions"]}
    chosen = None
    for entry in doc["calls"]:
        api = lookup(names.get(entry[2], ""))
        if entry[4] is not None and (not want_etw or (api is not None and api.descriptor is not None)):
            chosen = entry
            break
    assert chosen is not None
    chosen[4][1] = [{"c": 0xDEAD}]
    with open(dst, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)
    return chosen[0], chosen[1], chosen[2]


def _parity(*args):
    from api_to_etw.cli import build_parser

    parsed = build_parser().parse_args(["parity", *map(str, args)])
    return parsed.run(parsed)


def test_parity_identical_files(native_facts, capsys):
    assert _parity(native_facts, native_facts) == ExitCode.OK
    out = capsys.readouterr().out
    assert "0 with different arguments" in out and "the facts agree" in out


def test_parity_names_exactly_the_perturbed_site(native_facts, tmp_path, capsys):
    from api_to_etw.parity import ARGS, run_parity

    other = tmp_path / "perturbed.facts.json"
    caller, rva, callee = _perturb(native_facts, other)
    report = run_parity(native_facts, str(other))
    assert [(d.kind, d.key) for d in report.sites.diffs] == [(ARGS, (caller, rva, callee))]
    assert [slot for slot, _a, _b in report.sites.diffs[0].slots] == [1]
    assert report.rows.differences, "a wrong descriptor must change the rows"
    assert _parity(native_facts, other, "--sites-only") == ExitCode.DIFF_FOUND
    out = capsys.readouterr().out
    site_lines = [line for line in out.splitlines() if line.startswith("  ~ args")]
    assert len(site_lines) == 1 and f"{rva:#x}" in site_lines[0]
    assert "Const(0xdead)" in out
    # --etw-only still sees it (the descriptor is an argument the analysis reads); rows-only too.
    assert run_parity(native_facts, str(other), rows=False, etw_only=True).sites.diffs[0].key == (caller, rva, callee)
    assert _parity(native_facts, other, "--rows-only") == ExitCode.DIFF_FOUND


def test_parity_sites_missing_or_unresolved(native_facts, tmp_path):
    from api_to_etw.parity import ONLY_A, UNRESOLVED_B, run_parity

    with open(native_facts, encoding="utf-8") as handle:
        doc = json.load(handle)
    resolved = [c for c in doc["calls"] if c[4] is not None]
    dropped, unresolved = resolved[0], resolved[1]
    doc["calls"] = [c for c in doc["calls"] if c is not dropped]
    unresolved[4] = None
    other = tmp_path / "b.facts.json"
    other.write_text(json.dumps(doc))
    report = run_parity(native_facts, str(other), rows=False)
    kinds = sorted((d.kind, d.rva) for d in report.sites.diffs)
    assert kinds == sorted([(ONLY_A, dropped[1]), (UNRESOLVED_B, unresolved[1])])


def test_parity_cli_errors(tmp_path):
    from api_to_etw.errors import InputNotFoundError

    with pytest.raises(InputNotFoundError):
        _parity(tmp_path / "a.facts.json", tmp_path / "b.facts.json")


# =============================================================================================== 4. with Ghidra
def _ghidra_missing():
    if not os.environ.get("GHIDRA_INSTALL_DIR"):
        return "needs Ghidra: GHIDRA_INSTALL_DIR is not set"
    try:
        import pyghidra  # noqa: F401
    except ImportError:
        return "needs Ghidra: the pyghidra package is not installed"
    try:
        launcher.check_ghidra()
    except MissingDependencyError as exc:
        return f"needs Ghidra: {exc}"
    return None


needs_ghidra = pytest.mark.skipif(_ghidra_missing() is not None, reason=_ghidra_missing() or "")

FIELDS = ("Id", "Version", "Channel", "Level", "Opcode", "Task", "Keyword")


def _truth_key(row):
    return (row["Function"], row["ProviderGuid"], row["EventDescriptorSymbol"] or "",
            *(row[f] for f in FIELDS), row["ContainingFunction"], row["CallDepth"])


def _our_key(row):
    r = row_record(row)
    return (r["function"], r["provider_guid"], r["descriptor_symbol"] or "",
            *(r[f.lower()] for f in FIELDS), r["containing_function"], r["call_depth"])


@pytest.fixture(scope="module", params=LEVELS)
def ghidra_run(request, tmp_path_factory):
    reason = _ghidra_missing()
    if reason:
        pytest.skip(reason)
    from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
    from api_to_etw.engine.ghidra.engine import GhidraEngine
    from api_to_etw.engine.recorder import RecordingEngine

    truth = load_truth()
    engine = RecordingEngine(GhidraEngine(synth_exe(request.param), synth_pdb(request.param)))
    try:
        result = analyze(engine, AnalysisOptions(max_depth=truth["max_depth"]))
        facts = str(tmp_path_factory.mktemp("ghidra") / f"{request.param}.facts.json")
        engine.save(facts)
    finally:
        engine.close()
    return request.param, result, facts


@needs_ghidra
def test_ghidra_rows_equal_truth(ghidra_run):
    level, result, _facts = ghidra_run
    truth = load_truth()
    ours = sorted(_our_key(r) for r in result.rows)
    expected = sorted(_truth_key(r) for r in truth["rows"])
    missing = sorted(set(expected) - set(ours))
    extra = sorted(set(ours) - set(expected))
    assert not missing and not extra, f"{level}: missing {missing[:6]}\nextra {extra[:6]}"
    assert ours == expected, f"{level}: duplicate rows"
    assert all(r.event.resolved for r in result.rows)


@needs_ghidra
def test_ghidra_facts_replay_and_match_native_rows(ghidra_run, tmp_path):
    """The saved Ghidra facts replay to the same rows, and those equal the native engine's."""
    from api_to_etw.parity import run_parity

    level, _result, facts = ghidra_run
    native = str(tmp_path / "native.facts.json")
    from api_to_etw.cli import main

    assert main(["analyze", synth_exe(level), "--save-facts", native, "-o", str(tmp_path / "n.tsv"), "-q"]) == 0
    report = run_parity(native, facts, sites=False)
    assert not report.rows.differences, [d.key for d in report.rows.differences][:6]


@needs_ghidra
def test_cli_engine_ghidra_rows(tmp_path):
    from api_to_etw.cli import build_parser

    assert build_parser().parse_args(["analyze", "x.exe", "--engine", "ghidra"]).engine == "ghidra"
    out = tmp_path / "o2.jsonl"
    res = run_cli("analyze", synth_exe("O2"), "--engine", "ghidra", "-o", str(out), "-q")
    assert res.code == 0, res.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    truth = load_truth()
    got = sorted((r["function"], r["provider_guid"], r["descriptor_symbol"] or "", *(r[f.lower()] for f in FIELDS),
                  r["containing_function"], r["call_depth"]) for r in rows)
    assert got == sorted(_truth_key(r) for r in truth["rows"])


def test_script_is_present_and_marked_pyghidra():
    path = os.path.join(REPO, "ghidra_scripts", "api_to_etw_facts.py")
    with open(path, encoding="utf-8") as handle:
        head = handle.read(600)
    assert "@runtime PyGhidra" in head
    # The script runs inside Ghidra only; outside it prints one line and stops.
    res = subprocess.run([sys.executable, path], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=REPO))
    assert res.returncode == 0 and "run this script from Ghidra" in res.stdout


# ---- FAKES: a Ghidra Program assembled from the committed fixture (its bytes, the native engine's
# ---- function extents decoded with iced-x86, the PDB's names marked IMPORTED as Ghidra's PDB
# ---- analyzer marks them). It implements only the listing/symbol/memory methods extract.py calls,
# ---- to test the Ghidra-objects -> facts rules (edges, names, exports, symbols, sections,
# ---- references) against the native engine. Not a Ghidra run: the decompiler path is not involved.
class FakeSymbol:
    def __init__(self, rva, name, source="IMPORTED", kind="Label", primary=True):
        self.rva, self.name, self.source, self.kind, self.primary = rva, name, source, kind, primary

    def getAddress(self):
        return FakeRamAddress(BASE + self.rva)

    def isExternal(self):
        return False

    def getSource(self):
        return self.source

    def getSymbolType(self):
        return self.kind

    def getName(self, include_namespace=False):
        return self.name

    def isPrimary(self):
        return self.primary


class FakeRange:
    def __init__(self, start, end):
        self.start, self.end = start, end  # VAs, end exclusive

    def getMinAddress(self):
        return FakeRamAddress(self.start)

    def getMaxAddress(self):
        return FakeRamAddress(self.end - 1)


class FakeBody:
    def __init__(self, ranges):
        self.ranges = [FakeRange(BASE + a, BASE + b) for a, b in ranges]

    def getAddressRanges(self):
        return list(self.ranges)

    def contains(self, address):
        return any(r.start <= address.getOffset() < r.end for r in self.ranges)


class FakeFunction:
    def __init__(self, rva, ranges, symbol):
        self.rva, self.body, self.symbol = rva, FakeBody(ranges), symbol

    def getEntryPoint(self):
        return FakeRamAddress(BASE + self.rva)

    def getBody(self):
        return self.body

    def getSymbol(self):
        return self.symbol

    def getName(self, include_namespace=False):
        return self.symbol.name

    def isExternal(self):
        return False


class FakeFlow:
    def __init__(self, call=False, jump=False, computed=False):
        self.call, self.jump, self.computed = call, jump, computed

    def isCall(self):
        return self.call

    def isJump(self):
        return self.jump

    def isComputed(self):
        return self.computed


class FakeRef:
    def __init__(self, va):
        self.va = va

    def getToAddress(self):
        return FakeRamAddress(self.va)


class FakeInstruction:
    def __init__(self, instr, code):
        from iced_x86 import FlowControl

        fc = instr.flow_control
        self.ip, self.code = instr.ip, code
        self.mnemonic = "CALL" if fc in (FlowControl.CALL, FlowControl.INDIRECT_CALL) else (
            "JMP" if fc in (FlowControl.UNCONDITIONAL_BRANCH, FlowControl.INDIRECT_BRANCH) else (
                "JNZ" if fc == FlowControl.CONDITIONAL_BRANCH else (
                    "LEA" if code[1:2] == b"\x8d" or code[:1] == b"\x8d" else "OTHER")))
        self.flow = FakeFlow(call=fc in (FlowControl.CALL, FlowControl.INDIRECT_CALL),
                             jump=fc in (FlowControl.UNCONDITIONAL_BRANCH, FlowControl.CONDITIONAL_BRANCH,
                                         FlowControl.INDIRECT_BRANCH),
                             computed=fc in (FlowControl.INDIRECT_CALL, FlowControl.INDIRECT_BRANCH))
        direct = fc in (FlowControl.CALL, FlowControl.UNCONDITIONAL_BRANCH, FlowControl.CONDITIONAL_BRANCH)
        self.flows = [FakeRamAddress(BASE + instr.near_branch_target)] if direct else []
        self.refs = [FakeRef(BASE + instr.ip_rel_memory_address)] if instr.is_ip_rel_memory_operand else []

    def getFlowType(self):
        return self.flow

    def getAddress(self):
        return FakeRamAddress(BASE + self.ip)

    def getMnemonicString(self):
        return self.mnemonic

    def getFlows(self):
        return list(self.flows)

    def getReferencesFrom(self):
        return list(self.refs)

    def getBytes(self):
        return [b - 256 if b > 127 else b for b in self.code]  # Java bytes are signed


class FakeListing:
    def __init__(self, image):
        self.image = image

    def getInstructions(self, body, forward):
        from iced_x86 import Decoder

        out = []
        for r in body.getAddressRanges():
            start, end = r.start - BASE, r.end - BASE
            code = self.image.read(start, end - start)
            for instr in Decoder(64, code, ip=start):
                out.append(FakeInstruction(instr, code[instr.ip - start: instr.ip - start + instr.len]))
        return out

    def getInstructionContaining(self, address):
        return None


class FakeSymbolTable:
    def __init__(self, symbols):
        self.symbols = symbols

    def getAllSymbols(self, include_dynamic):
        return list(self.symbols)


class FakeFunctionManager:
    def __init__(self, functions):
        self.functions = functions

    def getFunctions(self, forward):
        return list(self.functions)

    def getFunctionContaining(self, address):
        for f in self.functions:
            if f.body.contains(address):
                return f
        return None


class FakeReferenceManager:
    def getExternalReferences(self):
        return []


class FakeOptions:
    def getBoolean(self, name, default):
        return name == "PDB Loaded"


class FakeLanguage:
    def getProcessor(self):
        return "x86"


class FakeFixtureProgram(FakeProgram):
    def __init__(self, image, pdb, fmap):
        first = min(s.rva for s in image.sections)
        blocks = [FakeBlockMem("Headers", BASE, first, data=image.data[:first])]
        for s in image.sections:
            blocks.append(FakeBlockMem(s.name, BASE + s.rva, s.end - s.rva, write=s.writable, execute=s.executable,
                                       data=image.read(s.rva, s.end - s.rva)))
        super().__init__(blocks)
        names = dict(pdb.functions)
        funcs = []
        for rva, f in fmap.functions.items():
            if f.imported:
                continue
            symbol = FakeSymbol(rva, names[rva], kind="Function") if rva in names else \
                FakeSymbol(rva, f"FUN_{BASE + rva:x}", source="DEFAULT", kind="Function")
            funcs.append(FakeFunction(rva, [(rva, rva + f.size)] + list(f.fragments), symbol))
        self.fm = FakeFunctionManager(funcs)
        self.listing = FakeListing(image)
        symbols = [FakeSymbol(rva, name) for rva, name in pdb.data.items()]
        symbols += [FakeSymbol(rva, name, kind="Function") for rva, name in pdb.functions.items()]
        symbols.append(FakeSymbol(0x100, "DAT_140000100", source="ANALYSIS"))  # analysis names stay out
        self.symtab = FakeSymbolTable(symbols)

    def getSymbolTable(self):
        return self.symtab

    def getFunctionManager(self):
        return self.fm

    def getListing(self):
        return self.listing

    def getReferenceManager(self):
        return FakeReferenceManager()

    def getOptions(self, name):
        return FakeOptions()

    def getLanguage(self):
        return FakeLanguage()

    def getDefaultPointerSize(self):
        return 8

    def getName(self):
        return "synthkernel.exe"

    def getRegister(self, varnode):
        return None
# ---- end of FAKES


def _fake_read(memory, address, size):
    """``read_java_bytes`` over the fake program's memory blocks."""
    block = memory.getBlock(address)
    off = address.getOffset() - block.start
    return block.data[off: off + size]


@pytest.mark.parametrize("level", LEVELS)
def test_program_facts_agree_with_the_native_engine(level, monkeypatch):
    """Edges, names, exports, symbols, sections and lea references from (fake) Ghidra listing objects."""
    from api_to_etw.binary.loader import open_binary
    from api_to_etw.engine.ghidra.engine import GhidraEngine
    from api_to_etw.engine.native.engine import NativeEngine
    from api_to_etw.engine.native.functions import discover

    monkeypatch.setattr(ex, "read_java_bytes", _fake_read)
    loaded = open_binary(synth_exe(level))
    native_engine = NativeEngine(loaded.image, loaded.pdb)
    native = native_engine.load()
    program = FakeFixtureProgram(loaded.image, loaded.pdb, discover(loaded.image, dict(loaded.pdb.functions)))
    engine = GhidraEngine.for_program(program)
    facts = engine.load()

    assert facts.image_base == BASE and facts.has_pdb and facts.binary_name == "synthkernel.exe"
    assert facts.sections == native.sections
    assert {r: (f.name, f.exported, f.imported) for r, f in facts.functions.items()} == \
        {r: (f.name, f.exported, f.imported) for r, f in native.functions.items()}
    assert {(s.caller, s.rva, s.callee, s.tail) for s in facts.calls} == \
        {(s.caller, s.rva, s.callee, s.tail) for s in native.calls}
    assert facts.symbols == native.symbols
    assert facts.memory.read(0x4000, 32) == native.memory.read(0x4000, 32)
    ours = set(engine.references())
    theirs = set(native_engine.references())
    assert ours and ours <= theirs  # the native byte scan may also match inside other instructions


@pytest.mark.parametrize("level", LEVELS)
def test_ghidra_engine_keeps_the_engine_contract(level, monkeypatch):
    """Facts from (fake) Ghidra listing objects stay as loaded when references are asked; the engine
    declares the capabilities it has (no stores, PDB annotations or case guards) and answers empty there."""
    import copy

    from api_to_etw.binary.loader import open_binary
    from api_to_etw.engine.base import ANNOTATIONS, ARGUMENTS, CAPABILITIES, CASE_GUARDS, MEMORY, REFERENCES, STORES
    from api_to_etw.engine.ghidra.engine import GhidraEngine
    from api_to_etw.engine.native.functions import discover

    monkeypatch.setattr(ex, "read_java_bytes", _fake_read)
    loaded = open_binary(synth_exe(level))
    program = FakeFixtureProgram(loaded.image, loaded.pdb, discover(loaded.image, dict(loaded.pdb.functions)))
    engine = GhidraEngine.for_program(program)
    facts = engine.load()
    before = (copy.deepcopy(facts.functions), [copy.copy(s) for s in facts.calls], dict(facts.symbols))
    assert all(site.args is None for site in facts.calls)
    refs = engine.references()
    assert refs and engine.references({refs[0].target}) == [r for r in refs if r.target == refs[0].target]
    assert (copy.deepcopy(facts.functions), [copy.copy(s) for s in facts.calls], dict(facts.symbols)) == before
    assert engine.capabilities == {ARGUMENTS, REFERENCES, MEMORY} and engine.capabilities <= set(CAPABILITIES)
    assert not engine.capabilities & {STORES, ANNOTATIONS, CASE_GUARDS}
    assert engine.annotations() == [] and engine.case_guards(next(iter(facts.functions)), Param(1)) == {}
