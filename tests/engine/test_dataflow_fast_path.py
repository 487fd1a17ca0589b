"""The data flow's inline fast path and its general step agree (``FunctionDataflow._run_block``).

``_run_block`` runs the commonest instructions (mov, push, lea, stack arithmetic, ...) from an operation
prepared once per distinct instruction; a subclass that watches steps or writes (the switch analysis) goes
through ``_step`` for every instruction instead. Both must give the same argument values and stores, so every
function of real compiled images is resolved both ways and compared.
"""

from __future__ import annotations

import pytest
from conftest import code_fixtures

from api_to_etw.binary.loader import open_binary
from api_to_etw.binary.pe import load_pe
from api_to_etw.engine.native import engine as native_engine
from api_to_etw.engine.native.dataflow import FunctionDataflow
from api_to_etw.engine.native.engine import NativeEngine


class _EveryStep(FunctionDataflow):
    """The same flow through ``_step`` for every instruction (an override makes the class not stock)."""

    steps = 0

    def _step(self, instr, state):  # type: ignore[no-untyped-def]
        _EveryStep.steps += 1
        return super()._step(instr, state)


def _both_ways(engine: NativeEngine, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object, int]:
    facts = engine.load()
    functions = sorted(rva for rva, f in facts.functions.items() if not f.imported)
    fast = engine.resolve(functions)
    with monkeypatch.context() as patch:
        patch.setattr(native_engine, "FunctionDataflow", _EveryStep)
        assert not _EveryStep._stock and FunctionDataflow._stock
        before = _EveryStep.steps
        slow = engine.resolve(functions)
        assert _EveryStep.steps > before  # the general step really ran (no forked batch hid it)
    return fast, slow, len(functions)


def _same(fast, slow) -> None:  # type: ignore[no-untyped-def]
    assert fast.args == slow.args
    key = lambda s: (s.function, s.rva, repr(s.address))  # noqa: E731
    assert sorted(map(repr, sorted(fast.stores, key=key))) == sorted(map(repr, sorted(slow.stores, key=key)))


@pytest.mark.parametrize("path", code_fixtures(), ids=lambda p: p.split("samples/")[-1])
def test_fixtures_resolve_the_same_both_ways(path, monkeypatch):
    loaded = open_binary(path)
    fast, slow, count = _both_ways(NativeEngine(loaded.image, loaded.pdb), monkeypatch)
    assert count > 0 and fast.args, "the fixture's functions resolved something"
    _same(fast, slow)


def test_a_real_driver_resolves_the_same_both_ways(real_binary, monkeypatch):
    image = load_pe(real_binary("ViGEmBus.sys"))
    fast, slow, count = _both_ways(NativeEngine(image, None), monkeypatch)
    assert count > 100 and len(fast.args) > 1000
    _same(fast, slow)


_OPENING_PIECES = (
    [bytes((b,)) for b in range(0x50, 0x58)] + [bytes((0x41, b)) for b in range(0x50, 0x58)]
    + [b"\x48\x83\xec" + bytes((i,)) for i in (0x08, 0x28, 0x7F, 0x80, 0xFF)]
    + [b"\x48\x81\xec" + x.to_bytes(4, "little") for x in (0x100, 0x7FFFFFFF, 0x80000000, 0xFFFFFF00)]
    + [b"\x40\x53", b"\x48\x53", b"\x41", b"\x41\x41\x56", b"\x48\x83", b"\x48\x83\xc4\x20", b"\x8b\xf1", b"\x90"]
    # Home-space spills (of callee-saved and parameter registers, 64 and 32 bits), the frame's copy in a register
    # and spills through it, copies of other registers (a store through them is a store to remember), frame
    # pointers, and pieces of them cut short: none is made, each must end the made part where it stands.
    + [b"\x48\x89\x5c\x24\x08", b"\x48\x89\x74\x24\x10", b"\x4c\x89\x44\x24\x18", b"\x89\x54\x24\x10",
       b"\x48\x89\x4c\x24\x08", b"\x44\x89\x4c\x24\x20", b"\x48\x89\x44\x24\x08", b"\x48\x8b\xc4",
       b"\x4c\x8b\xdc", b"\x48\x89\x58\x08", b"\x49\x89\x5b\x10", b"\x48\x89\x68\x10", b"\x4c\x89\x40\x18",
       b"\x48\x8b\xc1", b"\x48\x8b\xd9", b"\x48\x89\x51\x08", b"\x48\x8b\xec", b"\x48\x8d\x6c\x24\xd9",
       b"\x48\x8d\xac\x24\x00\xff\xff\xff", b"\x48\x8d\x44\x24\x20", b"\x48\x89\x5c", b"\x48\x89",
       b"\x48\x8d\xac\x24"]
    # What an opening's longer runs may make (constants, zeroing, register arithmetic, compares) and what ends them
    # (a RIP-relative address, a memory source, a pointer store to a global).
    + [b"\xb9\x05\x00\x00\x00", b"\x33\xd2", b"\x03\xca", b"\x48\x83\xc1\x08", b"\x83\xf9\x05",
       b"\x48\x8d\x05\x10\x00\x00\x00", b"\x48\x03\x4c\x24\x08", b"\x48\x89\x05\x00\x01\x00\x00"]
)


def _state_items(state):
    return (list(state.regs.items()), list(state.stack.items()), state.rsp, state.low, state.escaped, state.copies)


def test_an_opening_left_unstepped_leaves_the_stepped_state():
    """``_run_entry`` makes the state a function's opening leaves (``_OPENINGS``, shared by every function that
    starts with the same bytes) instead of stepping it: for code that starts with any mix of pushes (of the
    register parameters too), spills, frame copies, prefixes, frame arithmetic, constants, register arithmetic
    (the opening's longer runs) and other instructions, the state after the whole code must be the
    state ``_run_block`` leaves after stepping all of it (registers and slots in the same order, the stack
    pointer, the lowest slot), and the stores it remembers the same, whether the flow stepped the opening to make
    the table's entry or found it there."""
    import random
    from itertools import takewhile

    from iced_x86 import Decoder, FlowControl

    from api_to_etw.engine.native.dataflow import ARG_REGS, FunctionDataflow, State

    def nowhere(rva):
        return False

    rng = random.Random(15)
    made = params = 0
    codes: list[bytes] = []
    for _ in range(3000):
        if codes and rng.random() < 0.3:  # the same code again at another address (what the table serves)
            code = rng.choice(codes)[:-1] + rng.choice(_OPENING_PIECES) + b"\xc3"
        else:
            code = b"".join(rng.choice(_OPENING_PIECES) for _ in range(rng.randint(0, 8))) + b"\xc3"
        codes.append(code)
        address = 0x1000 + 0x40 * rng.randint(0, 3)
        instrs = list(takewhile(lambda instr: instr.flow_control == FlowControl.NEXT, Decoder(64, code, 0, address)))
        fast = FunctionDataflow(None, 0, 0, {})  # type: ignore[arg-type]
        slow = FunctionDataflow(None, 0, 0, {})  # type: ignore[arg-type]
        stepped_blocks = []

        def run_block(block, flows, state, inside, fast=fast, stepped_blocks=stepped_blocks):
            stepped_blocks.append(len(block))
            return FunctionDataflow._run_block(fast, block, flows, state, inside)

        fast._run_block = run_block  # type: ignore[method-assign]
        made_state, stepped = State.entry(), State.entry()
        flows = bytes(len(instrs))
        fast._run_entry(list(instrs), flows, code, made_state, nowhere)
        slow._run_block(list(instrs), flows, stepped, nowhere)
        assert _state_items(made_state) == _state_items(stepped)
        count = len(instrs) - stepped_blocks[-1]
        assert fast._stores == slow._stores
        again = FunctionDataflow(None, 0, 0, {})  # type: ignore[arg-type]
        made_again = State.entry()
        again._run_entry(list(instrs), flows, code, made_again, nowhere)  # from the table, made by another flow
        assert _state_items(made_again) == _state_items(stepped) and again._stores == slow._stores
        made += count
        params += count and any(instr.op0_register in ARG_REGS for instr in instrs[:count])
    assert made > 1500 and params > 100


def test_an_openings_longer_run_is_made_only_where_its_bytes_mean_the_same(monkeypatch):
    """The runs after an opening that the first function with its key stepped (``_OPENINGS``' longer runs) are
    made for later code that starts with the same bytes: the state must be the stepped one at any address (a
    RIP-relative operand ends a run: the same bytes elsewhere mean another address), for a run cut short by a
    later function's own code, and before a conditional branch (its compare stays for ``_guard``)."""
    from iced_x86 import Decoder

    from api_to_etw.engine.native import dataflow
    from api_to_etw.engine.native.dataflow import FunctionDataflow, State

    monkeypatch.setattr(dataflow, "_OPENINGS", {})
    opening = b"\x56\x57\x48\x83\xec\x28"  # push rsi; push rdi; sub rsp, 28h
    run = b"\x8b\xf1\x33\xd2\xb9\x05\x00\x00\x00\x48\x83\xc1\x08"  # mov esi, ecx; xor edx, edx; mov ecx, 5; add rcx, 8
    codes = [
        opening + run + b"\x48\x8d\x05\x10\x00\x00\x00\x48\x89\x44\x24\x20\xc3",  # lea rax, [rip+10h]; spill it
        opening + run + b"\x48\x8d\x05\x10\x00\x00\x00\x48\x89\x44\x24\x20\xc3",
        opening + run[:4] + b"\x90\xc3",  # cut short
        b"\x53\x48\x83\xec\x20" + run[:4] + b"\x83\xf8\x05\x77\x00\xc3",  # push rbx; sub rsp, 20h; ...; cmp eax, 5; ja
        opening + run + b"\x90\xc3",
    ]
    made_any = edges = 0
    for n, code in enumerate(codes):
        for address in (0x1000 + 0x100 * n, 0x7000 + 0x40 * n):
            instrs = list(Decoder(64, code, 0, address))[:-1]
            flows = bytes(instr.flow_control for instr in instrs)
            fast, slow = FunctionDataflow(None, 0, 0, {}), FunctionDataflow(None, 0, 0, {})  # type: ignore[arg-type]
            fast._orphans = slow._orphans = []
            made, stepped = State.entry(), State.entry()
            steps: list[int] = []

            def run_block(block, flows, state, inside, fast=fast, steps=steps):  # type: ignore[no-untyped-def]
                steps.append(len(block))
                return FunctionDataflow._run_block(fast, block, flows, state, inside)

            fast._run_block = run_block  # type: ignore[method-assign]
            inside = range(address, address + len(code)).__contains__
            fast._run_entry(list(instrs), flows, code, made, inside)
            slow._run_block(list(instrs), flows, stepped, inside)
            assert _state_items(made) == _state_items(stepped), (n, hex(address))
            assert {k: _state_items(v) for k, v in fast._edge_states.items()} == {
                k: _state_items(v) for k, v in slow._edge_states.items()}
            made_any += len(instrs) - steps[-1]
            edges += len(slow._edge_states)
    assert made_any > 8 * 3 and edges
