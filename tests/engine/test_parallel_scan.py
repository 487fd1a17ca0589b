"""Function discovery split over two processes gives exactly the single-process facts (same calls, same order)."""

from __future__ import annotations

import os
import time
from array import array

import pytest
from conftest import LEVELS, synth_exe, synth_pdb

from api_to_etw.binary.pdb import load_pdb
from api_to_etw.binary.pe import load_pe
from api_to_etw.engine.native import parallel
from api_to_etw.engine.native.functions import discover

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _facts(level: str, monkeypatch, jobs: str, min_bytes: int):
    monkeypatch.setenv("API_TO_ETW_JOBS", jobs)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", min_bytes)
    image = load_pe(synth_exe(level))
    pdb = load_pdb(synth_pdb(level), [(s.name, s.rva, s.virtual_size) for s in image.sections])
    fmap = discover(image, dict(pdb.functions))
    calls = [(c.caller, c.rva, c.callee, c.tail) for c in fmap.calls]
    functions = {rva: (f.size, f.imported, tuple(f.fragments)) for rva, f in fmap.functions.items()}
    return calls, functions


@pytest.mark.parametrize("level", LEVELS)
def test_two_processes_find_the_same_calls(level, monkeypatch):
    single = _facts(level, monkeypatch, "1", 0)
    split = _facts(level, monkeypatch, "2", 0)
    assert split == single
    assert len(single[0]) > 100


def test_small_work_stays_in_one_process(monkeypatch):
    monkeypatch.setenv("API_TO_ETW_JOBS", "2")
    image = load_pe(synth_exe())
    work = [(rf.begin, [(rf.begin, rf.end)]) for rf in image.runtime_functions]
    calls: dict = {}
    assert parallel.scan_in_parallel(image, work, [], calls) is None  # far below MIN_PARALLEL_BYTES
    assert calls == {}
    assert parallel.scan_in_parallel(image, work, [], calls, min_bytes=0) is not None
    assert list(calls) == [entry for entry, _pieces in work]  # every function, in work order


def test_packing_round_trips_64_bit_targets():
    by_entry = {0x1000: [(0x1000, 0x1004, 0xFFFFFFFFFFFFF000, True), (0x1000, 0x1010, 0x2000, False)],
                0x3000: [], 0x2000: [(0x2000, 0x2008, 0x1000, False)]}
    unpacked = parallel._unpack(parallel._pack((by_entry, {0x2000}, {0xFFFFFFFFFFFFF000})))
    assert unpacked is not None
    assert unpacked[0] == by_entry
    assert list(unpacked[0]) == [0x1000, 0x3000, 0x2000]  # the functions in the order scanned
    assert [type(edge[3]) for edge in unpacked[0][0x1000]] == [bool, bool]
    assert unpacked[1] == {0x2000}
    assert unpacked[2] == {0xFFFFFFFFFFFFF000}
    assert parallel._unpack(b"\x01") is None
    assert parallel._unpack(array("Q", [1, 0x1000, 1, 0x1000, 2, 3, 0, 5]).tobytes()) is None  # no target count
    assert parallel._unpack(array("Q", [3, 0x1000, 2]).tobytes()) is None  # fewer counts than functions


@pytest.mark.parametrize("level", LEVELS)
def test_two_processes_resolve_the_same_arguments(level, monkeypatch):
    """The data flow split over two processes sets the same argument values at every call site."""
    from api_to_etw.engine.native.engine import NativeEngine

    def arguments(jobs: str):
        monkeypatch.setenv("API_TO_ETW_JOBS", jobs)
        monkeypatch.setattr("api_to_etw.engine.native.engine.MIN_PARALLEL_FLOW_BYTES", 0)
        image = load_pe(synth_exe(level))
        pdb = load_pdb(synth_pdb(level), [(s.name, s.rva, s.virtual_size) for s in image.sections])
        engine = NativeEngine(image, pdb)
        facts = engine.load()
        answer = engine.resolve(sorted(rva for rva, f in facts.functions.items() if not f.imported))
        return {(c.caller, c.rva): answer.args.get((c.caller, c.rva)) for c in facts.calls}, answer.stores

    (single, single_stores), (split, split_stores) = arguments("1"), arguments("2")
    assert split == single
    assert split_stores == single_stores  # in the same order: the order of the functions asked
    assert sum(1 for args in single.values() if args is not None) > 100


def test_background_child_answers_or_is_replaced():
    """A background child's answer comes back; one that fails, or whose answer is short, is replaced by the work
    done in this process; a cancelled child is gone."""
    parent = os.getpid()
    assert parallel.Background(lambda: [os.getpid() != parent]).result() == [True]

    def fails_in_child() -> str:
        if os.getpid() != parent:
            raise RuntimeError("child")
        return "here"

    assert parallel.Background(fails_in_child).result() == "here"

    def short(pipe) -> int:
        data = pipe.read(16)
        if len(data) < 16:
            raise EOFError
        return 1

    def here() -> bool:
        return os.getpid() == parent

    assert parallel.Background(here, lambda _answer: b"\x01", receive=short).result() is True

    # An idle child runs only where no other process wants the core (Linux: SCHED_IDLE) until its answer is
    # asked for (``result`` gives it the ordinary policy back): read once it has answered.
    idle = parallel.Background(lambda: os.sched_getscheduler(0), idle=True)
    deadline = time.monotonic() + 60
    while not idle.ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    policy = idle.result()
    assert policy == getattr(os, "SCHED_IDLE", policy)

    sleeper = parallel.Background(lambda: time.sleep(30))
    pid = sleeper._pid
    sleeper.cancel()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _loadavg(tmp_path, monkeypatch, text: str) -> None:
    path = tmp_path / "loadavg"
    path.write_text(text)
    monkeypatch.setattr(parallel, "LOADAVG", str(path))
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    monkeypatch.delenv("API_TO_ETW_JOBS", raising=False)


def test_a_busy_machine_gets_one_process(tmp_path, monkeypatch):
    """Two processes only where other processes leave a core free, now and over the last minute; a setting of
    API_TO_ETW_JOBS is kept whatever the load."""
    _loadavg(tmp_path, monkeypatch, "5.10 4.00 3.00 6/400 1234\n")
    assert parallel.busy(2) and parallel.jobs() == 1
    monkeypatch.setenv("API_TO_ETW_JOBS", "2")
    assert parallel.jobs() == 2
    monkeypatch.delenv("API_TO_ETW_JOBS")
    _loadavg(tmp_path, monkeypatch, "1.20 1.00 0.90 1/400 1234\n")  # this process alone runs now
    assert not parallel.busy(2) and parallel.jobs() == 2
    _loadavg(tmp_path, monkeypatch, "1.20 1.00 0.90 2/400 1234\n")  # another task for a moment: the minute was calm
    assert not parallel.busy(2)
    _loadavg(tmp_path, monkeypatch, "3.50 1.00 0.90 1/400 1234\n")  # a busy minute that has ended
    assert not parallel.busy(2)
    _loadavg(tmp_path, monkeypatch, "garbage\n")
    assert not parallel.busy(2)
    monkeypatch.setattr(parallel, "LOADAVG", str(tmp_path / "absent"))
    assert not parallel.busy(2)


def test_own_children_are_not_the_machines_load(tmp_path, monkeypatch):
    """A child of this process that is running (the prefetch child beside the first decode) is not another
    process's load."""
    child = parallel.Background(lambda: [sum(range(10**9))], idle=True)
    try:
        deadline = time.monotonic() + 30
        while not parallel._runnable(child._pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert parallel._runnable(child._pid)
        _loadavg(tmp_path, monkeypatch, "4.00 4.00 4.00 2/400 1234\n")  # this process and its child
        assert not parallel.busy(2)
        _loadavg(tmp_path, monkeypatch, "4.00 4.00 4.00 3/400 1234\n")  # and one more
        assert parallel.busy(2)
    finally:
        child.cancel()
    assert child._pid == 0 and not parallel._CHILDREN
    assert not parallel._runnable(os.getpid() + 10**7)  # no such process


def test_a_batch_of_the_1x_kernels_size_splits_and_a_small_one_does_not(monkeypatch):
    """The thresholds split work of the 1x kernel's size (its 0.8 MB flow batch, its 2.5 MB of code to decode)
    over two processes with a core free, and keep a small binary's in one (OpenConsole.exe: 0.75 MB of code)."""
    monkeypatch.setenv("API_TO_ETW_JOBS", "2")
    items = list(range(8))

    def halves(weight: int) -> object:
        return parallel.fork_split(items, [weight // len(items)] * len(items), parallel.MIN_PARALLEL_FLOW_BYTES,
                                   lambda part: sum(part))

    assert halves(800_000) == (sum(range(4)), sum(range(4, 8)))  # split, the same sums as in one process
    assert halves(400_000) is None
    assert parallel.MIN_PARALLEL_BYTES <= 2_474 << 10 < 4 << 20  # the 1x kernel's code splits
    assert parallel.MIN_PARALLEL_BYTES > 1_118 << 10  # dxil.dll's and OpenConsole.exe's (749 KiB) do not
