"""The call sites of every function by caller and by callee, built once per analysis from ``Facts.calls``.

Every stage asks "the calls this function makes" or "the calls of this function" for a few functions, but
the answer has to be indexed over all of them (553,000 sites in node.exe). The two maps are built in one
go here, with as little Python work per site as the facts allow: the sites of one caller are contiguous
in the engines' lists (grouped in C), and the list is in address order but for a short tail (funclet
edges, calls resolved at run time), so only the callee lists that tail touches are sorted.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from itertools import chain
from operator import attrgetter
from typing import Optional

from ..model import CallSite

_RVA = attrgetter("rva")


def sites_by_caller(calls: Sequence[CallSite]) -> dict[int, list[CallSite]]:
    """Caller -> its call sites, in the order of ``calls``. A loop that looks a caller up once per run of its
    sites (they are contiguous but for the tail), not ``groupby``: its group object, ``list`` of it and key
    call per site cost 104M instructions at the 1x kernel (68,063 sites in 33,866 runs), this loop 59M."""
    out: dict[int, list[CallSite]] = {}
    get = out.get
    last: Optional[int] = None
    known: list[CallSite] = []
    for site in calls:
        caller = site.caller
        if caller != last:
            found = get(caller)
            if found is None:
                found = out[caller] = []
            known = found
            last = caller
        known.append(site)
    return out


def sites_by_callee(calls: Sequence[CallSite], sites_in: dict[int, list[CallSite]],
                    skip_callers: Collection[int] = (), skip_callees: Collection[int] = ()
                    ) -> dict[int, list[CallSite]]:
    """Callee -> the sites calling it, sorted by RVA (equal RVAs in the order of ``calls``), without the sites
    made by ``skip_callers`` and those calling ``skip_callees``. ``sites_in`` is :func:`sites_by_caller`'s."""
    out: dict[int, list[CallSite]] = {}
    get = out.get
    resort = set()
    # The sites up to the first whose RVA is below the one before it are in address order: that test in the
    # loop that files them (a list of the RVAs and a C pass of ``lt`` over it were 56M instructions at 1x).
    sites = iter(calls)
    prev = calls[0].rva if calls else 0
    tail: list[CallSite] = []
    for site in sites:
        rva = site.rva
        if rva < prev:  # out of order from here on: a callee list this or a later site joins is sorted after
            tail.append(site)
            break
        prev = rva
        known = get(site.callee)
        if known is None:
            out[site.callee] = [site]
        else:
            known.append(site)
    for site in chain(tail, sites):
        known = get(site.callee)
        if known is None:
            out[site.callee] = [site]
        else:
            known.append(site)
            resort.add(site.callee)
    for callee in resort:
        out[callee].sort(key=_RVA)  # stable: as one sort of every site by RVA would order them
    for callee in skip_callees:
        out.pop(callee, None)
    dropped = set(skip_callers)
    touched = {site.callee for caller in dropped for site in sites_in.get(caller, ())}
    for callee in touched:
        known = get(callee)
        if known is not None:
            kept = [s for s in known if s.caller not in dropped]
            if kept:
                out[callee] = kept
            else:
                del out[callee]
    return out


__all__ = ["sites_by_callee", "sites_by_caller"]
