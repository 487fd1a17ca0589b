"""Unit tests of the native data flow's transfer rules (engine/native/dataflow.py), one rule per test.

Each test assembles a few lines of x64 code with ``llvm-mc`` at test time, maps them at RVA 0x1000 of a
pretend image (read-only data at 0x2000, writable data at 0x3000) and runs FunctionDataflow over them; the
assertions are the exact value sets the analysis records at the calls. Code and data share one section
(placed with ``.org``) so every RIP-relative operand is resolved by the assembler, with no relocations.
"""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile

import pytest
from conftest import require_tools
from iced_x86 import Decoder, FlowControl, Mnemonic

from api_to_etw.engine.native.dataflow import FILL_FUNCTIONS, MAX_TABLE, FunctionDataflow
from api_to_etw.model import (
    MAX_VALUES,
    UNKNOWN,
    Addr,
    CallSite,
    Const,
    Import,
    Load,
    Memory,
    Offset,
    Param,
    StackAddr,
    Store,
)

BASE = 0x180000000
CODE, RO, RW, SIZE = 0x1000, 0x2000, 0x3000, 0x4000
#: Where the out-of-function call target sits (a direct ``call ext`` / ``jmp ext`` leaves the function).
EXT = CODE + 0x800

TEMPLATE = """.intel_syntax noprefix
.text
f:
{code}
.org 0x800, 0xcc
ext:
  ret
.org 0x1000, 0
ro:
{ro}
.org 0x2000, 0
rw:
  .zero 0x100
"""
#: ``call qword ptr [rip + iat]``: an import call through a (writable) IAT slot.
IAT = "qword ptr [rip + rw + 0x80]"


def _text_section(obj: bytes) -> bytes:
    """The raw bytes of ``.text`` in a COFF object (IMAGE_FILE_HEADER, then 40-byte section headers)."""
    count = struct.unpack_from("<H", obj, 2)[0]
    optional = struct.unpack_from("<H", obj, 16)[0]
    for k in range(count):
        header = 20 + optional + 40 * k
        if obj[header:header + 8].rstrip(b"\0") == b".text":
            size, pointer = struct.unpack_from("<II", obj, header + 16)
            return obj[pointer:pointer + size]
    raise AssertionError("no .text in the object")


def assemble(code: str, ro: str = "") -> bytes:
    require_tools("llvm-mc")
    with tempfile.TemporaryDirectory() as tmp:
        source, obj = os.path.join(tmp, "f.s"), os.path.join(tmp, "f.o")
        with open(source, "w", encoding="utf-8") as handle:
            handle.write(TEMPLATE.format(code=code, ro=ro or "  .quad 0"))
        subprocess.run(["llvm-mc", "-triple=x86_64-pc-windows-msvc", "-filetype=obj", source, "-o", obj],
                       check=True, capture_output=True)
        with open(obj, "rb") as handle:
            return _text_section(handle.read())


class SnippetMemory(Memory):
    """The assembled section mapped at CODE; pages from RW on are writable (globals, the IAT)."""

    image_base = BASE

    def __init__(self, blob: bytes):
        self.blob = blob

    def read(self, rva: int, size: int) -> bytes:
        offset = rva - CODE
        return self.blob[offset:offset + size] if offset >= 0 else b""

    def is_writable(self, rva: int) -> bool:
        return rva >= RW


class Run:
    """One analysed snippet: its call sites in address order and the analysis (for its stores)."""

    def __init__(self, code: str, ro: str = "", call_results: dict[int, frozenset] | None = None,
                 results_at: dict[int, frozenset] | None = None, fills_at: dict[int, str] | None = None,
                 copies_at: tuple[int, ...] = (), **flow_options):
        blob = assemble(code, ro)
        self.memory = SnippetMemory(blob)
        end = CODE
        instrs = []
        for instr in Decoder(64, blob[:0x800], ip=CODE):
            if instr.mnemonic == Mnemonic.INT3:  # the .org padding: the function ends here
                break
            instrs.append(instr)
            end = instr.next_ip
        self.sites: list[CallSite] = []
        for instr in instrs:
            fc = instr.flow_control
            leaves = fc in (FlowControl.UNCONDITIONAL_BRANCH, FlowControl.CONDITIONAL_BRANCH) and not (
                CODE <= instr.near_branch_target < end)
            if fc in (FlowControl.CALL, FlowControl.INDIRECT_CALL, FlowControl.INDIRECT_BRANCH) or leaves:
                self.sites.append(CallSite(CODE, instr.ip, instr.near_branch_target if fc != FlowControl.INDIRECT_CALL
                                           else 0, tail=fc != FlowControl.CALL and fc != FlowControl.INDIRECT_CALL))
        # ``results_at`` names a call by its position among the sites (the test does not know RVAs).
        results = dict(call_results or {})
        for index, values in (results_at or {}).items():
            results[self.sites[index].rva] = values
        if copies_at:  # memcpy-like calls, by position among the sites
            flow_options["copy_calls"] = {self.sites[i].rva for i in copies_at}
        if fills_at:  # memset-like calls, by position among the sites and the function's name
            flow_options["fill_calls"] = {self.sites[i].rva: FILL_FUNCTIONS[name] for i, name in fills_at.items()}
        self.flow = FunctionDataflow(self.memory, BASE, SIZE, {s.rva: s for s in self.sites}, CODE, results,
                                     **flow_options)
        self.flow.run([(CODE, end)])

    def args(self, index: int = 0) -> tuple[frozenset, ...]:
        site = self.sites[index]
        assert site.args is not None, f"call at {site.rva:#x} was not recorded"
        return site.args


def one(*values) -> frozenset:
    return frozenset(values)


# ------------------------------------------------------------------------------------- moves, addresses


def test_entry_registers_are_the_parameters():
    run = Run(f"  call {IAT}")
    assert run.args()[:4] == (one(Param(0)), one(Param(1)), one(Param(2)), one(Param(3)))


def test_mov_lea_and_rip_relative_loads():
    run = Run(f"""
  lea rcx, [rip + ro]
  mov rdx, qword ptr [rip + ro + 8]
  mov r8d, dword ptr [rip + ro + 16]
  mov r9, qword ptr [rip + rw]
  call {IAT}
""", ro="""  .quad 0
  .quad 0x180002010
  .long 0x11223344
""")
    # lea gives the address; an 8-byte read-only slot holding an image VA becomes that address; a read-only
    # dword is a constant; writable memory (a global) stays a load.
    assert run.args()[:4] == (one(Addr(RO)), one(Addr(RO + 0x10)), one(Const(0x11223344)),
                              one(Load(Addr(RW), 8)))


def test_register_copies_and_immediates():
    run = Run(f"""
  mov rax, rcx
  mov rcx, rdx
  mov rdx, rax
  mov r8d, 5
  mov r9, -1
  call {IAT}
""")
    assert run.args()[:4] == (one(Param(1)), one(Param(0)), one(Const(5)), one(Const(0xFFFFFFFFFFFFFFFF)))


def test_32bit_write_truncates_a_constant():
    run = Run(f"""
  mov rcx, -1
  mov ecx, ecx
  call {IAT}
""")
    assert run.args()[0] == one(Const(0xFFFFFFFF))


def test_movzx_movsx_of_read_only_bytes():
    run = Run(f"""
  movzx ecx, byte ptr [rip + ro]
  movsx rdx, byte ptr [rip + ro]
  movsx r8, word ptr [rip + ro + 2]
  call {IAT}
""", ro="  .byte 0xff, 0, 0x34, 0x82")
    assert run.args()[:3] == (one(Const(0xFF)), one(Const(0xFFFFFFFFFFFFFFFF)), one(Const(0xFFFFFFFFFFFF8234)))


def test_field_of_a_parameter_and_a_load_through_it():
    run = Run(f"""
  mov rax, rcx
  lea rcx, [rax + 0x28]
  mov rdx, qword ptr [rax + 0x28]
  mov r8, qword ptr [rdx]
  call {IAT}
""")
    assert run.args()[:3] == (one(Offset(Param(0), 0x28)), one(Load(Offset(Param(0), 0x28), 8)),
                              one(Load(Load(Offset(Param(0), 0x28), 8), 8)))


# ------------------------------------------------------------------------------------- arithmetic


def test_add_sub_and_or_xor_on_constants():
    run = Run(f"""
  mov ecx, 0x10
  add rcx, 0x20
  mov edx, 0xff
  and edx, 0x0f
  mov r8d, 0x100
  or r8d, 1
  mov r9d, 0xf0
  xor r9d, 0xff
  call {IAT}
  mov ecx, 3
  sub ecx, 5
  mov edx, 1
  shl edx, 4
  mov r8d, 0x80
  shr r8d, 3
  mov r9d, 5
  inc r9d
  call {IAT}
""")
    assert run.args(0)[:4] == (one(Const(0x30)), one(Const(0x0F)), one(Const(0x101)), one(Const(0x0F)))
    # 32-bit arithmetic wraps at 32 bits.
    assert run.args(1)[:4] == (one(Const(0xFFFFFFFE)), one(Const(0x10)), one(Const(0x10)), one(Const(6)))


def test_add_sub_on_addresses_and_parameters():
    run = Run(f"""
  lea rcx, [rip + ro + 0x30]
  sub rcx, 0x10
  add rdx, 8
  xor r8d, r8d
  sub r9, r9
  call {IAT}
""")
    assert run.args()[:4] == (one(Addr(RO + 0x20)), one(Offset(Param(1), 8)), one(Const(0)), one(Const(0)))


def test_and_with_a_small_mask_enumerates_its_values():
    run = Run(f"""
  and ecx, 3
  and edx, 0x1f
  call {IAT}
""")
    assert run.args()[0] == one(Const(0), Const(1), Const(2), Const(3))
    assert run.args()[1] == one(UNKNOWN)  # five bits: too many values to list


def test_imul_three_and_two_operands_write_only_their_destination():
    run = Run(f"""
  mov ecx, 7
  imul r8d, ecx, 3
  mov r9d, 5
  imul r9d, ecx
  call {IAT}
""")
    # RDX (which one-operand imul would clobber) keeps the parameter.
    assert run.args()[:4] == (one(Const(7)), one(Param(1)), one(Const(21)), one(Const(35)))


def test_imul_of_an_unknown_factor_is_unknown():
    run = Run(f"""
  imul r8, rcx, 16
  call {IAT}
""")
    assert run.args()[:4] == (one(Param(0)), one(Param(1)), one(UNKNOWN), one(Param(3)))


@pytest.mark.parametrize("instr", ["mul r10", "imul r10", "div r10", "idiv r11", "cqo", "cdq", "rdtsc"])
def test_implicit_rdx_writers_clobber_rdx(instr):
    run = Run(f"""
  mov eax, 4
  {instr}
  mov rcx, rax
  call {IAT}
""")
    assert run.args()[1] == one(UNKNOWN)
    assert run.args()[2:4] == (one(Param(2)), one(Param(3)))
    if instr not in ("cqo", "cdq"):
        assert run.args()[0] == one(UNKNOWN)  # RAX is written too
    else:
        assert run.args()[0] == one(Const(4))


# ------------------------------------------------------------------------------------- stack


def test_push_pop_move_values_through_the_stack():
    run = Run(f"""
  push rcx
  mov ecx, 1
  pop rdx
  push 0x42
  pop r8
  call {IAT}
""")
    assert run.args()[:3] == (one(Const(1)), one(Param(0)), one(Const(0x42)))


def test_stack_pointer_offsets_and_outgoing_stack_arguments():
    run = Run(f"""
  push rbx
  sub rsp, 0x40
  lea rcx, [rsp + 0x30]
  mov qword ptr [rsp + 0x20], 5
  mov qword ptr [rsp + 0x28], rdx
  mov r9, qword ptr [rsp + 0x70]
  call {IAT}
  add rsp, 0x40
  pop rbx
  lea rcx, [rsp]
  call {IAT}
""")
    args = run.args(0)
    # Offsets are relative to RSP at entry: push (-8) then sub 0x40 puts RSP at -0x48.
    assert args[0] == one(StackAddr(-0x18))
    # [rsp+0x70] at RSP=-0x48 is entry+0x28: the caller's fifth argument.
    assert args[3] == one(Param(4))
    assert args[4:6] == (one(Const(5)), one(Param(1)))
    assert run.args(1)[0] == one(StackAddr(0))


def test_unknown_stack_pointer_makes_stack_values_unknown():
    run = Run(f"""
  and rsp, -16
  lea rcx, [rsp + 0x20]
  call {IAT}
""")
    args = run.args()
    assert args[0] == one(UNKNOWN)
    assert all(a == one(UNKNOWN) for a in args[4:])


DESCRIPTOR = bytes([0x34, 0x12, 0x01, 0x10, 0x04, 0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x80])


def test_descriptor_built_field_by_field_on_the_stack():
    # EVENT_DESCRIPTOR {Id 0x1234, Version 1, Channel 0x10, Level 4, Opcode 0, Task 0, Keyword 1<<63|1}.
    run = Run(f"""
  sub rsp, 0x48
  mov word ptr [rsp + 0x30], 0x1234
  mov byte ptr [rsp + 0x32], 1
  mov byte ptr [rsp + 0x33], 0x10
  mov byte ptr [rsp + 0x34], 4
  mov byte ptr [rsp + 0x35], 0
  mov word ptr [rsp + 0x36], 0
  movabs rax, 0x8000000000000001
  mov qword ptr [rsp + 0x38], rax
  lea rdx, [rsp + 0x30]
  call {IAT}
""")
    assert run.args()[1] == one(StackAddr(-0x18, tuple(DESCRIPTOR)))


def test_partial_overwrite_keeps_the_other_constant_bytes():
    run = Run(f"""
  sub rsp, 0x48
  mov qword ptr [rsp + 0x30], 0x7060504
  mov byte ptr [rsp + 0x31], 0xaa
  mov qword ptr [rsp + 0x38], 0
  lea rdx, [rsp + 0x30]
  call {IAT}
""")
    assert run.args()[1] == one(StackAddr(-0x18, (4, 0xAA, 6, 7, 0, 0, 0, 0) + (0,) * 8))


def test_image_addresses_stored_in_a_stack_buffer_are_its_refs():
    # A GuidPtr-like field: the address of read-only data stored 16 bytes into the buffer.
    run = Run(f"""
  sub rsp, 0x58
  mov qword ptr [rsp + 0x20], 0x30
  lea rax, [rip + ro]
  mov qword ptr [rsp + 0x30], rax
  lea rcx, [rsp + 0x20]
  call {IAT}
""")
    (value,) = run.args()[0]
    assert isinstance(value, StackAddr) and value.offset == -0x38
    assert value.refs == ((0x10, RO),)
    assert value.content == (0x30,) + (0,) * 7 + (None,) * 8


def test_escaped_local_is_reloaded_after_the_call_but_a_private_one_is_not():
    run = Run(f"""
  sub rsp, 0x48
  mov qword ptr [rsp + 0x28], 7
  mov qword ptr [rsp + 0x30], 9
  lea rcx, [rsp + 0x28]
  call {IAT}
  mov rdx, qword ptr [rsp + 0x28]
  mov r8, qword ptr [rsp + 0x30]
  call {IAT}
""")
    assert run.args(0)[0] == one(StackAddr(-0x20, (7, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0)))
    # The callee got the address of [rsp+0x28] and may have written it: the value is what memory holds.
    assert run.args(1)[1] == one(Load(StackAddr(-0x20), 8))
    assert run.args(1)[2] == one(Const(9))


def test_call_clobbers_the_callee_home_area():
    run = Run(f"""
  sub rsp, 0x48
  mov qword ptr [rsp + 0x8], 7
  call {IAT}
  mov rdx, qword ptr [rsp + 0x8]
  call {IAT}
""")
    assert run.args(1)[1] == one(Load(StackAddr(-0x40), 8))


# ------------------------------------------------------------------------------------- calls


def test_volatile_registers_are_clobbered_by_a_call():
    run = Run(f"""
  mov rbx, rcx
  mov rsi, rdx
  mov r10, r8
  mov rdi, r9
  call {IAT}
  mov rcx, rbx
  mov rdx, r10
  mov r8, rsi
  mov r9, rax
  call {IAT}
  mov rcx, rdi
  mov rdx, r11
  call {IAT}
""")
    assert run.args(1)[:4] == (one(Param(0)), one(UNKNOWN), one(Param(1)), one(UNKNOWN))
    assert run.args(2)[:2] == (one(Param(3)), one(UNKNOWN))


def test_call_result_fills_rax():
    run = Run(f"""
  call {IAT}
  mov rcx, rax
  call {IAT}
""", results_at={0: one(Import("EventWrite"))})
    assert run.args(1)[0] == one(Import("EventWrite"))


def test_tail_jumps_record_arguments_and_the_callers_stack_arguments():
    run = Run("""
  lea rdx, [rip + ro]
  jmp ext
""")
    (site,) = run.sites
    assert site.tail and site.callee == EXT
    # At a tail jump RSP still points at the return address: stack arguments start at +0x28.
    assert site.args is not None and site.args[1] == one(Addr(RO)) and site.args[4] == one(Param(4))


def test_stores_outside_the_frame_are_reported():
    run = Run("""
  mov qword ptr [rip + rw + 0x10], rcx
  mov qword ptr [rdx + 0x28], r8
  mov dword ptr [rip + rw + 0x20], 1
  ret
""")
    stores = {(s.address, s.values) for s in run.flow.stores()}
    assert stores == {(Addr(RW + 0x10), one(Param(0))), (Offset(Param(1), 0x28), one(Param(2)))}
    assert all(isinstance(s, Store) and s.function == CODE for s in run.flow.stores())


# ------------------------------------------------------------------------------------- joins


def test_cmov_gives_both_values():
    run = Run(f"""
  lea rdx, [rip + ro]
  lea rax, [rip + ro + 0x10]
  test ecx, ecx
  cmovne rdx, rax
  call {IAT}
""")
    assert run.args()[1] == one(Addr(RO), Addr(RO + 0x10))


def test_if_else_join_gives_both_values_in_registers_and_stack():
    run = Run(f"""
  sub rsp, 0x48
  test ecx, ecx
  je 1f
  lea rdx, [rip + ro]
  mov qword ptr [rsp + 0x20], 1
  jmp 2f
1:
  lea rdx, [rip + ro + 0x10]
  mov qword ptr [rsp + 0x20], 2
2:
  call {IAT}
""")
    assert run.args()[1] == one(Addr(RO), Addr(RO + 0x10))
    assert run.args()[4] == one(Const(1), Const(2))


def test_loop_reaches_a_fixed_point():
    # A counter incremented in a loop: never a wrong single constant at the call after it.
    run = Run(f"""
  xor edx, edx
1:
  inc edx
  cmp edx, 100
  jne 1b
  call {IAT}
""")
    values = run.args()[1]
    assert Const(1) in values and values != one(Const(1))


def test_equal_compare_gives_the_constant_on_the_equal_edge():
    # ViGEmBus's WPP calls: ``mov eax, [rcx]; cmp eax, 16; jne out; lea r9d, [rax-3]`` passes message 13
    # (the decompiler's constant propagation found it first); the not-equal edge learns nothing.
    run = Run(f"""
  mov eax, dword ptr [rcx]
  cmp eax, 16
  jne 1f
  lea r9d, [rax - 3]
  call {IAT}
1:
  mov r9d, eax
  call {IAT}
""")
    assert run.args(0)[3] == one(Const(13))
    # The not-equal way keeps the loaded value (the equal way's RAX died in the call).
    assert Load(Param(0), 4) in run.args(1)[3] and Const(16) not in run.args(1)[3]


@pytest.mark.parametrize("jump", ["jne", "je"])
def test_zero_test_gives_zero_on_the_equal_edge(jump):
    # ViGEmBus's WPP calls after a call that may return NULL: ``test rax, rax; jne ok; lea r9d, [rax+0xe]``
    # passes message 14 on the NULL path (MSVC reuses the register it knows is zero).
    run = Run(f"""
  call {IAT}
  test rax, rax
  {jump} 1f
  lea r9d, [rax + 0xe]
  call {IAT}
  ret
1:
  lea r9d, [rax + 0xe]
  call {IAT}
""")
    on_equal, on_other = (run.args(1), run.args(2)) if jump == "jne" else (run.args(2), run.args(1))
    assert on_equal[3] == one(Const(0xE))
    assert on_other[3] == one(Offset(UNKNOWN, 0xE))  # RAX is not zero there: nothing learnt


def test_a_shared_block_placed_before_its_predecessors_sees_all_of_them():
    # ViGEmBus: a function's error exit (one WPP call whose message number each failing step sets) sits at a
    # lower address than the dozen steps that jump to it. Run in address order it used up its visits before
    # the last steps arrived and their numbers were lost; in reverse postorder it runs after all of them.
    cases = "".join(f"""
  cmp edx, {k}
  jne 3{k}f
  mov r9d, {10 + k}
  jmp 1b
3{k}:""" for k in range(12))
    run = Run(f"""
  test ecx, ecx
  jne 2f
1:
  call {IAT}
  ret
2:{cases}
  ret
""")
    assert run.args()[3] == one(Param(3), *(Const(10 + k) for k in range(12)))


def _cmov_chain(count: int) -> str:
    lines = ["  xor edx, edx"]
    for k in range(1, count + 1):
        lines += [f"  mov eax, {k}", "  test ecx, ecx", "  cmovne edx, eax"]
    return "\n".join(lines) + f"\n  call {IAT}\n"


def test_max_values_kept_exactly():
    run = Run(_cmov_chain(MAX_VALUES - 1))
    assert run.args()[1] == frozenset(Const(k) for k in range(MAX_VALUES))


def test_one_more_than_max_values_collapses_to_unknown():
    run = Run(_cmov_chain(MAX_VALUES))
    assert run.args()[1] == one(UNKNOWN)


# ------------------------------------------------------------------------------------- vectors, copies


def test_vector_move_copies_16_read_only_bytes():
    ro = "  .byte " + ", ".join(str(b) for b in DESCRIPTOR)
    run = Run(f"""
  sub rsp, 0x48
  movups xmm0, xmmword ptr [rip + ro]
  movups xmmword ptr [rsp + 0x30], xmm0
  lea rdx, [rsp + 0x30]
  call {IAT}
""", ro=ro)
    assert run.args()[1] == one(StackAddr(-0x18, tuple(DESCRIPTOR)))


def test_zeroed_vector_register_stores_16_zero_bytes():
    run = Run(f"""
  sub rsp, 0x48
  xorps xmm0, xmm0
  movaps xmmword ptr [rsp + 0x30], xmm0
  lea rdx, [rsp + 0x30]
  call {IAT}
""")
    assert run.args()[1] == one(StackAddr(-0x18, (0,) * 16))


def test_vector_copy_of_the_callers_descriptor_then_patched():
    run = Run(f"""
  sub rsp, 0x48
  movups xmm0, xmmword ptr [rdx]
  movups xmmword ptr [rsp + 0x30], xmm0
  mov byte ptr [rsp + 0x33], 0x10
  lea rdx, [rsp + 0x30]
  call {IAT}
""")
    content = [None] * 16
    content[3] = 0x10
    assert run.args()[1] == one(StackAddr(-0x18, tuple(content), -1, None, Param(1)))


def test_two_8_byte_moves_are_a_copy_too():
    run = Run(f"""
  sub rsp, 0x48
  mov rax, qword ptr [rip + rw]
  mov qword ptr [rsp + 0x30], rax
  mov rax, qword ptr [rip + rw + 8]
  mov qword ptr [rsp + 0x38], rax
  lea rdx, [rsp + 0x30]
  call {IAT}
""")
    assert run.args()[1] == one(StackAddr(-0x18, (None,) * 16, -1, None, Addr(RW)))


def test_descriptor_inside_a_struct_copied_by_rep_movs():
    # A 0x40-byte context copied by value from the caller's pointer; its field 0x20 is the descriptor.
    run = Run(f"""
  sub rsp, 0x88
  lea rdi, [rsp + 0x30]
  mov rsi, rdx
  mov ecx, 0x40
  rep movsb
  mov byte ptr [rsp + 0x53], 0x10
  lea rdx, [rsp + 0x50]
  call {IAT}
""")
    content = [None] * 16
    content[3] = 0x10
    assert run.args()[1] == one(StackAddr(-0x38, tuple(content), -1, None, Offset(Param(1), 0x20)))


def test_descriptor_inside_a_struct_copied_by_memcpy():
    run = Run(f"""
  sub rsp, 0x88
  lea rcx, [rsp + 0x30]
  lea rdx, [rip + rw]
  mov r8d, 0x30
  call ext
  lea rdx, [rsp + 0x48]
  call {IAT}
""", copies_at=(0,))
    assert run.args(1)[1] == one(StackAddr(-0x40, (None,) * 16, -1, None, Addr(RW + 0x18)))


def test_descriptor_across_two_vector_moves_of_a_struct():
    # A struct copied by 16-byte moves from adjacent source addresses; the descriptor at field 0x18 spans two.
    run = Run(f"""
  sub rsp, 0x88
  movups xmm0, xmmword ptr [rip + rw + 0x10]
  movups xmm1, xmmword ptr [rip + rw + 0x20]
  movups xmmword ptr [rsp + 0x40], xmm0
  movups xmmword ptr [rsp + 0x50], xmm1
  lea rdx, [rsp + 0x48]
  call {IAT}
""")
    assert run.args()[1] == one(StackAddr(-0x40, (None,) * 16, -1, None, Addr(RW + 0x18)))


def test_pieces_from_unrelated_sources_are_no_copy():
    run = Run(f"""
  sub rsp, 0x88
  movups xmm0, xmmword ptr [rip + rw + 0x10]
  movups xmm1, xmmword ptr [rip + rw + 0x40]
  movups xmmword ptr [rsp + 0x40], xmm0
  movups xmmword ptr [rsp + 0x50], xmm1
  lea rdx, [rsp + 0x48]
  call {IAT}
""")
    assert run.args()[1] == one(StackAddr(-0x40))


def test_vector_registers_are_volatile_across_calls():
    ro = "  .byte " + ", ".join(str(b) for b in DESCRIPTOR)
    run = Run(f"""
  sub rsp, 0x48
  movups xmm0, xmmword ptr [rip + ro]
  call {IAT}
  movups xmmword ptr [rsp + 0x30], xmm0
  lea rdx, [rsp + 0x30]
  call {IAT}
""", ro=ro)
    assert run.args(1)[1] == one(StackAddr(-0x18))


@pytest.mark.parametrize(("instr", "count"), [("rep movsb", 16), ("rep movsq", 2)])
def test_rep_movs_copy_then_patch(instr, count):
    run = Run(f"""
  sub rsp, 0x48
  lea rdi, [rsp + 0x30]
  mov rsi, rdx
  mov ecx, {count}
  {instr}
  mov byte ptr [rsp + 0x34], 2
  lea rdx, [rsp + 0x30]
  call {IAT}
""")
    content = [None] * 16
    content[4] = 2
    args = run.args()
    assert args[1] == one(StackAddr(-0x18, tuple(content), -1, None, Param(1)))
    assert args[0] == one(UNKNOWN)  # RCX is consumed by the copy


@pytest.mark.parametrize(("instr", "count", "fill"), [("rep stosb", 16, 0), ("rep stosq", 2, 0),
                                                      ("rep stosd", 4, 0x01010101)])
def test_rep_stos_fill_then_patch(instr, count, fill):
    run = Run(f"""
  sub rsp, 0x48
  mov qword ptr [rsp + 0x38], rdx
  lea rdi, [rsp + 0x30]
  mov eax, {fill}
  mov ecx, {count}
  {instr}
  mov byte ptr [rsp + 0x34], 2
  lea rdx, [rsp + 0x30]
  call {IAT}
""")
    content = [fill & 0xFF] * 16
    content[4] = 2
    assert run.args()[1] == one(StackAddr(-0x18, tuple(content), -1))


@pytest.mark.parametrize(("name", "setup", "byte"), [
    ("memset", "  xor edx, edx\n  mov r8d, 0x30", 0),
    ("memset", "  mov edx, 0x1ff\n  mov r8d, 0x30", 0xFF),  # memset stores the low byte of its int
    ("RtlZeroMemory", "  mov edx, 0x30", 0),
    ("RtlFillMemory", "  mov edx, 0x30\n  mov r8d, 0x7", 7),
])
def test_fill_call_makes_the_header_bytes_known(name, setup, byte):
    # An EVENT_TRACE_HEADER zeroed by a call, then its Size, Type and Level written: every byte known.
    run = Run(f"""
  sub rsp, 0x68
  lea rcx, [rsp + 0x30]
{setup}
  call ext
  mov word ptr [rsp + 0x30], 0x30
  mov byte ptr [rsp + 0x34], 1
  mov byte ptr [rsp + 0x35], 4
  lea rdx, [rsp + 0x30]
  call {IAT}
""", fills_at={0: name})
    content = [byte] * 48
    content[0:2] = [0x30, 0]
    content[4:6] = [1, 4]
    assert run.args(1)[1] == one(StackAddr(-0x38, tuple(content), -1))


def test_fill_with_an_unknown_byte_forgets_the_old_contents():
    run = Run(f"""
  sub rsp, 0x48
  mov qword ptr [rsp + 0x30], 5
  lea rcx, [rsp + 0x30]
  mov r8d, 0x10
  call ext
  lea rdx, [rsp + 0x30]
  call {IAT}
""", fills_at={0: "memset"})
    assert run.args(1)[1] == one(StackAddr(-0x18))


def test_fill_of_an_unknown_length_keeps_nothing_new():
    run = Run(f"""
  sub rsp, 0x48
  lea rcx, [rsp + 0x30]
  xor edx, edx
  mov r8, r9
  call ext
  lea rdx, [rsp + 0x30]
  call {IAT}
""", fills_at={0: "memset"})
    assert run.args(1)[1] == one(StackAddr(-0x18))


CHECK = "qword ptr [rip + rw + 0x90]"  # the CFG check slot (its callee is ``ret``)


@pytest.mark.parametrize("target", ["rax", "rcx"])
def test_cfg_check_call_keeps_the_target_and_the_arguments(target):
    # ``mov rax, [pfn]; mov rcx, rax; call [__guard_check_icall_fptr]; call rax`` (or ``call rcx``).
    code = f"""
  sub rsp, 0x28
  mov edx, 7
  mov rax, qword ptr [rip + rw + 0x88]
  mov rcx, rax
  call {CHECK}
  call {target}
"""
    pfn = one(Load(Addr(RW + 0x88), 8))
    checked = Run(code, record_targets=True, checks={RW + 0x90})
    call = checked.sites[1].rva
    assert checked.flow.targets is not None and checked.flow.targets[call] == (pfn, False)
    assert checked.args(1)[1] == one(Const(7))
    assert checked.sites[0].args is None  # the check itself is no call of interest
    plain = Run(code, record_targets=True)  # an ordinary call clobbers both
    assert plain.flow.targets is not None and call not in plain.flow.targets
    assert plain.args(1)[1] == one(UNKNOWN)


# ------------------------------------------------------------------------------------- tables

TABLE = "\n".join(f"  .quad {BASE + RO + 0x100 + 0x10 * k:#x}" for k in range(4)) + "\n  .quad 0"


def test_table_index_bounded_by_a_mask():
    run = Run(f"""
  and ecx, 3
  lea rax, [rip + ro]
  mov rdx, qword ptr [rax + rcx*8]
  call {IAT}
""", ro=TABLE)
    assert run.args()[1] == frozenset(Addr(RO + 0x100 + 0x10 * k) for k in range(4))


def test_table_with_an_unbounded_index_stops_at_the_first_non_pointer():
    run = Run(f"""
  lea rax, [rip + ro]
  mov rdx, qword ptr [rax + rcx*8]
  call {IAT}
""", ro=TABLE)
    assert run.args()[1] == frozenset(Addr(RO + 0x100 + 0x10 * k) for k in range(4))


def test_table_with_an_unbounded_index_is_at_most_max_table_long():
    ro = "\n".join(f"  .quad {BASE + RO + 0x400 + 0x10 * k:#x}" for k in range(MAX_TABLE + 4))
    run = Run(f"""
  lea rax, [rip + ro]
  mov rdx, qword ptr [rax + rcx*8]
  call {IAT}
""", ro=ro)
    assert run.args()[1] == frozenset(Addr(RO + 0x400 + 0x10 * k) for k in range(MAX_TABLE))


def test_writable_table_is_not_followed():
    run = Run(f"""
  lea rax, [rip + rw]
  mov rdx, qword ptr [rax + rcx*8]
  call {IAT}
""")
    assert run.args()[1] == one(UNKNOWN)


# ------------------------------------------------- partial registers and one-operand mul (found by these tests)


def test_partial_register_write_keeps_the_upper_bytes():
    # ``mov cl, 5`` leaves bits 8..63 of RCX alone: RCX is 0x105, not 5.
    run = Run(f"""
  mov ecx, 0x100
  mov cl, 5
  mov edx, 0x1200
  or dl, 0x34
  call {IAT}
""")
    assert run.args()[:2] == (one(Const(0x105)), one(Const(0x1234)))


def test_one_operand_mul_does_not_write_its_source():
    run = Run(f"""
  mov r8, rcx
  mul r8
  call {IAT}
""")
    assert run.args()[2] == one(Param(0))


def test_high_byte_register_read():
    run = Run(f"""
  mov eax, 0x1234
  movzx ecx, ah
  call {IAT}
""")
    assert run.args()[0] == one(Const(0x12))


# ------------------------------------------------------------------------------------- run-time imports


def test_a_pointer_codec_returns_its_argument():
    # ``call codec`` (EncodePointer, ``p ^ secret``) gives back the pointer it was passed: a GetProcAddress
    # result stays that API through the encode, and the decode of a loaded field is the field's value.
    run = Run(f"""
  call {IAT}
  mov rcx, rax
  call ext
  mov qword ptr [rip + rw + 0x10], rax
  mov rcx, qword ptr [rip + rw + 0x18]
  call ext
  mov rcx, rax
  call {IAT}
""", results_at={0: one(Import("TraceEvent"))}, codecs={EXT})
    assert [s.values for s in run.flow.stores() if s.address == Addr(RW + 0x10)] == [one(Import("TraceEvent"))]
    assert run.args(3)[0] == one(Load(Addr(RW + 0x18), 8))
    assert Load(Addr(RW + 0x18), 8) in run.flow.decoded


def test_other_calls_clobber_rax():
    run = Run(f"""
  mov rcx, qword ptr [rip + rw + 0x18]
  call ext
  mov rcx, rax
  call {IAT}
""")
    assert run.args(1)[0] == one(UNKNOWN)


def test_xor_of_an_import_with_a_secret_keeps_the_import():
    run = Run(f"""
  call {IAT}
  xor rax, qword ptr [rip + rw + 0x20]
  mov rcx, rax
  call {IAT}
""", results_at={0: one(Import("TraceEvent"))})
    assert run.args(1)[0] == one(Import("TraceEvent"))


def test_cfg_dispatch_call_target_is_rax():
    # ``call [__guard_dispatch_icall_fptr]`` jumps to RAX: the recorded target is what RAX holds, and whether
    # it came out of a codec (decoded); a plain ``call [rcx+8]`` records the loaded field.
    run = Run("""
  mov rbx, rcx
  mov rcx, qword ptr [rbx + 0x10]
  call ext
  call qword ptr [rip + rw + 0x40]
  call qword ptr [rbx + 8]
""", codecs={EXT}, dispatch={RW + 0x40}, record_targets=True)
    targets = run.flow.targets
    assert targets is not None
    assert targets[run.sites[1].rva] == (one(Load(Offset(Param(0), 0x10), 8)), True)
    assert targets[run.sites[2].rva] == (one(Load(Offset(Param(0), 8), 8)), False)


def test_header_fields_from_parameters_are_kept_on_the_snapshot():
    # A trace helper writes its event type and level parameters into a header on its stack: the buffer
    # passed on records those slots as parameter fields, substituted later by the callers' constants.
    run = Run(f"""
  sub rsp, 0x68
  mov word ptr [rsp + 0x20], 0x40
  mov byte ptr [rsp + 0x24], cl
  mov byte ptr [rsp + 0x25], dl
  lea rdx, [rsp + 0x20]
  call {IAT}
  add rsp, 0x68
  ret
""")
    (header,) = run.args()[1]
    assert isinstance(header, StackAddr)
    assert header.fields == ((4, 1, Param(0)), (5, 1, Param(1)))
    assert header.content[:2] == (0x40, 0)


def test_parameter_fields_become_content_when_the_caller_passes_constants():
    from api_to_etw.engine.frozen import decode_value, encode_value
    from api_to_etw.model import forget_params, params_of, substitute

    header = StackAddr(-0x48, (0x40, 0) + (None,) * 22, -1, None, None, ((4, 1, Param(0)), (5, 1, Param(1))))
    assert params_of(header) == {0, 1}
    passed = {0: one(Const(0x103)), 1: one(Param(2))}  # a type (truncated to its byte), a level from above
    (after,) = substitute(header, lambda i: passed[i])
    assert after.content[4] == 0x03 and after.content[5] is None
    assert after.fields == ((5, 1, Param(2)),)
    assert forget_params(after).fields is None
    assert decode_value(encode_value(after)) == after  # facts files keep them


@pytest.mark.parametrize("body, codec", [
    ("  xor rcx, qword ptr [rip + rw]\n  mov rax, rcx\n  ret", True),            # concrt's Security::EncodePointer
    ("  mov rax, qword ptr [rip + rw]\n  mov ecx, eax\n  and ecx, 0x3f\n  xor rax, rdx\n  ret", False),
    ("  mov rax, qword ptr [rip + rw]\n  mov edx, eax\n  and edx, 0x3f\n  xor rax, rcx\n  mov ecx, edx\n"
     "  ror rax, cl\n  ret", True),                                              # the CRT's rotate-and-xor encoding
    ("  mov rax, rcx\n  ret", False),                                         # an identity encodes nothing
    ("  mov rax, qword ptr [rcx]\n  ret", False),                                # a load through the argument
    ("  xor rcx, qword ptr [rip + rw]\n  call ext\n  ret", False),
])
def test_pointer_codec_shapes(body, codec):
    from api_to_etw.engine.native.runtime import is_pointer_codec

    memory = SnippetMemory(assemble(body))
    assert is_pointer_codec(memory, CODE) is codec  # type: ignore[arg-type]


def test_dispatch_slot_points_to_jmp_rax():
    from api_to_etw.engine.native.runtime import dispatch_slots

    blob = assemble("  jmp rax", ro=f"  .quad {BASE + CODE:#x}\n  .quad {BASE + EXT:#x}")
    memory = SnippetMemory(blob)
    memory.image_base, memory.size_of_image = BASE, SIZE  # type: ignore[attr-defined]
    assert dispatch_slots(memory, [RO, RO + 8]) == {RO}  # type: ignore[arg-type]
