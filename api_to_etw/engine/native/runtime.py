"""APIs a binary resolves at run time: ``GetProcAddress(module, "Name")`` results kept and called later.

The pointer may be kept in a global or in a field of an object (a table of APIs filled by a constructor),
possibly encoded first (``EncodePointer``, or a small function returning ``p ^ secret``, the same
function decoding it again), and called through a register, the field itself or the CFG dispatch thunk
(``call [__guard_dispatch_icall_fptr]`` with the target in RAX), or through a register after the CFG check
(``mov rcx, target; call [__guard_check_icall_fptr]; call rcx``: the check keeps every argument register). Every such call becomes a call site of
the API the string names, so the analysis sees it as it sees a call through the import table.

A field is a name only where the binary gives it one meaning: the offset receives pointers to a single
API, and the call decodes the loaded pointer first (nothing but a protected function pointer is decoded
before a call; a plain ``this->pfn`` at the same offset of another class would be a guess).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Optional

from iced_x86 import Decoder, FlowControl, Instruction, Mnemonic, OpKind, Register, RegisterExt

from ...binary.pe import PEImage
from ...model import Addr, CallSite, Facts, Function, Import, Load, Offset, StackAddr, Value, ValueSet
from .dataflow import FunctionDataflow
from .functions import FunctionMap, SitesByFunction, calls_through_slots, scan_rip_references

log = logging.getLogger(__name__)

#: Imports that return the address of a function named by a string argument (index of that argument).
RESOLVERS = {"GetProcAddress": 1}
#: Imports that return their argument encoded or decoded (the documented pointer-encoding APIs).
CODEC_IMPORTS = frozenset({
    "EncodePointer", "DecodePointer", "EncodeSystemPointer", "DecodeSystemPointer",
    "RtlEncodePointer", "RtlDecodePointer", "RtlEncodeSystemPointer", "RtlDecodeSystemPointer",
})
#: Longest API name read from a GetProcAddress string argument.
MAX_PROC_NAME = 128
#: Longest body (instructions up to the ``ret``) of a function recognised as a pointer codec.
MAX_CODEC_INSTRUCTIONS = 12
#: ``jmp rax``: what the CFG dispatch slot points to in the image (``_guard_dispatch_icall_nop``).
_JMP_RAX = b"\xff\xe0"
#: ``ret``: what the CFG check slot points to in the image (``_guard_check_icall_nop``).
_RET = b"\xc3"
_RCX = Register.RCX
_RAX = Register.RAX
_full = RegisterExt.full_register


class RuntimeImports:
    """What the run-time resolution found: RAX after each resolver call, the codecs and dispatch slots.
    (A plain class: never compared, it needs none of a dataclass's generated methods, compiled at import.)"""

    __slots__ = ("call_results", "codecs", "dispatch", "check", "slots", "fields", "resolved_calls")

    def __init__(self) -> None:
        self.call_results: dict[int, ValueSet] = {}
        self.codecs: set[int] = set()
        self.dispatch: set[int] = set()
        #: Pointer slots whose callee only returns (the CFG ``__guard_check_icall_fptr``): calls through them
        #: change no argument register.
        self.check: set[int] = set()
        #: Global slot RVA -> API name (``g_pfn = GetProcAddress(...)``).
        self.slots: dict[int, str] = {}
        #: Field offset -> API names stored there (in objects the code cannot name statically).
        self.fields: dict[int, set[str]] = {}
        #: Indirect call RVA -> API name, for the calls resolved through their target values.
        self.resolved_calls: dict[int, str] = {}


def c_string(image: PEImage, rva: int) -> Optional[str]:
    """The printable ASCII string at ``rva`` (an API name), None if there is none."""
    raw = image.read(rva, MAX_PROC_NAME)
    end = raw.find(b"\0")
    if end <= 0:
        return None
    text = raw[:end]
    if not all(0x21 <= b < 0x7F for b in text):
        return None
    return text.decode("ascii")


def is_pointer_codec(image: PEImage, rva: int) -> bool:
    """True for a function whose straight-line body returns its first argument combined with constants
    and values loaded from globals, by xor/add/sub/rotate only (``xor rcx, [secret]; mov rax, rcx; ret``,
    the CRT's ``ror(p ^ cookie, cookie & 63)``): it encodes or decodes a pointer, which keeps its identity."""
    # Tags: "P" derived from the argument by invertible steps, "S" a secret or constant. An identity
    # (``mov rax, rcx; ret``) is no codec: a decode must combine the pointer with something.
    tags: dict[int, str] = {_RCX: "P"}
    mixed = False
    decoder = Decoder(64, image.read(rva, 15 * MAX_CODEC_INSTRUCTIONS), ip=rva)
    instr = Instruction()
    for _ in range(MAX_CODEC_INSTRUCTIONS):
        if not decoder.can_decode:
            return False
        decoder.decode_out(instr)
        if instr.flow_control == FlowControl.RETURN:
            return mixed and tags.get(_RAX) == "P"
        if instr.flow_control != FlowControl.NEXT or instr.op0_kind != OpKind.REGISTER:
            return False
        dst = _full(instr.op0_register)
        wide = RegisterExt.size(instr.op0_register) == 8
        src = _source_tag(instr, tags)
        mn = instr.mnemonic
        if mn == Mnemonic.MOV:
            tag = src if (wide or src == "S") else None
        elif mn in (Mnemonic.XOR, Mnemonic.ADD, Mnemonic.SUB):
            pair = {tags.get(dst), src}
            tag = "P" if pair == {"P", "S"} and wide else "S" if pair == {"S"} else None
            mixed = mixed or tag == "P"
        elif mn in (Mnemonic.ROR, Mnemonic.ROL):
            tag = tags.get(dst) if src == "S" else None
            mixed = mixed or tag == "P"
        elif mn == Mnemonic.AND:
            tag = "S" if tags.get(dst) == "S" and src == "S" else None
        else:
            return False
        if tag is None:
            tags.pop(dst, None)
        else:
            tags[dst] = tag
    return False


def _source_tag(instr: Instruction, tags: dict[int, str]) -> Optional[str]:
    if instr.op_count < 2:
        return None
    kind = instr.op1_kind
    if kind == OpKind.REGISTER:
        reg = instr.op1_register
        tag = tags.get(_full(reg))
        return tag if RegisterExt.size(reg) == 8 or tag == "S" else None
    if kind == OpKind.MEMORY:
        return "S" if instr.is_ip_rel_memory_operand else None
    return "S"  # an immediate


def dispatch_slots(image: PEImage, slots: Iterable[int], stub: bytes = _JMP_RAX) -> set[int]:
    """The pointer slots among ``slots`` whose initial target is ``stub``: ``jmp rax`` (calls through them
    go to RAX), or ``ret`` (the check slot: the call changes nothing the next call reads)."""
    out = set()
    for slot in slots:
        raw = image.read(slot, 8)
        if len(raw) != 8:
            continue
        target = int.from_bytes(raw, "little") - image.image_base
        if 0 <= target < image.size_of_image and image.read(target, len(stub)) == stub:
            out.add(slot)
    return out


def _field(address: Value) -> Optional[tuple[int, Value]]:
    """(offset, object) for an address inside an object the code cannot name statically."""
    base, delta = (address.base, address.delta) if isinstance(address, Offset) else (address, 0)
    if isinstance(base, (Addr, StackAddr)) or delta < 0 or isinstance(address, (Addr, StackAddr)):
        return None
    return delta, base


class RuntimeResolver:
    """Runs the resolution over the engine's facts (called once, while loading)."""

    def __init__(self, image: PEImage, facts: Facts, fmap: FunctionMap, sites_by_function: SitesByFunction):
        self.image = image
        self.facts = facts
        self.fmap = fmap
        self.sites_by_function = sites_by_function
        self.found = RuntimeImports()
        self._codec_cache: dict[int, bool] = {}
        #: API name -> the RVA of the function standing for it (a string literal naming it, or its slot).
        self._api_functions: dict[str, int] = {}
        #: Functions that reference a named global slot, and those that reference the CFG dispatch slot.
        self._slot_users: set[int] = set()
        self._dispatch_users: set[int] = set()

    def run(self) -> RuntimeImports:
        facts = self.facts
        # One pass over 71,000 functions; a loop, not a filtered comprehension, which (called once, its filter
        # mostly false) would run on CPython 3.11's generic bytecode to the end.
        imported = []
        for rva, f in facts.functions.items():
            if f.imported:
                imported.append((rva, f.name))
        resolvers = {rva: RESOLVERS[name] for rva, name in imported if name in RESOLVERS}
        found = self.found
        found.codecs = {rva for rva, name in imported if name in CODEC_IMPORTS}
        pointer_slots = [rva for rva, _name in imported if rva not in self.image.imports]
        found.dispatch = dispatch_slots(self.image, pointer_slots)
        found.check = dispatch_slots(self.image, pointer_slots, _RET)
        if not resolvers:
            return found
        sites = [s for s in facts.calls if s.callee in resolvers]
        for caller in sorted({s.caller for s in sites}):
            self._resolver_caller(caller, {s.rva: s for s in sites if s.caller == caller}, resolvers)
        if found.slots:
            self._name_slots()
        if found.slots or found.fields:
            self._resolve_targets()
        return found

    # ------------------------------------------------------------------ the code that calls GetProcAddress
    def _pieces(self, func: Function) -> list[tuple[int, int]]:
        return [(func.rva, func.rva + func.size)] + list(func.fragments)

    def _codecs_called(self, func: Function) -> set[int]:
        """The callees of ``func`` that are pointer codecs (checked once each)."""
        out = set(self.found.codecs)
        for site in self.sites_by_function.get(func.rva, {}).values():
            callee = site.callee
            known = self._codec_cache.get(callee)
            if known is None:
                target = self.facts.functions.get(callee)
                known = target is not None and not target.imported and 0 < target.size <= 15 * MAX_CODEC_INSTRUCTIONS \
                    and is_pointer_codec(self.image, callee)
                self._codec_cache[callee] = known
            if known:
                out.add(callee)
        return out

    def _resolver_caller(self, caller: int, own: dict[int, CallSite], resolvers: dict[int, int]) -> None:
        func = self.facts.functions.get(caller)
        if func is None or func.imported:
            return
        image = self.image
        pieces = self._pieces(func)
        # The probe runs on copies of the sites: the facts' own call sites keep no arguments from it.
        probes = {rva: CallSite(s.caller, s.rva, s.callee, s.tail) for rva, s in own.items()}
        probe = FunctionDataflow(image, image.image_base, image.size_of_image, probes, caller)
        probe.run(pieces)
        results: dict[int, ValueSet] = {}
        for site in probes.values():
            names = {}
            for value in site.arg(resolvers[site.callee]):
                name = c_string(image, value.rva) if isinstance(value, Addr) else None
                if name:
                    names[name] = value.rva
            if names:
                results[site.rva] = frozenset(Import(n) for n in names)
                for name, rva in names.items():
                    self._api_functions.setdefault(name, rva)
        if not results:
            return
        self.found.call_results.update(results)
        codecs = self._codecs_called(func)
        self.found.codecs |= codecs
        flow = FunctionDataflow(image, image.image_base, image.size_of_image, {}, caller, results, codecs=codecs)
        flow.run(pieces)
        for store in flow.stores():
            imported = {v.name for v in store.values if isinstance(v, Import)}
            if len(imported) != 1:
                continue
            if isinstance(store.address, Addr):
                existing = self.facts.functions.get(store.address.rva)
                if existing is None or existing.imported:  # a pointer slot, not code
                    self.found.slots[store.address.rva] = next(iter(imported))
                continue
            where = _field(store.address)
            if where is not None:
                self.found.fields.setdefault(where[0], set()).update(imported)

    def _name_slots(self) -> None:
        """Make each global slot a function named after its API, with the calls through it (one scan for all)."""
        facts = self.facts
        for slot, name in self.found.slots.items():
            facts.functions[slot] = Function(rva=slot, size=0, name=name, imported=True)
            log.info("pointer at %#x holds %s (GetProcAddress)", slot, name)
        # One scan finds the references to the named slots and to the CFG dispatch slot (a function that
        # loads a named slot and calls through the dispatch slot may call the API: the data flow decides).
        guards = self.found.dispatch | self.found.check
        refs = scan_rip_references(self.image, set(self.found.slots) | guards, self.fmap.owner)
        slot_refs = [r for r in refs if r.target in self.found.slots]
        self._slot_users = {r.function for r in slot_refs}
        self._dispatch_users = {r.function for r in refs if r.target in guards}
        through = calls_through_slots(self.image, set(self.found.slots), self.fmap.owner, slot_refs)
        at = {site.rva for site in through}
        known = set()  # the facts' edges at those instructions (a loop: see ``run``)
        for s in facts.calls:
            if s.rva in at:
                known.add((s.rva, s.callee))
        for site in through:
            if (site.rva, site.callee) not in known:
                self._add_site(site)

    # ------------------------------------------------------------------ the calls through the kept pointers
    def _candidates(self) -> set[int]:
        """Functions that may call a kept pointer: those that load a named slot and the CFG dispatch slot (the
        plain ``call [slot]`` / ``call reg`` forms are found by ``calls_through_slots``), and, when fields
        hold APIs, those that call a pointer codec (a field names an API once decoded)."""
        found = self.found
        out: set[int] = set()
        if found.dispatch or found.check:
            out |= self._slot_users & self._dispatch_users
        if found.fields:  # a loop, not a filtered comprehension: see ``run``
            codecs = found.codecs
            for s in self.facts.calls:
                if s.callee in codecs:
                    out.add(s.caller)
        return out

    def _resolve_targets(self) -> None:
        image = self.image
        found = self.found
        for caller in sorted(self._candidates()):
            func = self.facts.functions.get(caller)
            if func is None or func.imported:
                continue
            flow = FunctionDataflow(image, image.image_base, image.size_of_image, {}, caller, found.call_results,
                                    codecs=self._codecs_called(func), dispatch=found.dispatch, record_targets=True,
                                    checks=found.check)
            flow.run(self._pieces(func))
            for rva, (values, decoded) in (flow.targets or {}).items():
                name = self._target_name(values, decoded)
                if name is not None:
                    found.resolved_calls[rva] = name
                    self._add_site(CallSite(caller, rva, self._api_function(name), rva in flow.tail_targets))
        if found.resolved_calls:
            log.info("%d indirect calls reach APIs resolved at run time", len(found.resolved_calls))

    def _target_name(self, values: ValueSet, decoded: bool) -> Optional[str]:
        names: set[str] = set()
        for value in values:
            name = self._value_name(value, decoded)
            if name is None:
                return None
            names.add(name)
        return names.pop() if len(names) == 1 else None

    def _value_name(self, value: Value, decoded: bool) -> Optional[str]:
        if isinstance(value, Import):
            return value.name
        if not isinstance(value, Load) or value.size != 8:
            return None
        if isinstance(value.addr, Addr):
            return self.found.slots.get(value.addr.rva)
        where = _field(value.addr)
        names = self.found.fields.get(where[0], set()) if where is not None else set()
        return next(iter(names)) if decoded and len(names) == 1 else None

    def _api_function(self, name: str) -> int:
        """The function a resolved call goes to: the named slot, else one standing at the name's string."""
        for slot, slot_name in self.found.slots.items():
            if slot_name == name:
                return slot
        rva = self._api_functions[name]
        if rva not in self.facts.functions:
            self.facts.functions[rva] = Function(rva=rva, size=0, name=name, imported=True)
        return rva

    def _add_site(self, site: CallSite) -> None:
        """A call site of a resolved API. An edge already recorded at that instruction (to the CFG dispatch
        slot it calls through) stays; the data flow records the arguments on the API's site."""
        sites = self.sites_by_function.setdefault(site.caller, {})
        existing = sites.get(site.rva)
        if existing is not None and existing.callee == site.callee:
            return
        self.facts.calls.append(site)
        sites[site.rva] = site


def resolve_runtime_imports(image: PEImage, facts: Facts, fmap: FunctionMap,
                            sites_by_function: SitesByFunction) -> RuntimeImports:
    """Resolve the APIs the binary looks up by name and the calls through the pointers it keeps."""
    return RuntimeResolver(image, facts, fmap, sites_by_function).run()


__all__ = ["RuntimeImports", "resolve_runtime_imports", "is_pointer_codec", "dispatch_slots"]
