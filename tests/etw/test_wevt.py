"""The embedded manifest: WEVT_TEMPLATE and RT_MESSAGETABLE decoding, the ``manifest`` command, naming in ``analyze``.

Truth is samples/wevt/build.py's own model (PROVIDERS, MESSAGES, WRITTEN): its resources are encoded from
the model, so decoding them must give the model back exactly. Corrupt resources are mutations of that
encoding made here: every one must decode without an exception, keep what precedes the damage, and make
the command exit 9.
"""

from __future__ import annotations

import csv
import io
import os
import random
import struct

import pytest
from conftest import SAMPLES, run_cli

from api_to_etw.binary.resources import MappedFile, image_resources, walk_resources
from api_to_etw.etw.embedded import read_embedded, to_index, to_xml
from api_to_etw.etw.manifest import ManifestIndex
from api_to_etw.etw.messagetable import decode_messagetable
from api_to_etw.etw.wevt import decode_wevt
from samples.wevt import build

WEVT_DIR = os.path.join(SAMPLES, "wevt")
GADGET = os.path.join(WEVT_DIR, "gadget.dll")
GADGET_RES = os.path.join(WEVT_DIR, "gadget_res.dll")




# ------------------------------------------------------------------------------------------ round trip


def test_model_round_trips_exactly():
    decoded = decode_wevt(build.encode_wevt())
    assert decoded.warnings == []
    assert decoded.version == build.CRIM_VERSION
    assert tuple(decoded.providers) == build.PROVIDERS


@pytest.mark.parametrize("lang", sorted(build.MESSAGES))
def test_message_tables_round_trip(lang):
    unicode = lang not in build.ANSI_LANGUAGES
    table = decode_messagetable(build.encode_messagetable(build.MESSAGES[lang], unicode), 1252)
    assert table.warnings == []
    assert table.messages == build.MESSAGES[lang]


def _embedded(path):
    with open(path, "rb") as handle:
        data = handle.read()
    memory = MappedFile(data)
    tree = image_resources(memory, data[:4096])
    assert tree.warnings == []
    return read_embedded(memory, tree.entries, os.path.basename(path))


@pytest.mark.parametrize("path", [GADGET, GADGET_RES])
def test_committed_dlls_carry_the_model(path):
    manifest = _embedded(path)
    assert manifest.warnings == []
    assert tuple(manifest.providers) == build.PROVIDERS
    assert manifest.messages == build.MESSAGES


def test_xml_is_read_back_by_the_manifest_reader(tmp_path):
    manifest = _embedded(GADGET_RES)
    xml = tmp_path / "gadget.man"
    xml.write_text(to_xml(manifest, "gadget_res.dll"), encoding="utf-8")
    index = ManifestIndex().load([str(xml)])
    for p in build.PROVIDERS:
        provider = index.provider(guid=p.guid)
        assert provider is not None and provider.name == p.name
        tasks = {t.value: t.name for t in p.tasks}
        for e in p.events:
            got = index.lookup(p.guid, None, e.id, e.version)
            assert got is not None and (got.id, got.version) == (e.id, e.version)
            assert got.level == e.level and got.task == e.task and got.opcode == e.opcode
            assert got.task_name == tasks.get(e.task, "")
            assert got.channel == e.channel
            fields = p.templates[e.template].fields if e.template is not None else ()
            assert got.template_fields == tuple(f.name for f in fields)
            assert got.message == build.MESSAGES[1033].get(e.message_id, "")
            masks = {k.value: k.name for k in p.keywords}
            assert got.keyword_names == tuple(masks[m] for m in e.keywords)


def test_manifest_command_xml_and_tsv_on_a_resource_only_dll():
    result = run_cli("manifest", GADGET_RES, "-q")
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("<?xml") and 'name="Contoso-Gadget-Storage"' in result.stdout
    assert 'culture="de-DE"' in result.stdout and "Contoso-Gerät" in result.stdout
    tsv = run_cli("manifest", GADGET_RES, "--format", "tsv", "-q")
    assert tsv.code == 0
    rows = list(csv.DictReader(io.StringIO(tsv.stdout), delimiter="\t"))
    assert [(r["provider"], int(r["event_id"]), int(r["version"])) for r in rows] == [
        (p.name, e.id, e.version) for p in build.PROVIDERS for e in p.events]
    first = rows[0]
    assert first["event(fields)"] == "ConnectStart(UnicodeString Peer, UInt16 Port, HexInt64 Handle, FILETIME When)"
    assert (first["opcode"], first["task"], first["level"], first["keywords"]) == ("Start", "Connect",
                                                                                  "Informational", "Network")
    assert first["evtlog_channel"] == "Contoso-Gadget/Operational"
    assert first["evtlog_message"] == "Connected to %1 port %2."


def test_manifest_tsv_loads_as_a_manifest(tmp_path):
    out = tmp_path / "gadget.tsv"
    assert run_cli("manifest", GADGET, "--format", "tsv", "-o", str(out), "-q").code == 0
    index = ManifestIndex().load([str(out)])
    assert index.counts.events == sum(len(p.events) for p in build.PROVIDERS)


def test_no_manifest_is_a_warning_not_an_error():
    result = run_cli("manifest", os.path.join(SAMPLES, "usermode", "telemetry.dll"))
    assert result.code == 0
    assert "no WEVT_TEMPLATE" in result.stderr and result.stdout == ""


# ------------------------------------------------------------------------------------------ analyze


def _rows(*args):
    result = run_cli("analyze", *args, "-o", "-", "-q")
    assert result.code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t"))


def test_analyze_names_rows_from_the_binarys_own_manifest():
    rows = _rows(GADGET)
    assert rows and all(r["Kind"] == "manifest" for r in rows)
    by_key = {(r["ProviderGuid"], int(r["Id"]), int(r["Version"])): r for r in rows}
    assert set(by_key) == set(build.WRITTEN)
    for p in build.PROVIDERS:
        for e in p.events:
            row = by_key.get((p.guid, e.id, e.version))
            if row is None:
                continue
            assert row["ProviderName"] == p.name
            assert row["Message"] == build.MESSAGES[1033].get(e.message_id, "")
            fields = p.templates[e.template].fields if e.template is not None else ()
            assert row["Fields"] == " ".join(f.name for f in fields)
            assert row["Entry"] != "unreferenced"
    assert by_key[(build.GADGET, 3, 0)]["EventName"] == "StoreRetry"
    assert by_key[(build.GADGET, 3, 0)]["TaskName"] == "Store"
    assert by_key[(build.GADGET, 3, 0)]["OpcodeName"] == "Retry"


def test_unreferenced_events_become_rows():
    rows = _rows(GADGET, "--unreferenced")
    extra = [r for r in rows if r["Entry"] == "unreferenced"]
    defined = {(p.guid, e.id, e.version) for p in build.PROVIDERS for e in p.events}
    assert {(r["ProviderGuid"], int(r["Id"]), int(r["Version"])) for r in extra} == defined - set(build.WRITTEN)
    handshake = next(r for r in extra if r["Id"] == "2")
    assert (handshake["EventName"], handshake["Function"], handshake["WriteRva"]) == ("ConnectHandshake", "", "")
    assert handshake["Level"] == "16" and handshake["Message"] == "Handshake in progress."


def test_manifests_option_overrides_the_embedded_names(tmp_path):
    override = tmp_path / "override.tsv"
    override.write_text("provider\tevent_id\tversion\tevent(fields)\topcode\tkeywords\ttask\tlevel\tevtlog_channel"
                        "\tevtlog_message\nContoso-Gadget\t3\t0\tRenamed(Int32 Code)\t\t\t\t\t\tOverridden\n",
                        encoding="utf-8")
    rows = _rows(GADGET, "--manifests", str(override))
    row = next(r for r in rows if r["Id"] == "3")
    assert (row["EventName"], row["Fields"], row["Message"]) == ("Renamed", "Code", "Overridden")
    other = next(r for r in rows if r["Id"] == "7")
    assert other["EventName"] == "event_7"  # still named from the resource


def test_frozen_facts_replay_the_names(tmp_path):
    facts = tmp_path / "gadget.facts.json"
    first = _rows(GADGET, "--save-facts", str(facts), "--unreferenced")
    assert _rows("--facts", str(facts), "--unreferenced") == first


# ------------------------------------------------------------------------------------------ corruption


def _mutations(blob: bytes):
    """(label, mutated blob): truncations, lying sizes and counts, offset loops, random byte damage."""
    for cut in sorted({4, 15, 16, 36, 50, len(blob) // 3, len(blob) // 2, len(blob) - 7}):
        yield f"truncated at {cut}", blob[:cut]
    words = [i for i in range(0, len(blob) - 4, 4)]
    for at in words[:: max(1, len(words) // 60)]:
        yield f"0xffffffff at {at}", blob[:at] + b"\xff\xff\xff\xff" + blob[at + 4:]
        yield f"self offset at {at}", blob[:at] + struct.pack("<I", at) + blob[at + 4:]
    rng = random.Random(10)
    for n in range(40):
        damaged = bytearray(blob)
        for _ in range(8):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        yield f"random damage {n}", bytes(damaged)


def test_corrupt_resources_never_raise_and_keep_what_decoded():
    blob = build.encode_wevt()
    for label, mutated in _mutations(blob):
        result = decode_wevt(mutated)  # must not raise or hang
        assert isinstance(result.providers, list), label
    # a cut inside the second provider keeps the first one whole
    second = struct.unpack_from("<I", blob, 16 + 20 + 16)[0]
    cut = decode_wevt(blob[: second + 40])
    assert cut.warnings and cut.providers[0] == build.PROVIDERS[0]


def test_lying_counts_are_capped_with_a_warning():
    blob = bytearray(build.encode_wevt())
    evnt = blob.index(b"EVNT")
    struct.pack_into("<I", blob, evnt + 8, 0x7FFFFFFF)
    result = decode_wevt(bytes(blob))
    assert any("EVNT" in w and "count" in w for w in result.warnings)
    assert result.providers[0].events[:5] == build.PROVIDERS[0].events


def test_corrupt_message_tables_keep_the_good_entries():
    data = bytearray(build.encode_messagetable(build.MESSAGES[1033]))
    assert decode_messagetable(bytes(data[:-10])).warnings
    struct.pack_into("<I", data, 0, 999)
    table = decode_messagetable(bytes(data))
    assert table.warnings and table.messages == build.MESSAGES[1033]


def test_resource_directory_loops_and_lies_are_bounded():
    with open(GADGET_RES, "rb") as handle:
        data = bytearray(handle.read())
    memory = MappedFile(bytes(data))
    from api_to_etw.binary.resources import resource_directory

    rva, size = resource_directory(bytes(data))
    offset = memory._pe.get_offset_from_rva(rva)
    # the root's first entry now points back at the root table: a loop
    struct.pack_into("<I", data, offset + 16 + 4, 0x80000000)
    looped = walk_resources(MappedFile(bytes(data)), rva, size)
    assert any("loop" in w for w in looped.warnings)
    struct.pack_into("<HH", data, offset + 12, 0xFFFF, 0xFFFF)
    lying = walk_resources(MappedFile(bytes(data)), rva, size)
    assert any("entries announced" in w for w in lying.warnings)


def _patched_dll(tmp_path, mutate):
    with open(GADGET_RES, "rb") as handle:
        data = bytearray(handle.read())
    at = data.index(b"CRIM")
    mutate(data, at)
    path = tmp_path / "broken.dll"
    path.write_bytes(bytes(data))
    return str(path)


def test_manifest_command_exits_9_and_keeps_what_decoded(tmp_path):
    def lie(data, at):
        evnt = data.index(b"EVNT", at)
        struct.pack_into("<I", data, evnt + 4, 0xFFFFFF)  # EVNT size far past the resource

    path = _patched_dll(tmp_path, lie)
    result = run_cli("manifest", path, "--format", "tsv")
    assert result.code == 9
    assert "WARNING" in result.stderr and "EVNT" in result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t"))
    assert len(rows) == sum(len(p.events) for p in build.PROVIDERS)

    def loop(data, at):
        struct.pack_into("<I", data, at + 16 + 20 + 16, struct.unpack_from("<I", data, at + 16 + 16)[0])

    result = run_cli("manifest", _patched_dll(tmp_path, loop), "--format", "tsv")
    assert result.code == 9 and "loop" in result.stderr
    assert "Contoso-Gadget\t1\t0" in result.stdout


# ------------------------------------------------------------------------------------------ fixture


def test_generated_c_source_is_committed():
    with open(os.path.join(WEVT_DIR, "gadget.c"), encoding="utf-8") as handle:
        assert handle.read() == build.c_source()


def test_index_of_the_gadget_manifest():
    index = to_index(_embedded(GADGET))
    assert index.counts.providers == 2 and index.counts.events == 7


def test_manifests_option_takes_a_resource_dll(tmp_path):
    """A provider's resource-only DLL given to --manifests names rows of a binary without its own resource."""
    facts = tmp_path / "gadget.facts.json"
    _rows(GADGET, "--save-facts", str(facts))
    import json

    doc = json.loads(facts.read_text(encoding="utf-8"))
    doc["resources"] = []  # as if the manifest lived only in the resource file
    facts.write_text(json.dumps(doc), encoding="utf-8")
    bare = _rows("--facts", str(facts))
    assert all(r["EventName"] == "" for r in bare)
    named = _rows("--facts", str(facts), "--manifests", GADGET_RES)
    assert {r["EventName"] for r in named} == {"ConnectStart", "ConnectStart_V1", "StoreRetry", "event_7"}
    broken = tmp_path / "broken.dll"
    data = bytearray(open(GADGET_RES, "rb").read())
    evnt = data.index(b"EVNT")
    struct.pack_into("<I", data, evnt + 8, 0x7FFFFFFF)
    broken.write_bytes(bytes(data))
    result = run_cli("analyze", "--facts", str(facts), "--manifests", str(broken), "-o", "-")
    assert result.code == 9 and "corrupt embedded manifest" in result.stderr


@pytest.mark.parametrize("name", ["gadget.dll", "gadget.pdb", "gadget_res.dll", "gadget.c"])
def test_no_machine_paths_in_the_fixture(name):
    with open(os.path.join(WEVT_DIR, name), "rb") as handle:
        data = handle.read()
    for needle in (b"/work", b"/tmp", b"/root", b"/home", b"/usr", b":\\"):
        assert needle not in data, f"{name} contains {needle!r}"
    assert len(data) < 100_000


def test_analyze_survives_a_corrupt_resource(tmp_path):
    """A lying EVNT count in a code DLL's resource: analyze warns, keeps its rows and names what decoded."""
    data = bytearray(open(GADGET, "rb").read())
    evnt = data.index(b"EVNT")
    struct.pack_into("<I", data, evnt + 8, 0x7FFFFFFF)
    path = tmp_path / "gadget.dll"
    path.write_bytes(bytes(data))
    result = run_cli("analyze", str(path), "--no-pdb", "-o", "-")
    assert result.code == 0, result.stderr
    assert "WEVT_TEMPLATE" in result.stderr and "count" in result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t"))
    assert {r["EventName"] for r in rows if r["Id"] == "3"} == {"StoreRetry"}


def test_a_provider_defined_twice_is_kept_once():
    from api_to_etw.model import ResourceEntry

    blob = build.encode_wevt()

    class Flat:
        def read(self, rva, size):
            return blob[rva - 0x1000: rva - 0x1000 + size]

    twice = [ResourceEntry("WEVT_TEMPLATE", 1, lang, 0x1000, len(blob)) for lang in (1033, 1031)]
    manifest = read_embedded(Flat(), twice)
    assert tuple(manifest.providers) == build.PROVIDERS
    assert len(manifest.warnings) == len(build.PROVIDERS) and "defined again" in manifest.warnings[0]
