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


_PROLOGUE_PIECES = (
    [bytes((b,)) for b in range(0x50, 0x58)] + [bytes((0x41, b)) for b in range(0x50, 0x58)]
    + [b"\x48\x83\xec" + bytes((i,)) for i in (0x08, 0x28, 0x7F, 0x80, 0xFF)]
    + [b"\x48\x81\xec" + x.to_bytes(4, "little") for x in (0x100, 0x7FFFFFFF, 0x80000000, 0xFFFFFF00)]
    + [b"\x40\x53", b"\x48\x53", b"\x41", b"\x41\x41\x56", b"\x48\x83", b"\x48\x83\xc4\x20", b"\x48\x89\x5c\x24\x08",
       b"\x8b\xf1", b"\x90"]
)


def test_a_prologue_left_unstepped_leaves_the_stepped_state():
    """``_run_entry`` makes the state the entry's pushes and frame allocation leave instead of stepping them
    (``_prologue``): for code that starts with any mix of pushes, prefixes, frame arithmetic and other
    instructions, the state after the made part must be the state ``_run_block`` leaves after stepping the same
    instructions (slots in the same order, the stack pointer, the lowest slot)."""
    import random

    from iced_x86 import Decoder

    from api_to_etw.engine.native.dataflow import _PUSHED_FRAMES, FunctionDataflow, State, _prologue

    flow = FunctionDataflow(None, 0, 0, {})  # type: ignore[arg-type]
    rng = random.Random(15)
    made = 0
    for _ in range(3000):
        code = b"".join(rng.choice(_PROLOGUE_PIECES) for _ in range(rng.randint(0, 8))) + b"\xc3"
        instrs = list(Decoder(64, code, 0, 0x1000))
        count, pushes, rsp = _prologue(code)
        assert count < len(instrs)
        stepped = State.entry()
        flow._run_block(instrs[:count], bytes(count), stepped, lambda rva: False)
        assert list(stepped.stack.items()) == list(_PUSHED_FRAMES[pushes].items())
        assert (stepped.rsp, stepped.low, stepped.regs) == (rsp, -8 * pushes if pushes else State.entry().low,
                                                            State.entry().regs)
        made += count
    assert made > 1500
