"""Unit tests of the native data flow's transfer function, one per idiom, on the real code of the idiom
fixture (samples/idioms, clang -O2): what reaches the ETW call's arguments in the function itself."""

from __future__ import annotations

import os

import pytest
from conftest import SAMPLES

from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.engine import NativeEngine
from api_to_etw.model import Addr, Import, Load, Offset, Param, StackAddr

DLL = os.path.join(SAMPLES, "idioms", "O2", "idioms.dll")


@pytest.fixture(scope="module")
def engine():
    loaded = open_binary(DLL)
    eng = NativeEngine(loaded.image, loaded.pdb)
    facts = eng.load()
    answer = eng.resolve(sorted(facts.functions))
    # The facts stay as loaded; the sites looked at carry the values of the answer.
    assert all(site.args is None for site in facts.calls)
    facts = facts._replace(calls=[s._replace(args=answer.args.get((s.caller, s.rva))) for s in facts.calls])
    return answer, facts, {name: rva for rva, name in loaded.pdb.data.items()}


def _site(facts, caller: str, callee: str):
    by_name = {f.name: rva for rva, f in facts.functions.items()}
    sites = [s for s in facts.calls if s.caller == by_name[caller] and facts.functions[s.callee].name == callee]
    assert len(sites) == 1, sites
    return sites[0]


def test_imul_writes_only_its_destination(engine):
    _eng, facts, _data = engine
    # ``imul r8d, ecx, imm`` and ``imul r8d, ecx`` between entry and the call: RDX still holds the parameter.
    for helper in ("ImulScaled", "ImulTimes"):
        assert _site(facts, helper, "EventWrite").arg(1) == {Param(1)}


def test_table_index_bounded_by_a_mask(engine):
    _eng, facts, data = engine
    expected = {Addr(data[f"TABLE_EVT_{i}"]) for i in range(4)}
    assert _site(facts, "TableMasked", "EventWrite").arg(1) == expected


def test_table_index_bounded_by_a_compare(engine):
    _eng, facts, data = engine
    # ``cmp ecx, 2; ja`` bounds the index to 0..2 although the next table's pointers follow directly.
    expected = {Addr(data[f"GUARD_EVT_{i}"]) for i in range(3)}
    assert _site(facts, "TableGuard", "EventWrite").arg(1) == expected


def test_switch_lowered_to_a_table(engine):
    _eng, facts, data = engine
    expected = {Addr(data[f"SWITCH_EVT_{i}"]) for i in range(4)}
    assert _site(facts, "TableSwitch", "EventWrite").arg(1) == expected


def test_descriptor_copied_then_patched(engine):
    _eng, facts, _data = engine
    (value,) = _site(facts, "McGenEventWrite", "EventWriteTransfer").arg(1)
    assert isinstance(value, StackAddr)
    assert value.origin == Param(1)  # a by-value copy of the caller's descriptor
    assert value.content is not None and value.content[3] == 0x10  # ... whose Channel is patched
    assert all(b is None for i, b in enumerate(value.content[:16]) if i != 3)
    # The REGHANDLE is the first field of the context the caller passes.
    assert _site(facts, "McGenEventWrite", "EventWriteTransfer").arg(0) == {Load(Param(0))}


def test_rep_movs_copy_then_patch(engine):
    _eng, facts, _data = engine
    (value,) = _site(facts, "RepCopyWrite", "EventWrite").arg(1)
    assert isinstance(value, StackAddr) and value.origin == Param(0)
    assert value.content is not None and value.content[4] == 2  # Level patched after the copy


def test_handle_through_a_field_of_the_object(engine):
    answer, facts, data = engine
    assert _site(facts, "StateEventB", "EventWrite").arg(0) == {Load(Load(Offset(Param(0), 0x28)))}
    # The registration helper stores its out-pointer into that field of the CallbackContext object.
    by_name = {f.name: rva for rva, f in facts.functions.items()}
    stores = [s for s in answer.stores if s.function == by_name["StateRegister"]]
    assert any(s.address == Addr(data["TraceState"] + 0x28) and Param(0) in s.values for s in stores)


def test_getprocaddress_names_the_pointer(engine):
    answer, facts, data = engine
    slot = data["pEventWrite"]
    assert facts.functions[slot].name == "EventWrite" and facts.functions[slot].imported
    init = [s for s in answer.stores if s.address == Addr(slot)]
    assert init and all(v == Import("EventWrite") for s in init for v in s.values)
    site = _site(facts, "DynWrite", "EventWrite")
    assert site.tail and site.arg(1) == {Addr(data["DYN_EVT"])}


def test_classic_header_built_on_the_stack(engine):
    _eng, facts, data = engine
    (inline,) = _site(facts, "ClassicStart", "TraceEvent").arg(1)
    assert isinstance(inline, StackAddr) and inline.content is not None
    assert inline.content[4] == 1 and inline.content[5] == 4  # Class.Type, Class.Level
    (by_ptr,) = _site(facts, "ClassicStop", "TraceEvent").arg(1)
    assert isinstance(by_ptr, StackAddr) and (24, data["ClassicClassB"]) in (by_ptr.refs or ())


def test_class_guid_copied_through_a_pointer_parameter(engine):
    """``h.Guid = *Class`` in a helper: the 16 bytes at Guid (offset 24) are the caller's, a field
    ``Load(Param 0, 16)``; Type and Level are the byte parameters 2 and 1 (the helper's own prototype)."""
    _eng, facts, _data = engine
    (header,) = _site(facts, "ClassicTraceClass", "TraceEvent").arg(1)
    assert isinstance(header, StackAddr)
    assert set(header.fields or ()) == {(4, 1, Param(2)), (5, 1, Param(1)), (24, 16, Load(Param(0), 16))}
    assert header.content is not None and header.content[:2] == (48, 0)  # Size, stored as a constant


def test_inline_rep_stos_fill_makes_the_unwritten_bytes_zero(engine):
    """``rep stosd`` (RDI = the event, EAX = 0, ECX = 28 dwords) zeroes the 112-byte event: Version (offset
    6), never stored, is known to be 0, and so are ThreadId/ProcessId; the stores after it stay."""
    _eng, facts, data = engine
    (header,) = _site(facts, "ClassicRepStos", "TraceEvent").arg(1)
    assert isinstance(header, StackAddr) and header.content is not None
    content = header.content
    assert content[6:16] == (0,) * 10  # Version, ThreadId, ProcessId: the fill's
    assert content[4] == 8 and content[5] == 2 and content[0:2] == (112, 0)  # Type, Level, Size
    assert content[24:40] == tuple(facts.memory.read(data["ClassicClassA"], 16))  # the class, copied inline


def test_class_guid_pointer_parameter_kept_as_guidptr(engine):
    """``h.GuidPtr = (UINT64)Class``: the 8-byte slot at 24 holds parameter 0, a field; substituting the
    caller's ``&ClassicClassB`` makes it an image address in the buffer's refs (what TraceEvent reads)."""
    from api_to_etw.model import Const, substitute

    _eng, facts, data = engine
    (header,) = _site(facts, "ClassicTraceClassPtr", "TraceEvent").arg(1)
    assert isinstance(header, StackAddr) and (24, 8, Param(0)) in (header.fields or ())
    passed = {0: Addr(data["ClassicClassB"]), 1: Const(5), 2: Const(4)}
    (concrete,) = substitute(header, lambda i: frozenset((passed[i],)))
    assert isinstance(concrete, StackAddr) and (24, data["ClassicClassB"]) in (concrete.refs or ())
    assert concrete.content is not None and concrete.content[4:6] == (4, 5) and not concrete.fields
