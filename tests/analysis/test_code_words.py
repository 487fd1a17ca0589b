"""The read-only pointer-table scan's word search (entries._code_words) against every aligned word of the data.

Truth: ``struct.iter_unpack`` over the section's file bytes, each 8-byte word compared with the range. The scan
looks only at words whose upper half matches the range's (a byte search); it must give exactly the same words,
in the same order, including where the same 4 bytes also sit at unaligned offsets.
"""

from __future__ import annotations

import os
import struct

import pytest
from conftest import SAMPLES, code_fixtures

from api_to_etw.analysis import entries
from api_to_etw.analysis.entries import _code_words
from api_to_etw.binary.pe import PEImage, load_pe

FIXTURES = code_fixtures()


def _every_word(image: PEImage, start: int, size: int, low: int, high: int) -> list[tuple[int, int]]:
    out = []
    for window in range(start, start + size, entries.TABLE_WINDOW):
        data = image.file_bytes(window, min(entries.TABLE_WINDOW, start + size - window))
        for n, (value,) in enumerate(struct.iter_unpack("<Q", data[: len(data) // 8 * 8])):
            if low <= value < high:
                out.append((window + 8 * n, value))
    return out


def _check(image: PEImage) -> int:
    code = [(s.rva, s.end) for s in image.sections if s.executable]
    low, high = image.image_base + min(a for a, _ in code), image.image_base + max(b for _, b in code)
    checked = 0
    for section in image.sections:
        if section.writable or section.executable:
            continue
        size = max(section.virtual_size, section.raw_size)
        expected = _every_word(image, section.rva, size, low, high)
        assert list(_code_words(image, section.rva, size, low, high)) == expected
        checked += len(expected)
    return checked


@pytest.mark.parametrize("path", FIXTURES, ids=[os.path.relpath(p, SAMPLES) for p in FIXTURES])
def test_code_words_of_fixtures(path):
    _check(load_pe(path))


def test_code_words_of_a_real_dll(real_binary, monkeypatch):
    """vcamp140's .rdata holds vtables; small windows put words at window edges too."""
    image = load_pe(real_binary("vcamp140.dll"))
    assert _check(image) > 100
    monkeypatch.setattr(entries, "TABLE_WINDOW", 4096 + 4)  # windows not a multiple of 8 from the section start
    assert _check(image) > 100


def test_ranges_across_4_gb_and_self_overlapping_halves_use_every_word(real_binary):
    """No common upper half (a range across a 4 GB boundary), or one that can overlap itself (``00 00 00 00``):
    the plain comparison of every word, same answer."""
    image = load_pe(real_binary("vcamp140.dll"))
    rdata = next(s for s in image.sections if not s.writable and not s.executable)
    for low, high in ((0, 1 << 33), (1, 1 << 32), (image.image_base - 16, image.image_base + (1 << 32))):
        assert list(_code_words(image, rdata.rva, rdata.raw_size, low, high)) == \
            _every_word(image, rdata.rva, rdata.raw_size, low, high)
