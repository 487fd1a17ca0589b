"""Python's cyclic garbage collector paused around bulk work.

The analysis and the rendering of its rows build millions of small objects (call sites, value sets,
states, rows, cells) that live until the end or die by reference count, and form no cycles worth
collecting. Every full pass of the collector still walks the whole growing heap: on the 40,000-function
scale kernel 10 passes cost about 1 s of 7 CPU seconds and gave no memory back (peak the same either way).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


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
