"""Bounded run-time evaluation of the bytes a call-site argument points to.

Some registrations hand ETW a GUID that no instruction or data of the image spells out: the code
derives it at run time (msodbcdiag18.dll hashes its provider name with bcrypt's SHA-256 and folds the
digest into a GUID). The static data flow sees only "a pointer into an object". This module runs the
image's own code instead: it maps the image in an x86-64 emulator (unicorn, an optional dependency
imported lazily), starts at the entry of a function that leads to the call site, and stops when the
call site is reached, reading the bytes its argument points to.

Why it can be trusted, and where it stops:

* Only the image's code runs. Calls into other modules go through the IAT, whose slots point at stubs;
  a stub runs the documented semantics of a known pure or allocator function (``memcpy_s``, ``malloc``,
  ``MultiByteToWideChar`` on ASCII text, the ``BCrypt*`` hash functions modelled with hashlib...). Any
  other import ends the run: nothing is guessed about a function we do not model.
* The start function's parameters point at zeroed scratch buffers. The run is done twice with the
  scratch buffers, heap and stack at different addresses; the answer is kept only when both runs reach
  the call and agree on the bytes, and the bytes are not all zero (a value read from the caller's
  object would be the scratch buffer's zeros).
* Hard bounds: instructions per run, per question and per binary, a fixed memory map (image, stack,
  heap, scratch); a fault, an unmapped access, a bound hit or an unknown import is a clean "no answer".
  The bounds count work, not seconds, so what an analysis finds does not depend on the machine's load.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ...binary.pe import PEImage
from ...model import Facts

log = logging.getLogger(__name__)

# The budgets count instructions given to the emulator (unicorn stops a run at its count exactly), never
# seconds: a wall-clock budget made the answers depend on the machine's load. They are sized by what an
# instruction costs at its slowest, about 4 us (code the run writes and then executes, or straight-line code
# run once: each instruction translated anew; a loop costs 15-40 ns an instruction once translated), so a
# hostile image stops within the seconds the earlier wall-clock bounds allowed (2 s a run, 6 s a question,
# 10 s a binary); the real binaries' longest run steps 5,500 instructions (msodbcdiag18.dll).
#: Instructions one run may step before it is abandoned.
MAX_INSTRUCTIONS = 500_000
#: Instructions a run is given first: one that has not ended within them is run again from its start, given
#: its whole bound (a run is deterministic: the second one is the first one, given more), so a run
#: that ends early, as nearly all do, is charged this much and not its whole bound. Each run is charged one
#: instruction more per page of the image too: it copies the image into the emulator (1.2 ms a MiB, about 4.7 us
#: a page), which a 100 MB image makes the larger part of a run.
FIRST_INSTRUCTIONS = 16_384
#: Instructions all the runs of one question may be given together (checked before each run).
QUESTION_INSTRUCTIONS = 1_500_000
#: Questions one engine answers per binary (the rest get no answer): a bound on the whole analysis.
MAX_QUESTIONS = 16
#: Instructions all the questions of one binary may be given together: a hostile image whose every
#: question runs to its bounds stops costing time here (checked before each question and each run).
BINARY_INSTRUCTIONS = 2_500_000
#: Start functions tried per question: the function of the call, then its callers, nearest first.
MAX_STARTS = 12
MAX_START_DEPTH = 4
#: Sizes of the regions mapped besides the image.
STACK_SIZE = 1 << 20
HEAP_SIZE = 16 << 20
SCRATCH_SIZE = 1 << 16
#: Pages of memory outside the map that a run may touch (each reads as zeros: fields of objects the start
#: function received, which its callers had built).
MAX_LAZY_PAGES = 64
#: QEMU's translated-code buffer per engine (its default reserves 1 GiB of address space): one run translates
#: at most MAX_INSTRUCTIONS instructions' blocks, and a full buffer is flushed and refilled, never an error.
TCG_BUFFER = 32 << 20
#: Bytes of argument slots the start function receives (4 registers + stack arguments).
STACK_ARGUMENTS = 8

_PAGE = 0x1000
#: Where the two runs place their regions (far from any image base; the second run elsewhere).
_LAYOUTS = (0x7FF0_0000_0000, 0x7E10_0000_0000)
#: Where the scratch pointers point, past the middle of the scratch memory (a different odd offset per run).
_POOL_SKEW = (0x4B, 0x5A7)
_STUB_OFFSET = 0x0
_STACK_OFFSET = 0x1000_0000
_HEAP_OFFSET = 0x2000_0000
_SCRATCH_OFFSET = 0x3000_0000
#: x64 argument registers, in order.
_ARG_REGS = ("rcx", "rdx", "r8", "r9")


class EvaluationError(Exception):
    """The run could not go on (unknown import, fault, bound): the evaluation has no answer."""


def available() -> bool:
    """Whether the emulator dependency is installed (``pip install unicorn``)."""
    try:
        import unicorn  # noqa: F401
    except ImportError:
        return False
    return True


def _align(n: int) -> int:
    return (n + _PAGE - 1) & ~(_PAGE - 1)


#: The most bytes one modelled import reads, copies or fills: more than any region the run maps (the heap's
#: 16 MiB), so a longer length is a wrong or hostile one, refused before a buffer of that size is made.
MAX_TRANSFER = HEAP_SIZE


def _length(n: int) -> int:
    """``n`` when one import may move that many bytes; a hostile length (``memset(p, 0, -1)``) would
    otherwise be a buffer of up to 2**64 bytes made before the emulator refuses the write."""
    if n > MAX_TRANSFER:
        raise EvaluationError(f"a length of {n:#x} bytes, more than any mapped region")
    return n


@dataclass
class _Run:
    """One emulation: the machine, its bump heap and the models' state."""

    uc: Any
    regs: dict[str, int]
    base: int
    stubs: dict[int, str] = field(default_factory=dict)
    heap_next: int = 0
    handles: dict[int, Any] = field(default_factory=dict)
    sizes: dict[int, int] = field(default_factory=dict)
    next_handle: int = 0x1000
    #: Which of the two runs this is: environment queries answer differently in each.
    variant: int = 0
    image_base: int = 0
    image_name: str = "module.dll"

    # ---------------------------------------------------------------- machine access
    def reg(self, name: str) -> int:
        return int(self.uc.reg_read(self.regs[name]))

    def set_reg(self, name: str, value: int) -> None:
        self.uc.reg_write(self.regs[name], value & 0xFFFF_FFFF_FFFF_FFFF)

    def arg(self, index: int) -> int:
        """The ``index``-th argument of the import being called (the stub runs before its ``ret``)."""
        if index < 4:
            return self.reg(_ARG_REGS[index])
        rsp = self.reg("rsp")
        return struct.unpack("<Q", bytes(self.uc.mem_read(rsp + 8 + 8 * index, 8)))[0]

    def read(self, address: int, size: int) -> bytes:
        return bytes(self.uc.mem_read(address, _length(size))) if size > 0 else b""

    def write(self, address: int, data: bytes) -> None:
        if data:
            self.uc.mem_write(address, data)

    def wide(self, address: int, limit: int = 0x8000) -> str:
        """A NUL-terminated UTF-16 string."""
        out = bytearray()
        while len(out) < 2 * limit:
            pair = self.read(address + len(out), 2)
            if pair == b"\0\0":
                break
            out += pair
        return out.decode("utf-16-le", errors="replace")

    def narrow_length(self, address: int, limit: int = 0x10000) -> int:
        n = 0
        while n < limit and self.read(address + n, 1) != b"\0":
            n += 1
        return n

    def alloc(self, size: int) -> int:
        size = max(16, (size + 15) & ~15)
        if self.heap_next + size > HEAP_SIZE:
            raise EvaluationError("heap bound reached")
        address = self.base + _HEAP_OFFSET + self.heap_next
        self.heap_next += size
        self.sizes[address] = size
        self.write(address, bytes(size))
        return address

    def handle(self, value: Any) -> int:
        self.next_handle += 0x10
        self.handles[self.next_handle] = value
        return self.next_handle


# ------------------------------------------------------------------------------------------ import models
# Each model gets the run, sets RAX where the function returns a value, and may write memory. They follow
# the functions' documented contracts (C runtime, kernel32, bcrypt); none keeps state outside the run.
def _memcpy(run: _Run) -> None:
    dest, src, n = run.arg(0), run.arg(1), run.arg(2)
    run.write(dest, run.read(src, n))
    run.set_reg("rax", dest)


def _memcpy_s(run: _Run) -> None:
    dest, size, src, n = run.arg(0), run.arg(1), run.arg(2), run.arg(3)
    if n > size:
        run.set_reg("rax", 34)  # ERANGE
        return
    run.write(dest, run.read(src, n))
    run.set_reg("rax", 0)


def _memset(run: _Run) -> None:
    dest, value, n = run.arg(0), run.arg(1) & 0xFF, run.arg(2)
    run.write(dest, bytes([value]) * _length(n))
    run.set_reg("rax", dest)


def _strlen(run: _Run) -> None:
    run.set_reg("rax", run.narrow_length(run.arg(0)))


def _wcslen(run: _Run) -> None:
    run.set_reg("rax", len(run.wide(run.arg(0))))


def _malloc(run: _Run) -> None:
    run.set_reg("rax", run.alloc(run.arg(0)))


def _calloc(run: _Run) -> None:
    run.set_reg("rax", run.alloc(run.arg(0) * run.arg(1)))


def _second_size_alloc(run: _Run) -> None:
    """HeapAlloc(heap, flags, size), LocalAlloc(flags, size) and GlobalAlloc: zeroed memory."""
    run.set_reg("rax", run.alloc(run.arg(2) if run.stubs.get(run.reg("rip"), "").endswith("HeapAlloc")
                                 else run.arg(1)))


def _realloc(run: _Run) -> None:
    """realloc(ptr, size): a new block holding the old one's bytes (as many as it had)."""
    old, size = run.arg(0), run.arg(1)
    new = run.alloc(size)
    if old:
        run.write(new, run.read(old, min(size, run.sizes.get(old, size))))
    run.set_reg("rax", new)


def _free(run: _Run) -> None:
    run.set_reg("rax", 0)


def _true(run: _Run) -> None:
    run.set_reg("rax", 1)


def _process_heap(run: _Run) -> None:
    run.set_reg("rax", 0x5EA0)


def _multibyte_to_wide(run: _Run) -> None:
    """MultiByteToWideChar on ASCII text (every code page maps 0x00-0x7F alike); other text ends the run."""
    src, count, dest, room = run.arg(2), run.arg(3) & 0xFFFFFFFF, run.arg(4), run.arg(5) & 0xFFFFFFFF
    if count == 0xFFFFFFFF:
        text = run.read(src, run.narrow_length(src) + 1)
    else:
        text = run.read(src, count)
    if any(b >= 0x80 for b in text):
        raise EvaluationError("MultiByteToWideChar on non-ASCII text")
    wide = text.decode("ascii").encode("utf-16-le")
    if room == 0:
        run.set_reg("rax", len(text))
        return
    if room < len(text):
        run.set_reg("rax", 0)
        return
    run.write(dest, wide)
    run.set_reg("rax", len(text))


_HASHES = {"SHA256": "sha256", "SHA1": "sha1", "MD5": "md5", "SHA384": "sha384", "SHA512": "sha512"}


def _bcrypt_open(run: _Run) -> None:
    """BCryptOpenAlgorithmProvider(phAlgorithm, pszAlgId, pszImplementation, dwFlags): hash algorithms only."""
    name = run.wide(run.arg(1), 64).upper()
    if name not in _HASHES or run.arg(3) & 0x8:  # BCRYPT_ALG_HANDLE_HMAC_FLAG: keyed, not modelled
        raise EvaluationError(f"BCryptOpenAlgorithmProvider({name!r}) not modelled")
    run.write(run.arg(0), struct.pack("<Q", run.handle(("alg", _HASHES[name]))))
    run.set_reg("rax", 0)


def _bcrypt_get_property(run: _Run) -> None:
    """BCryptGetProperty(hObject, pszProperty, pbOutput, cbOutput, pcbResult, dwFlags) for the hash sizes."""
    obj = run.handles.get(run.arg(0))
    prop = run.wide(run.arg(1), 64)
    if obj is None:
        raise EvaluationError("BCryptGetProperty on an unknown handle")
    name = obj[1] if obj[0] == "alg" else obj[1].name
    values = {"ObjectLength": 0x200, "HashDigestLength": hashlib.new(name).digest_size,
              "BlockLength": hashlib.new(name).block_size}
    if prop not in values:
        raise EvaluationError(f"BCryptGetProperty({prop!r}) not modelled")
    out, room, result = run.arg(2), run.arg(3) & 0xFFFFFFFF, run.arg(4)
    if result:
        run.write(result, struct.pack("<I", 4))
    if out and room >= 4:
        run.write(out, struct.pack("<I", values[prop]))
    run.set_reg("rax", 0 if (not out or room >= 4) else 0xC0000023)  # STATUS_BUFFER_TOO_SMALL


def _bcrypt_create_hash(run: _Run) -> None:
    """BCryptCreateHash(hAlgorithm, phHash, pbHashObject, cbHashObject, pbSecret, cbSecret, dwFlags)."""
    obj = run.handles.get(run.arg(0))
    if obj is None or obj[0] != "alg" or run.arg(5) & 0xFFFFFFFF:
        raise EvaluationError("BCryptCreateHash: unknown algorithm or keyed hash")
    run.write(run.arg(1), struct.pack("<Q", run.handle(("hash", hashlib.new(obj[1])))))
    run.set_reg("rax", 0)


def _bcrypt_hash_data(run: _Run) -> None:
    """BCryptHashData(hHash, pbInput, cbInput, dwFlags)."""
    obj = run.handles.get(run.arg(0))
    if obj is None or obj[0] != "hash":
        raise EvaluationError("BCryptHashData on an unknown handle")
    obj[1].update(run.read(run.arg(1), run.arg(2) & 0xFFFFFFFF))
    run.set_reg("rax", 0)


def _bcrypt_finish_hash(run: _Run) -> None:
    """BCryptFinishHash(hHash, pbOutput, cbOutput, dwFlags): the digest, which must fill cbOutput exactly."""
    obj = run.handles.get(run.arg(0))
    if obj is None or obj[0] != "hash":
        raise EvaluationError("BCryptFinishHash on an unknown handle")
    digest = obj[1].digest()
    if run.arg(2) & 0xFFFFFFFF != len(digest):
        run.set_reg("rax", 0xC000000D)  # STATUS_INVALID_PARAMETER
        return
    run.write(run.arg(1), digest)
    run.set_reg("rax", 0)


def _status_success(run: _Run) -> None:
    run.set_reg("rax", 0)


# Environment queries: each run answers differently (another folder, process and thread id), so a value
# that depends on them makes the two runs disagree and is not reported.
def _module_path(run: _Run) -> str:
    return ("C:\\Program Files\\A\\", "D:\\B\\")[run.variant] + run.image_name


def _module_file_name(run: _Run, wide: bool) -> None:
    """GetModuleFileNameW/A(hModule, lpFilename, nSize): this image's path (another one in each run)."""
    module, dest, room = run.arg(0), run.arg(1), run.arg(2) & 0xFFFFFFFF
    if module not in (0, run.image_base):
        run.set_reg("rax", 0)
        return
    path = _module_path(run)
    n = min(len(path), max(room - 1, 0))
    run.write(dest, (path[:n] + "\0").encode("utf-16-le" if wide else "ascii"))
    run.set_reg("rax", n)


def _module_handle(run: _Run) -> None:
    """GetModuleHandle(NULL) is this image; another module is not loaded in the run."""
    run.set_reg("rax", run.image_base if run.arg(0) == 0 else 0)


def _process_id(run: _Run) -> None:
    run.set_reg("rax", (0x1234, 0x4321)[run.variant])


def _last_error(run: _Run) -> None:
    run.set_reg("rax", 0)


def _no_effect(run: _Run) -> None:
    """Critical sections and the like: nothing to do in a run with one thread."""
    run.set_reg("rax", 1)


#: Import name (without the DLL) -> model. Names not here end the run.
MODELS: dict[str, Callable[[_Run], None]] = {
    "memcpy": _memcpy, "memmove": _memcpy, "memcpy_s": _memcpy_s, "memmove_s": _memcpy_s, "memset": _memset,
    "strlen": _strlen, "wcslen": _wcslen, "lstrlenW": _wcslen, "lstrlenA": _strlen,
    "malloc": _malloc, "calloc": _calloc, "realloc": _realloc, "free": _free,
    "_malloc_base": _malloc, "_calloc_base": _calloc, "_realloc_base": _realloc, "_free_base": _free,
    "HeapAlloc": _second_size_alloc, "LocalAlloc": _second_size_alloc, "GlobalAlloc": _second_size_alloc,
    "HeapFree": _true, "LocalFree": _free, "GlobalFree": _free, "GetProcessHeap": _process_heap,
    "MultiByteToWideChar": _multibyte_to_wide,
    "BCryptOpenAlgorithmProvider": _bcrypt_open, "BCryptGetProperty": _bcrypt_get_property,
    "BCryptCreateHash": _bcrypt_create_hash, "BCryptHashData": _bcrypt_hash_data,
    "BCryptFinishHash": _bcrypt_finish_hash, "BCryptDestroyHash": _status_success,
    "BCryptCloseAlgorithmProvider": _status_success,
    "GetModuleFileNameW": lambda run: _module_file_name(run, True),
    "GetModuleFileNameA": lambda run: _module_file_name(run, False),
    "GetModuleHandleW": _module_handle, "GetModuleHandleA": _module_handle,
    "GetCurrentProcessId": _process_id, "GetCurrentThreadId": _process_id, "GetLastError": _last_error,
    "SetLastError": _last_error,
    "InitializeCriticalSection": _no_effect, "InitializeCriticalSectionAndSpinCount": _no_effect,
    "InitializeCriticalSectionEx": _no_effect, "EnterCriticalSection": _no_effect,
    "LeaveCriticalSection": _no_effect, "DeleteCriticalSection": _no_effect,
    "AcquireSRWLockExclusive": _no_effect, "ReleaseSRWLockExclusive": _no_effect,
    "AcquireSRWLockShared": _no_effect, "ReleaseSRWLockShared": _no_effect,
}


# ------------------------------------------------------------------------------------------ the runs
def callers_by_function(facts: Facts) -> dict[int, set[int]]:
    """Function -> the functions that call it (self-calls left out), for ``runtime_starts``: built once
    per binary by whoever asks several questions."""
    callers: dict[int, set[int]] = {}
    for site in facts.calls:
        if site.caller != site.callee:
            callers.setdefault(site.callee, set()).add(site.caller)
    return callers


def runtime_starts(facts: Facts, function: int, callers: Optional[Mapping[int, Collection[int]]] = None,
                   depth: int = MAX_START_DEPTH, limit: int = MAX_STARTS) -> list[int]:
    """``function`` and the functions that call it, breadth first (nearest first), within the bounds
    (``callers``: ``callers_by_function(facts)``, made here when not given).

    The nearest start is tried first: the fewer instructions run, the less the models matter; a start
    whose callers built the value (a caller's object, a caller's string) makes the runs disagree, and the
    next one up is tried.
    """
    if callers is None:
        callers = callers_by_function(facts)
    order = [function]
    frontier = [function]
    for _ in range(depth):
        frontier = sorted({c for f in frontier for c in callers.get(f, ()) if c not in order})
        order.extend(frontier)
        if len(order) >= limit:
            break
    return [rva for rva in order[:limit] if rva in facts.functions and not facts.functions[rva].imported]



@dataclass
class Evaluation:
    """What one question's runs found: the bytes (None without an answer) and why not, and the instructions
    its runs were charged (``QUESTION_INSTRUCTIONS``)."""

    data: Optional[bytes]
    start: int = -1
    reason: str = ""
    charged: int = 0


class _OutOfInstructions(EvaluationError):
    """The run stepped every instruction it was given without reaching the call."""


class _Spent(EvaluationError):
    """The question's instructions do not cover the next run."""


def pointed_bytes(image: PEImage, starts: Sequence[int], site_rva: int, index: int, size: int = 16,
                  *, through: Optional[int] = None, max_instructions: int = MAX_INSTRUCTIONS,
                  question_instructions: int = QUESTION_INSTRUCTIONS) -> Evaluation:
    """The ``size`` bytes argument ``index`` of the call at ``site_rva`` points to when that call is reached
    from the entry of one of ``starts`` (tried in order; the first agreeing pair of runs answers).

    With ``through``, the argument points at a structure and the bytes are those the pointer at offset
    ``through`` of that structure points to (a TRACE_GUID_REGISTRATION's Guid, an EVENT_TRACE_HEADER's
    GuidPtr)."""
    if not available():
        return Evaluation(None, reason="the emulator (unicorn) is not installed")
    from unicorn import UcError

    reasons = []
    setup = _align(image.size_of_image) // _PAGE
    charged = 0

    def run(start: int, layout: int, variant: int) -> bytes:
        """One run, given FIRST_INSTRUCTIONS and then, if it did not end within them, its whole bound."""
        nonlocal charged
        given = min(FIRST_INSTRUCTIONS, max_instructions)
        while True:
            if charged + setup + given > question_instructions:
                raise _Spent(f"the question's {question_instructions:,} instructions are spent")
            charged += setup + given
            try:
                return _run(image, start, site_rva, index, size, layout, variant, given, through)
            except _OutOfInstructions:
                if given >= max_instructions:
                    raise
                given = max_instructions

    for start in starts:
        found: list[bytes] = []
        for variant, layout in enumerate(_LAYOUTS):
            try:
                found.append(run(start, layout, variant))
            except _Spent as error:
                reasons.append(str(error))
                return Evaluation(None, reason="; ".join(reasons), charged=charged)
            except (EvaluationError, UcError) as error:  # UcError: mapping a hostile image for the run
                reasons.append(f"from 0x{start:x}: {error}")
                break
        if len(found) == len(_LAYOUTS):
            if any(data != found[0] for data in found[1:]):
                reasons.append(f"from 0x{start:x}: the runs disagree (the bytes depend on the inputs)")
            elif not any(found[0]):
                reasons.append(f"from 0x{start:x}: the bytes are all zero (read from the inputs)")
            else:
                return Evaluation(found[0], start, charged=charged)
    return Evaluation(None, reason="; ".join(reasons) or "no start function", charged=charged)


def _run(image: PEImage, start: int, site_rva: int, index: int, size: int, base: int, variant: int,
         max_instructions: int, through: Optional[int] = None) -> bytes:
    """One run in an engine of its own, closed when the run ends.

    The bindings' engine is in reference cycles (its hooks' callbacks refer back to it) that only the cyclic
    collector frees, and ``analyze`` runs with that collector off: every run kept its engine, with the image's
    copy and 1 GiB of reserved address space for QEMU's code buffer, to the end of the process. Under an
    address-space limit (``ulimit -v``, 3 GiB) the third run ended the process with QEMU's own message and exit
    code 1. So the code buffer is sized for one bounded run and the engine is closed here.
    """
    from unicorn import UC_ARCH_X86, UC_MODE_64, Uc

    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    set_buffer = getattr(uc, "ctl_set_tcg_buffer_size", None)  # unicorn >= 2.0.2
    if set_buffer is not None:
        set_buffer(TCG_BUFFER)
    try:
        return _run_in(uc, image, start, site_rva, index, size, base, variant, max_instructions, through)
    finally:
        close = getattr(uc, "_Uc__finalizer", None)  # the bindings' own release (uc_close), run at most once
        if callable(close):
            close()


def _run_in(uc: Any, image: PEImage, start: int, site_rva: int, index: int, size: int, base: int, variant: int,
            max_instructions: int, through: Optional[int] = None) -> bytes:
    from unicorn import (
        UC_HOOK_CODE,
        UC_HOOK_MEM_FETCH_UNMAPPED,
        UC_HOOK_MEM_READ_UNMAPPED,
        UC_HOOK_MEM_WRITE_UNMAPPED,
        UC_MEM_FETCH_UNMAPPED,
        UcError,
    )
    from unicorn import x86_const as x86

    regs = {name: getattr(x86, f"UC_X86_REG_{name.upper()}") for name in (*_ARG_REGS, "rax", "rsp", "rip")}
    run = _Run(uc, regs, base, variant=variant, image_base=image.image_base,
               image_name=image.path.replace("\\", "/").rsplit("/", 1)[-1] or "module.dll")
    image_size = _align(image.size_of_image)
    uc.mem_map(image.image_base, image_size)
    for section in image.sections:
        uc.mem_write(image.image_base + section.rva, image.read(section.rva, section.virtual_size or section.raw_size))
    stub_base = base + _STUB_OFFSET
    uc.mem_map(stub_base, _align(8 * (len(image.imports) + 2)))
    sentinel = stub_base
    for n, (slot, name) in enumerate(sorted(image.imports.items()), start=1):
        stub = stub_base + 8 * n
        run.stubs[stub] = name.split("!", 1)[-1]
        uc.mem_write(stub, b"\xc3")  # ret: the model runs in the hook before it
        uc.mem_write(image.image_base + slot, struct.pack("<Q", stub))
    uc.mem_map(base + _STACK_OFFSET, STACK_SIZE)
    uc.mem_map(base + _HEAP_OFFSET, HEAP_SIZE)
    uc.mem_map(base + _SCRATCH_OFFSET, SCRATCH_SIZE * (len(_ARG_REGS) + STACK_ARGUMENTS))
    rsp = base + _STACK_OFFSET + STACK_SIZE - 0x1000 - 8
    scratch = [base + _SCRATCH_OFFSET + SCRATCH_SIZE * i for i in range(len(_ARG_REGS) + STACK_ARGUMENTS)]
    # Every 8-byte slot of the scratch memory points into the middle of the scratch memory itself: objects
    # the callers would have built read as a graph of pointers (whose bytes differ in each run), so the
    # code can follow their fields without faulting, and what it derives from them makes the runs disagree.
    # The pointers' low bytes are non-zero and differ per run, so a string read through one differs too.
    pool = base + _SCRATCH_OFFSET + SCRATCH_SIZE // 2 + _POOL_SKEW[variant]
    uc.mem_write(base + _SCRATCH_OFFSET, struct.pack("<Q", pool) * (SCRATCH_SIZE * len(scratch) // 8))
    uc.mem_write(rsp, struct.pack("<Q", sentinel))
    for i, pointer in enumerate(scratch[len(_ARG_REGS):]):
        uc.mem_write(rsp + 0x28 + 8 * i, struct.pack("<Q", pointer))
    for name, pointer in zip(_ARG_REGS, scratch):
        run.set_reg(name, pointer)
    run.set_reg("rsp", rsp)

    site = image.image_base + site_rva
    outcome: dict[str, Any] = {}

    def on_code(uc: Any, address: int, _size: int, _data: Any) -> None:
        try:
            if address == site:
                if index < 4:
                    pointer = run.reg(_ARG_REGS[index])
                else:  # before the call pushes its return address: the 5th argument is at [rsp+20h]
                    pointer = struct.unpack("<Q", run.read(run.reg("rsp") + 8 * index, 8))[0]
                if through is not None:
                    pointer = struct.unpack("<Q", run.read(pointer + through, 8))[0]
                outcome["data"] = run.read(pointer, size)
                uc.emu_stop()
            elif address == sentinel:
                outcome["error"] = "the start function returned before reaching the call"
                uc.emu_stop()
            elif address in run.stubs:
                model = MODELS.get(run.stubs[address])
                if model is None:
                    outcome["error"] = f"import {run.stubs[address]} is not modelled"
                    uc.emu_stop()
                    return
                model(run)
        except EvaluationError as error:
            outcome["error"] = str(error)
            uc.emu_stop()
        except UcError as error:
            outcome["error"] = f"fault in a model: {error}"
            uc.emu_stop()

    lazy = [0]

    def on_unmapped(uc: Any, access: int, address: int, _size: int, _value: int, _data: Any) -> bool:
        if access == UC_MEM_FETCH_UNMAPPED or lazy[0] >= MAX_LAZY_PAGES:
            return False
        lazy[0] += 1
        try:
            uc.mem_map(address & ~(_PAGE - 1), _PAGE)
        except UcError:
            return False
        return True

    uc.hook_add(UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED | UC_HOOK_MEM_FETCH_UNMAPPED, on_unmapped)
    # Code hooks only where they matter: the call site, the stubs and the sentinel.
    uc.hook_add(UC_HOOK_CODE, on_code, begin=site, end=site)
    uc.hook_add(UC_HOOK_CODE, on_code, begin=stub_base, end=stub_base + 8 * (len(image.imports) + 1))
    try:
        uc.emu_start(image.image_base + start, 0, count=max_instructions)
    except UcError as error:
        raise EvaluationError(f"fault at 0x{int(uc.reg_read(x86.UC_X86_REG_RIP)):x}: {error}") from None
    if "error" in outcome:
        raise EvaluationError(outcome["error"])
    if "data" not in outcome:
        raise _OutOfInstructions(f"the call was not reached within {max_instructions:,} instructions")
    return outcome["data"]
