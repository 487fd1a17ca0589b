"""``--engine ghidra-decompiler``: the native engine's functions and call graph, Ghidra's decompiler's values.

flatline knows nothing of symbols, function starts, imports or prototypes, so the native engine
supplies all of that (``NativeEngine.load``: PDB, .pdata and export names, IAT slots, call sites by
instruction address, tail jumps). For each function the analysis asks to resolve, the decompiler's
p-code gives the argument values of the CALL/CALLIND ops at the native call sites, translated by
the one p-code module (``engine.pcode``). Where the decompiler has no call op at a site (it follows a
tail jump into the callee as a branch), that site's values come from the native data flow and are
counted as such; the stores to globals and object fields come from the native data flow too. A call op with fewer inputs than the ETW API's prototype needs is reported, never
completed by guessing.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import tempfile
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import IO, Any, Optional

from ...errors import ApiToEtwError, MissingDependencyError
from ...etw.apis import lookup
from ...model import FILL_ARGUMENTS, Arguments, CallSite, CaseSet, Facts, Reference, Resolution, Value, ValueSet
from ..base import Asked, Engine

log = logging.getLogger(__name__)

#: Seconds one function may take in the worker before it is given up (and the worker restarted).
FUNCTION_TIMEOUT = 120.0
#: Longest answer line accepted from the worker (bytes).
MAX_ANSWER = 64 << 20


@dataclass
class DecompilerStats:
    functions: int = 0
    failed: int = 0
    sites: int = 0
    native_fallback: int = 0
    native_slots: int = 0
    arity_mismatches: int = 0
    seconds: float = 0.0


def required_arguments(name: str) -> int:
    """How many arguments an ETW API call must carry for the analysis (its highest role slot + 1)."""
    api = lookup(name)
    return api.arguments_needed if api is not None else 0


class _InProcess:
    """flatline imported into this interpreter (Python >= 3.13)."""

    def __init__(self, data: bytes, image_base: int, writable: list[tuple[int, int]]):
        from .worker import FunctionDecompiler, MappedImage

        self.decompiler = FunctionDecompiler(MappedImage(data, image_base, writable))

    def arguments(self, function: int, size: int, sites: list[int],
                  fills: dict[int, tuple[Optional[int], int]]) -> dict[int, tuple[int, tuple[ValueSet, ...]]]:
        return self.decompiler.arguments(function, size, sites, fills)

    def close(self) -> None:
        self.decompiler.close()


class _Worker:
    """flatline in a worker process of a Python >= 3.13 interpreter, one JSON line each way."""

    def __init__(self, python: str, image_path: str, image_base: int, writable: list[tuple[int, int]]):
        self.python = python
        self.setup = {"image": image_path, "base": image_base, "writable": [list(w) for w in writable]}
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def _start(self) -> subprocess.Popen[bytes]:
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
        env = dict(os.environ)
        env["PYTHONPATH"] = package_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        # -P (Python >= 3.11; the worker needs 3.13): the working directory is not put first on sys.path, so
        # the worker imports this api_to_etw (PYTHONPATH), never another copy beside it or installed there.
        proc = subprocess.Popen([self.python, "-P", "-m", "api_to_etw.engine.decompiler.worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.proc = proc
        self._send(self.setup)
        ready = self._receive(FUNCTION_TIMEOUT)
        if not ready.get("ready"):
            self.close()
            raise MissingDependencyError(f"the decompiler worker ({self.python}) cannot start: "
                                         f"{ready.get('error', 'no answer')}")
        return proc

    def _send(self, obj: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(obj).encode() + b"\n")
        self.proc.stdin.flush()

    def _receive(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        stream: IO[bytes] = self.proc.stdout
        with selectors.DefaultSelector() as selector:
            selector.register(stream, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise TimeoutError(f"no answer from the decompiler worker in {timeout:.0f}s")
        line = stream.readline(MAX_ANSWER)
        if not line:
            raise RuntimeError("the decompiler worker stopped")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def arguments(self, function: int, size: int, sites: list[int],
                  fills: dict[int, tuple[Optional[int], int]]) -> dict[int, tuple[int, tuple[ValueSet, ...]]]:
        from .worker import decode_answer

        if self.proc is None or self.proc.poll() is not None:
            self._start()
        try:
            self._send({"function": function, "size": size, "sites": sites,
                        "fills": {str(rva): list(layout) for rva, layout in fills.items()}})
            answer = self._receive(FUNCTION_TIMEOUT)
        except (OSError, TimeoutError, RuntimeError, ValueError) as exc:
            self.close()  # a hung or dead worker is replaced on the next request
            raise RuntimeError(str(exc)) from None
        if answer.get("error"):
            raise RuntimeError(str(answer["error"]))
        return decode_answer(answer)

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


def mapped_image(image: Any) -> bytes:
    """The image as the Windows loader maps it: headers, then each section at its RVA (zero-filled)."""
    size = int(image.size_of_image)
    out = bytearray(size)
    first = min((s.rva for s in image.sections), default=size)
    header = image.data[: min(first, size, len(image.data))]
    out[: len(header)] = header
    for section in image.sections:
        raw = image.section_bytes(section)[: max(0, size - section.rva)]
        out[section.rva : section.rva + len(raw)] = raw
    return bytes(out)


class DecompilerEngine(Engine):
    """Values from the decompiler over the native engine's facts; every other answer is the native one."""

    name = "ghidra-decompiler"

    def __init__(self, native: Any, python: Optional[str] = None):
        self.native = native
        self.python = python
        #: The native engine's, since it supplies the facts, stores, references, annotations and guards.
        self.capabilities = frozenset(native.capabilities)
        self.stats = DecompilerStats()
        self._facts: Optional[Facts] = None
        self._backend: Any = None
        self._image_file: Optional[str] = None
        self._sites: dict[int, list[CallSite]] = {}

    def load(self) -> Facts:
        facts: Facts = self.native.load()
        self._facts = facts
        for site in facts.calls:
            self._sites.setdefault(site.caller, []).append(site)
        return facts

    def references(self, targets: Optional[Collection[int]] = None) -> list[Reference]:
        found: list[Reference] = self.native.references(targets)
        return found

    def annotations(self) -> list[tuple[int, tuple[str, ...]]]:
        found: list[tuple[int, tuple[str, ...]]] = self.native.annotations()
        return found

    def case_guards(self, function: int, selector: Value) -> dict[int, CaseSet]:
        """The switch cases that lead to each call (IOCTL codes): control flow, from the native engine."""
        found: dict[int, CaseSet] = self.native.case_guards(function, selector)
        return found

    def table_calls(self, slot: int, offsets: Collection[int]) -> list[tuple[CallSite, int]]:
        """The native engine finds them; they join the sites this engine resolves."""
        found: list[tuple[CallSite, int]] = self.native.table_calls(slot, offsets)
        for site, _offset in found:
            known = self._sites.setdefault(site.caller, [])
            if all(s.rva != site.rva for s in known):
                known.append(site)
        return found

    def _open_backend(self) -> Any:
        assert self._facts is not None
        image = self.native.image
        data = mapped_image(image)
        writable = [(rva, rva + size) for rva, size, write, _x in self._facts.sections if write]
        if self.python is None:
            return _InProcess(data, image.image_base, writable)
        handle, path = tempfile.mkstemp(prefix="api-to-etw-image-", suffix=".bin")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        self._image_file = path
        return _Worker(self.python, path, image.image_base, writable)

    def resolve(self, functions: Iterable[int], asked: Optional[Asked] = None) -> Resolution:
        assert self._facts is not None, "load() first"
        funcs = self._facts.functions
        answer = Resolution()
        for rva in dict.fromkeys(functions):
            func = funcs.get(rva)
            sites = self._sites.get(rva)
            if func is None or func.imported or not sites:
                continue
            if self._backend is None:
                self._backend = self._open_backend()
            started = time.perf_counter()
            try:
                found = self._backend.arguments(rva, func.size, sorted(s.rva for s in sites if not s.tail),
                                                self._fills(sites))
            except MissingDependencyError:
                raise
            except (RuntimeError, ApiToEtwError) as exc:
                log.warning("decompiler: %s at %#x: %s; its call sites keep the native values", func.name, rva, exc)
                self.stats.failed += 1
                found = {}
            self.stats.seconds += time.perf_counter() - started
            self.stats.functions += 1
            # The native data flow runs too (milliseconds): it records the function's stores to globals and
            # object fields (facts the decompiler engine takes from it, like the call graph) and gives the
            # values of the sites and slots the decompiler has none for.
            native_answer = self.native.resolve([rva])
            answer.stores.extend(native_answer.stores)
            for site in sites:
                merged = self._merge(site, found.get(site.rva), native_answer.args.get((rva, site.rva)))
                if merged is not None:
                    answer.args[(rva, site.rva)] = merged
        return answer

    def _fills(self, sites: list[CallSite]) -> dict[int, tuple[Optional[int], int]]:
        """The memset-like calls among ``sites`` (the native engine names them), with their argument slots."""
        callees: dict[int, str] = self.native.fill_callees
        return {s.rva: FILL_ARGUMENTS[callees[s.callee]] for s in sites if not s.tail and s.callee in callees}

    def _is_api(self, site: CallSite) -> Optional[str]:
        assert self._facts is not None
        callee = self._facts.functions.get(site.callee)
        return callee.name if callee is not None and lookup(callee.name) is not None else None

    def _merge(self, site: CallSite, answer: Optional[tuple[int, Arguments]],
               native: Optional[Arguments]) -> Optional[Arguments]:
        """The decompiler's values; what it cannot give comes from the native data flow, counted.

        An ETW API call keeps only the decompiler's view (a missing argument is an arity mismatch,
        reported). A call to one of the binary's own functions passes only the arguments the
        decompiler knows the callee takes: it decompiles one function at a time, without the callees'
        prototypes, so a wrapper's parameters beyond those come from the native engine."""
        if answer is None:
            self.stats.native_fallback += 1
            return native
        inputs, args = answer
        self.stats.sites += 1
        api = self._is_api(site)
        if api is not None:
            needed = required_arguments(api)
            if inputs < needed:
                self.stats.arity_mismatches += 1
                log.warning("decompiler: the call to %s at %#x passes %d of its %d arguments; a missing one is "
                            "the caller's own parameter only where the p-code shows its register untouched",
                            api, site.rva, inputs, needed)
            return args
        if native is None or inputs >= len(args):
            return args
        self.stats.native_slots += len(args) - inputs
        return tuple(args[:inputs]) + tuple(native[inputs:len(args)])

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
        if self._image_file is not None:
            try:
                os.unlink(self._image_file)
            except OSError:
                pass
            self._image_file = None
        st = self.stats
        log.info("decompiler: %d functions (%d failed), %d call sites from the decompiler, %d from the native "
                 "data flow, %d argument slots of internal calls from the native data flow, %d arity mismatches, "
                 "%.1fs", st.functions, st.failed, st.sites, st.native_fallback, st.native_slots,
                 st.arity_mismatches, st.seconds)
        self.native.close()
