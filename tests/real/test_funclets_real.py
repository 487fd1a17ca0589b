"""concrt140.dll (msvc-runtime 14.44, no PDB): agent destructors only its C++ exception tables reach.

clang cannot emit ``__CxxFrameHandler4`` tables, so FH4 is tested on this real MSVC build, with truth read here from
the binary's bytes by this test's own minimal reading, independent of engine/native/ehtables.py:

* the writers of agent events are the functions (their .pdata ranges) holding a ``call rel32`` to the exported
  ``?_Trace_agents@Concurrency@@...`` (agents.h documents ``_Trace_agents(Agents_EventType, __int64, ...)``);
* a parent names a writer when its UNWIND_INFO has a language handler (UNW_FLAG_EHANDLER/UHANDLER) whose handler
  data's first dword is the RVA of a FuncInfo4 with the UnwindMap flag (0x08 in its first byte) and whose unwind map
  (the int32 RVA after that byte) holds the writer's RVA;
* the writers a parent names that no 8-byte pointer in the file holds and no ``call``/``jmp rel32`` in the code
  targets, but for the unwind funclets of ``.text$x`` (leaf code without a RUNTIME_FUNCTION: ``mov rcx,
  [rdx+disp]``, the object read from the establisher frame the unwinder passes in rdx, then ``jmp`` to the
  destructor), are entered by nothing but exception tables; each loads ``ecx = 3`` (AGENTS_EVENT_DESTROY in agents.h)
  before the call: destructors kept out of line for the unwinder, which a constructor (the parent) runs on its
  base when it fails after building it.

The analysis must report each destructor's DESTROY event from an exported entry point (not ``unreached``), with the
parent right before the destructor on the call path.
"""

from __future__ import annotations

import csv
import io
import struct

import pefile
from conftest import run_cli

#: Agents_EventType (agents.h): AGENTS_EVENT_CREATE 0, START 1, END 2, DESTROY 3.
AGENTS_EVENT_DESTROY = 3
UNW_FLAG_EHANDLER, UNW_FLAG_UHANDLER, UNW_FLAG_CHAININFO = 1, 2, 4


def _rows(path) -> list[dict[str, str]]:
    result = run_cli("analyze", path, "-o", "-")
    assert result.code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))


class _Image:
    def __init__(self, path):
        self.pe = pefile.PE(str(path), fast_load=True)
        self.pe.parse_data_directories(directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]])
        self.base = self.pe.OPTIONAL_HEADER.ImageBase
        self.file = self.pe.__data__
        exc = self.pe.OPTIONAL_HEADER.DATA_DIRECTORY[3]
        raw = self.pe.get_data(exc.VirtualAddress, exc.Size)
        self.pdata = [e for e in struct.iter_unpack("<III", raw[: len(raw) - len(raw) % 12]) if e[1] > e[0]]
        self.code = [s for s in self.pe.sections if s.Characteristics & 0x20000000]

    def dword(self, rva: int) -> int:
        return struct.unpack("<I", self.pe.get_data(rva, 4))[0]

    def export(self, prefix: str) -> int:
        return next(s.address for s in self.pe.DIRECTORY_ENTRY_EXPORT.symbols
                    if s.name and s.name.decode().startswith(prefix))

    def branches_to(self, target: int) -> list[int]:
        """RVAs of every ``call rel32`` (E8) and ``jmp rel32`` (E9) in the code sections that land on ``target``."""
        found = []
        for section in self.code:
            data = section.get_data()
            for op in (b"\xe8", b"\xe9"):
                at = data.find(op)
                while at >= 0:
                    if at + 5 <= len(data):
                        rva = section.VirtualAddress + at
                        if rva + 5 + struct.unpack_from("<i", data, at + 1)[0] == target:
                            found.append(rva)
                    at = data.find(op, at + 1)
        return found

    def unwind_funclet_jump(self, rva: int) -> bool:
        """True for a ``jmp rel32`` at ``rva`` in leaf code no RUNTIME_FUNCTION covers, right after
        ``mov rcx, [rdx+disp]``: an MSVC unwind funclet passing the object it reads from the establisher frame
        (which the unwinder hands over in rdx) to a destructor."""
        before = self.pe.get_data(rva - 7, 8)
        loads = before[3:6] == b"\x48\x8b\x4a" or before[:3] == b"\x48\x8b\x8a"  # disp8, disp32
        return before[7] == 0xE9 and loads and not any(b <= rva < e for b, e, _u in self.pdata)

    def function_of(self, rva: int) -> tuple[int, int, int]:
        return next(e for e in self.pdata if e[0] <= rva < e[1])

    def unwind_map_names(self, unwind: int, target: int) -> bool:
        """True when the UNWIND_INFO at ``unwind`` has a language handler whose data is a FuncInfo4 RVA with an
        unwind map holding ``target``'s RVA (read directly: header byte, optional bbtFlags byte, dispUnwindMap)."""
        head = self.pe.get_data(unwind, 4)
        flags = head[0] >> 3
        if flags & UNW_FLAG_CHAININFO or not flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER):
            return False
        data = unwind + 4 + 2 * (head[2] + (head[2] & 1)) + 4
        info = self.dword(data)
        header = self.pe.get_data(info, 1)[0]
        if header & 0x80 or not header & 0x08 or header & 0x04:  # not FH4, no unwind map, or bbtFlags (not here)
            return False
        unwind_map = struct.unpack("<i", self.pe.get_data(info + 1, 4))[0]
        return struct.pack("<i", target) in self.pe.get_data(unwind_map, 64)


def test_concrt_agent_destructors_reached_through_the_unwind_maps_of_their_parents(real_binary):
    path = real_binary("concrt140.dll")
    image = _Image(path)
    trace = image.export("?_Trace_agents@Concurrency@@")
    writers = {image.function_of(site)[0]: site for site in image.branches_to(trace)}
    table_only = {}
    for begin, site in writers.items():
        if not all(image.unwind_funclet_jump(b) for b in image.branches_to(begin)):
            continue  # called by ordinary code
        if struct.pack("<Q", image.base + begin) in image.file:
            continue  # a pointer to it in data (a vtable)
        parents = [b for b, _e, unwind in image.pdata if not unwind & 1 and image.unwind_map_names(unwind, begin)]
        if not parents:  # entered some other way (a pointer the code loads): not this test's subject
            continue
        assert b"\xb9" + struct.pack("<I", AGENTS_EVENT_DESTROY) in image.pe.get_data(begin, site - begin)
        table_only[f"sub_{begin:x}"] = {f"sub_{p:x}" for p in parents}
    assert table_only, "no agent-event writer that only exception tables reach"

    rows = _rows(path)
    for name, parents in table_only.items():
        mine = [r for r in rows if r["EventSite"] == name]
        assert mine, name
        for row in mine:
            assert row["Entry"] != "unreached" and "export" in row["Entry"].split(","), row
            assert row["Opcode"] == str(AGENTS_EVENT_DESTROY) and row["EventDescriptorSymbol"].startswith(
                "?AgentEventGuid@Concurrency@@"), row
            path_names = row["CallPath"].strip("[]").split("->")
            assert path_names[path_names.index(name) - 1] in parents, (row["CallPath"], parents)
    assert not [r for r in rows if r["Entry"] == "unreached"]
    print(f"concrt140.dll: {len(table_only)} destructors reached only through FH4 unwind maps: "
          f"{', '.join(f'{k} (parent {sorted(v)})' for k, v in sorted(table_only.items()))}")
