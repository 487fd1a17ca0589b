"""WPP in drivers without a PDB: the trace wrappers nobody named and the control GUID of the control block.

Without symbols the generated ``WPP_SF_*`` / ``WPP_RECORDER_SF_*`` functions are ``sub_<rva>``, and a driver
reaches ``WppAutoLogTrace`` (WppRecorder.sys) through an import thunk (``jmp [__imp_WppAutoLogTrace]``). Both
are recognised from the code alone:

* an *import thunk* is a function whose first instruction is a tail jump to an ETW API (its only call);
  it is that API;
* an *unnamed trace wrapper* calls a WPP trace API passing one of its own parameters as the message GUID
  pointer: the parameter's position says which generated signature it has (the table in
  :data:`~api_to_etw.etw.wppcalls.TRACE_FUNCTIONS`: the GUID is parameter 2 of ``WPP_SF_*``, 4 of
  ``WPP_RECORDER_SF_*``, 7 of ``WPP_RECORDER_AND_TRACE_SF_*``, the message number the parameter before
  it), so its callers, which pass ``&WPP_<hash>_Traceguids`` and the message number as constants, are the
  trace sites;
* the *control GUID* is in the WPP control block (``WPP_TRACE_CONTROL_BLOCK``: ``Callback`` then
  ``LPCGUID ControlGuid``) whose address the driver passes to ``WppAutoLogStart``: ``WPP_INIT_TRACING``
  stores the GUID's address into ``ControlGuid`` (a ``lea`` of the GUID, then a store to the block's
  second pointer), or the block is initialised with it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Optional

from ..etw.apis import ApiRole, EtwApi
from ..etw.descriptor import format_guid
from ..etw.wppcalls import TRACE_FUNCTIONS
from ..model import Addr, Facts, Load, Param, Reference, import_thunks
from .values import CallValues

log = logging.getLogger(__name__)

#: Message GUID parameter -> message number parameter of the generated wrappers.
_WRAPPER_SIGNATURES = {f.guid: f.number for name, f in TRACE_FUNCTIONS.items() if name.startswith("WPP_")}
#: Message GUID parameter -> (level, flags) parameters of the recorder wrappers
#: (``WPP_RECORDER_SF_*(AutoLogContext, level, flags, id, traceGuid, ...)`` and the AND_TRACE form with
#: ``Logger, wppEnabled, recorderEnabled`` before them); ``WPP_SF_*`` carries neither.
_LEVEL_FLAGS = {4: (1, 2), 7: (4, 5)}
#: ``WPP_TRACE_CONTROL_BLOCK.ControlGuid``: after the ``Callback`` pointer.
CONTROL_GUID_OFFSET = 8
AUTOLOG_START = "WppAutoLogStart"
#: WPP resets ``WPP_GLOBAL_Control`` to point at (or just past) itself; such a value is not a control block.
_SENTINEL_DISTANCE = 16


def unnamed_trace_wrappers(facts: Facts, values: CallValues, apis: dict[int, EtwApi]) -> dict[int, EtwApi]:
    """Functions that pass their own parameter on as a WPP trace call's message GUID -> the wrapper API
    (message GUID and number parameters of the generated signature)."""
    wpp = {rva: api for rva, api in apis.items() if api.role == ApiRole.WPP}
    if not wpp:
        return {}
    sites = [s for s in facts.calls if s.callee in wpp and s.caller not in apis]
    values.resolve(sorted({s.caller for s in sites}))
    found: dict[int, EtwApi] = {}
    for site in sites:
        api = wpp[site.callee]
        if api.message_guid is None:
            continue
        found_values = values.arg(site, api.message_guid)
        if len(found_values) != 1:
            continue
        (value,) = found_values
        if isinstance(value, Param) and value.index in _WRAPPER_SIGNATURES:
            name = facts.functions[site.caller].name
            level, flags = _LEVEL_FLAGS.get(value.index, (None, None))
            found[site.caller] = EtwApi(name, ApiRole.WPP, message_guid=value.index,
                                        message_number=_WRAPPER_SIGNATURES[value.index], level=level, keyword=flags)
    log.info("%d unnamed WPP trace wrappers", len(found))
    return found


def control_guids(facts: Facts, values: CallValues) -> list[str]:
    """Control GUIDs of the WPP control blocks passed to ``WppAutoLogStart`` (each block's ``ControlGuid``)."""
    # Loops, not filtered comprehensions: called once with their filters mostly false, those ran on CPython
    # 3.11's generic bytecode to the end (only the kept items count towards quickening).
    starts = set()
    for rva, f in facts.functions.items():
        if f.name.split("!")[-1] == AUTOLOG_START:
            starts.add(rva)
    tails = set()
    for s in facts.calls:
        if s.tail and s.rva == s.caller and s.callee in starts:
            tails.add(s.caller)
    starts |= tails
    sites = []
    for s in facts.calls:
        if s.callee in starts and s.caller not in starts:
            sites.append(s)
    if not sites:
        return []
    values.resolve(sorted({s.caller for s in sites}))
    blocks: set[int] = set()
    for site in sites:
        for value in values.arg(site, 0):
            if isinstance(value, Addr):
                blocks.add(value.rva)
            elif isinstance(value, Load) and isinstance(value.addr, Addr):  # WPP_GLOBAL_Control = &WPP_MAIN_CB
                block = _stored_address(facts, values, value.addr.rva)
                if block is not None:
                    blocks.add(block)
    guids: list[str] = []
    for block in sorted(blocks):
        target = _stored_address(facts, values, block + CONTROL_GUID_OFFSET)
        if target is None:
            continue
        raw = facts.memory.read(target, 16)
        if len(raw) == 16 and raw != bytes(16):
            guid = format_guid(raw)
            if guid not in guids:
                guids.append(guid)
    return guids


def _is_pointer_store(facts: Facts, rva: int) -> bool:
    """``mov qword ptr [rip+disp32], r64``: REX.W (0x48-0x4F) then opcode 0x89 (a reference's RVA may be
    the REX byte or the opcode after it)."""
    head = facts.memory.read(rva - 1, 3)
    return len(head) == 3 and (0x48 <= head[1] <= 0x4F and head[2] == 0x89 or
                               0x48 <= head[0] <= 0x4F and head[1] == 0x89)


def _stored_address(facts: Facts, values: CallValues, slot: int) -> Optional[int]:
    """The address a pointer slot holds: the address the code that stores into the slot took last before the
    store (``lea rax, [guid]`` ... ``mov [slot], rax``), else its initialised value; never a value pointing
    at the slot itself (``WPP_GLOBAL_Control``'s reset value)."""
    stores = [r for r in values.references(set(range(slot, slot + 8)))
              if r.target == slot and _is_pointer_store(facts, r.rva)]
    if stores:
        loads: dict[int, list[Reference]] = defaultdict(list)
        for ref in values.references(None):
            loads[ref.function].append(ref)
        for store in sorted(stores, key=lambda r: r.rva):
            before = [r for r in loads.get(store.function, ()) if r.rva < store.rva and r.target != slot]
            if before:
                value = max(before, key=lambda r: r.rva).target
                if abs(value - slot) > _SENTINEL_DISTANCE:  # not the "points at itself" reset value
                    return value
    raw = facts.memory.read(slot, 8)
    if len(raw) == 8:
        pointer = int.from_bytes(raw, "little") - facts.image_base
        if 0 < pointer < 1 << 32 and abs(pointer - slot) > _SENTINEL_DISTANCE and facts.memory.read(pointer, 16):
            return pointer
    return None


__all__ = ["control_guids", "import_thunks", "unnamed_trace_wrappers"]
