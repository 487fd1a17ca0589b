"""collector.collector_paused: the cyclic collector is off inside, and back to what it was after (errors too);
collector.keep_to_exit holds objects only in a process that said it ends without freeing."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref

import pytest
from conftest import REPO

from api_to_etw.collector import collector_paused, keep_to_exit


def test_paused_inside_and_restored_after():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restored_when_the_block_raises():
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_a_collector_already_off_stays_off():
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


class _Held:
    """An object a weak reference can watch (a plain ``object()`` takes none)."""


def test_nothing_is_kept_in_a_process_that_frees():
    """Tests, ``scan`` workers and other callers of ``analyze`` never said they end without freeing: what they
    hand over is freed when its last reference goes, so repeated analyses do not grow memory."""
    held = _Held()
    watch = weakref.ref(held)
    keep_to_exit(held)
    del held
    assert watch() is None


def test_kept_to_the_end_once_the_process_says_so():
    code = ("import weakref\n"
            "from api_to_etw.collector import end_without_freeing, keep_to_exit\n"
            "class Held: pass\n"
            "before = Held(); early = weakref.ref(before); keep_to_exit(before); del before\n"
            "end_without_freeing()\n"
            "held = Held(); watch = weakref.ref(held); keep_to_exit(held, [held]); del held\n"
            "print(early() is None, watch() is not None)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"]
