"""The classes made with fieldclass.py (and model.py's values) behave as the dataclasses they were.

Each is compared with a dataclass declared here from its ``_fields``, frozen or not as it is, holding the same
values: the same ``repr``, equality (with each other sample and with a foreign object), hash (the hash of the
fields' tuple: sets iterate as before), instance dictionary, pickle round trip, and for a frozen class the same
``FrozenInstanceError`` on assigning or deleting a field or any other name.
"""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import uuid

import pytest

from api_to_etw import model as m
from api_to_etw.analysis.events import Provider
from api_to_etw.analysis.pipeline import AnalysisStats
from api_to_etw.analysis.records import KIND_MANIFEST, EventInfo, EventNames, Row
from api_to_etw.binary.pdb import PdbSection, PdbSymbols
from api_to_etw.binary.pe import CodeViewInfo, PEImage, Section
from api_to_etw.binary.symsrv.limits import TransferLimits
from api_to_etw.binary.symsrv.path import SymbolPathElement
from api_to_etw.engine.native.ehtables import LanguageHandler, ScopeRecord
from api_to_etw.engine.native.functions import FunctionMap
from api_to_etw.etw.apis import ApiRole, EtwApi
from api_to_etw.etw.descriptor import EventDescriptor
from api_to_etw.etw.tracelogging import TlgEvent, TlgField, TlgProvider
from api_to_etw.etw.wppcalls import TraceFunction
from api_to_etw.fieldclass import Frozen

_FIELD = TlgField("f", 1, None, 0, None, False, None)
_EVENT = EventInfo(KIND_MANIFEST, "EtwWrite", id=5)
_FUNCTION = m.Function(0x1000, 0x20, "f")
_SITE = m.CallSite(0x1000, 0x1010, 0x2000)
_SECTION = Section(".text", 0x1000, 0x800, 0x400, 0x600, 0x60000020)
SAMPLES = [
    [m.Const(5), m.Const(5), m.Const(0)], [m.Addr(0x10), m.Addr(0x11)], [m.Param(2), m.Param(3)],
    [m.Offset(m.Param(1), 8), m.Offset(m.Param(1), 8), m.Offset(m.UNKNOWN, 8)], [m.Load(m.Addr(4)), m.Load(m.Addr(4), 4)],
    [m.StackAddr(8), m.StackAddr(-0x28, (1, None, 3), 0x1000, ((0, 0x5000),), m.Load(m.Param(0), 16), ((8, 4, m.Param(2)),),
                                ((0, 16),)), m.StackAddr(offset=16, frame=3)],
    [m.Import("ntdll!EtwEventWrite"), m.Import("x")], [m.UNKNOWN],
    [m.Store(1, 2, m.Addr(3), frozenset({m.Const(1), m.UNKNOWN})), m.Store(1, 2, m.Addr(3), frozenset())],
    [m.Reference(1, 2, 3), m.Reference(1, 2, 4)],
    [m.ResourceEntry("WEVT_TEMPLATE", 1, 0x409, 0x100, 20), m.ResourceEntry(11, "n", 0, 1, 2, 1252)],
    [EtwApi("EtwWrite", ApiRole.WRITE, handle=0, descriptor=1), EtwApi("X", ApiRole.WPP, message_guid=2, message_number=3)],
    [TraceFunction("WppTrace", 1, 2), TraceFunction("WppTrace", 1, 2, "note")],
    [EventDescriptor(1, 0, 16, 4, 0, 7, 0x8000), EventDescriptor(None, None, None, 4, None, None, None)],
    [_FIELD, TlgField("g", 2, 3, 4, 5, True, 6, 7, b"x")],
    [TlgProvider(1, "guid", "name", None, 2), TlgProvider(1, "guid", "name", "group", 4)],
    [TlgEvent(1, 2, 3, 4, 5, 6, "e", [_FIELD], 3), TlgEvent(1, 2, 3, 4, 5, 6, "e", [], 3)],
    [Provider("{g}", "sym", 5), Provider("{g}", "", 0)],
    [CodeViewInfo("k.pdb", uuid.UUID(int=5), 3), CodeViewInfo("k.pdb", uuid.UUID(int=5), 4)],
    [SymbolPathElement("store", "/sym", None, "srv*/sym"), SymbolPathElement("folder", "/x")],
    [TransferLimits(), TransferLimits(1.0, 2, 3, 4.0, 5.0)],
    [LanguageHandler(1, 2, 3), LanguageHandler(1, 2, 4)], [ScopeRecord(1, 2, 3, 4), ScopeRecord(1, 2, 3, 5)],
    [_SECTION, Section(".data", 0x2000, 0x100, 0xA00, 0, 0xC0000040)],
    [PEImage("k.exe", b"MZ", 0x140000000, 0x3000, [_SECTION]), PEImage("k.exe", b"MZ", 0x140000000, 0x3000, [_SECTION],
                                                                         timestamp=5)],
    [EventNames(), EventNames("P", "E", "T", "O", ("k",), ("f",), "m")],
    [Row(_EVENT, "NtX", "IopX", ["NtX", "IopX"], 1, 0x10), Row(_EVENT, "NtX", "IopX", ["NtX"], 1, 0x10, EventNames(), "s",
                                                                "syscall", "default")],
    [m.Symbol(1, "a"), m.Symbol(1, "a", True)],
    [m.Resolution(), m.Resolution({(1, 2): (frozenset({m.UNKNOWN}),)}, [m.Store(1, 2, m.Addr(3), frozenset())])],
    [_EVENT, EventInfo(KIND_MANIFEST, "EtwWrite", id=5, fields=("a",), message="m"),
     EventInfo("wpp", "WppTrace", "{g}", "s", "p", "h", "d", 1, 2, 3, 4, 5, 6, 7, 8, 9, False, ("f",), True, "m", "L",
               (1, 2), (3,)), EventInfo(KIND_MANIFEST, "EtwWrite", id=5, event_key=(1,))],
    [_FUNCTION, m.Function(0x1000, 0x20, "f", True, False, [(0x3000, 8)]), m.Function(0x1000, 0x20, "g")],
    [_SITE, m.CallSite(0x1000, 0x1010, 0x2000, True), m.CallSite(0x1000, 0x1010, 0x2000, False, (frozenset({m.UNKNOWN}),))],
    [m.Facts("k.sys", 0x140000000, {0x1000: _FUNCTION}, [_SITE], {0x1000: "f"}, None),  # type: ignore[arg-type]
     m.Facts("k.sys", 0x140000000, {}, [], {}, None, True, "x86", [(0x1000, 0x100, False, True)],  # type: ignore[arg-type]
             [m.ResourceEntry(11, 1, 0, 1, 2)], 0x1000, {(0x1000, 0x2000): "finally"})],
    [AnalysisStats(), AnalysisStats(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, ["truncated: x"], ["g"])],
    [PdbSection(".text", 0x1000, 0x200), PdbSection(".data", 0x1000, 0x200)],
    [PdbSymbols("k.pdb", uuid.UUID(int=5), 3, 3), PdbSymbols("k.pdb", uuid.UUID(int=5), 3, 4, {1: "f"}, {2: "d"}, 7)],
    [FunctionMap({0x1000: _FUNCTION}, [_SITE]), FunctionMap({}, [], [(0x1000, 0x1020, 0x1000)], [0x1000], {0x1000: (0, 1)},
                                                          [_SITE])],
]

#: Fields a dataclass printed but did not compare (``field(compare=False)``), by class.
_UNCOMPARED = {EventInfo: ("fields", "tracelogging_provider", "message", "wpp_level")}

SAMPLES_BY_CLASS = {type(objects[0]): objects for objects in SAMPLES}

_DECLARED: dict[type, type] = {}


def _as_dataclass(obj: object) -> object:
    """The dataclass the object's class was (one per class), holding the object's field values."""
    cls = type(obj)
    declared = _DECLARED.get(cls)
    if declared is None:
        uncompared = _UNCOMPARED.get(cls, ())
        declared = _DECLARED[cls] = dataclasses.make_dataclass(
            cls.__name__, [(name, object, dataclasses.field(compare=name not in uncompared))
                           for name in cls._fields],  # type: ignore[attr-defined]
            frozen=isinstance(obj, Frozen), **({} if hasattr(obj, "__dict__") else {"slots": True}))
        declared.__qualname__ = cls.__qualname__
    made = declared(*(getattr(obj, name) for name in cls._fields))  # type: ignore[attr-defined]
    extra = {k: v for k, v in _state(obj).items() if k not in cls._fields}  # type: ignore[attr-defined]
    if extra:  # fields a __post_init__ set, outside equality and repr (Section's bounds, PEImage's lookup)
        vars(made).update(extra)
    return made


def _state(obj: object) -> dict[str, object]:
    """The instance dictionary, or a slotted object's fields as one."""
    if hasattr(obj, "__dict__"):
        return vars(obj)
    return {name: getattr(obj, name) for name in type(obj).__slots__}  # type: ignore[attr-defined]


def _failure(action, *args) -> object:
    try:
        action(*args)
    except Exception as exc:  # noqa: BLE001 - the exception itself is what is compared
        return type(exc).__name__, str(exc)
    return None


@pytest.mark.parametrize("objects", SAMPLES, ids=lambda objects: type(objects[0]).__name__)
def test_objects_behave_as_the_dataclass_they_were(objects):
    references = [_as_dataclass(obj) for obj in objects]
    for obj, ref in zip(objects, references):
        assert repr(obj) == repr(ref) or type(obj) in (m.Const, m.Addr, m.StackAddr, type(m.UNKNOWN))  # own repr
        assert list(_state(obj)) == list(_state(ref))
        assert (type(obj).__hash__ is None) == (type(ref).__hash__ is None)
        if type(obj).__hash__ is not None:
            assert hash(obj) == hash(ref)
        for other, other_ref in zip(objects, references):
            assert (obj == other) == (ref == other_ref) and (obj != other) == (ref != other_ref)
        assert (obj == "x") is False and (obj != "x") is True
        copy = pickle.loads(pickle.dumps(obj))
        assert copy == obj and _state(copy).keys() == _state(obj).keys()
        if isinstance(obj, Frozen):
            for name in [*_state(obj), "other"]:
                assert _failure(setattr, obj, name, 1) == _failure(setattr, ref, name, 1)
                assert _failure(delattr, obj, name) == _failure(delattr, ref, name)
                assert _failure(setattr, obj, name, 1) is not None


def test_the_value_reprs_are_the_ones_the_classes_write():
    assert [repr(v) for v in (m.Const(5), m.Addr(16), m.StackAddr(8, frame=3), m.StackAddr(-8), m.UNKNOWN, m.Param(2))] == [
        "Const(0x5)", "Addr(0x10)", "StackAddr(0x8@0x3)", "StackAddr(-0x8)", "Unknown", "Param(index=2)"]
    assert repr(m.Load(m.Const(1))) == "Load(addr=Const(0x1), size=8)"


def test_replace_is_what_dataclasses_replace_did():
    """``_replace`` (the method that stands for ``dataclasses.replace``): a new object, the other fields kept."""
    facts = SAMPLES_BY_CLASS[m.Facts][1]
    copy = facts._replace(calls=[_SITE], has_pdb=False)
    assert copy is not facts and copy.calls == [_SITE] and copy.has_pdb is False
    assert {k: v for k, v in vars(copy).items() if k not in ("calls", "has_pdb")} == {
        k: v for k, v in vars(facts).items() if k not in ("calls", "has_pdb")}
    assert _SITE._replace(args=()).args == () and _SITE.args is None
    with pytest.raises(TypeError):
        _SITE._replace(nothing=1)


def test_stack_address_copies_keep_every_other_field():
    """What dataclasses.replace did: in_frame and substitute copy a buffer with one field changed."""
    buffer = m.StackAddr(-0x28, (1, None), -1, ((0, 0x5000),), m.Load(m.Param(0), 16), ((8, 4, m.Param(2)),), ((0, 16),))
    framed = m.in_frame(buffer, 0x1000)
    assert vars(framed) == {**vars(buffer), "frame": 0x1000}
    (filled,) = m.substitute(buffer, lambda index: frozenset({m.Const(0x0102)}) if index == 2 else frozenset({m.Addr(0x40)}))
    assert filled.fields is None and filled.content == (1, None, None, None, None, None, None, None, 2, 1, 0, 0)
    assert filled.origin == m.Load(m.Addr(0x40), 16) and filled.links == buffer.links and filled.frame == -1


@pytest.mark.parametrize("cls", sorted({type(objects[0]) for objects in SAMPLES}, key=lambda cls: cls.__name__),
                         ids=lambda cls: cls.__name__)
def test_each_class_declares_its_fields_once_in_order(cls):
    """A class's fields are written three times (annotations, ``_fields``, ``__init__``): they must agree, so that
    a field added to one place and not the others fails here, not in a row. Attributes a class derives from its
    fields (a section's end, an image's lookup) are annotated after them and stay out of ``_fields``."""
    fields = list(cls._fields)
    annotated = [name for name in cls.__dict__.get("__annotations__", {}) if name != "_fields"]
    assert annotated[:len(fields)] == fields
    parameters = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):  # a singleton made once (model.UNKNOWN)
        return
    assert [p.name for p in parameters][:len(fields)] == fields
