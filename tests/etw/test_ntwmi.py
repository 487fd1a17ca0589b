"""Tests for the ntwmi.h naming tables: values checked against the header, table sanity, fallbacks."""

from __future__ import annotations

import pytest

from api_to_etw.etw import ntwmi

# --------------------------------------------------------------------------------------------------
# Values transcribed from ntwmi.h / evntrace.h
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mask", "name"),
    [
        (0x20800000, "MEMINFO_WS"),
        (0x20080000, "MEMINFO"),
        (0x80008000, "POWER"),
        (0x00000001, "PROCESS"),
        (0x20000400, "PMC_PROFILE"),
        (0x20000001, "MEMORY"),
        (0x41000000, "REG_HIVE"),
        (0x40020000, "TIMER"),
        (0x20400000, "SESSION"),
        (0x20002000, "PRIORITY"),
        (0x20000402, "PROFILING"),
        (0x00000004, "LOADER"),
        (0x42000000, "REG_NOTIF"),
        (0x00080000, "JOB"),  # EVENT_TRACE_FLAG_JOB
        (0x28000000, "WS"),
        (0x00000300, "DISK_IO"),
        (0x00000003, "PROC_THREAD"),
        (0x20000041, "POOLTRACE"),
        (0x20210000, "SPININSTR"),
        (0xA0000040, "PHYSICAL_MEMORY"),
        (0xDFFFFFFF, "SYSCFG_ALL"),
        (0xE0000001, "CLUSTER_OFF"),
        (0xE0000002, "MEMORY_CONTROL"),
    ],
)
def test_group_mask_exact_names(mask: int, name: str) -> None:
    assert ntwmi.GROUP_MASKS[mask] == name
    assert ntwmi.group_mask_name(mask) == name


def test_group_mask_aliases_point_at_known_values() -> None:
    assert ntwmi.GROUP_MASK_ALIASES[0x20400000] == ("PFSECTION",)
    assert ntwmi.GROUP_MASK_ALIASES[0xE0000001] == ("MARK_WITH_FLUSH",)
    for value, aliases in ntwmi.GROUP_MASK_ALIASES.items():
        assert value in ntwmi.GROUP_MASKS
        assert ntwmi.GROUP_MASKS[value] not in aliases


@pytest.mark.parametrize(
    ("hook_id", "name"),
    [
        (0x027D, "MEMINFOEX_WS"),
        (0x027C, "MM_STATS"),
        (0x1228, "PO_SESSION_CALLOUT"),
        (0x1229, "PO_SESSION_CALLOUT_RET"),
        (0x030B, "PROCESS_TERMINATE"),  # WMI_LOG_TYPE_, via EVENT_TRACE_TYPE_TERMINATE (0x0B)
        (0x0F2F, "PMC_INTERRUPT"),
        (0x0279, "PAGE_RANGE_RELEASE"),
        (0x0249, "PFMAPPED_SECTION_CREATE"),
        (0x024F, "PFMAPPED_SECTION_DELETE"),
        (0x0721, "JOB_TERMINATE"),
        (0x0534, "THREAD_SET_IO_PRIORITY"),
        (0x0928, "REG_HIVE_DIRTY"),
        (0x1222, "SET_POWER_ACTION"),
        (0x1224, "SET_DEVICES_STATE"),
        (0x1225, "SET_DEVICES_STATE_RET"),
        (0x0F68, "KTIMER2_SET"),
        (0x024B, "CREATE_SESSION"),
        (0x0723, "JOB_ASSIGN_PROCESS"),
        (0x1402, "IMAGE_UNLOAD"),  # WMI_LOG_TYPE_, via EVENT_TRACE_TYPE_END (0x02)
        (0x0F48, "SAMPLED_PROFILE_SET_INTERVAL"),
        (0x0533, "THREAD_SET_PAGE_PRIORITY"),
        (0x0276, "PAGE_ACCESS"),
        (0x0282, "PAGE_ACCESS_EX"),
        (0x0278, "PAGE_RANGE_ACCESS"),
        (0x0930, "REG_NOTIF_REGISTER"),
        (0x0277, "PAGE_RELEASE"),
        (0x0722, "JOB_OPEN"),
        (0x0924, "REG_HIVE_INITIALIZE"),
        # Values built from evntrace.h EVENT_TRACE_TYPE_* operands.
        (0x0000, "HEADER"),
        (0x0008, "RUNDOWN_COMPLETE"),
        (0x0040, "DBGID_RSDS"),
        (0x010A, "IO_READ"),
        (0x013C, "OPTICAL_IO_FLUSH_INIT"),
        (0x020E, "PAGE_FAULT_HARD_PAGE_FAULT"),
        (0x0460, "FLT_PREOP_INIT"),
        (0x0611, "TCPIP_FAIL"),
        (0x0811, "UDP_FAIL"),
        (0x0918, "REG_RUNDOWNBEGIN"),
        (0x0B1D, "CONFIG_CODEINTEGRITY"),
        (0x0B12, "CONFIG_OPTICALMEDIA"),
        (0x1600, "CC_WORKITEM_ENQUEUE"),
        (0x1C30, "TP_TIMER_EXPIRATION"),
    ],
)
def test_hook_names(hook_id: int, name: str) -> None:
    assert ntwmi.HOOK_IDS[hook_id] == name
    assert ntwmi.hook_name(hook_id) == name


@pytest.mark.parametrize(
    ("hook_id", "group"),
    [
        (0x027D, "MEMORY"),
        (0x1228, "POWER"),
        (0x030B, "PROCESS"),
        (0x0F2F, "PERFINFO"),
        (0x0721, "JOB"),
        (0x0534, "THREAD"),
        (0x0928, "REGISTRY"),
        (0x1402, "IMAGE"),
        (0x1D00, "HYPERVISOR"),
        (0x1EFF, "HYPERVISORX"),
        (0x1C20, "THREAD_POOL"),
    ],
)
def test_hook_group_names(hook_id: int, group: str) -> None:
    assert ntwmi.hook_group_name(hook_id) == group


def test_event_groups_are_the_header_sequence() -> None:
    # EVENT_TRACE_GROUP_HEADER .. HYPERVISORX: 0x00..0x1E in the high byte, none missing.
    assert sorted(ntwmi.EVENT_GROUPS) == [i << 8 for i in range(0x1F)]
    assert ntwmi.EVENT_GROUPS[0x0000] == "HEADER"
    assert ntwmi.EVENT_GROUPS[0x0C00] == "SPARE1"
    assert ntwmi.EVENT_GROUPS[0x1A00] == "ALPC"
    assert ntwmi.EVENT_GROUPS[0x1B00] == "SPLITIO"
    assert ntwmi.EVENT_GROUPS[0x1E00] == "HYPERVISORX"


# --------------------------------------------------------------------------------------------------
# The values the original tool failed to name
# --------------------------------------------------------------------------------------------------


def test_previously_unnamed_masks() -> None:
    assert ntwmi.group_mask_name(0x20400001) == "MEMORY|SESSION"
    assert ntwmi.group_mask_name(0x28000001) == "MEMORY|WS"
    assert ntwmi.group_mask_name(0x80000) == "JOB"


def test_thread_hook_0x548_has_no_header_name_but_a_group() -> None:
    # No public ntwmi.h defines a THREAD hook above type 0x45.
    assert 0x0548 not in ntwmi.HOOK_IDS
    assert ntwmi.hook_name(0x0548) == "PERFINFO_LOG_TYPE_0x548"
    assert ntwmi.hook_group_name(0x0548) == "THREAD"


# --------------------------------------------------------------------------------------------------
# Combined masks and fallbacks
# --------------------------------------------------------------------------------------------------


def test_combined_mask_lists_bits_in_ascending_order() -> None:
    assert ntwmi.group_mask_name(0x20002001) == "MEMORY|PRIORITY"
    assert ntwmi.group_mask_name(0x00080001) == "PROCESS|JOB"
    assert ntwmi.group_mask_name(0x40020001) == "ANTI_STARVATION|TIMER"


def test_combined_mask_uses_single_bits_not_multi_bit_constants() -> None:
    # PROFILING (PROFILE|PMC_PROFILE) only matches exactly; with MEMORY added the bits are listed.
    assert ntwmi.group_mask_name(0x20000403) == "MEMORY|PROFILE|PMC_PROFILE"


def test_combined_mask_keeps_unnamed_bits_as_one_hex_term() -> None:
    # 0x80000004 and 0x80000020 are reserved in Masks[4].
    assert ntwmi.group_mask_name(0x80008024) == "POWER|0x80000024"
    # EVENT_TRACE_FLAG_DISK_IO (0x100) has no PERF_ name of its own.
    assert ntwmi.group_mask_name(0x00000101) == "PROCESS|0x100"


@pytest.mark.parametrize(
    "mask",
    [
        0x60000001,  # Masks[3] is entirely reserved
        0x00000100,  # only an unnamed bit
        0x20000000,  # index bits, no flag
        0x00000000,
        0xE0000000,
    ],
)
def test_group_mask_fallback(mask: int) -> None:
    assert ntwmi.group_mask_name(mask) == f"PERF_0x{mask:x}"


def test_group_mask_is_read_as_a_ulong() -> None:
    # A sign-extended immediate (as a disassembler may report it) names the same mask.
    assert ntwmi.group_mask_name(-0x1FFFFFFF) == "CLUSTER_OFF"  # 0xE0000001 as a signed 32-bit int
    assert ntwmi.group_mask_name(0xFFFFFFFF_20800000) == "MEMINFO_WS"
    assert ntwmi.mask_index(-0x1FFFFFFF) == 7


def test_hook_fallbacks() -> None:
    assert ntwmi.hook_name(0x1D00) == "PERFINFO_LOG_TYPE_0x1d00"
    assert ntwmi.hook_group_name(0x1F00) == "GROUP_0x1f00"
    assert ntwmi.hook_group_name(0xFF12) == "GROUP_0xff00"
    # A HookId is a USHORT: higher bits are not part of it.
    assert ntwmi.hook_name(0x1_027D) == "MEMINFOEX_WS"
    assert ntwmi.hook_group(0x1_027D) == 0x0200


def test_mask_helpers() -> None:
    assert ntwmi.mask_index(0x20800000) == 1
    assert ntwmi.mask_index(0x00080000) == 0
    assert ntwmi.mask_index(0xC0000001) == 6
    assert ntwmi.mask_flags(0x20800000) == 0x00800000
    assert ntwmi.mask_flags(0xDFFFFFFF) == 0x1FFFFFFF


# --------------------------------------------------------------------------------------------------
# Table sanity
# --------------------------------------------------------------------------------------------------


def _duplicate_names(table: dict[int, str]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for value, name in table.items():
        seen.setdefault(name, []).append(value)
    return {name: values for name, values in seen.items() if len(values) > 1}


@pytest.mark.parametrize("table", [ntwmi.GROUP_MASKS, ntwmi.EVENT_GROUPS, ntwmi.HOOK_IDS])
def test_no_name_maps_to_two_values(table: dict[int, str]) -> None:
    assert _duplicate_names(table) == {}


@pytest.mark.parametrize("table", [ntwmi.GROUP_MASKS, ntwmi.EVENT_GROUPS, ntwmi.HOOK_IDS])
def test_names_are_bare_identifiers(table: dict[int, str]) -> None:
    for name in table.values():
        assert name.isidentifier() and name == name.upper()
        if name == "PERF_COUNTER":  # PERF_PERF_COUNTER: the second PERF_ belongs to the name
            continue
        assert not name.startswith(("PERF_", "EVENT_TRACE_GROUP_", "PERFINFO_LOG_TYPE_", "WMI_LOG_TYPE_"))


def test_aliases_do_not_collide_with_primary_names() -> None:
    primary = set(ntwmi.GROUP_MASKS.values())
    for aliases in ntwmi.GROUP_MASK_ALIASES.values():
        assert primary.isdisjoint(aliases)


def test_every_mask_is_a_ulong_with_index_0_to_7_and_some_flag() -> None:
    for mask in ntwmi.GROUP_MASKS:
        assert 0 <= mask <= 0xFFFFFFFF
        assert 0 <= ntwmi.mask_index(mask) <= 7
        assert ntwmi.mask_flags(mask) != 0
    assert all(ntwmi.mask_index(mask) != 3 for mask in ntwmi.GROUP_MASKS)  # Masks[3] is reserved


def test_index_0_masks_are_the_evntrace_flags() -> None:
    # EVENT_TRACE_FLAG_* values from evntrace.h, by the PERF_ name that aliases each.
    expected = {
        "PROCESS": 0x00000001,
        "THREAD": 0x00000002,
        "LOADER": 0x00000004,
        "PERF_COUNTER": 0x00000008,
        "FILENAME": 0x00000200,
        "DISK_IO_INIT": 0x00000400,
        "ALL_FAULTS": 0x00001000,
        "HARD_FAULTS": 0x00002000,
        "VAMAP": 0x00008000,
        "NETWORK": 0x00010000,
        "REGISTRY": 0x00020000,
        "DBGPRINT": 0x00040000,
        "JOB": 0x00080000,
        "ALPC": 0x00100000,
        "SPLIT_IO": 0x00200000,
        "DEBUG_EVENTS": 0x00400000,
        "FILE_IO": 0x02000000,
        "FILE_IO_INIT": 0x04000000,
        "NO_SYSCONFIG": 0x10000000,
    }
    by_name = {name: value for value, name in ntwmi.GROUP_MASKS.items()}
    for name, value in expected.items():
        assert by_name[name] == value


def test_every_hook_is_a_ushort_in_a_known_group() -> None:
    for hook_id in ntwmi.HOOK_IDS:
        assert 0 <= hook_id <= 0xFFFF
        assert ntwmi.hook_group(hook_id) in ntwmi.EVENT_GROUPS


def test_every_exact_name_round_trips() -> None:
    for mask, name in ntwmi.GROUP_MASKS.items():
        assert ntwmi.group_mask_name(mask) == name
    for hook_id, name in ntwmi.HOOK_IDS.items():
        assert ntwmi.hook_name(hook_id) == name


def test_table_sizes() -> None:
    # Guards against accidental deletions when the tables are edited.
    assert len(ntwmi.EVENT_GROUPS) == 31
    assert len(ntwmi.GROUP_MASKS) >= 110
    assert len(ntwmi.HOOK_IDS) >= 480
