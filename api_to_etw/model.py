"""The facts every engine produces, and the symbolic values that describe call-site arguments.

Engines (native, Ghidra, frozen JSON) differ in how they find facts; the analysis only sees this module.
A value is what a register or stack slot may hold at a call: a constant, an image address, the
caller's own parameter, a load from memory, or the address of a stack slot together with the bytes
known to be stored there. Values are immutable and hashable so value *sets* can be joined and compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import product
from typing import Callable, Optional, TypeVar, Union

from .fieldclass import Frozen, Mutable, set_field

#: Largest number of alternative values tracked for one location before it becomes unknown.
MAX_VALUES = 16
#: Deepest nesting of loads/offsets kept; deeper expressions become unknown (stops loops growing them).
MAX_NESTING = 4
#: Largest field offset kept on an unknown object (``Offset(Unknown, d)``); beyond it the value is unknown.
MAX_FIELD_OFFSET = 0x1000


#: Model.py's frozen classes were dataclasses: their eleven classes' generated methods, compiled at import, were
#: about 33 M instructions of every run's start-up (a fifteenth of a small binary's whole run). They are
#: ``Frozen`` classes (fieldclass.py), each value class with its own ``__eq__`` and ``__hash__`` (hot: value
#: sets are joined and compared throughout the analysis), written as the generated ones were.
#: Their ``__eq__`` answers False for another class instead of NotImplemented: Const(i), Addr(i) and Param(i)
#: share a hash, and NotImplemented made each such set-membership collision two Python calls, not one
#: (both sides refused, then identity): the same answer, half the calls.


class Const(Frozen):
    """An integer known at analysis time."""

    value: int
    _fields = ("value",)

    def __init__(self, value: int) -> None:
        set_field(self, "value", value)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self.value == other.value
        return False

    def __hash__(self) -> int:
        return hash((self.value,))

    def __repr__(self) -> str:
        return f"Const(0x{self.value:x})"


class Addr(Frozen):
    """The address of something in the image, as an RVA (lea reg, [rip+x])."""

    rva: int
    _fields = ("rva",)

    def __init__(self, rva: int) -> None:
        set_field(self, "rva", rva)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self.rva == other.rva
        return False

    def __hash__(self) -> int:
        return hash((self.rva,))

    def __repr__(self) -> str:
        return f"Addr(0x{self.rva:x})"


class Param(Frozen):
    """The value the current function received in its ``index``-th argument."""

    index: int
    _fields = ("index",)

    def __init__(self, index: int) -> None:
        set_field(self, "index", index)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self.index == other.index
        return False

    def __hash__(self) -> int:
        return hash((self.index,))

    def __repr__(self) -> str:  # written out, as Offset's and Load's: printed in event keys (1,059 at 1x)
        return f"{self.__class__.__qualname__}(index={self.index!r})"


class Offset(Frozen):
    """``base + delta`` where base is not an address we can fold (a parameter or a load)."""

    base: Value
    delta: int
    _fields = ("base", "delta")

    def __init__(self, base: Value, delta: int) -> None:
        set_field(self, "base", base)
        set_field(self, "delta", delta)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return (self.base, self.delta) == (other.base, other.delta)
        return False

    def __hash__(self) -> int:
        return hash((self.base, self.delta))

    def __repr__(self) -> str:
        return f"{self.__class__.__qualname__}(base={self.base!r}, delta={self.delta!r})"


class Load(Frozen):
    """The ``size`` bytes read from memory at ``addr`` (not folded: writable or unknown memory)."""

    addr: Value
    size: int
    _fields = ("addr", "size")

    def __init__(self, addr: Value, size: int = 8) -> None:
        set_field(self, "addr", addr)
        set_field(self, "size", size)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return (self.addr, self.size) == (other.addr, other.size)
        return False

    def __hash__(self) -> int:
        return hash((self.addr, self.size))

    def __repr__(self) -> str:
        return f"{self.__class__.__qualname__}(addr={self.addr!r}, size={self.size!r})"


class StackAddr(Frozen):
    """The address of a slot in the current frame, relative to the stack pointer at function entry.

    ``content`` holds the bytes known to be stored from that address at the time of the call
    (``None`` for unknown bytes; 16, or up to 48 where more is known), which is how descriptors and
    classic EVENT_TRACE_HEADERs built on the stack are recovered. ``refs`` lists the image addresses
    stored in its 8-byte slots, as (offset from this address, rva): a GuidPtr, a TRACE_GUID_REGISTRATION.
    ``origin`` is where the buffer was copied from when it is a by-value copy (``d = *Descriptor``, a
    vector move or a pair of 8-byte moves): its bytes are the origin's, overlaid by the known ``content``
    (the fields patched after the copy, as mc.exe's McGenEventWrite patches Channel).
    ``frame`` is the entry RVA of the function that owns the frame once the analysis moves the value
    across a call (-1: the function being analysed), so locals of different functions never collide.
    ``fields`` lists the slots holding one of the function's parameters, as (offset, size, value): the
    event type and level a trace helper writes into an EVENT_TRACE_HEADER from its arguments. They are
    substituted like any parameter and become ``content`` bytes once the caller's value is a constant.
    An 8-byte parameter that becomes an image address moves to ``refs`` (a GuidPtr the caller passes). A
    16-byte slot copied through a pointer parameter (``h.Guid = *ClassGuid``) is a field ``Load(Param,
    16)``; once the caller passes an image address it stays a field, ``Load(Addr, 16)``: those bytes.
    ``links`` lists the slots that hold the address of another buffer of the same frame, as (offset from
    this address, that buffer's offset from this address): a structure on the stack that points at an
    array on the stack (OB_CALLBACK_REGISTRATION.OperationRegistration); ``refs`` then also holds the
    image addresses of the linked buffers, at their own offsets from this address.
    """

    offset: int
    content: Optional[tuple[Optional[int], ...]]
    frame: int
    refs: Optional[tuple[tuple[int, int], ...]]
    origin: Optional[Value]
    fields: Optional[tuple[tuple[int, int, Value], ...]]
    links: Optional[tuple[tuple[int, int], ...]]
    _fields = ("offset", "content", "frame", "refs", "origin", "fields", "links")

    def __init__(self, offset: int, content: Optional[tuple[Optional[int], ...]] = None, frame: int = -1,
                 refs: Optional[tuple[tuple[int, int], ...]] = None, origin: Optional[Value] = None,
                 fields: Optional[tuple[tuple[int, int, Value], ...]] = None,
                 links: Optional[tuple[tuple[int, int], ...]] = None) -> None:
        set_field(self, "offset", offset)
        set_field(self, "content", content)
        set_field(self, "frame", frame)
        set_field(self, "refs", refs)
        set_field(self, "origin", origin)
        set_field(self, "fields", fields)
        set_field(self, "links", links)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return ((self.offset, self.content, self.frame, self.refs, self.origin, self.fields, self.links)
                    == (other.offset, other.content, other.frame, other.refs,
                        other.origin, other.fields, other.links))
        return False

    def __hash__(self) -> int:
        return hash((self.offset, self.content, self.frame, self.refs, self.origin, self.fields, self.links))

    def __repr__(self) -> str:
        where = "" if self.frame < 0 else f"@{self.frame:#x}"
        return f"StackAddr({self.offset:#x}{where})"


class Import(Frozen):
    """The address of a function resolved by name at run time (what ``GetProcAddress(module, name)`` returns)."""

    name: str
    _fields = ("name",)

    def __init__(self, name: str) -> None:  # rare (GetProcAddress results): Frozen's own equality and hash
        set_field(self, "name", name)


class Unknown(Frozen):
    """Anything the engine could not follow."""

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return True
        return False

    def __hash__(self) -> int:
        return hash(())

    def __repr__(self) -> str:
        return "Unknown"


UNKNOWN = Unknown()

Value = Union[Const, Addr, Param, Offset, Load, StackAddr, Import, Unknown]
ValueSet = frozenset  # frozenset[Value]


def nesting(value: Value) -> int:
    if isinstance(value, Load):
        return 1 + nesting(value.addr)
    if isinstance(value, Offset):
        return 1 + nesting(value.base)
    return 0


def add_offset(value: Value, delta: int) -> Value:
    """``value + delta``, folded where the base is an address or a constant."""
    if delta == 0:
        return value
    if isinstance(value, Const):
        return Const((value.value + delta) & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, Addr):
        return Addr(value.rva + delta)
    if isinstance(value, StackAddr):
        return StackAddr(value.offset + delta, None, value.frame)
    if isinstance(value, Offset):
        return add_offset(value.base, value.delta + delta)
    if isinstance(value, Unknown):
        return UNKNOWN
    result = Offset(value, delta)
    return result if nesting(result) <= MAX_NESTING else UNKNOWN


def make_load(addr: Value, size: int = 8) -> Value:
    if isinstance(addr, Unknown):
        return UNKNOWN
    result = Load(addr, size)
    return result if nesting(result) <= MAX_NESTING else UNKNOWN


def cap(values: Iterable[Value]) -> ValueSet:
    """A value set, collapsed to ``{UNKNOWN}`` when it grows past MAX_VALUES."""
    result = frozenset(values)
    if len(result) > MAX_VALUES:
        return frozenset((UNKNOWN,))
    return result


def masked_values(mask: int) -> list[Value]:
    """The values ``x & mask`` can take for an unknown ``x``, when there are few (a mask of up to 4 bits).

    Both engines bound a table index this way (``and ecx, 3`` before ``[table + rcx*8]``), so they must
    agree on the rule; a wider mask is unknown.
    """
    bits = [1 << b for b in range(mask.bit_length()) if mask >> b & 1]
    if len(bits) > 4:
        return [UNKNOWN]
    return [Const(sum(bit for i, bit in enumerate(bits) if choice >> i & 1)) for choice in range(1 << len(bits))]


def pointer_table(memory: Memory, start: int, image_base: int, image_size: int, read_only: Callable[[int], bool],
                  limit: int) -> list[int]:
    """RVAs of the slots of the run of image pointers into read-only memory a table at ``start`` begins with
    (at most ``limit``): what ``[table + index*8]`` can select when nothing bounds the index (a switch lowered
    to a table of descriptor pointers). Both engines read tables this way."""
    slots = []
    for k in range(limit):
        raw = memory.read(start + 8 * k, 8)
        pointer = int.from_bytes(raw, "little") - image_base if len(raw) == 8 else -1
        if not 0 <= pointer < image_size or not read_only(pointer):
            break
        slots.append(start + 8 * k)
    return slots


#: Functions that fill a buffer with one byte, by the argument slots of their documented prototypes: name ->
#: (slot of the fill byte, None where it is zero; slot of the byte count); the destination is slot 0.
FILL_ARGUMENTS: dict[str, tuple[Optional[int], int]] = {
    "memset": (1, 2), "RtlFillMemory": (2, 1), "RtlZeroMemory": (None, 1), "RtlSecureZeroMemory": (None, 1),
}
#: Bytes of a filled frame buffer whose values are kept (the headers and descriptors read from it are short).
FILL_BYTES = 0x200
#: Longest frame block a copy or fill is followed over (a larger count is not a structure of the frame).
MAX_BLOCK = 0x1000
#: Bytes of a stack buffer known at a call (``StackAddr.content``): an EVENT_DESCRIPTOR needs 16, a classic
#: EVENT_TRACE_HEADER 48; the parameter slots (``StackAddr.fields``) lie within them.
HEADER_BYTES = 48


def fill_pattern(fill: Value, count: Value, unit: int = 1) -> Optional[bytes]:
    """The bytes a fill of ``count`` units of ``unit`` bytes writes into the frame (the first FILL_BYTES of
    them), or None when the fill value or the count is not a known constant. memset and RtlFillMemory take
    the byte from the low 8 bits of an int; ``rep stos`` repeats AL/AX/EAX/RAX. Both engines fill this way."""
    if not (isinstance(fill, Const) and isinstance(count, Const) and 0 < count.value <= MAX_BLOCK):
        return None
    size = count.value * unit
    raw = (fill.value & ((1 << (8 * unit)) - 1)).to_bytes(unit, "little")
    return raw * (min(size, FILL_BYTES) // unit)


def parameter_field(pos: int, size: int, values: ValueSet) -> Optional[tuple[int, int, Value]]:
    """A ``StackAddr.fields`` entry: the slot ``pos`` bytes into a stack buffer, ``size`` bytes wide, holds one
    of the function's parameters (a trace helper writing its event type and level into an EVENT_TRACE_HEADER
    from its arguments; 8 bytes: a GuidPtr), or 16 bytes loaded through a parameter (the class GUID the
    caller passes by reference); None for any other slot. Both engines keep the slots this rule names."""
    if not 0 <= pos or pos + size > HEADER_BYTES or len(values) != 1:
        return None
    (only,) = values
    if size in (1, 2, 4, 8):
        return (pos, size, only) if isinstance(only, Param) else None  # 8 bytes: a pointer (a GuidPtr)
    if size == 16 and pos > 0 and isinstance(only, Load) and only.size == 16 and isinstance(only.addr, Param):
        return (pos, size, only)  # 16 bytes copied from what the caller points at (a class GUID by reference)
    return None


def params_of(value: Value) -> set[int]:
    """Indices of the parameters an expression depends on."""
    if isinstance(value, Param):
        return {value.index}
    if isinstance(value, StackAddr):
        found = params_of(value.origin) if value.origin is not None else set()
        for _pos, _size, v in value.fields or ():
            found |= params_of(v)
        return found
    if isinstance(value, Load):
        return params_of(value.addr)
    if isinstance(value, Offset):
        return params_of(value.base)
    return set()


def substitute(value: Value, args: Callable[[int], ValueSet]) -> ValueSet:
    """Replace the current function's parameters by what a caller passes (``args(i)``)."""
    if isinstance(value, Param):
        return args(value.index)
    if isinstance(value, Load):
        return cap(make_load(v, value.size) for v in substitute(value.addr, args))
    if isinstance(value, Offset):
        return cap(field_of(v, value.delta) for v in substitute(value.base, args))
    if isinstance(value, StackAddr) and value.fields:
        value = _substitute_fields(value, args)
    if isinstance(value, StackAddr) and value.origin is not None and params_of(value.origin):
        return cap(StackAddr(value.offset, value.content, value.frame, value.refs, origin, value.fields, value.links)
                   for origin in substitute(value.origin, args))
    return frozenset((value,))


def _substitute_fields(value: StackAddr, args: Callable[[int], ValueSet]) -> StackAddr:
    """The buffer with its parameter slots replaced by what the caller passes: a single constant
    becomes content bytes, anything else stays a field (several alternatives: the slot is unknown)."""
    content = list(value.content or ())
    kept = []
    refs = dict(value.refs or ())
    for pos, size, field_value in value.fields or ():
        values = substitute(field_value, args)
        if len(values) != 1:
            continue
        (only,) = values
        if isinstance(only, Addr) and size == 8:
            refs[pos] = only.rva  # an image address the caller passes, stored in the buffer (a GuidPtr)
        elif isinstance(only, Const):
            if len(content) < pos + size:
                content += [None] * (pos + size - len(content))
            raw = (only.value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
            content[pos : pos + size] = list(raw)
        elif params_of(only) or (isinstance(only, Load) and isinstance(only.addr, Addr)):
            kept.append((pos, size, only))  # still the caller's parameter, or the bytes at an image address
    return StackAddr(value.offset, tuple(content) if content else None, value.frame,
                     tuple(sorted(refs.items())) or None, value.origin, tuple(kept) or None, value.links)


def field_of(base: Value, delta: int) -> Value:
    """``base + delta`` as an object field: an unknown object keeps the offset (``Offset(Unknown, d)``).

    A REGHANDLE read through ``[[obj+0x58]]`` whose ``obj`` nobody can name still says which field of
    which kind of object holds it; that is what ties it to the registration that stored it there.
    """
    if isinstance(base, Unknown) and 0 < delta <= MAX_FIELD_OFFSET:
        return Offset(UNKNOWN, delta)
    return add_offset(base, delta)


def forget_params(value: Value) -> Value:
    """The expression with every parameter replaced by Unknown, keeping field offsets and loads."""
    if isinstance(value, Param):
        return UNKNOWN
    if isinstance(value, Load):
        return make_load(forget_params(value.addr), value.size)
    if isinstance(value, Offset):
        return field_of(forget_params(value.base), value.delta)
    if isinstance(value, StackAddr) and (value.fields or (value.origin is not None and params_of(value.origin))):
        origin = None if value.origin is None or params_of(value.origin) else value.origin
        return StackAddr(value.offset, value.content, value.frame, value.refs, origin, None, value.links)
    return value


def substitute_all(values: Iterable[Value], args: Callable[[int], ValueSet]) -> ValueSet:
    if isinstance(values, frozenset) and len(values) == 1:  # the common case: one value, no union to build
        (only,) = values
        return cap(substitute(only, args))
    out: set[Value] = set()
    for value in values:
        out |= substitute(value, args)
    return cap(out)


def map_inner(value: Value, rewrite: Callable[[Value], Value],
              offset: Callable[[Value, int], Value] = Offset) -> Value:
    """Rewrite the address of a Load or the base of an Offset, keeping ``value`` itself when nothing changed.

    The one walk every rewriter of nested expressions shares (``in_frame``, pointer folding), so they
    agree on which parts of an expression are addresses. ``offset`` rebuilds an Offset (``add_offset``
    to fold a base that became an address).
    """
    if isinstance(value, Load):
        inner = rewrite(value.addr)
        return value if inner is value.addr else Load(inner, value.size)
    if isinstance(value, Offset):
        inner = rewrite(value.base)
        return value if inner is value.base else offset(inner, value.delta)
    return value


def in_frame(value: Value, frame: int) -> Value:
    """Tag the stack addresses of an expression with the function that owns them."""
    if isinstance(value, StackAddr) and value.frame < 0:
        return StackAddr(value.offset, value.content, frame, value.refs, value.origin, value.fields, value.links)
    return map_inner(value, lambda inner: in_frame(inner, frame))


def in_frame_all(values: ValueSet, frame: int) -> ValueSet:
    """``in_frame`` of every value of a set: the set itself when no value changes (constants, image
    addresses, parameters and loads of them, most of what callers pass, hold no stack address), so the common case
    builds no new set and hashes no value again."""
    for value in values:
        kind = type(value)
        if kind is not Const and kind is not Addr and kind is not Param and in_frame(value, frame) is not value:
            return frozenset([in_frame(v, frame) for v in values])
    return values


def combinations(value_sets: Mapping[str, ValueSet]) -> list[dict[str, Value]]:
    """Every choice of one value per named argument (the sets are small: MAX_VALUES each)."""
    single: dict[str, Value] = {}
    for name, values in value_sets.items():
        if len(values) != 1:
            break
        (single[name],) = values
    else:  # the common case: one value each, nothing to order
        return [single]
    names = list(value_sets)
    return [dict(zip(names, combo)) for combo in product(*(sorted(value_sets[n], key=repr) for n in names))]


# --------------------------------------------------------------------------------------------- facts


#: Functions and call sites number in the tens and hundreds of thousands in a large binary: slotted, smaller and
#: made without an instance dict. Native discovery makes them by ``object.__new__`` and sets every field itself
#: (no ``__init__`` call each): a field added to either is set there too (a test of tests/engine compares its
#: objects with the constructors'). Both were dataclasses: ``Mutable`` classes with the generated ``__eq__``
#: written out (equal as the fields' tuples, unhashable), so no module of the analyze path makes a dataclass
#: and a run does not import ``dataclasses`` (with ``inspect``, ``ast`` and ``dis``).


class Function(Mutable):
    """One function: its entry RVA, extent and best name."""

    __slots__ = ("rva", "size", "name", "exported", "imported", "fragments")
    rva: int
    size: int
    name: str
    exported: bool
    #: True for an import (an IAT slot standing in for a function in another module).
    imported: bool
    #: Extra code ranges (RVA, size) that belong to this function: chained-unwind fragments.
    fragments: list[tuple[int, int]]
    _fields = ("rva", "size", "name", "exported", "imported", "fragments")

    def __init__(self, rva: int, size: int, name: str, exported: bool = False, imported: bool = False,
                 fragments: Optional[list[tuple[int, int]]] = None) -> None:
        self.rva = rva
        self.size = size
        self.name = name
        self.exported = exported
        self.imported = imported
        self.fragments = [] if fragments is None else fragments

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return ((self.rva, self.size, self.name, self.exported, self.imported, self.fragments)
                    == (other.rva, other.size, other.name, other.exported, other.imported, other.fragments))
        return NotImplemented


class CallSite(Mutable):
    """A direct call (or tail jump) from one function to another.

    In ``Facts`` its ``args`` is None: argument values come from ``Engine.resolve`` as a ``Resolution``
    and the analysis reads them through the resolver it owns. An engine's value analysis fills ``args``
    on its own working copies of the sites (``working_copy``), never on the sites of facts it returned.
    """

    __slots__ = ("caller", "rva", "callee", "tail", "args")
    caller: int
    rva: int
    callee: int
    tail: bool
    #: Argument value sets by position (rcx, rdx, r8, r9, then stack arguments); None if not resolved.
    args: Optional[tuple[ValueSet, ...]]
    _fields = ("caller", "rva", "callee", "tail", "args")

    def __init__(self, caller: int, rva: int, callee: int, tail: bool = False,
                 args: Optional[tuple[ValueSet, ...]] = None) -> None:
        self.caller = caller
        self.rva = rva
        self.callee = callee
        self.tail = tail
        self.args = args

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return ((self.caller, self.rva, self.callee, self.tail, self.args)
                    == (other.caller, other.rva, other.callee, other.tail, other.args))
        return NotImplemented

    def working_copy(self) -> CallSite:
        """The same site without values, for a value analysis to fill."""
        return CallSite(self.caller, self.rva, self.callee, self.tail)

    def arg(self, index: int) -> ValueSet:
        if self.args is None or index >= len(self.args):
            return frozenset((UNKNOWN,))
        return self.args[index]


class Symbol(Mutable):
    rva: int
    name: str
    is_function: bool
    _fields = ("rva", "name", "is_function")

    def __init__(self, rva: int, name: str, is_function: bool = False) -> None:
        self.rva = rva
        self.name = name
        self.is_function = is_function


class Memory:
    """Read access to the mapped image by RVA: what the ETW decoders need (descriptors, GUIDs, blobs).

    Implementations also provide an ``image_base`` attribute (pointers in data are absolute VAs).
    """

    def read(self, rva: int, size: int) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def is_writable(self, rva: int) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def file_bytes(self, rva: int, size: int) -> bytes:
        """Like ``read``, but only the bytes the file backs (no zero fill past a section's raw data): what
        whole-section metadata scans read, so a lying VirtualSize costs neither memory nor time."""
        return self.read(rva, size)

    def file_view(self, rva: int, size: int) -> memoryview:
        """``file_bytes`` in place where the image is mapped (no copy of a section): what scans of whole
        data sections read, so a 55 MB .rdata costs its mapped pages, not a second copy on the heap."""
        return memoryview(self.file_bytes(rva, size))

    def release(self) -> None:
        """Give back the pages a whole-section pass touched (a mapped image drops them; others hold none)."""


class Store(Frozen):
    """A store to memory outside the frame: ``mov [address], value`` at ``rva`` inside ``function``.

    Recorded for the functions the analysis resolved; it is how a REGHANDLE pointer kept in a global,
    a global pointer assigned once, or a function pointer filled by GetProcAddress is followed.
    """

    function: int
    rva: int
    address: Value
    values: ValueSet
    _fields = ("function", "rva", "address", "values")

    def __init__(self, function: int, rva: int, address: Value, values: ValueSet) -> None:
        set_field(self, "function", function)
        set_field(self, "rva", rva)
        set_field(self, "address", address)
        set_field(self, "values", values)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return ((self.function, self.rva, self.address, self.values)
                    == (other.function, other.rva, other.address, other.values))
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.function, self.rva, self.address, self.values))


class Reference(Frozen):
    """Code that takes the address of data: ``lea reg, [rip+target]`` at ``rva`` inside ``function``."""

    rva: int
    function: int
    target: int
    _fields = ("rva", "function", "target")

    def __init__(self, rva: int, function: int, target: int) -> None:
        set_field(self, "rva", rva)
        set_field(self, "function", function)
        set_field(self, "target", target)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return ((self.rva, self.function, self.target)
                    == (other.rva, other.function, other.target))
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.rva, self.function, self.target))


class ResourceEntry(Frozen):
    """One leaf of the PE resource tree: type and name (an integer id or a string), language, data.

    The analysis reads the data through ``Facts.memory`` (so frozen facts replay it): ``rva``/``size``
    locate it, ``codepage`` decodes ANSI strings in it.
    """

    type: Union[int, str]
    name: Union[int, str]
    language: int
    rva: int
    size: int
    codepage: int
    _fields = ("type", "name", "language", "rva", "size", "codepage")
    # Equality and hash are Frozen's over ``_fields``: a binary has tens of resources, no hot path to write out.

    def __init__(self, type: Union[int, str], name: Union[int, str], language: int, rva: int, size: int,
                 codepage: int = 0) -> None:
        set_field(self, "type", type)
        set_field(self, "name", name)
        set_field(self, "language", language)
        set_field(self, "rva", rva)
        set_field(self, "size", size)
        set_field(self, "codepage", codepage)


#: The selector values under which a call site runs: case constants, ``None`` for the default case.
CaseSet = frozenset  # frozenset[Optional[int]]


class Facts(Mutable):
    """Everything the analysis needs from a binary, independent of how it was obtained. (A dataclass once:
    ``_replace`` copies it with some fields changed, as ``dataclasses.replace`` did.)"""

    binary_name: str
    image_base: int
    functions: dict[int, Function]
    calls: list[CallSite]
    symbols: dict[int, str]
    memory: Memory
    has_pdb: bool
    machine: str
    #: (rva, size, writable, executable) of each section: where to look for metadata, what may change.
    sections: list[tuple[int, int, bool, bool]]
    #: The PE resource tree's leaves (WEVT_TEMPLATE, RT_MESSAGETABLE, ...): the binary's own manifest.
    resources: list[ResourceEntry]
    #: RVA of the PE entry point (DriverEntry, DllMain, the CRT start), None when the image has none.
    entry_point: Optional[int]
    #: (parent, funclet) -> what the funclet is to its parent (``filter``, ``finally``, ``catch``, ``unwind``):
    #: exception-handler code only the parent's exception tables reach. Each is also in ``calls``, as a site
    #: parent -> funclet whose RVA is the funclet's entry (no arguments), so the parent's callers reach it.
    funclets: dict[tuple[int, int], str]
    _fields = ("binary_name", "image_base", "functions", "calls", "symbols", "memory", "has_pdb", "machine",
               "sections", "resources", "entry_point", "funclets")

    def __init__(self, binary_name: str, image_base: int, functions: dict[int, Function], calls: list[CallSite],
                 symbols: dict[int, str], memory: Memory, has_pdb: bool = False, machine: str = "x64",
                 sections: Optional[list[tuple[int, int, bool, bool]]] = None,
                 resources: Optional[list[ResourceEntry]] = None, entry_point: Optional[int] = None,
                 funclets: Optional[dict[tuple[int, int], str]] = None) -> None:
        self.binary_name = binary_name
        self.image_base = image_base
        self.functions = functions
        self.calls = calls
        self.symbols = symbols
        self.memory = memory
        self.has_pdb = has_pdb
        self.machine = machine
        self.sections = [] if sections is None else sections
        self.resources = [] if resources is None else resources
        self.entry_point = entry_point
        self.funclets = {} if funclets is None else funclets

    def name_of(self, rva: int) -> str:
        func = self.functions.get(rva)
        if func is not None:
            return func.name
        return self.symbols.get(rva) or f"sub_{rva:x}"


#: The largest function taken as an import thunk (``jmp qword ptr [rip+disp32]`` is 6 bytes, 7 with REX).
THUNK_SIZE = 8
_T = TypeVar("_T")


def import_thunks(facts: Facts, apis: Mapping[int, _T]) -> dict[int, _T]:
    """Functions that are only ``jmp [__imp_API]`` -> what ``apis`` says of that API (here, beside the facts,
    because the engine names memset/memcpy thunks by the same rule the analysis uses for ETW APIs)."""
    found: dict[int, _T] = {}
    for site in facts.calls:
        if site.tail and site.rva == site.caller and site.callee in apis:  # the cheap tests first: 1 site in 10^4
            func = facts.functions.get(site.caller)
            if func is not None and not func.imported and func.size <= THUNK_SIZE:
                found[site.caller] = apis[site.callee]
    return found


#: Argument value sets of one call site, by position (rcx, rdx, r8, r9, then stack arguments).
Arguments = tuple[ValueSet, ...]


class Resolution(Mutable):
    """What ``Engine.resolve`` found for some functions: a new answer, never a change to the facts.

    ``args`` maps (caller, call-site RVA) to the argument value sets of every call site the engine could
    resolve in those functions (absent: unresolved); ``stores`` are their stores outside the frame.
    """

    args: dict[tuple[int, int], Arguments]
    stores: list[Store]
    _fields = ("args", "stores")

    def __init__(self, args: Optional[dict[tuple[int, int], Arguments]] = None,
                 stores: Optional[list[Store]] = None) -> None:
        self.args = {} if args is None else args
        self.stores = [] if stores is None else stores

    def merge(self, other: Resolution) -> None:
        self.args.update(other.args)
        self.stores.extend(other.stores)
