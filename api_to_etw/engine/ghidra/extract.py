"""Turn Ghidra's view of a program into api-to-etw facts, in the native engine's value domain.

Everything here works on Ghidra objects through the few methods it calls, and imports nothing from
Ghidra, PyGhidra or JPype at module level (the only Java classes used, ``JArray``/``JByte`` for byte
buffers, are imported where memory is read). That keeps the translation logic importable and testable
without Ghidra: the tests drive :class:`PcodeTranslator` and :func:`fill_call_args` with fake p-code
objects that implement the same methods.

What comes from where
---------------------
* **Functions** -- ``program.getFunctionManager().getFunctions(True)``: entry RVA = entry address minus
  ``program.getImageBase()``; the body range holding the entry gives the size, the other body ranges
  are ``fragments``. Names come from the symbol table (the function's symbol when its source is not
  ``DEFAULT``), else the export name, else ``sub_<rva>`` as the native engine names them.
* **Exports, imports, entry point** -- read from the PE headers mapped in the program's memory (the
  loader maps them at the image base), parsed exactly as the native engine's pefile path does, so
  ``exported`` and the import slots agree with it. Where the headers cannot be read, Ghidra's
  external entry points (minus the image entry point, which Ghidra also marks) and its external
  references (IAT slot -> external function) stand in.
* **Call edges** -- every instruction of every function whose flow type is a call or a jump:
  direct targets from ``Instruction.getFlows()``, calls and jumps through an import slot from
  ``Instruction.getReferencesFrom()``. Targets are normalised like the native engine's: a call into
  the middle of a function belongs to that function, a jump is a tail call only to another
  function's entry.
* **Symbols** -- ``SymbolTable.getAllSymbols(False)`` (stored symbols, no dynamic names): labels and
  functions in memory whose source is ``IMPORTED`` (PDB, exports) or ``USER_DEFINED``; analysis-made
  names are left out, as the native engine only knows PDB and export names. Exports fill the gaps.
* **Memory** -- :class:`GhidraMemory` reads bytes through ``program.getMemory()``; a block's
  ``isWrite()`` decides whether loads from it fold to constants.
* **Call-site arguments** -- from the decompiler's p-code (``HighFunction``), see
  :class:`PcodeTranslator`.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ...errors import UnsupportedArchitectureError
from ...model import (
    CallSite,
    Facts,
    Function,
    Memory,
    Reference,
)
from ..pcode import jiter

log = logging.getLogger(__name__)



# ------------------------------------------------------------------------------------------ PE headers
@dataclass
class PeDirectories:
    """What the native engine takes from pefile, parsed from the image as mapped (read by RVA)."""

    entry_point: int
    size_of_image: int
    exports: dict[int, list[str]] = field(default_factory=dict)
    #: IAT slot RVA -> "dll!name" ("dll!#ordinal" for imports by ordinal).
    imports: dict[int, str] = field(default_factory=dict)
    #: (rva, size, writable, executable) of each section, size = max(virtual size, raw size).
    sections: list[tuple[int, int, bool, bool]] = field(default_factory=list)


_SCN_CODE, _SCN_EXECUTE, _SCN_WRITE = 0x20, 0x20000000, 0x80000000


def _u16(data: bytes, off: int) -> int:
    return struct.unpack_from("<H", data, off)[0] if off + 2 <= len(data) else 0


def _u32(data: bytes, off: int) -> int:
    return struct.unpack_from("<I", data, off)[0] if off + 4 <= len(data) else 0


def _cstring(read: Callable[[int, int], bytes], rva: int, limit: int = 512) -> str:
    data = b""
    while len(data) < limit:
        chunk = read(rva + len(data), 64)
        if not chunk:
            break
        end = chunk.find(b"\0")
        if end >= 0:
            data += chunk[:end]
            break
        data += chunk
    return data[:limit].decode("ascii", "replace")


def read_pe_directories(read: Callable[[int, int], bytes]) -> Optional[PeDirectories]:
    """Entry point, exports and imports of a PE image mapped by RVA; None if there is no PE header.

    Mirrors the native engine: named exports that are not forwarders (and point into the image),
    imports by the import lookup table (the IAT when there is none), the IAT slot as the key.
    """
    dos = read(0, 0x40)
    if len(dos) < 0x40 or dos[:2] != b"MZ":
        return None
    lfanew = _u32(dos, 0x3C)
    head = read(lfanew, 24)
    if len(head) < 24 or head[:4] != b"PE\0\0":
        return None
    opt = read(lfanew + 24, _u16(head, 20))
    magic = _u16(opt, 0)
    if magic == 0x20B:
        thunk_size, dirs_at = 8, 112
    elif magic == 0x10B:
        thunk_size, dirs_at = 4, 96
    else:
        return None
    result = PeDirectories(entry_point=_u32(opt, 16), size_of_image=_u32(opt, 56))
    count = _u32(opt, dirs_at - 4)
    n_sections = min(_u16(head, 6), 96)
    headers = read(lfanew + 24 + _u16(head, 20), 40 * n_sections)
    for i in range(len(headers) // 40):
        vsize, vaddr, raw_size = _u32(headers, 40 * i + 8), _u32(headers, 40 * i + 12), _u32(headers, 40 * i + 16)
        flags = _u32(headers, 40 * i + 36)
        result.sections.append((vaddr, max(vsize, raw_size), bool(flags & _SCN_WRITE),
                                bool(flags & (_SCN_EXECUTE | _SCN_CODE))))

    def directory(index: int) -> tuple[int, int]:
        if index >= count:
            return 0, 0
        return _u32(opt, dirs_at + 8 * index), _u32(opt, dirs_at + 8 * index + 4)

    exp_rva, exp_size = directory(0)
    if exp_rva:
        exp = read(exp_rva, 40)
        n_funcs, n_names = min(_u32(exp, 20), 0x10000), min(_u32(exp, 24), 0x10000)
        funcs = read(_u32(exp, 28), 4 * n_funcs)
        names = read(_u32(exp, 32), 4 * n_names)
        ordinals = read(_u32(exp, 36), 2 * n_names)
        for i in range(n_names):
            ordinal = _u16(ordinals, 2 * i)
            if 4 * ordinal + 4 > len(funcs):
                continue
            address = _u32(funcs, 4 * ordinal)
            if not address or exp_rva <= address < exp_rva + exp_size or not read(address, 1):
                continue  # unused slot, a forwarder ("dll.name" string), or outside the image
            name = _cstring(read, _u32(names, 4 * i))
            if name:
                result.exports.setdefault(address, []).append(name)
    imp_rva, _imp_size = directory(1)
    if imp_rva:
        ordinal_flag = 1 << (8 * thunk_size - 1)
        for d in range(4096):
            desc = read(imp_rva + 20 * d, 20)
            if len(desc) < 20 or desc == b"\0" * 20:
                break
            lookup, name_rva, iat = _u32(desc, 0), _u32(desc, 12), _u32(desc, 16)
            dll = _cstring(read, name_rva) if name_rva else "?"
            table = lookup or iat
            for i in range(0x10000):
                raw = read(table + thunk_size * i, thunk_size)
                if len(raw) < thunk_size:
                    break
                entry = int.from_bytes(raw, "little")
                if not entry:
                    break
                if entry & ordinal_flag:
                    label = f"#{entry & 0xFFFF}"
                else:
                    label = _cstring(read, (entry & 0x7FFFFFFF) + 2)
                result.imports[iat + thunk_size * i] = f"{dll}!{label}"
    return result


# ------------------------------------------------------------------------------------------ memory
class GhidraMemory(Memory):
    """The program's memory by RVA, with the native image's semantics.

    Bytes of uninitialised blocks read as zeros (as the loader maps ``.bss``); a read stops at the end
    of a section (blocks with the same name continue it), so callers see the short reads they see from
    the native image. Blocks are found with ``Memory.getBlock(Address)``; writability is
    ``MemoryBlock.isWrite()``.
    """

    def __init__(self, program: Any):
        self.program = program
        self._mem = program.getMemory()
        self._base = program.getImageBase()
        self.image_base = int(self._base.getOffset())

    def address(self, rva: int) -> Any:
        return self._base.add(rva)

    def read(self, rva: int, size: int) -> bytes:
        if size <= 0 or rva < 0:
            return b""
        out = bytearray()
        section = None
        while len(out) < size:
            try:
                addr = self.address(rva + len(out))
            except Exception:  # AddressOutOfBoundsException past the end of the space
                break
            block = self._mem.getBlock(addr)
            if block is None:
                break
            name = str(block.getName())
            if section is None:
                section = name
            elif name != section:
                break
            available = int(block.getEnd().getOffset()) - int(addr.getOffset()) + 1
            want = min(size - len(out), available)
            if block.isInitialized():
                chunk = read_java_bytes(self._mem, addr, want)
                out += chunk
                if len(chunk) < want:
                    break
            else:
                out += b"\0" * want
        return bytes(out)

    def is_writable(self, rva: int) -> bool:
        try:
            block = self._mem.getBlock(self.address(rva))
        except Exception:
            return True
        return block is None or bool(block.isWrite())

    def sections(self) -> list[tuple[int, int, bool, bool]]:
        """(rva, size, writable, executable) of each loaded block (when the PE section table is unreadable)."""
        out = []
        for block in jiter(self._mem.getBlocks()):
            if not block.isLoaded() or not block.getStart().isMemoryAddress():
                continue
            start = int(block.getStart().getOffset()) - self.image_base
            if start < 0:
                continue
            out.append((start, int(block.getSize()), bool(block.isWrite()), bool(block.isExecute())))
        return sorted(out)

    def data_ranges(self) -> list[tuple[int, int]]:
        """(rva, size) of the initialised, loaded, non-executable blocks: all the data the decoders may read."""
        out = []
        for block in jiter(self._mem.getBlocks()):
            if not block.isLoaded() or not block.isInitialized() or block.isExecute():
                continue
            start = int(block.getStart().getOffset()) - self.image_base
            if start >= 0:
                out.append((start, int(block.getSize())))
        return sorted(out)


def read_java_bytes(memory: Any, address: Any, size: int) -> bytes:
    """``size`` bytes at ``address`` through ``Memory.getBytes(Address, byte[])`` (short on an access error)."""
    from jpype import JArray, JByte

    buffer = JArray(JByte)(size)
    try:
        got = int(memory.getBytes(address, buffer))
    except Exception:  # MemoryAccessException: uninitialised or unmapped bytes
        return b""
    try:
        data = bytes(memoryview(buffer))
    except TypeError:
        data = bytes(b & 0xFF for b in buffer)
    return data[:got]


# ------------------------------------------------------------------------------------------ listing
def _source(symbol: Any) -> str:
    return str(symbol.getSource()).upper() if symbol is not None else "DEFAULT"


def register_namer(program: Any) -> Callable[[Any], Optional[str]]:
    """``varnode -> base register name`` through ``Program.getRegister(Varnode)``."""
    def name(vn: Any) -> Optional[str]:
        reg = program.getRegister(vn)
        if reg is None:
            return None
        base = reg.getBaseRegister()
        return str((base or reg).getName())
    return name


@dataclass
class ProgramFacts:
    """Facts extracted from a program, with what the engine needs to resolve arguments later."""

    facts: Facts
    memory: GhidraMemory
    #: caller entry RVA -> {instruction RVA: call site}
    sites_by_function: dict[int, dict[int, CallSite]]
    #: SizeOfImage (from the PE header, else the extent of the memory blocks).
    image_size: int
    #: entry RVA -> Ghidra Function, for the reference scan.
    bodies: dict[int, Any] = field(default_factory=dict)


def check_x64(program: Any) -> None:
    processor = str(program.getLanguage().getProcessor())
    pointer = int(program.getDefaultPointerSize())
    if processor.lower() != "x86" or pointer != 8:
        raise UnsupportedArchitectureError(
            f"{program.getName()}: {processor} {8 * pointer}-bit program; only x64 (AMD64) images are supported")


def extract_facts(program: Any, binary_name: Optional[str] = None) -> ProgramFacts:
    """Functions, call sites (arguments unresolved), symbols and memory of an analysed x64 PE program."""
    check_x64(program)
    gmem = GhidraMemory(program)
    base = gmem.image_base
    pe = read_pe_directories(gmem.read)
    sections = pe.sections if pe and pe.sections else gmem.sections()
    image_size = pe.size_of_image if pe and pe.size_of_image else max((s + n for s, n, _w, _x in sections), default=0)
    symtab = program.getSymbolTable()
    fm = program.getFunctionManager()
    listing = program.getListing()

    def rva(address: Any) -> int:
        return int(address.getOffset()) - base

    # Imports: IAT slot -> "dll!name", and external addresses -> slot (for references that skip the slot).
    imports: dict[int, str] = dict(pe.imports) if pe else {}
    external_slots: dict[int, int] = {}
    for ref in jiter(program.getReferenceManager().getExternalReferences()):
        source = ref.getFromAddress()
        if not source.isMemoryAddress() or listing.getInstructionContaining(source) is not None:
            continue
        slot = rva(source)
        external_slots[int(ref.getToAddress().getOffset())] = slot
        if not pe:
            location = ref.getExternalLocation()
            imports.setdefault(slot, f"{location.getLibraryName()}!{location.getLabel()}")

    exports: dict[int, list[str]] = dict(pe.exports) if pe else {}
    if not pe:
        # Ghidra marks exports and the image entry point (its "entry" label) as external entry points.
        for point in jiter(symtab.getExternalEntryPointIterator()):
            if not point.isMemoryAddress():
                continue
            sym = symtab.getPrimarySymbol(point)
            if sym is not None and str(sym.getName()) != "entry":
                exports.setdefault(rva(point), []).append(str(sym.getName()))

    functions: dict[int, Function] = {}
    bodies: dict[int, Any] = {}
    for func in jiter(fm.getFunctions(True)):
        if func.isExternal():
            continue
        entry = rva(func.getEntryPoint())
        size, fragments = 0, []
        for r in jiter(func.getBody().getAddressRanges()):
            start, end = rva(r.getMinAddress()), rva(r.getMaxAddress()) + 1
            if start <= entry < end:
                size = end - entry
                if start < entry:
                    fragments.append((start, entry))
            else:
                fragments.append((start, end))
        symbol = func.getSymbol()
        export_names = exports.get(entry)
        if _source(symbol) == "DEFAULT":
            name = export_names[0] if export_names else f"sub_{entry:x}"
        else:
            name = str(func.getName(True))
        functions[entry] = Function(entry, size, name, exported=entry in exports, fragments=sorted(fragments))
        bodies[entry] = func
    for slot, label in imports.items():
        if slot not in functions:
            functions[slot] = Function(slot, 0, label.split("!", 1)[-1], imported=True)

    calls, sites_by_function = _call_sites(program, functions, bodies, imports, external_slots, rva)

    symbols: dict[int, str] = {}
    for sym in jiter(symtab.getAllSymbols(False)):
        address = sym.getAddress()
        if sym.isExternal() or not address.isMemoryAddress():
            continue
        if _source(sym) not in ("IMPORTED", "USER_DEFINED"):
            continue
        if str(sym.getSymbolType()).upper() not in ("LABEL", "FUNCTION", "CODE"):
            continue
        where = rva(address)
        if where < 0:
            continue
        name = str(sym.getName(True))
        if sym.isPrimary():
            symbols[where] = name
        else:
            symbols.setdefault(where, name)
    for where, names in exports.items():
        symbols.setdefault(where, names[0])

    options = program.getOptions("Program Information")
    has_pdb = bool(options.getBoolean("PDB Loaded", False))
    facts = Facts(
        binary_name=binary_name or str(program.getName()),
        image_base=base,
        functions=functions,
        calls=calls,
        symbols=symbols,
        memory=gmem,
        has_pdb=has_pdb,
        machine="x64",
        sections=sections,
        entry_point=pe.entry_point if pe and pe.entry_point in functions else None,
    )
    log.info("%d functions, %d call sites, %d symbols, image %#x bytes", len(functions), len(calls), len(symbols),
             image_size)
    return ProgramFacts(facts, gmem, sites_by_function, image_size, bodies)


def base_address(program: Any, rva: int) -> Any:
    return program.getImageBase().add(rva)


def _call_sites(program: Any, functions: dict[int, Function], bodies: dict[int, Any], imports: dict[int, str],
                external_slots: dict[int, int], rva: Callable[[Any], int]
                ) -> tuple[list[CallSite], dict[int, dict[int, CallSite]]]:
    """Direct calls, tail jumps and calls through import slots, normalised as the native engine does."""
    fm = program.getFunctionManager()
    listing = program.getListing()
    calls: list[CallSite] = []
    by_function: dict[int, dict[int, CallSite]] = {}

    def import_slot(instr: Any) -> Optional[int]:
        for ref in jiter(instr.getReferencesFrom()):
            to = ref.getToAddress()
            if to.isMemoryAddress():
                slot = rva(to)
                if slot in imports:
                    return slot
            elif to.isExternalAddress():
                external = external_slots.get(int(to.getOffset()))
                if external is not None:
                    return external
        return None

    for entry, func in bodies.items():
        body = func.getBody()
        for instr in jiter(listing.getInstructions(body, True)):
            flow = instr.getFlowType()
            if not (flow.isCall() or flow.isJump()):
                continue
            at = rva(instr.getAddress())
            tail = str(instr.getMnemonicString()).upper().startswith("J")
            targets: list[int] = []
            if not flow.isComputed():
                for target in jiter(instr.getFlows()):
                    if target.isMemoryAddress() and not (tail and body.contains(target)):
                        targets.append(rva(target))
            if not targets:
                slot = import_slot(instr)
                if slot is not None:
                    targets.append(slot)
            for target in targets:
                if target in functions:
                    callee = target
                elif tail:
                    continue  # a jump into another function's middle is shared code, not a call
                else:
                    owner = fm.getFunctionContaining(base_address(program, target))
                    if owner is None or owner.isExternal():
                        continue
                    callee = rva(owner.getEntryPoint())
                    if callee not in functions:
                        continue
                if tail and callee == entry:
                    continue
                site = CallSite(entry, at, callee, tail)
                calls.append(site)
                by_function.setdefault(entry, {})[at] = site
    calls.sort(key=lambda s: (s.rva, s.callee))
    return calls, by_function


def lea_target(rva: int, code: bytes) -> Optional[int]:
    """The target of ``lea r64, [rip+disp32]`` (REX.W 8D, ModRM mod=00 rm=101) at ``rva``, else None."""
    if len(code) >= 7 and code[0] in (0x48, 0x4C) and code[1] == 0x8D and code[2] & 0xC7 == 0x05:
        return rva + 7 + int.from_bytes(code[3:7], "little", signed=True)
    return None


def scan_references(program: Any, bodies: dict[int, Any]) -> list[Reference]:
    """Every RIP-relative ``lea`` in each function: the data addresses code takes, as the native engine
    finds them (same instruction pattern, decoded from ``Instruction.getBytes()``), with the function."""
    base = int(program.getImageBase().getOffset())
    listing = program.getListing()
    refs: list[Reference] = []
    for entry, func in bodies.items():
        for instr in jiter(listing.getInstructions(func.getBody(), True)):
            if str(instr.getMnemonicString()).upper() != "LEA":
                continue
            at = int(instr.getAddress().getOffset()) - base
            target = lea_target(at, bytes(b & 0xFF for b in instr.getBytes()))
            if target is not None:
                refs.append(Reference(at, entry, target))
    refs.sort(key=lambda r: r.rva)
    return refs


# ------------------------------------------------------------------------------------------ decompiler
class Decompiler:
    """One ``DecompInterface`` for a program: ``decompileFunction`` -> ``HighFunction`` (or None)."""

    def __init__(self, program: Any, timeout: int = 60):
        self.program = program
        self.timeout = timeout
        self._ifc: Any = None
        self.failures = 0

    def _open(self) -> Any:
        from ghidra.app.decompiler import DecompileOptions, DecompInterface

        ifc = DecompInterface()
        options = DecompileOptions()
        options.grabFromProgram(self.program)
        ifc.setOptions(options)
        ifc.toggleCCode(False)
        ifc.toggleSyntaxTree(True)
        ifc.setSimplificationStyle("decompile")
        if not ifc.openProgram(self.program):
            message = ifc.getLastMessage()
            ifc.dispose()
            raise RuntimeError(f"the Ghidra decompiler did not start: {message}")
        return ifc

    def high_function(self, func: Any) -> Any:
        from ghidra.util.task import TaskMonitor

        if self._ifc is None:
            self._ifc = self._open()
        result = self._ifc.decompileFunction(func, self.timeout, TaskMonitor.DUMMY)
        if result is None or not result.decompileCompleted():
            self.failures += 1
            reason = result.getErrorMessage() if result is not None else "no result"
            log.warning("decompiling %s failed: %s", func.getName(), str(reason).strip().splitlines()[:1])
            return None
        return result.getHighFunction()

    def close(self) -> None:
        if self._ifc is not None:
            self._ifc.dispose()
            self._ifc = None
