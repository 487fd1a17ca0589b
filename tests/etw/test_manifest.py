"""Tests for the manifest / MOF index: joins against the shared reference data, then hostile and broken input."""

from __future__ import annotations

import os
import re

import pytest

from api_to_etw import inputs
from api_to_etw.errors import CorruptMetadataError, InputNotFoundError
from api_to_etw.etw import ntwmi
from api_to_etw.etw.manifest import (
    LEGACY_GROUP_CATEGORIES,
    ManifestIndex,
    hook_category,
    normalize_guid,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("API_TO_ETW_SHARED") or os.path.join(os.path.dirname(REPO), "shared")
MANIFESTS = os.path.join(SHARED, "reference", "manifests")
XML_DIR = os.path.join(MANIFESTS, "xml")
TSV_DIR = os.path.join(MANIFESTS, "tsv")

needs_reference = pytest.mark.skipif(
    not os.path.isdir(XML_DIR) or not os.path.isdir(TSV_DIR),
    reason=f"reference manifests not found under {MANIFESTS} (set API_TO_ETW_SHARED to the shared folder)",
)

AUDIT = "Microsoft-Windows-Kernel-Audit-API-Calls"
AUDIT_GUID = "e02a841c-75a3-4fa7-afc8-ae09cf9b7f23"
THREATINT = "Microsoft-Windows-Threat-Intelligence"
THREATINT_GUID = "f4e1897c-bb5d-5668-f1d8-040f4d8dd344"
PROCESS_GUID = "3d6fa8d0-fe05-11d0-9dda-00c04fd7ba7c"


def _tsv(name: str) -> str:
    return os.path.join(TSV_DIR, name)


@pytest.fixture(scope="module")
def index() -> ManifestIndex:
    return ManifestIndex().load([MANIFESTS])


@pytest.fixture(scope="module")
def xml_only() -> ManifestIndex:
    return ManifestIndex().load([XML_DIR])


@pytest.fixture(scope="module")
def tsv_only() -> ManifestIndex:
    names = sorted(n for n in os.listdir(TSV_DIR) if n.endswith(".tsv") and not n.endswith(".mof.tsv"))
    return ManifestIndex().load([_tsv(n) for n in names])


# --------------------------------------------------------------------------------------------------
# Reference data: manifests
# --------------------------------------------------------------------------------------------------


@needs_reference
def test_audit_api_calls_event_5_is_task_05(index: ManifestIndex) -> None:
    by_name = index.lookup(None, AUDIT, 5, 0)
    by_guid = index.lookup("{E02A841C-75A3-4FA7-AFC8-AE09CF9B7F23}", None, 5, 0)
    assert by_name is not None and by_name == by_guid
    assert by_name.symbol == "task_05"
    assert by_name.provider_guid == AUDIT_GUID
    assert (by_name.task_name, by_name.task) == ("task_0", 0)
    assert (by_name.level_name, by_name.level) == ("win:Informational", 4)
    assert (by_name.opcode_name, by_name.opcode) == ("", 0)  # not declared -> 0, no name
    assert by_name.template_fields == ("TargetProcessId", "DesiredAccess", "ReturnCode")
    assert by_name.template_types == ("UInt32", "UInt32", "UInt32")
    assert by_name.source.endswith(".xml:15")


@needs_reference
def test_threat_intelligence_by_guid_and_id(index: ManifestIndex) -> None:
    event = index.lookup(THREATINT_GUID, None, 5, 1)
    assert event is not None
    assert event.provider_name == THREATINT
    assert event.symbol == "KERNEL_THREATINT_TASK_SETTHREADCONTEXT_V1"
    # Same Id/Version/Level/Task as the EVENT_DESCRIPTOR THREATINT_SETTHREADCONTEXT_REMOTE in ntoskrnl.
    assert (event.id, event.version, event.level, event.task) == (5, 1, 4, 5)
    assert event.keyword_names == ("KERNEL_THREATINT_KEYWORD_SETTHREADCONTEXT_REMOTE",)
    assert event.keyword == 0x4000
    assert "TargetThreadId" in event.template_fields
    assert len(event.template_fields) == len(event.template_types)


@needs_reference
def test_keyword_names_from_a_descriptor_mask(index: ManifestIndex) -> None:
    provider = index.provider(guid=THREATINT_GUID)
    assert provider is not None
    # The kernel's descriptor keyword carries bit 63 too, which names no provider keyword.
    assert provider.keyword_names(0x8000000000004000) == ("KERNEL_THREATINT_KEYWORD_SETTHREADCONTEXT_REMOTE",)
    assert provider.keyword_names(0x5) == (
        "KERNEL_THREATINT_KEYWORD_ALLOCVM_LOCAL",
        "KERNEL_THREATINT_KEYWORD_ALLOCVM_REMOTE",
    )
    assert provider.keyword_names(0) == ()
    assert provider.task_name(5) == "KERNEL_THREATINT_TASK_SETTHREADCONTEXT"
    assert provider.task_name(999) is None


@needs_reference
def test_multiple_keywords_are_resolved_and_ored(index: ManifestIndex) -> None:
    event = index.lookup(None, "Microsoft-Windows-Kernel-EventTracing", 8, 0)
    assert event is not None
    provider = index.provider(name="Microsoft-Windows-Kernel-EventTracing")
    assert provider is not None
    assert event.keyword_names == ("ETW_KEYWORD_PROVIDER", "ETW_KEYWORD_REGISTRATION")
    assert event.keyword == provider.keywords["ETW_KEYWORD_PROVIDER"] | provider.keywords["ETW_KEYWORD_REGISTRATION"]
    # Task-scoped opcode: "Register" is declared inside task "Provider".
    assert (event.task_name, event.opcode_name) == ("Provider", "Register")
    assert event.opcode == provider.task_opcodes["Provider"]["Register"]


@needs_reference
def test_version_fallbacks(index: ManifestIndex) -> None:
    # Threat-Intelligence event 2: v1 from the XML, v2 and v3 only in the (newer) TSV.
    assert index.lookup(THREATINT_GUID, THREATINT, 2, 2).version == 2
    assert index.lookup(THREATINT_GUID, THREATINT, 2, 9).version == 3  # nearest lower
    assert index.lookup(THREATINT_GUID, THREATINT, 2, 0).version == 1  # none lower: nearest higher
    assert index.lookup(THREATINT_GUID, THREATINT, 2, None).version == 3  # highest
    assert index.lookup(THREATINT_GUID, THREATINT, 9999, 0) is None


@needs_reference
def test_tsv_only_event_inherits_guid_and_values_from_the_xml(index: ManifestIndex) -> None:
    event = index.lookup(AUDIT_GUID, None, 2, 1)  # only the TSV has event 2 version 1
    assert event is not None and event.version == 1
    assert event.symbol == "task_02_V1"
    assert event.source.endswith(".tsv:4")
    assert event.provider_guid == AUDIT_GUID
    assert (event.task_name, event.task, event.level_name, event.level) == ("task_0", 0, "win:Informational", 4)
    assert event.template_fields[-2:] == ("TargetProcessStartKey", "TargetProcessCreationTime")


@needs_reference
def test_name_join_only_where_the_source_has_no_guid(tsv_only: ManifestIndex, index: ManifestIndex) -> None:
    event = tsv_only.lookup(AUDIT_GUID, AUDIT, 5, 0)
    assert event is not None and event.provider_guid is None and event.symbol == "task_05"
    assert tsv_only.provider(name=AUDIT.upper()) is not None
    # With the XML loaded the provider has a GUID, so a different GUID under the same name is no match.
    assert index.lookup("00000000-0000-0000-0000-000000000001", AUDIT, 5, 0) is None
    # The GUID wins over a mismatched name.
    assert index.lookup(THREATINT_GUID, AUDIT, 5, 1).provider_name == THREATINT


@needs_reference
@pytest.mark.parametrize(
    ("provider", "event_id", "version"),
    [
        (AUDIT, 5, 0),
        (THREATINT, 5, 1),
        ("Microsoft-Windows-Kernel-Process", 1, 2),
        ("Microsoft-Windows-Kernel-EventTracing", 22, 1),
        ("Microsoft-Windows-Kernel-General", 14, 0),
    ],
)
def test_tsv_and_xml_agree(
    xml_only: ManifestIndex, tsv_only: ManifestIndex, provider: str, event_id: int, version: int
) -> None:
    from_xml = xml_only.lookup(None, provider, event_id, version)
    from_tsv = tsv_only.lookup(None, provider, event_id, version)
    assert from_xml is not None and from_tsv is not None
    assert (from_xml.version, from_tsv.version) == (version, version)
    for name in (
        "symbol",
        "task_name",
        "opcode_name",
        "level_name",
        "level",
        "keyword_names",
        "template_fields",
        "template_types",
    ):
        assert getattr(from_xml, name) == getattr(from_tsv, name), name


@needs_reference
def test_disambiguated_standard_opcode(xml_only: ManifestIndex) -> None:
    event = xml_only.lookup(None, "Microsoft-Windows-Kernel-EventTracing", 22, 0)
    assert event is not None
    assert (event.task_name, event.task, event.opcode_name, event.opcode) == (
        "SavePersistedLogger",
        8,
        "win:Stop_8_2",
        2,
    )


@needs_reference
def test_symbols_rebuilt_without_the_symbol_attribute(tmp_path) -> None:
    """The documented fallback reproduces every symbol of the reference XML."""
    originals = ManifestIndex().load([XML_DIR])
    for name in sorted(os.listdir(XML_DIR)):
        with open(os.path.join(XML_DIR, name), encoding="utf-8") as handle:
            text = handle.read()
        stripped = re.sub(r'(<event\b[^>]*?)\s+symbol="[^"]*"', r"\1", text)
        assert not re.search(r"<event\b[^>]*\bsymbol=", stripped)
        (tmp_path / name).write_text(stripped, encoding="utf-8")
    rebuilt = ManifestIndex().load([str(tmp_path)])
    compared = 0
    for provider in originals.providers():
        for event in provider.events:
            again = rebuilt.lookup(provider.guid, None, event.id, event.version)
            assert again is not None and again.symbol == event.symbol, (provider.name, event.id, event.version)
            compared += 1
    assert compared > 600


@needs_reference
def test_counts_and_summary(index: ManifestIndex) -> None:
    counts = index.counts
    assert counts.providers == 12 and counts.providers_with_guid == 12
    assert counts.events > 800
    assert (counts.mof_events, counts.mof_categories) == (515, 23)
    assert counts.files == 25
    assert index.summary() == (
        f"ETW metadata: 12 provider(s) (12 with GUID), {counts.events} event(s); "
        "515 legacy MOF event(s) in 23 categories; from 25 file(s)"
    )
    assert [p.name for p in index.providers()] == sorted(p.name for p in index.providers())


# --------------------------------------------------------------------------------------------------
# Reference data: legacy MOF table
# --------------------------------------------------------------------------------------------------


@needs_reference
def test_process_end_hook(index: ManifestIndex) -> None:
    event = index.legacy(0x0302)  # PROCESS_DELETE
    assert event is not None
    assert (event.category_guid, event.group, event.event_type) == (PROCESS_GUID, 0x0300, 2)
    assert (event.class_name, event.event_name, event.name, event.version) == ("Process", "End", "Process_End_V4", 4)
    assert "ImageFileName" in event.fields and len(event.fields) == len(event.field_types)
    assert event.description == "Process Create/Exit Event"
    assert index.legacy(0x0302, version=2).name == "Process_End_V2"
    assert index.legacy(0x0302, version=9).version == 4


@needs_reference
@pytest.mark.parametrize(
    ("hook_id", "class_name", "event_name"),
    [
        (0x0000, "EventTrace", "Header"),
        (0x010A, "DiskIo", "Read"),
        (0x0220, "PageFault", "HardFault"),
        (0x0301, "Process", "Start"),
        (0x030A, "Image", "Load"),  # PROCESS_LOAD_IMAGE is logged as the Image class
        (0x0420, "FileIo", "FileCreate"),
        (0x0524, "Thread", "CSwitch"),
        (0x060A, "TcpIp", "SendIPV4"),  # TCPIP_SEND; version 0/1 call it "Send"
        (0x080B, "UdpIp", "RecvIPV4"),
        (0x090A, "Registry", "Create"),
        (0x0A20, "Debugger", "DebugPrint"),
        (0x0B0A, "SystemConfig", "CPU"),
        (0x0E20, "Pool", "PoolAllocation"),
        (0x0F33, "PerfInfo", "SysClEnter"),
        (0x1120, "Object", "CreateHandle"),
        (0x123C, "Power", "IdleExitLatency"),
        (0x1402, "Image", "UnLoad"),
        (0x1820, "StackWalk", "Stack"),
        (0x1920, "UMS", "DSwitchStart"),
        (0x1A21, "ALPC", "ALPC-Send-Message"),
        (0x1B20, "SplitIo", "VolMgr"),
    ],
)
def test_hook_ids_name_the_matching_mof_event(
    index: ManifestIndex, hook_id: int, class_name: str, event_name: str
) -> None:
    event = index.legacy(hook_id)
    assert event is not None, ntwmi.hook_name(hook_id)
    assert (event.class_name, event.event_name) == (class_name, event_name)


@needs_reference
def test_group_table_class_names_match_the_mof_table(index: ManifestIndex) -> None:
    seen = 0
    for group, (guid, class_name) in LEGACY_GROUP_CATEGORIES.items():
        events = [index.mof_event(guid, t) for t in range(256)]
        events = [e for e in events if e is not None]
        if events:
            seen += 1
            assert {e.class_name for e in events} == {class_name}, hex(group)
            assert {e.group for e in events} == {group}
    assert seen == 20


@needs_reference
def test_unmapped_hooks(index: ManifestIndex) -> None:
    assert index.legacy(0x0C20) is None  # SPARE1: deliberately unmapped
    assert index.legacy(0x1401) is None  # IMAGE_LOAD type 1: no MOF class declares it
    assert index.legacy(0x10000) is None
    assert index.legacy(-1) is None
    lbr = index.mof_event("{99134383-5248-43fc-834b-529454e75df3}", 32)
    assert lbr is not None and lbr.group is None and lbr.class_name == "LBR"


# --------------------------------------------------------------------------------------------------
# Tables and helpers (no reference data needed)
# --------------------------------------------------------------------------------------------------


def test_group_table_is_well_formed() -> None:
    for group, (guid, _name) in LEGACY_GROUP_CATEGORIES.items():
        assert group & 0xFF == 0 and group in ntwmi.EVENT_GROUPS
        assert normalize_guid(guid) == guid
    assert len({guid for guid, _name in LEGACY_GROUP_CATEGORIES.values()}) == len(LEGACY_GROUP_CATEGORIES)
    assert hook_category(0x0302) == PROCESS_GUID
    assert hook_category(0x030A) == LEGACY_GROUP_CATEGORIES[0x1400][0]
    assert hook_category(0x1D00) is None  # HYPERVISOR: single source, left out


def test_normalize_guid() -> None:
    assert normalize_guid("{E02A841C-75A3-4FA7-AFC8-AE09CF9B7F23}") == AUDIT_GUID
    assert normalize_guid(AUDIT_GUID) == AUDIT_GUID
    assert normalize_guid("e02a841c75a34fa7afc8ae09cf9b7f23") is None
    assert normalize_guid("not-a-guid") is None


SMALL_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<e:instrumentationManifest xmlns:e="urn:any-namespace-works" xmlns:win="urn:whatever">
 <e:instrumentation>
  <e:events>
   <e:provider name="Test-Provider" guid="{11111111-2222-3333-4444-555555555555}" symbol="TestProvider">
    <e:channels>
     <e:channel chid="op" name="Test-Provider/Operational" value="16" type="Operational"/>
     <e:importChannel chid="sys" name="System"/>
    </e:channels>
    <e:levels><e:level name="MyLevel" value="17"/></e:levels>
    <e:opcodes><e:opcode name="Poke" value="20"/></e:opcodes>
    <e:keywords><e:keyword name="KW_A" mask="0x1"/><e:keyword name="KW_B" mask="0x4"/></e:keywords>
    <e:tasks>
     <e:task name="Work" value="3"><e:opcodes><e:opcode name="Begin" value="11"/></e:opcodes></e:task>
    </e:tasks>
    <e:events>
     <e:event value="1"/>
     <e:event value="2" version="1" task="Work" opcode="Begin" level="MyLevel" keywords="KW_A KW_B" channel="op"
              template="T" message="$(string.msg)"/>
     <e:event value="3" task="Work" opcode="win:Stop" level="win:Verbose" keywords="win:AuditSuccess" channel="sys"/>
     <e:event value="4" task="Work" opcode="win:Stop"/>
     <e:event value="5" opcode="Poke" keywords="KW_A Nope"/>
    </e:events>
    <e:templates>
     <e:template tid="T"><e:data name="Alpha" inType="win:UInt32"/><e:data name="Beta" inType="win:UnicodeString"/></e:template>
    </e:templates>
   </e:provider>
  </e:events>
 </e:instrumentation>
 <e:localization><e:resources culture="en-US"><e:stringTable>
  <e:string id="msg" value="Alpha is %1"/>
 </e:stringTable></e:resources></e:localization>
</e:instrumentationManifest>
"""

GUID_1 = "11111111-2222-3333-4444-555555555555"


def _write(tmp_path, name: str, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_small_manifest_semantics(tmp_path) -> None:
    index = ManifestIndex().load([_write(tmp_path, "small.xml", SMALL_MANIFEST)])
    bare = index.lookup(GUID_1, None, 1, None)
    assert (bare.version, bare.task, bare.opcode, bare.level, bare.keyword, bare.channel) == (0, 0, 0, 0, 0, 0)
    assert (bare.task_name, bare.opcode_name, bare.level_name, bare.keyword_names) == ("", "", "", ())
    assert bare.symbol == "event_1"

    full = index.lookup(GUID_1, None, 2, 1)
    assert (full.task_name, full.task, full.opcode_name, full.opcode) == ("Work", 3, "Begin", 11)
    assert (full.level_name, full.level, full.keyword_names, full.keyword) == ("MyLevel", 17, ("KW_A", "KW_B"), 5)
    assert (full.channel_name, full.channel) == ("Test-Provider/Operational", 16)
    assert full.template_fields == ("Alpha", "Beta") and full.template_types == ("UInt32", "UnicodeString")
    assert full.message == "Alpha is %1"
    assert full.symbol == "WorkBegin_V1"

    std = index.lookup(GUID_1, None, 3, 0)
    assert (std.opcode, std.level, std.keyword, std.channel_name, std.channel) == (2, 5, 1 << 53, "System", 8)
    assert std.symbol == "WorkStop"
    assert index.lookup(GUID_1, None, 4, 0).symbol == "WorkStop4"  # base taken by event 3

    partial = index.lookup(GUID_1, None, 5, 0)
    assert (partial.opcode_name, partial.opcode) == ("Poke", 20)
    assert partial.keyword_names == ("KW_A", "Nope") and partial.keyword is None  # one name unresolved

    provider = index.provider(guid="{11111111-2222-3333-4444-555555555555}")
    assert provider.symbol == "TestProvider" and provider.keyword_names(0x5 | 1 << 53) == (
        "KW_A",
        "KW_B",
        "win:AuditSuccess",
    )


def test_utf16_manifest(tmp_path) -> None:
    text = SMALL_MANIFEST.replace('encoding="UTF-8"', 'encoding="UTF-16"')
    index = ManifestIndex().load([_write(tmp_path, "small16.man", "\ufeff" + text, "utf-16-le")])
    assert index.lookup(GUID_1, None, 2, 1).symbol == "WorkBegin_V1"


# --------------------------------------------------------------------------------------------------
# Malformed and hostile input
# --------------------------------------------------------------------------------------------------


def _error(paths: list[str], kind: type[Exception] = CorruptMetadataError) -> str:
    with pytest.raises(kind) as info:
        ManifestIndex().load(paths)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_xml_syntax_error_names_file_and_line(tmp_path) -> None:
    path = _write(
        tmp_path,
        "broken.xml",
        f'<instrumentationManifest>\n <instrumentation>\n  <events>\n   <provider name="x" guid="{{{GUID_1}}}">\n'
        "  </events>\n</instrumentationManifest>\n",
    )
    message = _error([path])
    assert message.startswith(f"{path}:5: XML syntax error: mismatched tag")


def test_truncated_xml(tmp_path) -> None:
    path = _write(tmp_path, "cut.xml", SMALL_MANIFEST[: SMALL_MANIFEST.index("<e:templates>")])
    assert re.match(re.escape(path) + r":\d+: XML syntax error", _error([path]))


@pytest.mark.parametrize(
    ("text", "line", "word"),
    [
        ('<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY a "aaaa">]>\n<instrumentationManifest/>\n', 2, "DOCTYPE"),
        (
            '<?xml version="1.0"?>\n<instrumentationManifest>\n\n<!-- <!ENTITY x "y"> -->\n</instrumentationManifest>',
            4,
            "ENTITY",
        ),
        (
            '<!doctype instrumentationManifest SYSTEM "http://example.invalid/x.dtd">\n<instrumentationManifest/>',
            1,
            "doctype",
        ),
    ],
)
def test_dtd_and_entities_refused(tmp_path, text: str, line: int, word: str) -> None:
    path = _write(tmp_path, "evil.xml", text)
    message = _error([path])
    assert message.startswith(f"{path}:{line}: <!{word} is refused")


def test_dtd_refused_in_utf16(tmp_path) -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE m [<!ENTITY a "b">]>\n<instrumentationManifest/>'
    path = _write(tmp_path, "evil16.xml", "\ufeff" + text, "utf-16-le")
    assert _error([path]).startswith(f"{path}:2: <!DOCTYPE is refused")


def test_non_numeric_event_value(tmp_path) -> None:
    text = SMALL_MANIFEST.replace('<e:event value="3"', '<e:event value="three"')
    path = _write(tmp_path, "nan.xml", text)
    line = text[: text.index('value="three"')].count("\n") + 1
    assert _error([path]) == f"{path}:{line}: event value is not a number: 'three'"


def test_provider_without_guid(tmp_path) -> None:
    text = SMALL_MANIFEST.replace('guid="{11111111-2222-3333-4444-555555555555}"', 'guid="nope"')
    path = _write(tmp_path, "noguid.xml", text)
    assert _error([path]).startswith(f"{path}:5: provider 'Test-Provider' has no valid guid")


def test_not_a_manifest(tmp_path) -> None:
    path = _write(tmp_path, "other.xml", "<?xml version='1.0'?>\n<project/>\n")
    assert _error([path]).startswith(f"{path}:2: not an instrumentation manifest")


TSV_HEADER = (
    "provider\tevent_id\tversion\tevent(fields)\topcode\tkeywords\ttask\tlevel\tevtlog_channel\tevtlog_message\n"
)


def test_tsv_bad_line(tmp_path) -> None:
    good = "P\t1\t0\tE1(UInt32 A)\t\t\tT\tInformational\t\t\n"
    path = _write(tmp_path, "P.tsv", TSV_HEADER + good + "P\t2\t0\tE2()\tStart\n")
    assert _error([path]) == f"{path}:3: expected 10 tab-separated columns, found 5"


def test_tsv_non_numeric_id_and_bad_signature(tmp_path) -> None:
    path = _write(tmp_path, "P.tsv", TSV_HEADER + "P\tx1\t0\tE1()\t\t\t\t\t\t\n")
    assert _error([path]) == f"{path}:2: event_id is not a number: 'x1'"
    path = _write(tmp_path, "Q.tsv", TSV_HEADER + "\nQ\t1\t0\tE1(UInt32 A\t\t\t\t\t\t\n")
    assert _error([path]).startswith(f"{path}:3: unbalanced parentheses")


def test_tsv_unknown_header(tmp_path) -> None:
    path = _write(tmp_path, "odd.tsv", "\nname\tvalue\nx\t1\n")
    assert _error([path]).startswith(f"{path}:2: unrecognised TSV header")


def test_tsv_provider_name_falls_back_to_file_name(tmp_path) -> None:
    header = "event_id\tversion\tevent(fields)\tlevel\n"
    path = _write(tmp_path, "My-Provider.tsv", header + "7\t0\tSeven(UInt32 A, UnicodeString B)\tVerbose\n")
    event = ManifestIndex().load([path]).lookup(None, "my-provider", 7, 0)
    assert event is not None and event.provider_guid is None
    assert (event.symbol, event.template_fields, event.level_name, event.level) == (
        "Seven",
        ("A", "B"),
        "win:Verbose",
        5,
    )


def test_mof_tsv_bad_category(tmp_path) -> None:
    header = "provider\tcategory\tevent_id\tversion\tevent(fields)\tevent_type\tdescription\n"
    path = _write(tmp_path, "k.mof.tsv", header + "Windows Kernel Trace\t{zzz}\t1\t0\tP_Start()\tStart\tx\n")
    assert _error([path]) == f"{path}:2: category is not a GUID: '{{zzz}}'"


def test_missing_and_unreadable_paths(tmp_path, monkeypatch) -> None:
    missing = str(tmp_path / "nope.xml")
    assert _error([missing], InputNotFoundError) == f"{missing}: no such file or directory"
    locked = _write(tmp_path, "locked.xml", SMALL_MANIFEST)

    def refuse(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(inputs.os, "open", refuse)
    assert _error([locked], InputNotFoundError) == f"{locked}: cannot read (Permission denied)"


def test_failed_load_leaves_index_unchanged(tmp_path) -> None:
    good = _write(tmp_path, "good.xml", SMALL_MANIFEST)
    index = ManifestIndex().load([good])
    before = index.counts
    other = _write(
        tmp_path, "other.xml", SMALL_MANIFEST.replace("Test-Provider", "Other-Provider").replace("1111", "9999")
    )
    bad = _write(tmp_path, "bad.tsv", TSV_HEADER + "X\t1\n")
    with pytest.raises(CorruptMetadataError):
        index.load([other, bad])
    assert index.counts == before
    assert index.provider(name="Other-Provider") is None


def test_single_path_string_is_not_iterated_per_character(tmp_path) -> None:
    path = _write(tmp_path, "small.xml", SMALL_MANIFEST)
    assert ManifestIndex().load(path).counts.providers == 1  # type: ignore[arg-type]
