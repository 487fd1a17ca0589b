"""Manifest and classic providers in real binaries nobody here wrote (``real_binary`` fetches them, pinned by
sha256, and skips with the reason when they cannot be had).

Truth is independent of the analyzer: for mc.exe-built binaries the events their own WEVT_TEMPLATE resource
declares, read here with a small byte-level reader written from the libyal/libfwevt description of the
format (CRIM header -> provider descriptors -> WEVT provider -> element offsets -> EVNT event definitions,
48 bytes each: Id, Version, Channel, Level, Opcode, Task, Keyword first, in EVENT_DESCRIPTOR order).
"""

from __future__ import annotations

import struct
import time
import uuid
from pathlib import Path

import pefile
import pytest

from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
from api_to_etw.binary.loader import open_binary
from api_to_etw.engine.native.engine import NativeEngine

Descriptor = tuple  # (provider GUID, Id, Version, Channel, Level, Opcode, Task, Keyword)


def wevt_events(path: Path) -> set[Descriptor]:
    """Every event definition of the binary's WEVT_TEMPLATE resource, with its provider GUID."""
    pe = pefile.PE(str(path), fast_load=True)
    pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]])
    out: set[Descriptor] = set()
    root = getattr(pe, "DIRECTORY_ENTRY_RESOURCE", None)
    for rtype in root.entries if root is not None else ():
        if str(rtype.name) != "WEVT_TEMPLATE":
            continue
        for name in rtype.directory.entries:
            for lang in name.directory.entries:
                blob = pe.get_data(lang.data.struct.OffsetToData, lang.data.struct.Size)
                assert blob[:4] == b"CRIM"
                (providers,) = struct.unpack_from("<I", blob, 12)
                for i in range(providers):
                    guid = str(uuid.UUID(bytes_le=blob[16 + 20 * i : 32 + 20 * i]))
                    (offset,) = struct.unpack_from("<I", blob, 32 + 20 * i)
                    assert blob[offset : offset + 4] == b"WEVT"
                    (elements,) = struct.unpack_from("<I", blob, offset + 12)
                    for k in range(elements):
                        (element,) = struct.unpack_from("<I", blob, offset + 20 + 8 * k)
                        if blob[element : element + 4] != b"EVNT":
                            continue
                        (count,) = struct.unpack_from("<I", blob, element + 8)
                        for j in range(count):
                            out.add((guid, *struct.unpack_from("<HBBBBHQ", blob, element + 16 + 48 * j)))
    return out


def descriptor_bytes(event: Descriptor) -> bytes:
    return struct.pack("<HBBBBHQ", *event[1:])


def found_events(path: Path) -> tuple[set[Descriptor], set[Descriptor], float]:
    """(resolved manifest events, unresolved ones with a descriptor, seconds) of ``analyze --all-sites``."""
    start = time.perf_counter()
    loaded = open_binary(str(path), use_pdb=False)
    rows = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions(all_sites=True)).rows
    seconds = time.perf_counter() - start
    resolved, partial = set(), set()
    for r in rows:
        e = r.event
        if e.kind != "manifest" or e.id is None:
            continue
        key = (e.provider_guid, e.id, e.version, e.channel, e.level, e.opcode, e.task, e.keyword)
        (resolved if e.resolved else partial).add(key)
    return resolved, partial, seconds


def test_vcamp140_every_wevt_event_with_its_provider(real_binary):
    """mc.exe provider whose REGHANDLE is allocated and reached as [[this+0x58]] from the trace object
    (the EventRegister CallbackContext) in 8 sites and from an object returned by a call in 3."""
    path = real_binary("vcamp140.dll")
    truth = wevt_events(path)
    assert len(truth) == 11
    resolved, partial, seconds = found_events(path)
    assert resolved == truth
    assert not partial
    assert seconds < 30


def test_dxcompiler_every_referenced_wevt_event(real_binary):
    """mc -um provider: one McGenEventWrite helper, 16 template call sites. The WEVT declares 16 events; the
    image holds the EVENT_DESCRIPTOR bytes of 14 of them (the linker dropped the 2 no code uses), and those
    14 are what the code can write."""
    path = real_binary("dxcompiler.dll")
    truth = wevt_events(path)
    assert len(truth) == 16
    data = _data_sections(path)
    present = {e for e in truth if descriptor_bytes(e) in data}  # outside the resource, which holds them all
    assert len(present) == 14
    resolved, partial, seconds = found_events(path)
    assert resolved == present
    assert not partial
    assert seconds < 120


def _data_sections(path: Path) -> bytes:
    pe = pefile.PE(str(path), fast_load=True)
    return b"".join(sec.get_data() for sec in pe.sections if sec.Name.rstrip(b"\0") not in (b".rsrc", b".text"))


def test_dxil_descriptors_of_the_dxc_manifest(real_binary):
    """dxil.dll has no WEVT_TEMPLATE; its EVENT_DESCRIPTORs are those of the DXC manifest, whose compiled
    form is dxcompiler.dll's WEVT_TEMPLATE. Every such descriptor dxil's data holds is found, and only those;
    the events written through the context that dxil registers get that provider, the others (a second
    context no code in dxil registers) none."""
    layout = {e[1:] for e in wevt_events(real_binary("dxcompiler.dll"))}
    path = real_binary("dxil.dll")
    data = _data_sections(path)
    present = {d for d in layout if struct.pack("<HBBBBHQ", *d) in data}
    resolved, partial, _seconds = found_events(path)
    assert {e[1:] for e in resolved | partial} == present
    assert len({e[0] for e in resolved}) == 1 and all(e[0] == "" for e in partial)


def test_msodbcdiag18_classic_writes_have_the_run_time_provider(real_binary):
    """Classic RegisterTraceGuidsW + TraceEvent whose control GUID is hashed from a name at run time: the
    image holds no control GUID; the engine runs the code that computes it, so every TraceEvent row names the
    one provider, a GUID whose bytes are nowhere in the image (its value is checked against the test's own
    computation in test_runtime_providers_real)."""
    pytest.importorskip("unicorn", reason="the run-time evaluation needs the emulator (pip install unicorn)")
    path = real_binary("msodbcdiag18.dll")
    loaded = open_binary(str(path), use_pdb=False)
    rows = analyze(NativeEngine(loaded.image, loaded.pdb), AnalysisOptions(all_sites=True)).rows
    classic = [r for r in rows if r.event.kind == "classic"]
    assert classic and {r.event.write_function for r in classic} == {"TraceEvent"}
    [provider] = {r.event.provider_guid for r in classic}
    assert provider and uuid.UUID(provider).bytes_le not in path.read_bytes()
    # The class GUID (Data1 + 1, evaluated at the registration) is not in the image either; every write with
    # an event type is resolved with it (checked against the test's own computation there too).
    [class_guid] = {r.event.descriptor_symbol for r in classic}
    assert class_guid != provider and uuid.UUID(class_guid).bytes_le not in path.read_bytes()
    assert {r.event.resolved for r in classic} == {True, False}
    assert all(r.event.resolved == (r.event.opcode is not None) for r in classic)
    assert {r.event.kind for r in rows} == {"classic"}


# V8's ETW JIT provider (deps/v8/src/diagnostics/etw-jit-win.cc and etw-jit-metadata-win.h in nodejs/node):
# TRACELOGGING_DEFINE_PROVIDER(g_v8Provider, "V8.js", {57277741-3638-4A4B-BDBA-0AC6E45DA56C}) registered with
# EventRegister, and four LogEventData calls (SourceLoad, SourceDCStart, MethodLoad, MethodDCStart) whose
# descriptors are EventMetadata(id, kJScriptRuntimeKeyword): {id, 0, channel 11, TRACE_LEVEL_INFORMATION,
# EVENT_TRACE_TYPE_START, 0, keyword 1}, written with EventWriteTransfer; kSourceLoadEventID = 41 and
# kMethodLoadEventID = 9 are public constants (the two DCStart ids are not in the header).
V8_PROVIDER = "57277741-3638-4a4b-bdba-0ac6e45da56c"


def test_node_v8_jit_events_with_their_provider(real_binary):
    path = real_binary("node.exe")
    resolved, partial, _seconds = found_events(path)
    assert not partial
    assert len(resolved) == 4
    assert {e[0] for e in resolved} == {V8_PROVIDER}
    assert {e[2:] for e in resolved} == {(0, 11, 4, 1, 0, 1)}
    assert {9, 41} <= {e[1] for e in resolved}
