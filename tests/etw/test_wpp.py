"""WPP metadata: the fixture's TMF/TMC annotations parsed exactly as truth.json says, the annotation-to-call-site
rule and the call sites' arguments checked in the fixture's machine code, the fixture in sync with its generator,
and the grammar's edge cases."""

from __future__ import annotations

import filecmp
import os
import uuid

import pytest
from conftest import SAMPLES, load_truth, require_fixture_toolchain

from api_to_etw.binary.pdb_annotations import Annotation, read_annotations
from api_to_etw.etw.wpp import (
    DEFAULT_WINDOW,
    WppControl,
    WppIndex,
    WppMessage,
    canonical_file,
    normalize_guid,
    parse_annotation,
    parse_tmc,
    parse_tmf,
)
from api_to_etw.etw.wppcalls import trace_function
from samples import driver
from samples.wpp import build as wpp_build

WPP = os.path.join(SAMPLES, "wpp")


@pytest.fixture(scope="module")
def truth() -> dict:
    return load_truth("wpp")


@pytest.fixture(scope="module")
def indexes(truth) -> dict[str, WppIndex]:
    return {img["name"]: WppIndex.from_annotations(read_annotations(os.path.join(WPP, img["pdb"])))
            for img in truth["images"]}


def _messages(truth):
    return [(img, msg) for img in truth["images"] for msg in img["messages"]]


# ---------------------------------------------------------------------------------------------------------------
# The fixture's metadata.
# ---------------------------------------------------------------------------------------------------------------


def test_fixture_controls(truth, indexes):
    for img in truth["images"]:
        index = indexes[img["name"]]
        assert index.warnings == []
        expected = [(c["guid"], c["name"], tuple(c["flags"]), c["public"], c["function"], c["module"])
                    for c in img["controls"]]
        got = [(c.guid, c.name, c.flags, c.public, c.function, c.module) for c in index.controls]
        assert got == expected


def test_fixture_messages_parse_exactly(truth, indexes):
    for img, want in _messages(truth):
        index = indexes[img["name"]]
        got = index.lookup(want["message_guid"], want["number"])
        assert got is not None, want
        assert got.format == want["format"]
        assert got.args == tuple(tuple(a) for a in want["args"])
        assert got.arg_numbers == tuple(range(10, 10 + len(want["args"])))
        assert got.provider_name == want["provider_name"]
        assert got.control_guid == want["control_guid"]
        assert got.file == (None if want["public"] else want["file"])
        assert got.line == want["line"]
        assert got.name == want["name"]
        assert got.function == (want["tmf_function"] or want["function"])
        assert got.procedure == want["function"] and got.module == want["module"]
        assert got.level == want["level"] and got.flags == want["flags"]
        assert got.public == want["public"]
        assert got.extra == ()
    for img in truth["images"]:
        assert len(indexes[img["name"]]) == len(img["messages"]) == len(indexes[img["name"]].messages)


def test_fixture_lines_point_at_the_trace_statements(truth):
    for _img, msg in _messages(truth):
        if msg["public"]:
            continue
        with open(os.path.join(WPP, msg["file"]), encoding="utf-8") as handle:
            line = handle.read().splitlines()[msg["line"] - 1]
        assert line.strip().startswith(msg["macro"] + "("), (msg["file"], msg["line"], line)


def test_fixture_controls_own_the_message_flags(truth, indexes):
    for img, msg in _messages(truth):
        control = indexes[img["name"]].control(msg["control_guid"])
        assert control is not None and control.name == msg["control_name"]
        assert control.flag_bit(msg["flags"] or msg["level"]) is not None


# ---------------------------------------------------------------------------------------------------------------
# The machine code: each trace call site as truth.json describes it, and the annotation-to-call-site rule.
# ---------------------------------------------------------------------------------------------------------------

ARG_REGISTERS = {0: ("RCX", "ECX", "CX"), 1: ("RDX", "EDX", "DX"), 2: ("R8", "R8D", "R8W"), 3: ("R9", "R9D", "R9W")}


class Image:
    def __init__(self, img: dict):
        import pefile

        from api_to_etw.binary.pdb import load_pdb

        self.pe = pefile.PE(os.path.join(WPP, img["file"]))
        self.base = self.pe.OPTIONAL_HEADER.ImageBase
        self.memory = self.pe.get_memory_mapped_image()
        symbols = load_pdb(os.path.join(WPP, img["pdb"]))
        self.functions = symbols.functions
        self.data = symbols.data
        self.starts = sorted(self.functions)
        self.rva_of = {name: rva for rva, name in self.functions.items()}
        self.imports = {imp.address - self.base: imp.name.decode()
                        for entry in getattr(self.pe, "DIRECTORY_ENTRY_IMPORT", []) for imp in entry.imports}

    def end_of(self, start: int) -> int:
        later = [s for s in self.starts if s > start]
        return later[0] if later else start + 0x1000

    def scan(self, start: int, stop: int):
        """The first call (or jump to another function) after ``start``: (rva, mnemonic, target, regs)."""
        return next(self.calls(start, stop), None)

    def calls(self, start: int, stop: int):
        """Decode from start to stop: each call or jump to another function, with the argument registers' constants
        (immediates, and RIP-relative lea targets as RVAs) set since the previous call."""
        import iced_x86 as x86

        names = {getattr(x86.Register, name): idx for idx, regs in ARG_REGISTERS.items() for name in regs}
        decoder = x86.Decoder(64, self.memory[start:stop], ip=self.base + start)
        regs: dict[int, int] = {}
        for ins in decoder:
            dest = ins.op0_register if ins.op_count else x86.Register.NONE
            if dest in names:
                if ins.mnemonic == x86.Mnemonic.LEA and ins.is_ip_rel_memory_operand:
                    regs[names[dest]] = ins.ip_rel_memory_address - self.base
                elif ins.mnemonic == x86.Mnemonic.MOV and ins.op1_kind in (
                        x86.OpKind.IMMEDIATE8, x86.OpKind.IMMEDIATE16, x86.OpKind.IMMEDIATE32,
                        x86.OpKind.IMMEDIATE32TO64, x86.OpKind.IMMEDIATE64):
                    regs[names[dest]] = ins.immediate(1)
            rva = ins.ip - self.base
            if ins.flow_control in (x86.FlowControl.CALL, x86.FlowControl.INDIRECT_CALL):
                yield rva, "call", self._target(ins), regs
                regs = {}
            elif ins.flow_control == x86.FlowControl.UNCONDITIONAL_BRANCH:
                target = ins.near_branch_target - self.base
                if target in self.functions:
                    yield rva, "jmp", self.functions[target], regs
                    regs = {}

    def _target(self, ins) -> str:
        if ins.is_ip_rel_memory_operand:
            slot = ins.ip_rel_memory_address - self.base
            return "[" + (self.imports.get(slot) or self.data.get(slot) or hex(slot)) + "]"
        return self.functions.get(ins.near_branch_target - self.base, hex(ins.near_branch_target - self.base))


@pytest.fixture(scope="module")
def images(truth) -> dict[str, Image]:
    return {img["name"]: Image(img) for img in truth["images"]}


def _writer_target(msg: dict) -> str:
    return msg["writer"] if msg["writer_call"] == "direct" else f"[{msg['writer']}]"


def test_fixture_call_sites_match_truth(truth, indexes, images):
    for img, msg in _messages(truth):
        image = images[img["name"]]
        message = indexes[img["name"]].lookup(msg["message_guid"], msg["number"])
        start = image.rva_of[msg["function"]]
        site = image.scan(message.rva, image.end_of(start))
        assert site is not None, msg
        rva, mnemonic, target, regs = site
        assert mnemonic == msg["call_instruction"], (msg, site)
        wanted = msg["callee"] if msg["wrapper"] else _writer_target(msg)
        assert target == wanted, (msg, site)
        args = msg["callee_args"]
        guid_rva = regs[args["guid"]]
        assert image.data[guid_rva] == msg["guid_symbol"]
        assert bytes(image.memory[guid_rva : guid_rva + 16]) == uuid.UUID(msg["message_guid"]).bytes_le
        assert regs[args["number"]] & 0xFFFF == msg["number"]
        if "flags" in args:
            assert regs[args["flags"]] == truth["trace_options"]
        assert 0 < rva - message.rva <= DEFAULT_WINDOW


def test_fixture_wrappers_call_the_writer(truth, images):
    seen = set()
    for img, msg in _messages(truth):
        if not msg["wrapper"] or (img["name"], msg["wrapper"]) in seen:
            continue
        seen.add((img["name"], msg["wrapper"]))
        image = images[img["name"]]
        start = image.rva_of[msg["wrapper"]]
        calls = list(image.calls(start, image.end_of(start)))
        writes = [c for c in calls if c[2] == _writer_target(msg)]
        assert len(writes) == 1 and writes[0][1] == "call", (msg["wrapper"], calls)
        assert writes[0][3][1] == truth["trace_options"]  # MessageFlags in edx
        assert all(c[2] == "WppStrLenA" for c in calls if c is not writes[0])
    assert {w for _img, w in seen} >= {"WPP_SF_pd", "WPP_SF_dd", "WPP_SF_Ip"}


def test_at_finds_the_annotation_before_each_call_site(truth, indexes, images):
    for img, msg in _messages(truth):
        index, image = indexes[img["name"]], images[img["name"]]
        message = index.lookup(msg["message_guid"], msg["number"])
        start = image.rva_of[msg["function"]]
        rva = image.scan(message.rva, image.end_of(start))[0]
        assert index.at(rva) is message
        assert index.at(rva, function_rva=start) is message
        assert index.at(message.rva) is message
        assert index.at(rva, window=rva - message.rva - 1) in (None, *index.in_function(msg["function"]))
        assert index.at(rva, function_rva=start + 1) is None


def test_in_function_lists_messages_in_address_order(truth, indexes):
    index = indexes["wppuser"]
    assert [m.number for m in index.in_function("QpInsert")] == [10, 11]
    assert [m.number for m in index.in_function("QpDrain")] == [12, 13]
    assert index.in_function("WppStrLenA") == []


# ---------------------------------------------------------------------------------------------------------------
# The fixture in sync with its generator, and reproducible.
# ---------------------------------------------------------------------------------------------------------------


def test_sources_and_truth_match_the_generator(tmp_path):
    images = wpp_build.build_model()
    names = wpp_build.write_sources(str(tmp_path), images)
    wpp_build.write_truth(str(tmp_path), images)
    for name in names + ["truth.json"]:
        assert filecmp.cmp(tmp_path / name, os.path.join(WPP, name), shallow=False), name


def test_committed_files_hold_no_machine_paths():
    for name in os.listdir(WPP):
        if name.endswith((".dll", ".exe", ".pdb", ".json", ".c", ".h", ".tmh")):
            with open(os.path.join(WPP, name), "rb") as handle:
                data = handle.read()
            for marker in (b"/work/", b"/tmp/", b"/home/", b"/usr/", b"C:\\Users"):
                assert marker not in data, (name, marker)


def test_fresh_build_is_byte_identical():
    require_fixture_toolchain("llvm-dlltool")
    assert driver.check(wpp_build.FIXTURES[0]) == []


# ---------------------------------------------------------------------------------------------------------------
# Grammar.
# ---------------------------------------------------------------------------------------------------------------

GUID = "0b67e6f7-ae91-470c-b4b6-dcd6a9034e18"
MSG_GUID = "2158e7d3-9867-cde3-18b5-9713c628abdf"


def _tmf(head=None, typev=None, args=("{", "devExt->powerDown, ItemLong -- 10", "}"), tail=()):
    return ("TMF:", head or f"{MSG_GUID} TEEDriver // SRC=Queue.c MJ= MN=",
            typev or '#typev Queue_c2319 207 "%0PowerDown = %10!x!" //   LEVEL=TRACE_LEVEL_VERBOSE FLAGS=TRACE_QUEUE',
            *args, *tail)


def test_tmf_documented_example():
    warnings: list[str] = []
    msg = parse_tmf(_tmf(), warnings)
    assert warnings == []
    assert msg == WppMessage(
        message_guid=MSG_GUID, number=207, provider_name="TEEDriver", format="%0PowerDown = %10!x!",
        args=(("devExt->powerDown", "ItemLong"),), file="Queue.c", line=2319, function=None,
        level="TRACE_LEVEL_VERBOSE", flags="TRACE_QUEUE", name="Queue_c2319",
        attributes=(("LEVEL", "TRACE_LEVEL_VERBOSE"), ("FLAGS", "TRACE_QUEUE")), arg_numbers=(10,))


def test_tmf_func_tracelevel_and_hex_number():
    msg = parse_tmf(_tmf(typev='#typev Trace_h1361 0x0a "%0--> %10!s!" //   TRACELEVEL=TRACE_LEVEL_VERBOSE '
                               "FUNC=Foo::Bar COMPNAME=Core"))
    assert (msg.number, msg.level, msg.flags, msg.function) == (10, "TRACE_LEVEL_VERBOSE", None, "Foo::Bar")
    assert dict(msg.attributes)["COMPNAME"] == "Core"
    assert msg.line is None  # the name does not start with Queue_c


def test_tmf_old_layout_and_loose_blanks():
    msg = parse_tmf(("TMF:", f"  {{{MSG_GUID.upper()}}}   TEEDriver   //   SRC=Queue.c   MJ=base MN=fs  ",
                     '#typev   Queue_c12   11   "%0x"   //   LEVEL=Error', " { ", " a ,  ItemULong  --  10 ", " } "))
    assert (msg.message_guid, msg.provider_name, msg.file, msg.line, msg.number) == (MSG_GUID, "TEEDriver",
                                                                                    "Queue.c", 12, 11)
    assert msg.args == (("a", "ItemULong"),) and msg.level == "Error"


def test_tmf_user_msg_guid_glued_to_the_provider():
    msg = parse_tmf(_tmf(head=f"{MSG_GUID}Trace // SRC=Trace.h MJ= MN="))
    assert (msg.message_guid, msg.provider_name, msg.file) == (MSG_GUID, "Trace", "Trace.h")


def test_tmf_without_comment_parts():
    msg = parse_tmf(_tmf(head=MSG_GUID, typev='#typev x_c5 10 "%0plain"'))
    assert (msg.provider_name, msg.file, msg.line, msg.level, msg.flags, msg.format) == ("", None, None, None, None,
                                                                                        "%0plain")


def test_tmf_format_with_quotes_and_slashes():
    msg = parse_tmf(_tmf(typev='#typev a_c1 10 "%0path "%10!s!" // not a comment "x"" //   LEVEL=L FUNC=f'))
    assert msg.format == '%0path "%10!s!" // not a comment "x"'
    assert (msg.level, msg.function) == ("L", "f")


def test_tmf_argument_names_and_types_with_commas():
    msg = parse_tmf(_tmf(args=("{", "trace::_str(sz. cch), ItemPString -- 10", "f(a, b), ItemLong -- 11",
                               "mode, ItemListLong(READ,WRITE,EXEC) -- 12", "e, ItemEnum(_MY_ENUM) -- 13",
                               "m<int, 2>, ItemPtr -- 14", "}")))
    assert msg.args == (("trace::_str(sz. cch)", "ItemPString"), ("f(a, b)", "ItemLong"),
                        ("mode", "ItemListLong(READ,WRITE,EXEC)"), ("e", "ItemEnum(_MY_ENUM)"), ("m<int, 2>", "ItemPtr"))
    assert msg.arg_numbers == (10, 11, 12, 13, 14)


def test_tmf_argument_without_number_and_unreadable_argument():
    warnings: list[str] = []
    msg = parse_tmf(_tmf(args=("{", "x, ItemLong", "garbage", "}")), warnings)
    assert msg.args == (("x", "ItemLong"),) and msg.arg_numbers == (None,)
    assert len(warnings) == 1 and "unreadable argument" in warnings[0]


def test_tmf_argument_list_not_opened_or_not_closed():
    warnings: list[str] = []
    msg = parse_tmf(_tmf(args=("a, ItemLong -- 10", "}")), warnings)
    assert msg.args == (("a", "ItemLong"),) and "does not start" in warnings[0]
    warnings.clear()
    msg = parse_tmf(_tmf(args=("{", "a, ItemLong -- 10")), warnings)
    assert msg.args == (("a", "ItemLong"),) and "not closed" in warnings[0]
    warnings.clear()
    assert parse_tmf(_tmf(args=()), warnings).args == () and warnings == []


def test_tmf_public_and_trailing_strings():
    msg = parse_tmf(("TMF:", f"{MSG_GUID} Trace // SRC=Unknown_cxx00 MJ= MN=",
                     '#typev Unknown_cxx00 10 "%0--> %10!s!" //   TRACELEVEL=TRACE_LEVEL_VERBOSE',
                     "{", "Arg, ItemString -- 10", "}", "PUBLIC_TMF:"))
    assert (msg.public, msg.file, msg.line, msg.extra) == (True, None, None, ())
    msg = parse_tmf(_tmf(tail=("Constant", "PUBLIC_TMF:")))
    assert msg.public and msg.extra == ("Constant",) and msg.file == "Queue.c"


@pytest.mark.parametrize("strings, fragment", [
    (("TMF:",), "needs at least 3"),
    (("TMF:", "no guid here", '#typev a 1 "x"'), "no message GUID"),
    (("TMF:", MSG_GUID, "#enumv MyEnum 32"), "unsupported message definition"),
    (("TMF:", MSG_GUID, "#typev name notanumber"), "unsupported message definition"),
    (("TMC:", GUID), "does not start with 'TMF:'"),
])
def test_tmf_unusable(strings, fragment):
    warnings: list[str] = []
    assert parse_tmf(strings, warnings) is None
    assert len(warnings) == 1 and fragment in warnings[0]


def test_tmc_documented_example_and_variants():
    warnings: list[str] = []
    control = parse_tmc(("TMC:", GUID, "TEEDriverTraceGuid", "MYDRIVER_ALL_INFO", "TRACE_DRIVER", "TRACE_DEVICE"),
                        warnings)
    assert control == WppControl(GUID, "TEEDriverTraceGuid", ("MYDRIVER_ALL_INFO", "TRACE_DRIVER", "TRACE_DEVICE"))
    assert control.flag_bit("TRACE_DEVICE") == 2 and control.flag_bit("nope") is None
    public = parse_tmc(("TMC:", "{" + GUID.upper() + "}", "Regular", "Error", "PUBLIC_TMF:"), warnings)
    assert (public.guid, public.flags, public.public) == (GUID, ("Error",), True)
    assert parse_tmc(("TMC:", GUID, "NoFlags"), warnings).flags == ()
    assert warnings == []
    assert parse_tmc(("TMC:", GUID), warnings).name == "" and "no name" in warnings[-1]
    assert parse_tmc(("TMC:", "not-a-guid", "x"), warnings) is None and "not a GUID" in warnings[-1]
    assert parse_tmc(("TMC:",), warnings) is None and "no control GUID" in warnings[-1]
    assert parse_tmc(("TMF:", GUID), warnings) is None


def test_other_annotations_are_ignored():
    warnings: list[str] = []
    assert parse_annotation(("Debug", "AssertFail", "x != 0"), warnings) is None
    assert parse_annotation((), warnings) is None
    assert warnings == []
    assert isinstance(parse_annotation(_tmf()), WppMessage)
    assert isinstance(parse_annotation(("TMC:", GUID, "C", "F")), WppControl)


def test_helpers():
    assert canonical_file("Queue.c") == "Queue_c" and canonical_file("src\\my-file.cpp") == "my_file_cpp"
    assert normalize_guid("{" + GUID.upper() + "}") == GUID and normalize_guid("nope") is None
    assert normalize_guid(uuid.UUID(GUID)) == GUID
    assert (trace_function("TraceMessage").guid, trace_function("TraceMessage").number) == (2, 3)
    assert trace_function("advapi32.dll!TraceMessage").name == "TraceMessage"
    assert trace_function("__imp_WmiTraceMessage").name == "WmiTraceMessage"
    assert (trace_function("WPP_SF_qqS").guid, trace_function("WPP_SF_qqS").number) == (2, 1)
    assert trace_function("WPP_RECORDER_SF_s").name == "WPP_RECORDER_SF_"
    assert trace_function("WPP_RECORDER_AND_TRACE_SF_s").number == 6
    assert trace_function("EtwWrite") is None


# ---------------------------------------------------------------------------------------------------------------
# The index.
# ---------------------------------------------------------------------------------------------------------------


def _ann(rva, strings, function=None, function_rva=None):
    return Annotation(rva, tuple(strings), "m.obj", function, function_rva)


def test_index_controls_by_flag_level_and_single_control():
    two = [_ann(0, ("TMC:", GUID, "A", "FA1", "FA2")),
           _ann(0, ("TMC:", MSG_GUID, "B", "FB1"))]
    index = WppIndex.from_annotations([
        *two,
        _ann(0x10, _tmf(typev='#typev Queue_c1 10 "%0a" // LEVEL=TRACE_LEVEL_ERROR FLAGS=FB1')),
        _ann(0x20, _tmf(typev='#typev Queue_c2 11 "%0b" // LEVEL=FA2')),
        _ann(0x30, _tmf(typev='#typev Queue_c3 12 "%0c" // LEVEL=TRACE_LEVEL_ERROR')),
    ])
    assert index.lookup(MSG_GUID, 10).control_guid == MSG_GUID
    assert index.lookup(MSG_GUID, 11).control_guid == GUID
    assert index.lookup(MSG_GUID, 12).control_guid is None  # two controls, no flag: unknown
    single = WppIndex.from_annotations([two[0], _ann(0x30, _tmf(typev='#typev Queue_c3 12 "%0c" // LEVEL=X'))])
    assert single.lookup(MSG_GUID, 12).control_guid == GUID


def test_index_ambiguous_flag_and_duplicates():
    index = WppIndex.from_annotations([
        _ann(0, ("TMC:", GUID, "A", "SHARED")),
        _ann(0, ("TMC:", MSG_GUID, "B", "SHARED")),
        _ann(0, ("TMC:", GUID, "A", "SHARED")),           # identical: silently merged
        _ann(0, ("TMC:", GUID, "A2", "OTHER")),           # conflicting: warning
        _ann(0x10, _tmf(typev='#typev Queue_c1 10 "%0a" // FLAGS=SHARED')),
        _ann(0x40, _tmf(typev='#typev Queue_c1 10 "%0a" // FLAGS=SHARED')),   # the same message inlined twice
        _ann(0x80, _tmf(typev='#typev Queue_c9 10 "%0other" // FLAGS=SHARED')),
    ])
    assert len(index.controls) == 2
    assert index.lookup(MSG_GUID, 10).format == "%0a" and index.lookup(MSG_GUID, 10).control_guid is None
    assert len(index) == 1 and len(index.messages) == 3
    assert sum("defined twice" in w for w in index.warnings) == 2
    assert sum("defined by 2 controls" in w for w in index.warnings) == 3
    assert index.at(0x7F).rva == 0x40 and index.at(0x80).format == "%0other"


def test_index_lookup_forms_and_at_window():
    index = WppIndex.from_annotations([
        _ann(0x1000, _tmf(), "F", 0xFF0),
        _ann(0x1100, _tmf(typev='#typev Queue_c5 208 "%0b" // FLAGS=X'), "G", 0x10F0),
        ("TMF:", "broken"),                                   # plain tuples work too; this one warns
    ])
    first = index.lookup(MSG_GUID, 207)
    assert index.lookup("{" + MSG_GUID.upper() + "}", 207) is first
    assert index.lookup(uuid.UUID(MSG_GUID), "207") is first
    assert index.lookup(MSG_GUID, 999) is None and index.lookup("nope", 207) is None
    assert index.at(0x0FFF) is None
    assert index.at(0x1000) is first and index.at(0x10FF) is first
    assert index.at(0x10FF, window=0x20) is None
    assert index.at(0x1150, function_rva=0xFF0) is first
    assert index.at(0x1150, function_rva=0x10F0).number == 208
    assert index.in_function("G")[0].number == 208
    assert first.procedure == "F" and first.function == "F"  # no FUNC=: the procedure stands in
    assert len(index.warnings) == 1 and "needs at least 3" in index.warnings[0]
