"""Providers whose APIs, handles or contexts a real binary only resolves at run time, against truth read
independently of the analyzer (the binaries' own bytes, read here with pefile and iced-x86, and public
manifests and headers, transcribed by hand below).

- concrt140.dll (the MSVC Concurrency Runtime, no PDB): looks up RegisterTraceGuidsW and TraceEvent with
  GetProcAddress, keeps them XOR-encoded in a heap object and calls them through the CFG dispatch pointer.
  Its public header concrt.h declares the provider and event-class GUIDs it exports
  (``ConcRT_ProviderGuid``, ``ContextEventGuid``...; the provider is f7b697a3-4db5-4d3b-be71-c4d284e6592f),
  its event types ``ConcRT_EventType`` (CONCRT_EVENT_GENERIC 0 .. CONCRT_EVENT_DETACH 8) and
  ``Agents_EventType`` (AGENTS_EVENT_CREATE 0 .. AGENTS_EVENT_NAME 7). The classes it writes are the GUID
  constants its code copies into an EVENT_TRACE_HEADER (a 16-byte vector load of the constant).
- WinPixEventRuntime.dll: the public manifest runtime/lib/PIXETW.man of microsoft/PixEvents: provider
  Microsoft-Graphics-Tools-PixMarkers {8819CA17-7FAA-4184-AFB7-A4120CA793CD}, events 16-22 (below). The
  binary holds the EVENT_DESCRIPTORs of five of them; 18 and 19 (the v1 timing block and header) are not
  in it.
- WdfCoInstaller01011.dll: no manifest shipped; the truth is its bytes: the provider GUID handed to
  EventRegister and the one EVENT_DESCRIPTOR its single EventWrite site receives.
- msodbcdiag18.dll (the ODBC driver's BID diagnostics): its classic control GUID exists only at run time. No
  GUID, binary or as text, is in the file; the code hands the string "msodbcdiag18.ETW" (widened to UTF-16)
  to a routine that hashes it with bcrypt's SHA-256 and folds the digest into a 16-byte seed it copies from
  .data (the UTF-16 text "NullGUID"): Data1..Data3 = digest[16:24] XOR digest[0:8], Data4[0..3] =
  digest[24:28] OR digest[8:12], Data4[4..7] stay the seed's; it registers the class GUID as that GUID with
  Data1 + 1. No public source names this GUID (Microsoft's BID documentation and the CSS tools list the
  ".1" component GUIDs, none this adapter's): the truth below is the test's own hashlib computation from the
  name and seed it reads in the image, following the scheme read in the disassembly, and the analyzer,
  which runs the code (engine capability runtime-bytes, unicorn), must agree with it.
- dxil.dll: two mc.exe providers compiled in. Its own, Microsoft-Windows-DxcRuntime-API
  {af2ca688-62aa-48e9-8bf6-a0ca0cae2354} (projects/include/Tracing/DxcRuntime.man of
  microsoft/DirectXShaderCompiler), is registered; the events of include/dxc/Tracing/dxcetw.man
  (DXCompilerCreateInstance 4/5, DxcValidation 14/15) go through a second MCGEN_TRACE_CONTEXT that nothing
  registers: the DXCompiler-API GUID is not in the binary, and the context is only ever passed by address
  (``lea rcx``) to the write helper, never stored or copied. Those writes have no provider.
"""

from __future__ import annotations

import csv
import io
import struct
import uuid

import pytest
from conftest import run_cli

CONCRT_PROVIDER = "f7b697a3-4db5-4d3b-be71-c4d284e6592f"
PIX_PROVIDER = "8819ca17-7faa-4184-afb7-a4120ca793cd"
#: PIXETW.man: id -> (task, opcode, keyword); all version 0, level win:Informational (4), no channel.
PIX_EVENTS = {16: (1, 10, 0x2), 17: (1, 11, 0x4), 18: (2, 16, 0x8), 19: (2, 17, 0x8), 20: (3, 18, 0x1),
              21: (4, 19, 0x10), 22: (2, 16, 0x8)}
DXIL_PROVIDER = "af2ca688-62aa-48e9-8bf6-a0ca0cae2354"
DXC_PROVIDER = "5c65fe8c-9f96-4bfd-9a87-9f8ebd45da64"
#: Both DXC manifests: id -> (task, opcode); win:Start = 1, win:Stop = 2, level win:Informational (4).
DXIL_OWN = {0: (1, 1), 1: (1, 2), 2: (2, 1), 3: (2, 2)}
DXC_UNREGISTERED = {4: (3, 1), 5: (3, 2), 14: (8, 1), 15: (8, 2)}


def _rows(*args) -> list[dict[str, str]]:
    result = run_cli("analyze", *args, "-o", "-")
    assert result.code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))


class Image:
    """The image mapped by RVA, its exports and its code decoded once (the test's own reader)."""

    def __init__(self, path):
        import pefile
        from iced_x86 import Decoder

        pe = pefile.PE(str(path))
        self.base = pe.OPTIONAL_HEADER.ImageBase
        self.mem = pe.get_memory_mapped_image()
        self.exports = {s.name.decode(): s.address for s in pe.DIRECTORY_ENTRY_EXPORT.symbols
                        if s.name} if hasattr(pe, "DIRECTORY_ENTRY_EXPORT") else {}
        self.imports = {i.address - self.base: i.name.decode() for e in pe.DIRECTORY_ENTRY_IMPORT
                        for i in e.imports if i.name}
        self.code = []
        for section in pe.sections:
            if section.Characteristics & 0x20000000:  # IMAGE_SCN_MEM_EXECUTE
                start = section.VirtualAddress
                self.code += list(Decoder(64, self.mem[start:start + section.Misc_VirtualSize], ip=start))

    def guid(self, rva: int) -> str:
        return str(uuid.UUID(bytes_le=bytes(self.mem[rva:rva + 16])))

    def rip_refs(self, target: int):
        return [i for i in self.code if i.is_ip_rel_memory_operand and i.ip_rel_memory_address == target]


# ------------------------------------------------------------------------------------------------ concrt
def test_concrt_classic_provider_called_through_encoded_pointers(real_binary):
    from iced_x86 import Mnemonic

    path = real_binary("concrt140.dll")
    image = Image(path)
    guids = {name: rva for name, rva in image.exports.items() if name.endswith("Guid@Concurrency@@3U_GUID@@B")}
    provider_rva = guids["?ConcRT_ProviderGuid@Concurrency@@3U_GUID@@B"]
    assert image.guid(provider_rva) == CONCRT_PROVIDER
    for api in (b"RegisterTraceGuidsW\0", b"TraceEvent\0"):
        assert api in image.mem  # looked up by name: neither is imported
        assert api[:-1].decode() not in image.imports.values()
    # The classes the code writes: the exported GUID constants copied by a 16-byte vector load.
    written = {name for name, rva in guids.items()
               if any(i.mnemonic in (Mnemonic.MOVUPS, Mnemonic.MOVDQU, Mnemonic.MOVAPS) for i in image.rip_refs(rva))}
    assert written  # Context, Scheduler, VirtualProcessor, Agent events in this build

    rows = _rows(path, "--no-pdb")
    classic = [r for r in rows if r["Kind"] == "classic" and r["Resolved"] == "yes"]
    assert classic, "TraceEvent is reached through the decoded pointer and the CFG dispatch call"
    assert {r["ProviderGuid"] for r in classic} == {CONCRT_PROVIDER}
    assert {r["ProviderSymbol"] for r in classic} == {"?ConcRT_ProviderGuid@Concurrency@@3U_GUID@@B"}
    assert {r["EventDescriptorSymbol"] for r in classic} == written
    assert {r["WriteFunction"] for r in classic} == {"TraceEvent"}
    for row in classic:
        agents = row["EventDescriptorSymbol"].startswith("?AgentEventGuid")
        assert 0 <= int(row["Opcode"]) <= (7 if agents else 8), row  # Agents_EventType / ConcRT_EventType
        assert row["Level"] == "4", row  # TRACE_LEVEL_INFORMATION
        # Class.Version (offset 6 of EVENT_TRACE_HEADER, evntrace.h) is never stored: each writer memsets the
        # header past its Size (``_Trace_agents``: memset(&h.FieldTypeFlags, 0, 0x76) through an import thunk)
        # and fills Size, Type, Level, Flags and the class GUID, so Version is the fill's 0.
        assert row["Version"] == "0", row
    # Every class GUID named in a row, resolved or not, is one the binary defines.
    assert {r["EventDescriptorSymbol"] for r in rows if r["Kind"] == "classic"} <= set(guids) | {""}
    print(f"concrt140.dll: {len(classic)} resolved classic rows, "
          f"{len({(r['EventDescriptorSymbol'], r['Opcode']) for r in classic})} (class, type) events, "
          f"classes {sorted(written)}")


#: concrt.h's trace helper for the PPL algorithms: ``_Trace_ppl_function(const GUID &, unsigned char, ConcRT_EventType)``
#: (the mangled name says it: ``AEBU_GUID@@`` is ``const GUID &``, then ``E`` unsigned char, then the enum).
PPL_TRACER = "?_Trace_ppl_function@Concurrency@@YAXAEBU_GUID@@EW4ConcRT_EventType@1@@Z"


def test_concrt_ppl_classes_come_from_callers_outside_the_dll(real_binary):
    """The three PPL classes (concrt.h: PPLParallelForEventGuid, PPLParallelForeachEventGuid,
    PPLParallelInvokeEventGuid; the public docs call each "a category GUID describing ETW events fired by the
    Concurrency Runtime that are directly related to usage of" parallel_for, parallel_for_each, parallel_invoke)
    are passed by reference to the exported ``_Trace_ppl_function`` by those templates, which are compiled
    into the user's binary. concrt140.dll itself never names them: no instruction references them and no
    pointer to them is stored. So no row may name a PPL class; the tracer's rows have the ConcRT provider (the
    binary's one classic provider) and stay unresolved: the class and the type are its caller's arguments."""
    path = real_binary("concrt140.dll")
    image = Image(path)
    ppl = {name: rva for name, rva in image.exports.items()
           if name.startswith("?PPL") and name.endswith("EventGuid@Concurrency@@3U_GUID@@B")}
    assert set(ppl) == {f"?PPLParallel{k}EventGuid@Concurrency@@3U_GUID@@B" for k in ("For", "Foreach", "Invoke")}
    mem = bytes(image.mem)
    for name, rva in ppl.items():
        assert not image.rip_refs(rva), name
        assert (image.base + rva).to_bytes(8, "little") not in mem, name
    assert PPL_TRACER in image.exports
    rows = _rows(path, "--no-pdb", "--all-sites")
    assert not {r["EventDescriptorSymbol"] for r in rows} & set(ppl)
    traced = [r for r in rows if r["Function"] == PPL_TRACER]
    assert traced, "the tracer is an export that reaches TraceEvent"
    for row in traced:
        assert row["Kind"] == "classic" and row["Resolved"] == "no", row
        assert row["ProviderGuid"] == CONCRT_PROVIDER and row["EventDescriptorSymbol"] == "" and row["Opcode"] == ""


# ------------------------------------------------------------------------------------------------ PIX
def test_winpix_events_are_pixetw_man(real_binary):
    path = real_binary("WinPixEventRuntime.dll")
    image = Image(path)
    present = {i for i, (task, opcode, keyword) in PIX_EVENTS.items()
               if struct.pack("<HBBBBHQ", i, 0, 0, 4, opcode, task, keyword) in image.mem}
    assert present == {16, 17, 20, 21, 22}
    assert uuid.UUID(PIX_PROVIDER).bytes_le in image.mem
    rows = [r for r in _rows(path, "--no-pdb", "--all-sites") if r["Resolved"] == "yes"]
    assert {r["ProviderGuid"] for r in rows} == {PIX_PROVIDER}
    found = {(int(r["Id"]), int(r["Version"]), int(r["Channel"]), int(r["Level"]), int(r["Opcode"]), int(r["Task"]),
              int(r["Keyword"], 16)) for r in rows}
    assert found == {(i, 0, 0, 4, PIX_EVENTS[i][1], PIX_EVENTS[i][0], PIX_EVENTS[i][2]) for i in present}


# ------------------------------------------------------------------------------------------------ WDF
def test_wdfcoinstaller_single_event(real_binary):
    from iced_x86 import FlowControl, OpKind, Register

    path = real_binary("WdfCoInstaller01011.dll")
    image = Image(path)
    register = next(rva for rva, name in image.imports.items() if name == "EventRegister")
    write = next(rva for rva, name in image.imports.items() if name == "EventWrite")
    calls = [i for i in image.code if i.flow_control in (FlowControl.INDIRECT_CALL, FlowControl.INDIRECT_BRANCH)
             and i.is_ip_rel_memory_operand]  # calls and tail jumps through the IAT
    assert len([i for i in calls if i.ip_rel_memory_address == write]) == 1
    # The GUID handed to EventRegister: the last RIP-relative address loaded into RCX before the call.
    by_ip = {i.ip: n for n, i in enumerate(image.code)}
    [reg_call] = [i for i in calls if i.ip_rel_memory_address == register]
    before = image.code[max(0, by_ip[reg_call.ip] - 12):by_ip[reg_call.ip]]
    guid_rva = [i.ip_rel_memory_address for i in before if i.op0_kind == OpKind.REGISTER and i.op0_register == Register.RCX
                and i.is_ip_rel_memory_operand][-1]
    provider = image.guid(guid_rva)

    rows = [r for r in _rows(path, "--no-pdb") if r["Resolved"] == "yes"]
    assert rows
    assert {r["ProviderGuid"] for r in rows} == {provider}
    events = {(r["Id"], r["Version"], r["Channel"], r["Level"], r["Opcode"], r["Task"], r["Keyword"]) for r in rows}
    assert len(events) == 1
    [(ident, version, channel, level, opcode, task, keyword)] = events
    assert ident == "11"
    descriptor = struct.pack("<HBBBBHQ", int(ident), int(version), int(channel), int(level), int(opcode), int(task),
                             int(keyword, 16))
    at = bytes(image.mem).find(descriptor)
    assert at > 0 and bytes(image.mem).find(descriptor, at + 1) < 0  # once in the image
    assert image.rip_refs(at), "the descriptor is referenced by the code"


# ------------------------------------------------------------------------------------------------ msodbc
def test_msodbcdiag_run_time_guid_is_computed(real_binary):
    import re

    path = real_binary("msodbcdiag18.dll")
    image = Image(path)
    mem = bytes(image.mem)
    hexdigit = rb"[0-9A-Fa-f]"
    assert not re.search(hexdigit + rb"{8}-" + hexdigit + rb"{4}-", mem)  # no GUID text, ASCII ...
    assert not re.search(rb"(?:" + hexdigit + rb"\0){8}-\0", mem)  # ... or UTF-16
    assert b"msodbcdiag18.ETW\0" in mem
    assert {"BCryptCreateHash", "BCryptHashData", "BCryptFinishHash"} <= set(image.imports.values())
    assert {"RegisterTraceGuidsW", "TraceEvent"} <= set(image.imports.values())
    # The hash is bcrypt's SHA-256: the one BCryptOpenAlgorithmProvider call (through its import thunk) is passed
    # L"SHA256" as pszAlgId (RDX).
    from iced_x86 import FlowControl, Mnemonic, OpKind, Register

    index = {i.ip: n for n, i in enumerate(image.code)}

    def calls_of(name: str):
        slot = next(rva for rva, imported in image.imports.items() if imported == name)
        targets = {i.ip for i in image.code if i.is_ip_rel_memory_operand and i.ip_rel_memory_address == slot}
        return [i for i in image.code if (i.flow_control == FlowControl.CALL and i.near_branch_target in targets)
                or (i.flow_control == FlowControl.INDIRECT_CALL and i.ip in targets)]

    def last_write(call, register):
        return [i for i in image.code[index[call.ip] - 10:index[call.ip]]
                if i.op_count and i.op0_kind == OpKind.REGISTER and i.op0_register == register][-1]

    [open_algorithm] = calls_of("BCryptOpenAlgorithmProvider")
    algorithm = last_write(open_algorithm, Register.RDX)
    assert algorithm.mnemonic == Mnemonic.LEA and algorithm.is_ip_rel_memory_operand
    at = algorithm.ip_rel_memory_address
    assert mem[at:at + 14] == "SHA256\0".encode("utf-16-le")
    # The one registration's ControlGuid (R8) is a register copy of its caller's argument, not an image address.
    [register] = calls_of("RegisterTraceGuidsW")
    control = last_write(register, Register.R8)
    assert control.mnemonic == Mnemonic.MOV and control.op1_kind == OpKind.REGISTER

    # The seed: the 16 bytes memcpy_s copies into the output GUID (R8 = source, R9 = 16) at the top of the
    # function that opens the SHA-256 provider; then the test's own computation of the GUID.
    start = index[open_algorithm.ip]
    [seed_load] = [i for i in image.code[start - 16:start] if i.mnemonic == Mnemonic.LEA and
                   i.op0_register == Register.R8 and i.is_ip_rel_memory_operand]
    seed = mem[seed_load.ip_rel_memory_address:seed_load.ip_rel_memory_address + 16]
    assert seed == "NullGUID".encode("utf-16-le")
    control_guid = _bid_name_guid("msodbcdiag18.ETW", seed)

    pytest.importorskip("unicorn", reason="the run-time evaluation needs the emulator (pip install unicorn)")
    result = run_cli("analyze", path, "--no-pdb", "--all-sites", "-o", "-")
    assert result.code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))
    classic = [r for r in rows if r["Kind"] == "classic"]
    assert {r["WriteFunction"] for r in classic} == {"TraceEvent"}
    assert {r["ProviderGuid"] for r in classic} == {control_guid}
    # The class GUID: the registration's TRACE_GUID_REGISTRATION.Guid points at a copy of the control GUID
    # whose Data1 the copying routine increments (``movdqu [rcx], xmm0`` then ``inc dword ptr [rcx]``); the
    # writers' EVENT_TRACE_HEADERs point at that copy (WNODE_FLAG_USE_GUID_PTR).
    assert any(a.mnemonic in (Mnemonic.MOVUPS, Mnemonic.MOVDQU) and a.op0_kind == OpKind.MEMORY
               and a.memory_base == Register.RCX and a.memory_displacement == 0
               and b.mnemonic == Mnemonic.INC and b.op0_kind == OpKind.MEMORY and b.memory_base == Register.RCX
               and b.memory_displacement == 0 for a, b in zip(image.code, image.code[1:]))
    raw = bytearray(uuid.UUID(control_guid).bytes_le)
    raw[0:4] = ((int.from_bytes(raw[0:4], "little") + 1) & 0xFFFFFFFF).to_bytes(4, "little")
    class_guid = str(uuid.UUID(bytes_le=bytes(raw)))
    sites = {r["EventSite"]: r for r in classic}
    assert {r["Opcode"] for r in sites.values()} == {"17", "18", ""}  # the three event sites' types
    for row in classic:
        typed = row["Opcode"] != ""  # the site that only forwards its caller's header has no type
        assert row["Resolved"] == ("yes" if typed else "no"), row
        assert row["EventDescriptorSymbol"] == class_guid, row  # the provider's one class
    assert "ControlGuid" not in result.stderr  # no registration is left without a provider
    default = _rows(path, "--no-pdb")
    assert default and all(r["Resolved"] == "yes" and r["EventDescriptorSymbol"] == class_guid for r in default)
    # Every row's entry is a slot of a function table in the image that holds that row's function.
    for row in default:
        match = re.fullmatch(r"table:0x([0-9a-f]+)\[(\d+)\]", row["Entry"])
        assert match and row["Function"].startswith("sub_"), row
        slot = int(match[1], 16) + 8 * int(match[2])
        assert int.from_bytes(mem[slot:slot + 8], "little") - image.base == int(row["Function"][4:], 16), row


def _bid_name_guid(name: str, seed: bytes) -> str:
    """The GUID msodbcdiag18.dll derives from a provider name (the scheme in the module docstring)."""
    import hashlib

    digest = hashlib.sha256(name.encode("utf-16-le")).digest()
    out = bytearray(seed)
    out[0:8] = bytes(a ^ b for a, b in zip(digest[16:24], digest[0:8]))  # Data1, Data2, Data3 (XOR is bytewise)
    out[8:12] = bytes(a | b for a, b in zip(digest[24:28], digest[8:12]))  # Data4[0..3]
    return str(uuid.UUID(bytes_le=bytes(out)))


# ------------------------------------------------------------------------------------------------ dxil
def _dxc_descriptor(ident: int, task: int, opcode: int) -> bytes:
    """The EVENT_DESCRIPTOR mc.exe emits for a DXC event: version 0, the first Analytic channel (mc numbers
    channels from 16 and gives the first one keyword bit 63), level win:Informational."""
    return struct.pack("<HBBBBHQ", ident, 0, 16, 4, opcode, task, 1 << 63)


def _write_pairs(image: Image, events: dict[int, tuple[int, int]]) -> dict[int, set[int]]:
    """Call RVA -> the addresses ``lea``-loaded into RCX among the 12 instructions before a call whose RDX
    is ``lea``-loaded with one of these descriptors (the (context, descriptor) pairs of mc.exe writes)."""
    from iced_x86 import FlowControl, Mnemonic, Register

    mem = bytes(image.mem)
    wanted = {mem.find(_dxc_descriptor(i, *fields)) for i, fields in events.items()}
    assert -1 not in wanted
    out: dict[int, set[int]] = {}
    for n, instr in enumerate(image.code):
        if instr.flow_control != FlowControl.CALL:
            continue
        window = image.code[max(0, n - 12):n]
        loads = {reg: [i.ip_rel_memory_address for i in window if i.mnemonic == Mnemonic.LEA
                       and i.op0_register == reg and i.is_ip_rel_memory_operand] for reg in (Register.RCX, Register.RDX)}
        if loads[Register.RDX] and loads[Register.RDX][-1] in wanted:
            out[instr.ip] = set(loads[Register.RCX][-1:])
    return out


def test_dxil_descriptors_and_the_unregistered_context(real_binary):
    from iced_x86 import FlowControl, Mnemonic, Register

    path = real_binary("dxil.dll")
    image = Image(path)
    assert uuid.UUID(DXIL_PROVIDER).bytes_le in image.mem
    assert uuid.UUID(DXC_PROVIDER).bytes_le not in image.mem
    rows = _rows(path, "--no-pdb", "--all-sites")
    manifest = [r for r in rows if r["Kind"] == "manifest" and r["Id"]]
    found = {int(r["Id"]): (int(r["Task"]), int(r["Opcode"])) for r in manifest}
    assert found == {**DXIL_OWN, **DXC_UNREGISTERED}
    assert {(r["Level"], r["Channel"], r["Keyword"]) for r in manifest} == {("4", "16", "0x8000000000000000")}
    own = {int(r["Id"]) for r in manifest if r["ProviderGuid"] == DXIL_PROVIDER and r["Resolved"] == "yes"}
    assert own == set(DXIL_OWN)
    orphans = [r for r in manifest if int(r["Id"]) in DXC_UNREGISTERED]
    assert orphans and all(r["ProviderGuid"] == "" and r["Resolved"] == "no" for r in orphans)
    # Byte-level truth that nothing registers the orphans' context: it differs from the registered one,
    # its REGHANDLE starts as zero, no pointer to it is stored in the image, and every instruction naming
    # it is a ``lea rcx`` that hands it to a write together with one of its descriptors.
    pairs = _write_pairs(image, DXC_UNREGISTERED)
    [orphan] = set().union(*pairs.values())
    assert orphan not in set().union(*_write_pairs(image, DXIL_OWN).values())
    assert bytes(image.mem[orphan:orphan + 8]) == bytes(8)
    assert (image.base + orphan).to_bytes(8, "little") not in bytes(image.mem)
    index = {i.ip: n for n, i in enumerate(image.code)}
    for ref in image.rip_refs(orphan):  # each reference is one of those writes, nothing else
        assert ref.mnemonic == Mnemonic.LEA and ref.op0_register == Register.RCX
        following = image.code[index[ref.ip] + 1:index[ref.ip] + 7]
        assert next(i.ip for i in following if i.ip in pairs or i.flow_control != FlowControl.NEXT) in pairs


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q", "-s"])
