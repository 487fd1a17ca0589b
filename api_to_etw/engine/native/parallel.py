"""Split large work over two processes: a forked child does the first half (of the functions to decode, or to
run the data flow over), the parent the second; the child's result comes back through a pipe (call sites
packed as integers, argument values pickled).

Fork shares the mapped image copy-on-write, so nothing is copied or re-parsed; the result is the same list,
in the same order, as a single-process scan. Small binaries stay in one process (a fork and the transfer would
cost more than they save), and so does any platform without ``os.fork``. ``API_TO_ETW_JOBS=1`` turns it off.
"""

from __future__ import annotations

import io
import logging
import os
import select
import signal
import time
from array import array
from collections.abc import Sequence
from itertools import accumulate, chain, repeat
from typing import TYPE_CHECKING, Any, Callable, Generic, Optional, TypeVar

from ...binary.pe import PEImage

if TYPE_CHECKING:
    from .functions import Edge, EdgesByEntry

log = logging.getLogger(__name__)

#: Bytes of code to decode below which one process is faster than two. Split (callgrind, two processes forced),
#: the 1x kernel's first decode round (2.5 MB of code) gives the child 0.86 G of its 1.7 G instructions; kernel
#: time (the fork, copy-on-write faults) is not counted there, and ``busy`` keeps the child off a machine whose
#: cores are taken. Below 2 MB (OpenConsole.exe's 0.75 MB, dxil.dll's 1.1 MB) the round is a few hundred
#: milliseconds of CPU at most: one process.
MIN_PARALLEL_BYTES = 2 << 20
#: Bytes of code to run the data flow over below which it stays in one process. Split, a batch costs more CPU
#: (copy-on-write faults on both sides, ~25K for the 1x kernel's two batches, the fork, the transfer: 12-15%
#: more CPU time with the second core idle, 25-45% with it busy) to save up to half its wall time; with
#: ``busy`` keeping the child off a loaded machine, a batch of a second of CPU and more is split: the 1x
#: kernel's second batch (0.8 MB) and the 2x and 4x kernels' (1.5 and 3.1 MB); the 1x kernel's first (0.4 MB)
#: and small binaries' stay in one.
MIN_PARALLEL_FLOW_BYTES = 512 << 10
#: Fields per packed call edge: caller, rva, callee, tail.
_FIELDS = 4

Work = Sequence[tuple[int, list[tuple[int, int]]]]
T = TypeVar("T")
R = TypeVar("R")


def jobs() -> int:
    """How many processes a large scan may use: ``API_TO_ETW_JOBS`` (1 or 2) when it is set; else 2 where there
    are two cores, ``os.fork``, and a core that other processes leave free (``busy``), else 1."""
    setting = os.environ.get("API_TO_ETW_JOBS", "")
    if setting.isdigit() and int(setting) >= 1:
        return min(int(setting), 2)
    if not hasattr(os, "fork"):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return 2 if cores >= 2 and not busy(cores) else 1


def _pickled(value: object) -> bytes:
    """``pickle.dumps``, imported when a split first runs: one process (small binaries, ``API_TO_ETW_JOBS=1``)
    never needs pickle, 6 M instructions of imports."""
    import pickle

    return pickle.dumps(value)


def _unpickled(data: bytes) -> Any:
    """``pickle.loads``, imported as :func:`_pickled` is."""
    import pickle

    return pickle.loads(data)


#: Where Linux says how many tasks are runnable at this moment, after the load averages: ``0.52 0.61 0.66 3/412 9``.
LOADAVG = "/proc/loadavg"
#: This process's children forked by ``Background`` and not reaped yet: its own work, not the machine's load.
_CHILDREN: set[int] = set()


def busy(cores: int) -> bool:
    """Whether other processes keep every one of ``cores`` (those this process may use) but one busy, both at this
    moment (runnable tasks other than this process and its children) and over the last minute (the load average):
    then a second process of ours would share a core with them, costing CPU (copy-on-write faults, the transfer,
    contention) and memory (a fork made late copies the page tables of a large heap) without a free core to gain from. On
    node.exe at load 6 a run took the same wall time split or not, with 10% more CPU and its processes'
    resident memory summed 480 MB against 270. The moment alone would catch a short task; the average alone
    counts this program's own runs just ended. Where the kernel does not say (no ``/proc``): never busy."""
    try:
        with open(LOADAVG) as stat:
            fields = stat.read().split()
        average, running = float(fields[0]), int(fields[3].partition("/")[0])
    except (OSError, ValueError, IndexError):
        return False
    others = running - 1 - sum(map(_runnable, _CHILDREN))
    return others >= cores - 1 and average >= cores


def _runnable(pid: int) -> bool:
    """Whether process ``pid`` is running or waiting for a core (state R in ``/proc/PID/stat``)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[:1] == [b"R"]
    except OSError:
        return False


class Background(Generic[R]):
    """``work()`` computed by a forked child while this process goes on; ``result()`` waits for it. The child's
    answer comes back through a pipe, as ``encode`` writes it and ``decode`` reads it back from the bytes (or
    ``receive`` from the pipe itself, with no copy of the whole payload); a child that fails, an answer that
    does not decode, or a process other than the one that forked (a later child of it) computes ``work()`` in
    place. ``cancel()`` stops a child whose answer nobody will ask for (it holds a copy of the parent's memory).
    ``idle``: the child runs only on a core nothing else wants (``SCHED_IDLE`` where Linux has it, else at the
    lowest priority), for work ahead of use that must not slow the processes it runs beside."""

    def __init__(self, work: Callable[[], R], encode: Callable[[R], bytes] = _pickled,
                 decode: Callable[[bytes], Optional[R]] = _unpickled,
                 receive: Optional[Callable[[io.BufferedReader], Optional[R]]] = None, idle: bool = False):
        self._work, self._decode, self._receive, self._idle = work, decode, receive, idle
        self._owner = os.getpid()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compute, write, leave without running any cleanup
            status = 1
            try:
                os.close(read_end)
                if idle:
                    _yield_to_all()
                payload = encode(work())
                with os.fdopen(write_end, "wb") as out:
                    out.write(payload)
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        self._pid, self._read = pid, read_end
        _CHILDREN.add(pid)

    def result(self) -> R:
        if not self._pid or os.getpid() != self._owner:
            return self._work()
        pid, self._pid = self._pid, 0
        if self._idle:  # this process now waits for it: it need not yield any more (where that is allowed)
            _share_again(pid)
        answer: Optional[R] = None
        started = time.monotonic()
        with os.fdopen(self._read, "rb") as pipe:
            if self._receive is None:
                payload = pipe.read()
            else:
                try:
                    answer = self._receive(pipe)
                except (EOFError, ValueError, OSError):  # a short or malformed answer: computed here
                    answer = None
                pipe.read()  # to the end: the child leaves once all is read
        _pid, status = os.waitpid(pid, 0)
        _CHILDREN.discard(pid)
        log.debug("parallel: %.3f s waiting for the child's answer", time.monotonic() - started)
        if os.waitstatus_to_exitcode(status) != 0:
            answer = None
        elif self._receive is None:
            answer = self._decode(payload)
        if answer is None:
            log.debug("parallel: child exited with status %d; computing its part in-process", status)
            return self._work()
        return answer

    def ready(self) -> bool:
        """Whether ``result()`` would not wait: the child has answered or ended (it writes only when done)."""
        if not self._pid or os.getpid() != self._owner:
            return True
        readable, _w, _x = select.select([self._read], [], [], 0)
        return bool(readable)

    def cancel(self) -> None:
        if not self._pid or os.getpid() != self._owner:
            return
        pid, self._pid = self._pid, 0
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        os.close(self._read)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        _CHILDREN.discard(pid)


#: Niceness of an idle child where ``SCHED_IDLE`` is not available.
_IDLE_NICE = 19


def _yield_to_all() -> None:
    """This process runs only on a core no other process wants: ``SCHED_IDLE`` (a nice-10 child still took
    about a tenth of a core from the two decoding processes beside it), else the lowest priority."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(_IDLE_NICE)


def _share_again(pid: int) -> None:
    """Process ``pid`` (an idle child) back to the ordinary policy at this process's priority."""
    try:
        if os.sched_getscheduler(pid) == os.SCHED_IDLE:
            os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
        os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, 0))
    except (AttributeError, OSError):
        pass


def fork_split(items: Sequence[T], weights: Sequence[int], min_weight: int, work: Callable[[Sequence[T]], R],
               encode: Callable[[R], bytes] = _pickled,
               decode: Callable[[bytes], Optional[R]] = _unpickled) -> Optional[tuple[R, R]]:
    """``(work(first part), work(second part))``, the parts of about equal weight, the first computed by a
    forked child while this process computes the second; None when the items weigh less than ``min_weight``
    or one process is all there is. A child that fails is replaced by computing its part here."""
    total = sum(weights)
    if total < min_weight or len(items) < 2 or jobs() < 2:
        return None
    half, running = 0, 0
    while half < len(items) - 1 and running < total // 2:
        running += weights[half]
        half += 1
    child = Background(lambda: work(items[:half]), encode, decode)
    try:
        mine = work(items[half:])
    except BaseException:
        child.cancel()
        raise
    theirs = child.result()
    log.debug("parallel: %d + %d items", half, len(items) - half)
    return theirs, mine


#: What a scan of some work found: each function's edges (in work order), the direct call and jump targets, the
#: tail edges' targets.
Scanned = tuple["EdgesByEntry", set[int], set[int]]


def scan_in_parallel(image: PEImage, work: Work, iat_loads: list[int], calls: EdgesByEntry,
                     min_bytes: Optional[int] = None) -> Optional[tuple[set[int], set[int]]]:
    """``scan_work`` by two processes: each function's edges go to ``calls`` in work order, and the direct call
    and jump targets and the tail edges' targets are returned; None (``calls`` untouched) when one process
    should do it."""
    least = MIN_PARALLEL_BYTES if min_bytes is None else min_bytes
    if sum(section.raw_size for section in image.executable_sections()) < least or jobs() < 2:
        return None  # less code in the file than a split needs: not weighed function by function (40,000 at 1x)
    sizes = [sum(stop - start for start, stop in pieces) for _entry, pieces in work]
    split = fork_split(work, sizes, least,
                       lambda part: _scan_range(image, part, iat_loads), _pack, _unpack)
    if split is None:
        return None
    (theirs, their_targets, their_tails), (mine, my_targets, my_tails) = split
    calls.update(theirs)  # the first part of the work, then the second: work order
    calls.update(mine)
    return their_targets | my_targets, their_tails | my_tails


def _scan_range(image: PEImage, work: Work, iat_loads: list[int]) -> Scanned:
    from .functions import scan_work

    by_entry: EdgesByEntry = {}
    targets, tails = scan_work(image, work, iat_loads, by_entry)
    return by_entry, targets, tails


def _pack(result: Scanned) -> bytes:
    """A child's scan as unsigned 64-bit integers: the count of functions, their entries, the count of edges of
    each, the fields of every edge, the count of targets, the targets, then the tail edges' targets."""
    by_entry, targets, tails = result
    packed = array("Q", [len(by_entry)])
    packed.extend(by_entry)
    packed.extend(map(len, by_entry.values()))
    packed.extend(chain.from_iterable(chain.from_iterable(by_entry.values())))
    packed.append(len(targets))
    packed.extend(sorted(targets))
    packed.extend(sorted(tails))
    return packed.tobytes()


def _unpack(payload: bytes) -> Optional[Scanned]:
    packed = array("Q")
    if not payload or len(payload) % packed.itemsize:
        return None
    packed.frombytes(payload)
    functions = packed[0]
    entries = packed[1 : 1 + functions].tolist()
    counts = packed[1 + functions : 1 + 2 * functions]
    if len(counts) != functions:
        return None
    end = 1 + 2 * functions + _FIELDS * sum(counts)
    if end >= len(packed) or end + 1 + packed[end] > len(packed):
        return None
    # At C level, no Python step per edge. An edge's caller is the entry it is listed under (``scan_work``), so
    # the entry's int stands for the caller field sent (one object per function, as a scan in this process shares
    # it, not one per edge); each function's edges are one slice of the list.
    callers = chain.from_iterable(map(repeat, entries, counts))
    first = 1 + 2 * functions
    edges: list[Edge] = list(zip(callers, packed[first + 1 : end : _FIELDS], packed[first + 2 : end : _FIELDS],
                                 map(bool, packed[first + 3 : end : _FIELDS])))
    ends = list(accumulate(counts))
    by_entry = dict(zip(entries, map(edges.__getitem__, map(slice, chain((0,), ends), ends))))
    targets_end = end + 1 + packed[end]
    return by_entry, set(packed[end + 1 : targets_end]), set(packed[targets_end:])
