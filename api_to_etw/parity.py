"""``api-to-etw parity A B``: do two facts files (e.g. the native and the Ghidra engine's) agree?

Facts files come from ``analyze --save-facts`` (either engine) or from the Ghidra script. Two levels:

* **call sites** -- matched on (caller, call RVA, callee). Sites resolved in both files have their
  argument value sets compared slot by slot (rcx, rdx, r8, r9, then the stack; stack addresses with
  the bytes known stored there). Sites found by one engine only, or resolved by one only, are
  listed apart. ``--etw-only`` keeps calls to ETW APIs and, of those, the arguments the analysis
  reads (REGHANDLE, descriptor, GUID, ...): the slots a wrong answer would show in.
* **rows** -- both files are replayed through the analysis (``FrozenEngine``) with the same options
  and the rows compared as ``api-to-etw diff`` compares two tables (same key and fields).

The text report lists each difference; the exit code is 12 (``DIFF_FOUND``) when anything compared
differs, 0 when the files agree.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from .errors import InputNotFoundError
from .model import CallSite, Facts, StackAddr, Value, ValueSet

if TYPE_CHECKING:
    from .diff import DiffResult

#: Argument slots a facts file records per call site (rcx, rdx, r8, r9, four stack arguments).
SLOTS = 8
ARGS = "args"
ONLY_A = "only_a"
ONLY_B = "only_b"
UNRESOLVED_A = "unresolved_a"
UNRESOLVED_B = "unresolved_b"
_ROLE_FIELDS = ("handle", "descriptor", "guid", "handle_out", "level", "keyword", "group_mask", "hook_id",
                "provider", "event")
_SLOT_NAMES = ("rcx", "rdx", "r8", "r9", "stack0", "stack1", "stack2", "stack3")


@dataclass
class SiteDiff:
    kind: str
    caller: int
    rva: int
    callee: int
    caller_name: str
    callee_name: str
    #: For ``args``: (slot, values in A, values in B) of each differing slot.
    slots: list[tuple[int, ValueSet, ValueSet]] = field(default_factory=list)

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.caller, self.rva, self.callee)


@dataclass
class SiteComparison:
    compared: int = 0
    equal: int = 0
    diffs: list[SiteDiff] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for d in self.diffs if d.kind == kind)


@dataclass
class FactsInfo:
    path: str
    engine: str
    functions: int
    calls: int
    resolved: int


@dataclass
class ParityReport:
    a: FactsInfo
    b: FactsInfo
    sites: Optional[SiteComparison] = None
    rows: Optional[DiffResult] = None

    def differs(self) -> bool:
        if self.sites is not None and self.sites.diffs:
            return True
        return self.rows is not None and bool(self.rows.differences)


# ---------------------------------------------------------------------------------------------- loading
def load_facts(path: str) -> tuple[Facts, FactsInfo]:
    from .engine.frozen import FrozenEngine

    if not os.path.exists(path):
        raise InputNotFoundError(f"{path}: no such facts file")
    engine = FrozenEngine(path)
    facts = engine.load()
    # The sites compared carry the recorded values (the engine's facts keep none: they come from resolve).
    recorded = engine.recording.args
    facts = facts._replace(calls=[CallSite(s.caller, s.rva, s.callee, s.tail, recorded.get((s.caller, s.rva)))
                                  for s in facts.calls])
    info = FactsInfo(path, engine.source_engine or "?", len(facts.functions), len(facts.calls),
                     sum(1 for s in facts.calls if s.args is not None))
    return facts, info


# ---------------------------------------------------------------------------------------------- sites
def role_slots(name: str) -> Optional[list[int]]:
    """The argument slots the analysis reads at a call to ``name``, or None if it is not an ETW API."""
    from .etw.apis import lookup

    api = lookup(name)
    if api is None:
        return None
    return sorted({getattr(api, role) for role in _ROLE_FIELDS if getattr(api, role) is not None})


def _args(site: CallSite, slot: int) -> ValueSet:
    return site.arg(slot)


def compare_sites(a: Facts, b: Facts, etw_only: bool = False) -> SiteComparison:
    """Match call sites on (caller, rva, callee) and compare their argument value sets slot by slot."""
    def index(facts: Facts) -> dict[tuple[int, int, int], CallSite]:
        return {(s.caller, s.rva, s.callee): s for s in facts.calls}

    sites_a, sites_b = index(a), index(b)
    result = SiteComparison()

    def names(key: tuple[int, int, int]) -> tuple[str, str]:
        facts = a if key in sites_a else b
        return facts.name_of(key[0]), facts.name_of(key[2])

    def slots_for(key: tuple[int, int, int]) -> Optional[list[int]]:
        if not etw_only:
            return list(range(SLOTS))
        return role_slots(names(key)[1])

    for key in sorted(set(sites_a) | set(sites_b), key=lambda k: (k[1], k[2], k[0])):
        slots = slots_for(key)
        if slots is None:
            continue
        caller_name, callee_name = names(key)
        site_a, site_b = sites_a.get(key), sites_b.get(key)
        if site_a is None or site_b is None:
            kind = ONLY_B if site_a is None else ONLY_A
            result.diffs.append(SiteDiff(kind, key[0], key[1], key[2], caller_name, callee_name))
            continue
        if site_a.args is None or site_b.args is None:
            if site_a.args is not None or site_b.args is not None:
                kind = UNRESOLVED_B if site_b.args is None else UNRESOLVED_A
                result.diffs.append(SiteDiff(kind, key[0], key[1], key[2], caller_name, callee_name))
            continue
        result.compared += 1
        differing = [(i, _args(site_a, i), _args(site_b, i)) for i in slots if _args(site_a, i) != _args(site_b, i)]
        if differing:
            result.diffs.append(SiteDiff(ARGS, key[0], key[1], key[2], caller_name, callee_name, differing))
        else:
            result.equal += 1
    return result


# ---------------------------------------------------------------------------------------------- rows
def _label(path: str) -> str:
    name = os.path.basename(path)
    return name[: -len(".facts.json")] if name.endswith(".facts.json") else os.path.splitext(name)[0]


def compare_rows(a_path: str, b_path: str, max_depth: int = 5, ignore_unnamed: bool = False) -> DiffResult:
    """Replay both facts files through the analysis and compare the rows as ``diff`` does."""
    from .analysis.pipeline import AnalysisOptions, analyze
    from .diff import diff_files
    from .engine.frozen import FrozenEngine
    from .render.tables import encode_text, render

    options = AnalysisOptions(max_depth=max_depth)
    with tempfile.TemporaryDirectory(prefix="api-to-etw-parity-") as work:
        paths = []
        for side, path in (("a", a_path), ("b", b_path)):
            rows = analyze(FrozenEngine(path), options).rows
            out = os.path.join(work, side, _label(path) + ".tsv")
            os.makedirs(os.path.dirname(out))
            with open(out, "wb") as handle:
                handle.write(encode_text(render(rows, "tsv")))
            paths.append(out)
        result = diff_files(paths[0], paths[1], ignore_unnamed=ignore_unnamed)
    result.old.path = f"{a_path} (rows)"
    result.new.path = f"{b_path} (rows)"
    return result


def run_parity(a_path: str, b_path: str, sites: bool = True, rows: bool = True, etw_only: bool = False,
               max_depth: int = 5) -> ParityReport:
    facts_a, info_a = load_facts(a_path)
    facts_b, info_b = load_facts(b_path)
    report = ParityReport(info_a, info_b)
    if sites:
        report.sites = compare_sites(facts_a, facts_b, etw_only=etw_only)
    if rows:
        report.rows = compare_rows(a_path, b_path, max_depth=max_depth)
    return report


# ---------------------------------------------------------------------------------------------- report
def show_value(value: Value) -> str:
    """A value as the report prints it; a stack buffer with its bytes, image addresses and copy origin
    (two engines can agree on the bytes and still differ in what the buffer was copied from)."""
    if isinstance(value, StackAddr) and value.content is not None:
        data = " ".join("??" if b is None else f"{b:02x}" for b in value.content)
        refs = "".join(f" +{pos:#x}=Addr({rva:#x})" for pos, rva in value.refs or ())
        origin = f" copy of {show_value(value.origin)}" if value.origin is not None else ""
        return f"{value!r}[{data}]{refs}{origin}"
    return repr(value)


def show_values(values: ValueSet) -> str:
    return "{" + ", ".join(sorted(show_value(v) for v in values)) + "}"


def _site_line(diff: SiteDiff) -> str:
    head = f"{diff.rva:#x} {diff.caller_name} -> {diff.callee_name}"
    if diff.kind == ARGS:
        parts = [f"{_SLOT_NAMES[i] if i < len(_SLOT_NAMES) else i}: A {show_values(va)}  B {show_values(vb)}"
                 for i, va, vb in diff.slots]
        return f"  ~ args     {head}\n" + "".join(f"      {p}\n" for p in parts).rstrip("\n")
    label = {ONLY_A: "only in A", ONLY_B: "only in B", UNRESOLVED_A: "resolved in B only",
             UNRESOLVED_B: "resolved in A only"}[diff.kind]
    return f"  {'-' if diff.kind in (ONLY_A, UNRESOLVED_B) else '+'} {label:<18} {head}"


def render_report(report: ParityReport, limit: int = 0) -> str:
    out = [f"A: {report.a.path} ({report.a.engine}: {report.a.functions} functions, {report.a.calls} call sites, "
           f"{report.a.resolved} resolved)",
           f"B: {report.b.path} ({report.b.engine}: {report.b.functions} functions, {report.b.calls} call sites, "
           f"{report.b.resolved} resolved)"]
    sites = report.sites
    if sites is not None:
        out.append("")
        out.append(f"call sites: {sites.compared} compared, {sites.equal} equal, {sites.count(ARGS)} with different "
                   f"arguments; {sites.count(ONLY_A)} only in A, {sites.count(ONLY_B)} only in B; "
                   f"{sites.count(UNRESOLVED_B)} resolved in A only, {sites.count(UNRESOLVED_A)} resolved in B only")
        shown = sites.diffs if not limit else sites.diffs[:limit]
        out.extend(_site_line(d) for d in shown)
        if len(shown) < len(sites.diffs):
            out.append(f"  ... {len(sites.diffs) - len(shown)} more (--limit 0 lists all)")
    if report.rows is not None:
        from .render.diff import render_text

        out.append("")
        text = render_text(report.rows).rstrip("\n").splitlines()
        body = [line for line in text[2:] if line.strip()]
        summary = body.pop() if body else ""
        out.append(f"rows: {summary}")
        if limit and len(body) > limit:
            out.extend(body[:limit])
            out.append(f"  ... {len(body) - limit} more lines (--limit 0 lists all)")
        else:
            out.extend(body)
    out.append("")
    out.append("result: " + ("the facts differ" if report.differs() else "the facts agree"))
    return "\n".join(out) + "\n"
