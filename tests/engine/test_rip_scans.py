"""The byte scans for RIP-relative operands (one candidate index per image, ``ripindex``) against a full decode.

Truth: every instruction of every function, decoded linearly by iced-x86 from its unwind extent. Every
RIP-relative ``lea r64`` the decoder sees must be in ``scan_lea_references``; every instruction whose RIP-relative
operand addresses a chosen target in ``scan_rip_references``; every ``mov r, [rip+IAT slot]`` among the IAT load
candidates. The scans may find more (a byte pattern inside another instruction), never less.
"""

from __future__ import annotations

import os
import time

import pytest
from conftest import SAMPLES, code_fixtures
from iced_x86 import Decoder, Mnemonic, OpKind

from api_to_etw.binary.pe import load_pe
from api_to_etw.engine.native.functions import (
    _iat_load_candidates,
    _iat_loads_in,
    discover,
    scan_lea_references,
    scan_rip_references,
)
from api_to_etw.engine.native.ripindex import RIP_MODRMS, rip_operands

FIXTURES = code_fixtures()
IDS = [os.path.relpath(p, SAMPLES) for p in FIXTURES]


@pytest.fixture(scope="module", params=FIXTURES, ids=IDS)
def decoded(request):
    """(image, function map, every decoded instruction with a RIP-relative operand as (rva, instruction))."""
    image = load_pe(request.param)
    fmap = discover(image, {})
    found = []
    for start, end, _owner in fmap.ranges:
        for instr in Decoder(64, image.file_bytes(start, end - start), ip=start):
            if not instr.is_invalid and instr.is_ip_rel_memory_operand:
                found.append((instr.ip, instr))
    return image, fmap, found


def test_candidates_are_every_rip_modrm_of_the_code(decoded):
    image, _fmap, _found = decoded
    for operands in rip_operands(image):
        data = bytes(image.code_view(operands.section))
        expected = [i for i in range(len(data) - 4) if data[i] in RIP_MODRMS]
        assert list(operands.offsets) == expected
        for offset, target in list(operands)[:: max(1, len(expected) // 200)]:
            disp = int.from_bytes(data[offset + 1 : offset + 5], "little", signed=True)
            assert target == operands.section.rva + offset + 5 + disp


def test_every_decoded_rip_lea_is_found(decoded):
    image, fmap, found = decoded
    leas = {(rva, instr.ip_rel_memory_address) for rva, instr in found
            if instr.mnemonic == Mnemonic.LEA and instr.len == 7 and instr.op0_kind == OpKind.REGISTER
            and image.read(rva, 1)[0] in (0x48, 0x4C)}
    refs = {(r.rva, r.target) for r in scan_lea_references(image, fmap.owner)}
    assert leas <= refs
    assert all(fmap.owner(rva) is not None for rva, _target in refs)


def test_every_decoded_reference_to_a_target_is_found(decoded):
    image, fmap, found = decoded
    if not found:
        pytest.skip("no RIP-relative operand in this fixture")
    targets = {instr.ip_rel_memory_address for _rva, instr in found[::3]}
    refs = scan_rip_references(image, targets, fmap.owner)
    got: dict[int, set[int]] = {}
    for r in refs:
        got.setdefault(r.target, set()).add(r.rva)
    for rva, instr in found:
        if instr.ip_rel_memory_address in targets:
            # The scan may decode the instruction without its prefixes (same operand, same end): any start
            # inside the decoded instruction is that instruction.
            assert any(rva <= start < rva + instr.len for start in got.get(instr.ip_rel_memory_address, ()))
    assert all(r.target in targets for r in refs)
    assert [r.rva for r in refs] == sorted(r.rva for r in refs)


def test_offsets_to_a_target_set_are_the_candidates_with_such_a_target(decoded):
    """``SectionOperands.offsets_to``: in ascending order, exactly the offsets whose candidate target is wanted."""
    image, _fmap, _found = decoded
    for operands in rip_operands(image):
        pairs = list(operands)
        wanted = {target for _offset, target in pairs[::7]} | {-1}
        assert operands.offsets_to(wanted) == [offset for offset, target in pairs if target in wanted]
        assert operands.offsets_to(set()) == []


def test_offsets_to_is_exact_whichever_way_it_filters(decoded):
    """The byte-plane pre-filter only narrows: few targets, values that share a target's low four bytes but
    not its high ones, one beyond 64 bits, a dict, and the plain test of every candidate give the same offsets."""
    image, _fmap, _found = decoded
    for operands in rip_operands(image):
        pairs = list(operands)
        few = {target for _offset, target in pairs[:: max(1, len(pairs) // 5)]}
        aliases = {target + (1 << 32) for target in few} | {target - (1 << 40) for target in few}
        for wanted in (few, aliases, few | aliases, few | {1 << 70}, dict.fromkeys(few, "x")):
            assert operands.offsets_to(wanted) == [offset for offset, target in pairs if target in wanted]


def test_every_decoded_iat_load_is_a_candidate(decoded):
    image, _fmap, found = decoded
    loads = set()
    for rva, instr in found:
        if instr.mnemonic == Mnemonic.MOV and instr.op0_kind == OpKind.REGISTER \
                and instr.ip_rel_memory_address in image.imports:
            data = image.read(rva, instr.len)
            # The ModRM follows the opcode: find the RIP-relative ModRM after the prefixes and the opcode.
            modrm = next(i for i in range(1, instr.len) if data[i - 1] in (0x8A, 0x8B, 0x8E) and data[i] in RIP_MODRMS)
            loads.add(rva + modrm)
    assert loads <= set(_iat_load_candidates(image))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("path", FIXTURES[:4], ids=IDS[:4])
def test_two_processes_find_the_same_candidates(path, monkeypatch):
    """A section scanned in two halves by two processes gives the single scan's arrays, in order."""
    from api_to_etw.engine.native import ripindex

    def scanned(jobs: str) -> list[tuple[bytes, bytes]]:
        monkeypatch.setenv("API_TO_ETW_JOBS", jobs)
        image = load_pe(path)
        return [(o.offsets.tobytes(), o.targets.tobytes()) for o in rip_operands(image)]

    monkeypatch.setattr(ripindex, "MIN_PARALLEL_SCAN_BYTES", 0)
    single = scanned("1")
    assert scanned("2") == single
    assert sum(len(offsets) for offsets, _targets in single) > 100
    assert ripindex._unpack(b"\x01\0\0\0\0\0\0\0\x05") is None  # a count the payload does not hold


#: Fixtures for the prefetch child: a few, and one that loads IAT slots into registers (a derived list to carry).
PREFETCHED = FIXTURES[:3] + [p for p in FIXTURES if "idioms" in p][:1]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("path", PREFETCHED, ids=[os.path.relpath(p, SAMPLES) for p in PREFETCHED])
def test_prefetched_candidates_are_the_scanned_ones(path, monkeypatch):
    """The index computed ahead by a forked child (``prefetch``) is the one the first use would have scanned."""
    from api_to_etw.engine.native import ripindex

    monkeypatch.setattr(ripindex, "MIN_PARALLEL_SCAN_BYTES", 0)
    monkeypatch.setenv("API_TO_ETW_JOBS", "1")
    single = [(o.offsets.tobytes(), o.targets.tobytes()) for o in rip_operands(load_pe(path))]
    monkeypatch.setenv("API_TO_ETW_JOBS", "2")
    in_place = _iat_load_candidates(load_pe(path))
    image = load_pe(path)
    ripindex.prefetch(image, (_iat_loads_in,))
    pending, _rules = ripindex._PENDING[id(image)]
    deadline = time.monotonic() + 60
    while not pending.ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pending.ready()
    assert [(o.offsets.tobytes(), o.targets.tobytes()) for o in rip_operands(image)] == single
    assert id(image) not in ripindex._PENDING
    assert sum(len(offsets) for offsets, _targets in single) > 100
    # The IAT load candidates the child computed beside the index are those computed here from the same index.
    assert ripindex._DERIVED[(id(image), _iat_loads_in)] == in_place
    assert _iat_load_candidates(image) == in_place
    if "idioms" in path:
        assert in_place, "the idiom fixture loads imports into registers"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_prefetch_child_that_has_not_answered_is_waited_for(monkeypatch):
    """No idle core gave the child its turn yet: the first use takes the child's answer (the same arrays) and
    forks no second child to scan the index again (a late fork of the grown heap)."""
    from api_to_etw.engine.native import ripindex

    path = FIXTURES[0]
    monkeypatch.setattr(ripindex, "MIN_PARALLEL_SCAN_BYTES", 0)
    monkeypatch.setenv("API_TO_ETW_JOBS", "1")
    single = [(o.offsets.tobytes(), o.targets.tobytes()) for o in rip_operands(load_pe(path))]
    monkeypatch.setenv("API_TO_ETW_JOBS", "2")
    scan_all = ripindex._scan_all
    monkeypatch.setattr(ripindex, "_scan_all", lambda image, rules: (time.sleep(0.5), scan_all(image, rules))[1])
    image = load_pe(path)
    ripindex.prefetch(image, (_iat_loads_in,))
    pending = ripindex._PENDING[id(image)][0]
    pid = pending._pid
    assert not pending.ready()
    splits: list = []
    monkeypatch.setattr(ripindex, "fork_split", lambda *args, **kwargs: splits.append(args))
    monkeypatch.setattr(ripindex, "_scan_range", None)  # nothing scanned in this process either
    assert [(o.offsets.tobytes(), o.targets.tobytes()) for o in rip_operands(image)] == single
    assert splits == []
    with pytest.raises(ChildProcessError):  # answered and reaped
        os.waitpid(pid, os.WNOHANG)
