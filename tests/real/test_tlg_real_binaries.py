"""TraceLogging on real binaries nobody here wrote: every event of the ETW0 metadata, tied to its provider.

Truth is derived independently of the decoder: tlgtruth.py scans the whole file for byte runs shaped like
provider and event blobs (never the ETW0 header or the section table); which provider writes which event
comes from public source: microsoft/WindowsAppSDK (one provider, Microsoft.WindowsAppRuntime.MddBootstrap,
written through WIL's TraceLogging classes and activities), microsoft/python-etwtrace (one provider,
"Python") and microsoft/terminal (src/types/UiaTracing.cpp writes the ScreenInfoUiaProvider:: and
UiaTextRange:: events with g_UiaProviderTraceProvider, "Microsoft.Windows.Console.UIA";
src/terminal/parser/tracing.cpp the StateMachine_* events with g_hConsoleVirtTermParserEventTraceProvider,
"Microsoft.Windows.Console.VirtualTerminal.Parser"; src/host/tracing.cpp the API_* events with
g_hConhostV2EventTraceProvider, "Microsoft.Windows.Console.Host").

``tracelogging`` and ``analyze`` (default output and ``--all-sites``) must give the same event-to-provider
map: one binder.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter

from conftest import run_cli
from tlgtruth import scan

BOOTSTRAP = "Microsoft.WindowsAppRuntime.Bootstrap.dll"
ETWTRACE = "_etwtrace.cp311-win_amd64.pyd"
OPENCONSOLE = "OpenConsole.exe"

UIA = "Microsoft.Windows.Console.UIA"
PARSER = "Microsoft.Windows.Console.VirtualTerminal.Parser"
HOST = "Microsoft.Windows.Console.Host"


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))


def _listing(path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    started = time.perf_counter()
    result = run_cli("tracelogging", path)
    print(f"tracelogging {path.name}: {time.perf_counter() - started:.1f}s; {result.stderr.strip()}")
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    rows = _rows(result.stdout)
    return [r for r in rows if r["Kind"] == "provider"], [r for r in rows if r["Kind"] == "event"]


def _analyzed(path, *options: str) -> set[tuple[str, str, int, int]]:
    started = time.perf_counter()
    result = run_cli("analyze", path, "--no-pdb", *options, "-o", "-")
    print(f"analyze {' '.join(options)} {path.name}: {time.perf_counter() - started:.1f}s")
    assert result.code == 0, result.stderr
    return {(r["ProviderSymbol"], r["EventDescriptorSymbol"], int(r["Level"]), int(r["Keyword"], 16))
            for r in _rows(result.stdout) if r["Kind"] == "tracelogging" and r["Resolved"] == "yes"}


def _check(path, owner) -> None:
    """The listing equals the brute-force truth, every event is tied to the provider ``owner(name)`` names,
    and analyze (default output and --all-sites) reports exactly the same (provider, event) pairs."""
    truth_providers, truth_events = scan(path)
    providers, events = _listing(path)
    assert {(p["Guid"], p["Name"]) for p in providers} == truth_providers
    assert Counter((e["Name"], int(e["Level"]), int(e["Keyword"], 16)) for e in events) == Counter(truth_events)
    guid = {name: g for g, name in truth_providers}
    for e in events:
        expected = owner(e["Name"])
        assert (e["Provider"], e["Guid"]) == (expected, guid[expected]), e["Name"]
    listed = {(e["Provider"], e["Name"], int(e["Level"]), int(e["Keyword"], 16)) for e in events}
    assert _analyzed(path, "--all-sites") == listed
    assert _analyzed(path) == listed


def test_bootstrap_wil_activities(real_binary):
    """30 events written through WIL: the provider comes back from a getter (a function-local static), in
    activity methods through `this`, and in a vtable method reached only from the class's vtable."""
    path = real_binary(BOOTSTRAP)
    assert len(scan(path)[1]) == 30
    _check(path, lambda _name: "Microsoft.WindowsAppRuntime.MddBootstrap")


def test_etwtrace_python_provider(real_binary):
    path = real_binary(ETWTRACE)
    assert len(scan(path)[1]) == 10
    _check(path, lambda _name: "Python")


def _console_owner(name: str) -> str:
    if name.startswith(("ScreenInfoUiaProvider::", "UiaTextRange::")):
        return UIA
    if name.startswith("StateMachine_"):
        return PARSER
    return HOST


def test_openconsole_four_providers(real_binary):
    path = real_binary(OPENCONSOLE)
    providers, events = scan(path)
    assert len(providers) == 4 and len(events) == 122
    _check(path, _console_owner)
    assert any(name.startswith("API_") for name, _l, _k in events)
