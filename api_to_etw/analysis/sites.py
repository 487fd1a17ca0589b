"""The call sites of every function by caller and by callee, built once per analysis from ``Facts.calls``.

Every stage asks "the calls this function makes" or "the calls of this function" for a few functions, but
the answer has to be indexed over all of them (553,000 sites in node.exe). The two maps are built in one
go here, with as little Python work per site as the facts allow: the sites of one caller are contiguous
in the engines' lists (grouped in C), and the list is in address order but for a short tail (funclet
edges, calls resolved at run time), so only the callee lists that tail touches are sorted.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from itertools import compress, count, groupby, islice
from operator import attrgetter, lt

from ..model import CallSite

_CALLER = attrgetter("caller")
_RVA = attrgetter("rva")


def sites_by_caller(calls: Sequence[CallSite]) -> dict[int, list[CallSite]]:
    """Caller -> its call sites, in the order of ``calls``."""
    out: dict[int, list[CallSite]] = {}
    for caller, group in groupby(calls, _CALLER):
        known = out.get(caller)
        if known is None:
            out[caller] = list(group)
        else:
            known.extend(group)
    return out


def sites_by_callee(calls: Sequence[CallSite], sites_in: dict[int, list[CallSite]],
                    skip_callers: Collection[int] = (), skip_callees: Collection[int] = ()
                    ) -> dict[int, list[CallSite]]:
    """Callee -> the sites calling it, sorted by RVA (equal RVAs in the order of ``calls``), without the sites
    made by ``skip_callers`` and those calling ``skip_callees``. ``sites_in`` is :func:`sites_by_caller`'s."""
    rvas = list(map(_RVA, calls))
    # The first site whose RVA is below the one before it: the sites before it are in address order.
    ordered = next(compress(count(1), map(lt, islice(rvas, 1, None), rvas)), len(rvas))
    out: dict[int, list[CallSite]] = {}
    get = out.get
    for site in islice(calls, ordered):
        known = get(site.callee)
        if known is None:
            out[site.callee] = [site]
        else:
            known.append(site)
    resort = set()
    for site in islice(calls, ordered, None):
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
