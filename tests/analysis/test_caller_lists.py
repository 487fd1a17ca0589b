"""A node's caller list is its distinct callers in RVA order, however many calls there are: the short paths
for two and three call sites (no set, no sort) give what the general rule gives, duplicates included."""

from __future__ import annotations

from itertools import product

from api_to_etw.analysis.pipeline import CallerLists
from api_to_etw.model import CallSite

NODE = 0x9000


def _lists(callers: tuple[int, ...]) -> CallerLists:
    sites = [CallSite(caller, caller + 0x10 + n, NODE) for n, caller in enumerate(callers)]
    return CallerLists({NODE: sites}, frozenset())


def test_every_order_of_up_to_four_callers():
    for count in range(5):
        for callers in product((0x1000, 0x2000, 0x3000, 0x4000), repeat=count):
            assert _lists(callers)[NODE] == sorted(set(callers)), callers


def test_a_node_without_sites_has_no_callers():
    lists = CallerLists({}, frozenset())
    assert lists[NODE] == [] and NODE in lists
