"""Python's cyclic garbage collector paused around bulk work, and freeing left to the process's end.

The analysis and the rendering of its rows build millions of small objects (call sites, value sets,
states, rows, cells) that live until the end or die by reference count, and form no cycles worth
collecting. Every full pass of the collector still walks the whole growing heap: on the 40,000-function
scale kernel 10 passes cost about 1 s of 7 CPU seconds and gave no memory back (peak the same either way).

Freeing them costs too: when the analysis returns, its working state (argument values, caches, search
states) is freed one object at a time, and the rows, facts and engine when the command returns. In a
process that ends right after its one analysis without the interpreter's teardown (``cli.entry`` for
``analyze``), that work gives nothing back that anyone uses: :func:`keep_to_exit` holds those objects
until the operating system reclaims the whole process instead.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the collector off; it is switched back on after only if it was on before."""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()


#: What :func:`keep_to_exit` holds; None: nothing is kept (every process but a one-run ``analyze``).
_kept: Optional[list[object]] = None


def end_without_freeing() -> None:
    """Say that this process does one run and then ends without the interpreter's teardown (``os._exit``),
    so the objects handed to :func:`keep_to_exit` from now on are held to the end, never freed."""
    global _kept
    if _kept is None:
        _kept = []


def keep_to_exit(*objects: object) -> None:
    """Hold ``objects`` until the process ends, if it said it ends without freeing (``end_without_freeing``);
    otherwise do nothing, and they are freed as usual when their last reference goes. So a caller that runs
    the analysis many times in one process (tests, ``scan`` workers) never grows memory with them."""
    if _kept is not None:
        _kept.append(objects)
