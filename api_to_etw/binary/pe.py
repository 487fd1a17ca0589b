"""The PE32+ image: sections, exports, imports, the exception directory and the CodeView record.

pefile (fast load) parses the headers and only the import and debug directories; the export and exception
directories are read with ``struct`` because a large image has thousands of exports and tens of thousands
of RUNTIME_FUNCTION entries, and pefile would build an object per entry. Only this package imports pefile.

The file is mapped (``mmap``), not read: pages are loaded as the analysis touches them, so memory follows
the code analysed rather than the image size. Every size the file states is bounded before it is used: a
section's zero fill (VirtualSize past its raw data) is produced only for what a read asks, at most
``ZERO_FILL_LIMIT`` bytes per read, and table counts are bounded by the bytes that hold the table.
"""

from __future__ import annotations

import bisect
import functools
import logging
import mmap
import os
import struct
import uuid
from collections import namedtuple
from collections.abc import Collection
from typing import TYPE_CHECKING, NamedTuple, Optional, Union

from ..errors import CorruptFileError, NotAPEError, UnsupportedArchitectureError
from ..fieldclass import Frozen, Mutable, set_field
from ..model import Memory

log = logging.getLogger(__name__)

MACHINE_AMD64 = 0x8664
MACHINE_NAMES = {0x14C: "x86 (32-bit)", 0xAA64: "ARM64", 0x1C4: "ARM", 0x200: "IA64", 0xA641: "ARM64EC"}

IMAGE_SCN_MEM_EXECUTE = 0x20000000
IMAGE_SCN_MEM_WRITE = 0x80000000
IMAGE_SCN_CNT_CODE = 0x00000020
#: UNWIND_INFO.Flags (the top 5 bits of its first byte): a language handler for exceptions, for unwinding,
#: or the unwind data of another RUNTIME_FUNCTION chained after the codes.
UNW_FLAG_EHANDLER = 0x1
UNW_FLAG_UHANDLER = 0x2
UNW_FLAG_CHAININFO = 0x4
IMAGE_DIRECTORY_ENTRY_EXPORT = 0
IMAGE_DIRECTORY_ENTRY_EXCEPTION = 3
#: IMAGE_EXPORT_DIRECTORY: Characteristics, TimeDateStamp, Major/MinorVersion, Name, Base, NumberOfFunctions,
#: NumberOfNames, AddressOfFunctions, AddressOfNames, AddressOfNameOrdinals.
EXPORT_DIRECTORY = struct.Struct("<IIHHIIIIIII")
#: Longest export name read (bytes before the NUL); a name without a NUL within it is cut there.
MAX_EXPORT_NAME = 4096
RUNTIME_FUNCTION_SIZE = 12
#: Most zero bytes one ``read`` appends past a section's file-backed data (the loader's zero fill). Scans of a
#: whole section get its file bytes plus at most this much; a hostile 2 GB VirtualSize allocates nothing more.
ZERO_FILL_LIMIT = 1 << 20

#: What the image's bytes are: the mapped file, or bytes given by a caller (tests, fuzzing).
ImageData = Union[bytes, mmap.mmap]


class Section(Mutable):
    """One section header (equal and printed by its six header fields, as the dataclass it was: fieldclass.py)."""

    name: str
    rva: int
    virtual_size: int
    raw_offset: int
    raw_size: int
    characteristics: int
    #: The RVA past the section: its virtual or raw size, the larger (set once: lookups by RVA read it per call).
    end: int
    #: What turns an RVA in the section into its file offset (``rva + file_delta``), and the file offset past
    #: the bytes the file backs: every read of file bytes (``PEImage.file_bytes``, the decode of functions)
    #: stops there, never in the zero fill a VirtualSize larger than the raw data implies.
    file_delta: int
    file_end: int
    _fields = ("name", "rva", "virtual_size", "raw_offset", "raw_size", "characteristics")

    def __init__(self, name: str, rva: int, virtual_size: int, raw_offset: int, raw_size: int,
                 characteristics: int) -> None:
        self.name = name
        self.rva = rva
        self.virtual_size = virtual_size
        self.raw_offset = raw_offset
        self.raw_size = raw_size
        self.characteristics = characteristics
        self.end = rva + max(virtual_size, raw_size)
        self.file_delta = raw_offset - rva
        self.file_end = raw_offset + raw_size

    @property
    def executable(self) -> bool:
        return bool(self.characteristics & (IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_CNT_CODE))

    @property
    def writable(self) -> bool:
        return bool(self.characteristics & IMAGE_SCN_MEM_WRITE)

    def contains(self, rva: int) -> bool:
        return self.rva <= rva < self.end

    def file_offset(self, rva: int, size: int) -> Optional[int]:
        """Offset in the file of ``size`` bytes at ``rva`` (inside the section) when the file holds all of them."""
        at = rva + self.file_delta
        return at if at + size <= self.file_end else None


class CodeViewInfo(Frozen):
    """The RSDS record that names the matching PDB."""

    pdb_name: str
    guid: uuid.UUID
    age: int
    _fields = ("pdb_name", "guid", "age")

    def __init__(self, pdb_name: str, guid: uuid.UUID, age: int) -> None:
        set_field(self, "__dict__", {"pdb_name": pdb_name, "guid": guid, "age": age})

    @property
    def signature(self) -> str:
        """The symbol-store key: GUID as 32 upper-case hex digits followed by the age in hex."""
        return self.guid.hex.upper() + format(self.age, "X")


if TYPE_CHECKING:
    class RuntimeFunction(NamedTuple):
        """One RUNTIME_FUNCTION entry (a tuple: a large image has hundreds of thousands, built at load)."""

        begin: int
        end: int
        unwind: int
        #: For a chained entry, the RUNTIME_FUNCTION.BeginAddress of the function it continues.
        parent: Optional[int] = None
else:
    # The same tuple made by ``collections.namedtuple``: ``typing.NamedTuple`` turns each annotation (a string,
    # ``from __future__ import annotations``) into a ``ForwardRef``, whose ``compile`` was the only one of an
    # analyze run, and the first ``compile`` of a process sets up the syntax-tree types: about 10 M instructions.
    RuntimeFunction = namedtuple("RuntimeFunction", ("begin", "end", "unwind", "parent"), defaults=(None,))
    RuntimeFunction.__doc__ = ("One RUNTIME_FUNCTION entry (a tuple: a large image has hundreds of thousands, built "
                               "at load); ``parent``: for a chained entry, the BeginAddress of the one it continues.")


class PEImage(Mutable, Memory):
    """An x64 PE image mapped by RVA over the file's bytes (equal and printed by its fields but the section
    lookup, as the dataclass it was: fieldclass.py)."""

    path: str
    data: ImageData
    image_base: int
    size_of_image: int
    sections: list[Section]
    exports: dict[int, list[str]]
    #: IAT slot RVA -> "dll!name" for imported functions.
    imports: dict[int, str]
    runtime_functions: list[RuntimeFunction]
    #: Indexes in ``runtime_functions`` of every entry but the plain ones (most): a primary function whose
    #: UNWIND_INFO the load read in place and found naming no language handler. Chained entries and those that
    #: may name a handler are among them, so the passes that look only for those read only these. None (an
    #: image not made by ``parse_pe``): not known, every entry may be one.
    special_entries: Optional[list[int]]
    codeview: Optional[CodeViewInfo]
    timestamp: int
    entry_point: int
    #: Section starts and (start, end, section) sorted by RVA, when no two sections overlap (else None).
    _lookup: Optional[tuple[list[int], list[tuple[int, int, Section]]]]
    _fields = ("path", "data", "image_base", "size_of_image", "sections", "exports", "imports", "runtime_functions",
               "special_entries", "codeview", "timestamp", "entry_point")

    def __init__(self, path: str, data: ImageData, image_base: int, size_of_image: int, sections: list[Section],
                 exports: Optional[dict[int, list[str]]] = None, imports: Optional[dict[int, str]] = None,
                 runtime_functions: Optional[list[RuntimeFunction]] = None,
                 special_entries: Optional[list[int]] = None, codeview: Optional[CodeViewInfo] = None,
                 timestamp: int = 0, entry_point: int = 0,
                 _lookup: Optional[tuple[list[int], list[tuple[int, int, Section]]]] = None) -> None:
        self.path = path
        self.data = data
        self.image_base = image_base
        self.size_of_image = size_of_image
        self.sections = sections
        self.exports = {} if exports is None else exports
        self.imports = {} if imports is None else imports
        self.runtime_functions = [] if runtime_functions is None else runtime_functions
        self.special_entries = special_entries
        self.codeview = codeview
        self.timestamp = timestamp
        self.entry_point = entry_point
        self._lookup = _lookup
        spans = sorted(((s.rva, s.end, s) for s in sections), key=lambda span: span[:2])
        if all(a[1] <= b[0] for a, b in zip(spans, spans[1:])):
            self._lookup = ([span[0] for span in spans], spans)

    # ------------------------------------------------------------------ memory
    @property
    def disjoint_sections(self) -> bool:
        """Whether no two sections overlap: then the section holding an RVA is the only one, and a caller may
        keep the last one's bounds for the RVAs that follow."""
        return self._lookup is not None

    def section_at(self, rva: int) -> Optional[Section]:
        """The section holding ``rva`` (the first in header order when a hostile file overlaps them)."""
        if self._lookup is not None:
            starts, spans = self._lookup
            i = bisect.bisect_right(starts, rva) - 1
            if i >= 0 and rva < spans[i][1]:
                return spans[i][2]
            return None
        for section in self.sections:
            if section.contains(rva):
                return section
        return None

    def read(self, rva: int, size: int) -> bytes:
        """Bytes at an RVA; zero-filled past the raw data (as the loader maps .bss), short at section end.

        The zero fill is bounded: at most ``ZERO_FILL_LIMIT`` bytes past the file-backed data per read.
        """
        # The bounds are clipped inline: the analysis reads through here about 13,000 times at 1x, and a call of
        # ``min()`` costs more than the rest of a short read.
        section = self.section_at(rva)
        if section is None or size <= 0:
            return b""
        left = section.end - rva
        if size > left:
            size = left
        delta = rva - section.rva
        raw = b""
        if delta < section.raw_size:
            start = section.raw_offset + delta
            backed = section.raw_size - delta
            raw = self.data[start : start + (size if size < backed else backed)]
        if len(raw) == size:
            return raw
        fill = size - len(raw)
        return raw + bytes(fill if fill < ZERO_FILL_LIMIT else ZERO_FILL_LIMIT)

    def file_offset(self, rva: int, size: int) -> Optional[int]:
        """Offset in the file of ``size`` bytes at ``rva`` when the file holds all of them (else None)."""
        section = self.section_at(rva)
        return None if section is None else section.file_offset(rva, size)

    def file_bytes(self, rva: int, size: int) -> bytes:
        """The bytes at an RVA that the file backs: never the zero fill past a section's raw data."""
        section = self.section_at(rva)
        if section is None or size <= 0:
            return b""
        start = rva + section.file_delta
        return self.data[start : min(start + size, section.file_end)]

    def file_view(self, rva: int, size: int) -> memoryview:
        """:meth:`file_bytes` as a view of the mapped file: no copy, pages fault in as they are read."""
        section = self.section_at(rva)
        if section is None or size <= 0:
            return memoryview(b"")
        start = rva + section.file_delta
        stop = min(start + size, section.file_end, len(self.data))
        if start >= stop:  # no view of the mapped file for nothing (a view keeps the map from closing)
            return memoryview(b"")
        return memoryview(self.data)[start:stop]

    def is_writable(self, rva: int) -> bool:
        section = self.section_at(rva)
        return section is None or section.writable

    def executable_sections(self) -> list[Section]:
        return [s for s in self.sections if s.executable]

    def code_view(self, section: Section) -> memoryview:
        """The section's file-backed bytes, in place (no copy, no zero fill): what byte scans of code read."""
        return memoryview(self.data)[section.raw_offset : section.file_end]

    def release(self) -> None:
        """Give the mapped pages back after a pass over whole sections (they stay in the page cache and fault
        in again when read): resident memory then follows what is in use, not every page a scan touched."""
        advise = getattr(self.data, "madvise", None)
        dont_need = getattr(mmap, "MADV_DONTNEED", None)
        if advise is None or dont_need is None or not len(self.data):
            return
        try:
            advise(dont_need)
        except OSError:  # advice only
            pass

    def section_bytes(self, section: Section) -> bytes:
        return self.read(section.rva, max(section.virtual_size, section.raw_size))


def load_pe(path: str) -> PEImage:
    """Map and parse an x64 PE file; raise a one-line error for anything else (FIFOs and devices included)."""
    from ..inputs import map_snapshot, open_regular

    with open_regular(path, kind="binary") as handle:
        data: ImageData = map_snapshot(handle, path)  # a copy no other process can truncate under us (SIGBUS)
    return parse_pe(data, path)


def parse_pe(data: ImageData, path: str = "<memory>") -> PEImage:
    import pefile

    name = os.path.basename(path)
    if len(data) < 0x40 or data[:2] != b"MZ":
        raise NotAPEError(f"{name}: not a PE file (no MZ header)")
    (e_lfanew,) = struct.unpack_from("<I", data, 0x3C)
    if e_lfanew + 24 > len(data) or data[e_lfanew : e_lfanew + 4] != b"PE\0\0":
        raise NotAPEError(f"{name}: not a PE file (no PE signature)")
    (machine,) = struct.unpack_from("<H", data, e_lfanew + 4)
    if machine != MACHINE_AMD64:
        arch = MACHINE_NAMES.get(machine, f"machine 0x{machine:04x}")
        raise UnsupportedArchitectureError(f"{name}: {arch} image; only x64 (AMD64) images are supported")
    try:
        pe = pefile.PE(data=data, fast_load=True)
    except pefile.PEFormatError as exc:
        raise NotAPEError(f"{name}: not a valid PE file ({exc.value})") from None
    if pe.OPTIONAL_HEADER.Magic != 0x20B:
        raise UnsupportedArchitectureError(f"{name}: not a PE32+ image")

    sections = []
    for sec in pe.sections:
        sname = sec.Name.rstrip(b"\0").decode("ascii", "replace")
        raw_size = sec.SizeOfRawData
        if sec.PointerToRawData + raw_size > len(data):
            if sec.Characteristics & (IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_CNT_CODE):
                raise CorruptFileError(
                    f"{name}: truncated: section {sname} needs bytes up to offset "
                    f"{sec.PointerToRawData + raw_size:#x} but the file has {len(data):#x}"
                )
            raw_size = max(0, len(data) - sec.PointerToRawData)
        sections.append(
            Section(sname, sec.VirtualAddress, sec.Misc_VirtualSize, sec.PointerToRawData, raw_size, sec.Characteristics)
        )
    image = PEImage(
        path=path,
        data=data,
        image_base=pe.OPTIONAL_HEADER.ImageBase,
        size_of_image=pe.OPTIONAL_HEADER.SizeOfImage,
        sections=sections,
        timestamp=pe.FILE_HEADER.TimeDateStamp,
        entry_point=pe.OPTIONAL_HEADER.AddressOfEntryPoint,
    )
    if not image.executable_sections():
        raise CorruptFileError(f"{name}: no executable section")

    dirs = pefile.DIRECTORY_ENTRY
    try:
        pe.parse_data_directories(
            directories=[dirs["IMAGE_DIRECTORY_ENTRY_IMPORT"], dirs["IMAGE_DIRECTORY_ENTRY_DEBUG"]]
        )
    except Exception as exc:  # pefile raises assorted errors on hostile directories
        raise CorruptFileError(f"{name}: corrupt data directory ({exc})") from None

    directories = pe.OPTIONAL_HEADER.DATA_DIRECTORY  # NumberOfRvaAndSizes entries, possibly fewer than 4
    if directories:
        image.exports = _exports(image, directories[IMAGE_DIRECTORY_ENTRY_EXPORT].VirtualAddress,
                                 directories[IMAGE_DIRECTORY_ENTRY_EXPORT].Size)
    for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []) or []:
        dll = entry.dll.decode("ascii", "replace") if entry.dll else "?"
        for imp in entry.imports:
            label = imp.name.decode("ascii", "replace") if imp.name else f"#{imp.ordinal}"
            if imp.address:
                image.imports[imp.address - image.image_base] = f"{dll}!{label}"
    for dbg in getattr(pe, "DIRECTORY_ENTRY_DEBUG", []) or []:
        if dbg.struct.Type == 2:  # IMAGE_DEBUG_TYPE_CODEVIEW
            image.codeview = _codeview(data, dbg.struct.PointerToRawData, dbg.struct.SizeOfData)
            if image.codeview is not None:
                break

    if len(directories) > IMAGE_DIRECTORY_ENTRY_EXCEPTION:
        exc_dir = directories[IMAGE_DIRECTORY_ENTRY_EXCEPTION]
        image.runtime_functions, image.special_entries = _runtime_functions(image, exc_dir.VirtualAddress,
                                                                               exc_dir.Size)
    image.release()  # the pages pefile's parse touched
    return image


def _exports(image: PEImage, rva: int, size: int) -> dict[int, list[str]]:
    """Named exports that are code or data in a section (RVA -> names, in the name table's order).

    Read with ``struct`` from the documented IMAGE_EXPORT_DIRECTORY rather than by pefile, which builds
    an object per export (0.2 s on node.exe's 9,736) and by default stops after 8,192 of them ("assuming
    corrupt"), so node.exe lost 1,544 of its exports. The three tables are bounded by the file bytes that
    hold them; forwarders (an address inside the export directory), zero addresses, ordinals past the
    address table and a (name, address) pair seen before are skipped.
    """
    if not rva or size <= 0:
        return {}
    head = image.file_bytes(rva, EXPORT_DIRECTORY.size)
    if len(head) < EXPORT_DIRECTORY.size:
        return {}
    (_flags, _stamp, _major, _minor, _name, _base, function_count, name_count, functions_rva, names_rva,
     ordinals_rva) = EXPORT_DIRECTORY.unpack(head)
    functions = _table(image, functions_rva, function_count, "I")
    names = _table(image, names_rva, name_count, "I")
    ordinals = _table(image, ordinals_rva, name_count, "H")
    data = image.data
    exports: dict[int, list[str]] = {}
    seen: set[tuple[int, int]] = set()
    for name_rva, index in zip(names, ordinals):
        if index >= len(functions):
            continue
        address = functions[index]
        if not address or rva <= address < rva + size or image.section_at(address) is None:
            continue
        if (name_rva, address) in seen:
            continue
        seen.add((name_rva, address))
        start = image.file_offset(name_rva, 1)
        if start is None:
            continue
        stop = data.find(b"\0", start, start + MAX_EXPORT_NAME)
        raw = data[start:stop if stop >= 0 else start + MAX_EXPORT_NAME]
        if raw:
            exports.setdefault(address, []).append(raw.decode("ascii", "replace"))
    return exports


def _table(image: PEImage, rva: int, count: int, code: str) -> tuple[int, ...]:
    """``count`` little-endian entries of ``code`` ("I" or "H") at ``rva``, as many as the file holds."""
    width = struct.calcsize(code)
    raw = image.file_bytes(rva, count * width) if rva and count > 0 else b""
    return struct.unpack_from(f"<{len(raw) // width}{code}", raw)


def _codeview(data: ImageData, offset: int, size: int) -> Optional[CodeViewInfo]:
    """Decode an RSDS record: 'RSDS', GUID, age, NUL-terminated PDB path (bounded by the entry size)."""
    record = data[offset : offset + min(size, 4096)]
    if len(record) < 25 or record[:4] != b"RSDS":
        return None
    guid = uuid.UUID(bytes_le=bytes(record[4:20]))
    (age,) = struct.unpack_from("<I", record, 20)
    pdb_name = record[24:].split(b"\0", 1)[0].decode("utf-8", "replace")
    return CodeViewInfo(pdb_name=pdb_name, guid=guid, age=age)


#: The first byte of an UNWIND_INFO (``Version:3 Flags:5``) -> 0 for a primary function's that names no language
#: handler, _HANDLED when it names one, _CHAINED when it chains (one table lookup per entry, no flag tests).
_HANDLED, _CHAINED = 1, 2
_UNWIND_KINDS = tuple(_CHAINED if (byte >> 3) & UNW_FLAG_CHAININFO else
                      _HANDLED if (byte >> 3) & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER) else 0 for byte in range(256))


def _runtime_functions(image: PEImage, rva: int, size: int) -> tuple[list[RuntimeFunction], list[int]]:
    """RUNTIME_FUNCTION entries with chained entries linked to the function they continue, and the indexes of
    those that are not plain (``PEImage.special_entries``: the flags read here tell a plain primary entry read
    in place; every other entry is one), so that the passes looking for chained entries or language handlers
    read only those.

    One pass over the table: the sections an entry's code and unwind info fall in are looked up only when
    they change (an image's entries are sorted and their unwind info sits in one section), so the cost per
    entry is a few comparisons, not two section searches; the few entries whose unwind info is not that of a
    primary function (a chained record or an index into the table) are resolved after the pass, when every
    entry's begin address is known. Entries are made by ``tuple.__new__`` (in C; ``RuntimeFunction(...)`` and
    ``_make`` run Python code per entry, and node.exe has 60,059).
    """
    if not rva or size < RUNTIME_FUNCTION_SIZE:
        return [], []
    blob = image.read(rva, size - size % RUNTIME_FUNCTION_SIZE)  # bounded: short at section end, capped zero fill
    blob = blob[: len(blob) - len(blob) % RUNTIME_FUNCTION_SIZE]  # a directory cut short ends on a whole entry
    # Cached section bounds are exact only when no two sections overlap (else the first in header order wins).
    cache = image._lookup is not None
    section_at = image.section_at
    data = image.data
    make = functools.partial(tuple.__new__, RuntimeFunction)
    result: list[RuntimeFunction] = []
    add = result.append
    later: list[int] = []  # indexes in result of the entries whose parent is resolved after the pass
    handled: list[int] = []  # indexes in result of the primary entries read in place that may name a handler
    code_lo = code_hi = 0
    # The file-backed span of the section the last unwind record was in: [lo, hi) in RVAs, at ``base`` in the file.
    lo = hi = base = 0
    for begin, end, unwind in struct.iter_unpack("<III", blob):
        if end <= begin:
            if begin or end:
                log.debug("skipping bad RUNTIME_FUNCTION %#x-%#x", begin, end)
            continue
        if not (cache and code_lo <= begin < code_hi):
            section = section_at(begin)
            if section is None:
                log.debug("skipping bad RUNTIME_FUNCTION %#x-%#x", begin, end)
                continue
            code_lo, code_hi = section.rva, section.end
        if not unwind & 1:  # else it points at another RUNTIME_FUNCTION rather than at unwind info
            if not lo <= unwind <= hi - 4:
                lo = hi = base = 0
                section = section_at(unwind)
                if section is not None and cache:
                    lo, hi, base = section.rva, section.rva + section.raw_size, section.raw_offset - section.rva
            if lo <= unwind <= hi - 4 and (kind := _UNWIND_KINDS[data[base + unwind]]) != _CHAINED:
                if kind:
                    handled.append(len(result))
                add(make((begin, end, unwind, None)))  # the common case, read in place: a primary function
                continue
        later.append(len(result))
        add(make((begin, end, unwind, None)))
    if later:
        begins = {entry.begin for entry in result}
        for index in later:
            begin, end, unwind, _ = result[index]
            parent: Optional[int]
            if unwind & 1:
                target = image.read(unwind & ~1, 4)
                parent = struct.unpack("<I", target)[0] if len(target) == 4 else None
            else:
                parent = _chain_root(image, unwind, begins)
            result[index] = make((begin, end, unwind, None if parent == begin else parent))
        handled = sorted(handled + later)
    return result, handled


def _chain_root(image: PEImage, unwind_rva: int, begins: Collection[int]) -> Optional[int]:
    """Follow UNW_FLAG_CHAININFO links to the primary function's begin address (bounded, cycle-safe)."""
    root = None
    seen = set()
    for _ in range(32):
        if unwind_rva in seen:
            break
        seen.add(unwind_rva)
        header = image.read(unwind_rva, 4)
        if len(header) < 4:
            break
        flags = header[0] >> 3
        if not flags & UNW_FLAG_CHAININFO:
            break
        count = header[2]
        chained = image.read(unwind_rva + 4 + 2 * (count + (count & 1)), 12)
        if len(chained) < 12:
            break
        begin, _end, next_unwind = struct.unpack("<III", chained)
        root = begin
        if begin not in begins:
            break
        unwind_rva = next_unwind
    return root
