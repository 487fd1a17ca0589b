"""``api-to-etw report``: the self-contained HTML page, opened in a real headless Chromium.

The browser tests drive Debian's chromium through chromedriver (selenium): search, filters, sorting,
an event's page with its Graphviz drawing, links between views. Names from hostile tables must show
as text and never run. Screenshots are kept under output/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import base64
import csv
import gzip
import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from conftest import REPO, SHARED, run_cli, synth_exe

from api_to_etw.render.graphs import sanitize_svg
from api_to_etw.render.rows import COLUMNS
from api_to_etw.render.tables import render_table

MANIFESTS = os.path.join(SHARED, "reference", "manifests")
ARTIFACTS = os.path.join(REPO, "output")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytest.importorskip("jinja2", reason="the report needs Jinja2 (pip install '.[report]')")


# ------------------------------------------------------------------------------------------- helpers
def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))


def embedded(html: str) -> dict[str, Any]:
    """The report's data, decoded the way its script does (base64, gzip, JSON)."""
    match = re.search(r'<script id="payload" type="application/octet-stream">([^<]*)</script>', html)
    assert match, "no embedded payload"
    return json.loads(gzip.decompress(base64.b64decode(match.group(1))))


def make_report(tmp_path: Path, table: Path, *extra: str) -> tuple[Path, str]:
    out = tmp_path / (table.stem + ".html")
    result = run_cli("report", str(table), "-o", str(out), *extra)
    assert result.code == 0, result.stderr
    assert result.stdout == ""
    return out, result.stderr


@pytest.fixture(scope="module")
def synth_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bundled synthetic kernel analysed as TSV and JSON lines, and with manifests when they are here."""
    folder = tmp_path_factory.mktemp("synth")
    tables = {}
    for name, args in (("plain.tsv", ()), ("plain.jsonl", ())):
        tables[name] = folder / name
        assert run_cli("analyze", synth_exe(), *args, "-o", str(tables[name]), "-q").code == 0
    if os.path.isdir(MANIFESTS):
        tables["named.tsv"] = folder / "named.tsv"
        assert run_cli("analyze", synth_exe(), "--manifests", MANIFESTS, "-o", str(tables["named.tsv"]),
                       "-q").code == 0
    return tables


# ---------------------------------------------------------------------------------------- no browser
def test_report_is_one_self_contained_file(tmp_path: Path, synth_tables: dict[str, Path]) -> None:
    out, stderr = make_report(tmp_path, synth_tables["plain.tsv"])
    html = out.read_text(encoding="utf-8")
    assert re.search(r"\d+ rows, \d+ events, \d+ providers", stderr)
    # Nothing is fetched: no URLs, no external scripts, styles, images or fonts; a CSP forbids them too.
    assert "http:" not in html and "https:" not in html and "//" not in re.sub(r"<script id=\"payload\".*?</script>",
                                                                               "", html, flags=re.S).split("<script>")[0]
    assert not re.search(r"<(?:link|img|iframe|object|embed)\b|\bsrc=|@import|url\((?!#)", html)  # url(#arrow) only
    assert "default-src 'none'" in html
    data = embedded(html)
    rows = read_tsv(synth_tables["plain.tsv"])
    assert len(data["r"]) == len(rows)
    assert {data["s"][r[0]] for r in data["r"]} == {r["Function"] for r in rows}
    assert len(data["g"]) > 0 and all(g.startswith("<svg") for g in data["g"])


def test_jsonl_and_tsv_give_the_same_report(tmp_path: Path, synth_tables: dict[str, Path]) -> None:
    tsv = embedded(make_report(tmp_path, synth_tables["plain.tsv"])[0].read_text(encoding="utf-8"))
    jsonl = embedded(make_report(tmp_path, synth_tables["plain.jsonl"])[0].read_text(encoding="utf-8"))
    for key in ("e", "p", "r", "g"):
        assert len(tsv[key]) == len(jsonl[key]), key

    def labels(data: dict[str, Any]) -> set[str]:
        return {data["s"][e[data["ef"].index("Label")]] for e in data["e"]}

    assert labels(tsv) == labels(jsonl)


def test_without_graphviz_the_report_has_no_drawings(tmp_path: Path, synth_tables: dict[str, Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot anywhere
    out, stderr = make_report(tmp_path, synth_tables["plain.tsv"])
    assert "Graphviz 'dot' not found" in stderr
    html = out.read_text(encoding="utf-8")
    assert embedded(html)["g"] == []
    assert "No call-path drawings" in html


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    store = tmp_path / "other.db"  # an SQLite file, not a scan store
    with sqlite3.connect(store) as db:
        db.execute("create table rows (x)")
    result = run_cli("report", str(store), "-o", str(tmp_path / "r.html"))
    assert result.code != 0 and "not an api-to-etw store" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    missing = run_cli("report", str(tmp_path / "nope.tsv"), "-o", str(tmp_path / "r.html"))
    assert missing.code == 3 and len(missing.stderr.strip().splitlines()) == 1
    junk = tmp_path / "junk.tsv"
    junk.write_text("a\tb\n1\t2\n", encoding="utf-8")
    bad = run_cli("report", str(junk), "-o", str(tmp_path / "r.html"))
    assert bad.code == 9 and "not an api-to-etw table" in bad.stderr
    assert not (tmp_path / "r.html").exists()


def test_sanitizer_keeps_shapes_and_text_only() -> None:
    hostile = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" '
               b'xmlns:xlink="http://www.w3.org/1999/xlink" width="10pt" height="10pt" viewBox="0 0 10 10" '
               b'onload="alert(1)"><g id="graph0" class="graph" transform="translate(4 40)">'
               b'<script>alert(2)</script><foreignObject><div>x</div></foreignObject>'
               b'<g id="s1" class="node api" onclick="alert(3)"><a xlink:href="javascript:alert(4)">'
               b'<polygon points="0,0 1,1" onmouseover="alert(5)"/><path d="M0,0 javascript:alert(6)"/>'
               b'<text x="1" y="2" style="x">&lt;script&gt;alert(7)&lt;/script&gt;</text></a></g></g></svg>')
    clean = sanitize_svg(hostile, ["", "A" * 100])
    assert "alert(1)" not in clean and "alert(2)" not in clean and "alert(3)" not in clean
    assert "javascript" not in clean and "onmouseover" not in clean and "foreignObject" not in clean
    assert "<script" not in clean and "style=" not in clean
    assert "&lt;script&gt;alert(7)&lt;/script&gt;" in clean  # the name, as text
    assert '<polygon points="0,0 1,1"/>' in clean and 'data-s="1"' in clean
    assert "<title>" + "A" * 100 + "</title>" in clean  # a long name's tooltip carries it whole


# ------------------------------------------------------------------------------------------ browser
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("chromium or chromedriver not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install '.[test]')")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="api-to-etw-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--window-size=1400,1000", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Page:
    """The report opened in the browser, with the few moves a person makes."""

    def __init__(self, driver: Any, path: Path, route: str = ""):
        from selenium.webdriver.common.by import By

        self.d, self.By = driver, By
        driver.get(path.resolve().as_uri() + route)
        wait(lambda: driver.execute_script("return document.body.dataset.ready === '1'"), "the report to load")
        self.check_console()

    def check_console(self) -> None:
        """No script errors, and nothing fetched: the page loaded no resource beyond itself."""
        errors = [e for e in self.d.get_log("browser") if e.get("level") == "SEVERE"]
        assert not errors, errors
        assert self.js("return performance.getEntriesByType('resource').map(e => e.name)") == []

    def js(self, script: str, *args: Any) -> Any:
        return self.d.execute_script(script, *args)

    def find(self, css: str) -> Any:
        return self.d.find_element(self.By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        return self.d.find_elements(self.By.CSS_SELECTOR, css)

    def go(self, route: str) -> None:
        self.js("document.body.dataset.ready = ''; location.hash = arguments[0];", route)
        wait(lambda: self.js("return document.body.dataset.ready === '1'"), route)

    def count(self) -> int:
        return int(self.find("#count").get_attribute("data-count"))

    def settle(self, action: Callable[[], None]) -> None:
        """Do something that re-renders (typing waits for the search's debounce), then wait for it."""
        self.js("document.body.dataset.ready = ''")
        action()
        wait(lambda: self.js("return document.body.dataset.ready === '1'"), "the view to re-render")

    def type(self, css: str, text: str) -> None:
        """Replace a field's text the way a person does: select all, delete, type."""
        from selenium.webdriver.common.keys import Keys

        element = self.find(css)
        if element.get_attribute("value") == text:
            return
        self.settle(lambda: (element.send_keys(Keys.CONTROL, "a"), element.send_keys(Keys.BACKSPACE),
                             element.send_keys(text) if text else None))
        if css == "#q":  # on a loaded machine the debounce can fire between keys: wait for the whole text
            wanted = text.strip().lower()
            wait(lambda: self.js("return document.body.dataset.ready === '1' && "
                                 "document.body.dataset.query === arguments[0]", wanted), "the search to apply")

    def choose(self, css: str, label: str) -> None:
        from selenium.webdriver.support.ui import Select

        menu = Select(self.find(css))
        if menu.first_selected_option.text != label:
            self.settle(lambda: menu.select_by_visible_text(label))

    def column(self, title: str) -> list[str]:
        """The text of one column of the view's first table."""
        # One script reads the whole column, so a re-render cannot leave stale elements between two reads.
        column = self.js("""
            const table = document.querySelector('main table');
            if (!table) return null;
            const n = Array.from(table.querySelectorAll('thead th')).map((th) => th.innerText.trim()).indexOf(arguments[0]);
            if (n < 0) return null;
            return Array.from(table.querySelectorAll('tbody tr')).filter((tr) => tr.children.length > n)
                .map((tr) => tr.children[n].innerText.trim());
        """, title)
        assert column is not None, f"no column {title!r} in the view"
        return list(column)

    def facts(self) -> dict[str, str]:
        keys = [dt.text for dt in self.all("dl.facts dt")]
        values = [dd.text for dd in self.all("dl.facts dd")]
        return dict(zip(keys, values))

    def screenshot(self, name: str) -> None:
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.d.save_screenshot(os.path.join(ARTIFACTS, name))


def test_synthkernel_report_in_the_browser(browser: Any, tmp_path: Path, synth_tables: dict[str, Path]) -> None:
    """Without manifests: the LiveDump provider (named by its GUID symbol), its events, a drawing, links."""
    table = synth_tables["plain.tsv"]
    rows = read_tsv(table)
    out, _ = make_report(tmp_path, table)
    page = Page(browser, out)
    assert page.count() == len({r["Function"] for r in rows})  # the APIs view first

    page.go("#events")
    assert page.count() == len(embedded(out.read_text(encoding="utf-8"))["e"])
    page.choose("#provider", "LiveDumpProviderGuid")
    live = {r["EventDescriptorSymbol"] for r in rows if r["ProviderSymbol"] == "LiveDumpProviderGuid"}
    assert page.count() == len(live) and set(page.column("Event")) == live
    assert set(page.column("Provider")) == {"LiveDumpProviderGuid"}

    ids = page.column("Id")  # sorting: numerically, then the other way
    page.settle(lambda: [th for th in page.all("main table thead th") if th.text == "Id"][0].click())
    assert page.column("Id") == sorted(ids, key=int)
    page.settle(lambda: [th for th in page.all("main table thead th") if th.text.startswith("Id")][0].click())
    assert page.column("Id") == sorted(ids, key=int, reverse=True)

    truth = next(r for r in rows if r["EventDescriptorSymbol"] == "LIVEDUMP_EVENT_CAPTURE_API_START")
    page.settle(lambda: browser.find_element(page.By.LINK_TEXT, "LIVEDUMP_EVENT_CAPTURE_API_START").click())
    facts = page.facts()
    assert facts["Id"] == truth["Id"] and facts["Keyword"] == truth["Keyword"] and facts["Level"] == truth["Level"]
    assert facts["Written by"] == truth["WriteFunction"]
    nodes = [t.text for t in page.all("#graph svg g.node text")]
    assert truth["Function"] in nodes and truth["ContainingFunction"] in nodes and truth["WriteFunction"] in nodes
    page.screenshot("report-synthkernel-event.png")

    api_node = next(g for g in page.all("#graph svg g.node[data-api]")
                    if g.find_element(page.By.CSS_SELECTOR, "text").text == truth["Function"])
    page.settle(api_node.click)  # the graph's API nodes link to the API's page
    assert page.find("main h2").text == truth["Function"]
    assert "LIVEDUMP_EVENT_CAPTURE_API_START" in page.column("Event")
    page.check_console()


def test_synthkernel_named_report_task_events(browser: Any, tmp_path: Path, synth_tables: dict[str, Path]) -> None:
    """With the kernel manifests: search task_, opaque names, field names, an opaque event's page."""
    if "named.tsv" not in synth_tables:
        pytest.skip(f"no manifests at {MANIFESTS}")
    table = synth_tables["named.tsv"]
    rows = read_tsv(table)
    out, _ = make_report(tmp_path, table)
    page = Page(browser, out, "#events")

    page.type("#q", "task_")
    task_events = {(r["EventName"], r["EventDescriptorSymbol"]) for r in rows
                   if "task_" in "\t".join(r.values()).lower()}  # the search is case-blind
    task_names = {name for name, _ in task_events}
    assert task_events and page.count() == len(task_events) and set(page.column("Event")) == task_names
    assert sorted(zip(page.column("Event"), page.column("Symbol"))) == sorted(task_events)
    page.screenshot("report-synthkernel-task.png")

    page.type("#q", "")
    page.settle(lambda: page.find("#opaque").click())
    opaque = page.all("main table tbody td:first-child a")
    assert opaque and all("opaque" in a.get_attribute("class") for a in opaque)
    assert {n for n in task_names if n.startswith("task_")} <= {a.text for a in opaque}
    page.settle(lambda: page.find("#opaque").click())

    page.type("#field", "TargetProcessId")
    with_field = {(r["EventName"], r["EventDescriptorSymbol"]) for r in rows if "TargetProcessId" in r["Fields"].split()}
    assert page.count() == len(with_field) and set(zip(page.column("Event"), page.column("Symbol"))) == with_field
    page.type("#field", "")

    page.choose("#provider", "Microsoft-Windows-Kernel-Audit-API-Calls")
    audit = {(r["EventName"], r["EventDescriptorSymbol"]) for r in rows
             if r["ProviderName"] == "Microsoft-Windows-Kernel-Audit-API-Calls"}
    assert page.count() == len(audit) and set(zip(page.column("Event"), page.column("Symbol"))) == audit

    truth = next(r for r in rows if r["Function"] == "NtOpenProcess" and r["ProviderName"].endswith("API-Calls"))
    page.settle(lambda: browser.find_element(page.By.LINK_TEXT, truth["EventName"]).click())
    assert "(opaque name)" in page.find("main h2").text
    facts = page.facts()
    assert facts["Id"] == truth["Id"] and facts["Descriptor symbol"] == truth["EventDescriptorSymbol"]
    assert "TargetProcessId" in [c.text for c in page.all("#fields span")]
    nodes = [t.text for t in page.all("#graph svg g.node text")]
    assert "NtOpenProcess" in nodes
    page.screenshot("report-synthkernel-opaque-event.png")

    page.go("#providers")
    page.choose("#provider", "Microsoft-Windows-Kernel-Audit-API-Calls")
    page.settle(lambda: browser.find_element(page.By.LINK_TEXT, "Microsoft-Windows-Kernel-Audit-API-Calls").click())
    mask = 0
    for r in rows:
        if r["ProviderName"] == "Microsoft-Windows-Kernel-Audit-API-Calls" and r["Keyword"]:
            mask |= int(r["Keyword"], 16)
    assert f"0x{mask:x}" in page.facts()["To enable every event"]
    page.check_console()


def test_real_binary_report(browser: Any, tmp_path: Path, real_binary: Callable[[str], Any]) -> None:
    """OpenConsole.exe: its TraceLogging providers and events, named as its own ETW0 metadata bytes say."""
    binary = Path(real_binary("OpenConsole.exe"))
    data = binary.read_bytes()
    table = tmp_path / "OpenConsole.tsv"
    assert run_cli("analyze", str(binary), "--all-sites", "-o", str(table), "-q").code == 0
    rows = read_tsv(table)
    out, _ = make_report(tmp_path, table)
    page = Page(browser, out, "#providers")
    options = [o.text for o in page.all("#provider option")][1:]
    console = [o for o in options if o.startswith("Microsoft.Windows.Console.")]
    assert console and all(o.encode() + b"\0" in data for o in console)  # names from the binary's ETW0 blobs
    parser = "Microsoft.Windows.Console.VirtualTerminal.Parser"
    page.choose("#provider", parser)
    page.go("#events")
    events = page.column("Event")
    expected = {r["EventDescriptorSymbol"] for r in rows if r["ProviderSymbol"] == parser}
    assert set(events) == expected and all(e.encode() + b"\0" in data for e in events)

    page.type("#q", "task_")
    assert page.count() == len({r["EventDescriptorSymbol"] for r in rows
                                if r["ProviderSymbol"] == parser and "task_" in "\t".join(r.values()).lower()})
    page.type("#q", "StateMachine_")
    assert page.count() > 0 and all(e.startswith("StateMachine_") for e in page.column("Event"))
    first = sorted(page.column("Event"))[0]
    page.settle(lambda: browser.find_element(page.By.LINK_TEXT, first).click())
    facts = page.facts()
    assert facts["Kind"] == "tracelogging" and facts["Provider"] == parser
    fields = [c.text for c in page.all("#fields span")]
    assert all(f.encode() + b"\0" in data for f in fields)
    assert page.all("#graph svg g.node.write")
    page.screenshot("report-openconsole-event.png")
    page.check_console()


HOSTILE = {
    "script": "<script>window.__pwned=1</script>",
    "img": "<img src=x onerror=window.__pwned=2>",
    "svg": '"><svg onload=window.__pwned=3>',
    "close": "</script><script>window.__pwned=4</script>",
    "template": "{{7*7}}{% raw %}",
    "dot": 'Mid\\N"label\\l',
    "long": "Nt" + "VeryLongName" * 500,
}


def hostile_table(path: Path) -> Path:
    """Rows whose every name is an attack on the page: markup, script, template syntax, DOT escapes, length."""
    rows = []
    for n, (key, name) in enumerate(HOSTILE.items()):
        row = dict.fromkeys(COLUMNS, "")
        row.update({
            "Function": name, "ProviderGuid": "11111111-2222-3333-4444-55555555555" + str(n % 10),
            "ProviderSymbol": HOSTILE["img"], "ProviderName": HOSTILE["close"] if n == 0 else name,
            "WriteFunction": "EtwWrite", "EventDescriptorSymbol": f"EVT_{key}", "EventName": name,
            "Id": str(n + 1), "Version": "0", "Channel": "0", "Level": "4", "Opcode": "0", "Task": "0",
            "Keyword": "0x10", "ContainingFunction": HOSTILE["svg"], "CallDepth": "3", "ExportedCallDepth": "0",
            "CallPath": f"[{name}->{HOSTILE['dot']}->{HOSTILE['svg']}]", "Kind": "manifest",
            "Fields": f"{HOSTILE['script']} ok", "WriteRva": "0x10", "Resolved": "yes",
        })
        rows.append(row)
    path.write_text(render_table(rows, COLUMNS, "tsv"), encoding="utf-8")
    return path


def test_hostile_names_are_text_never_code(browser: Any, tmp_path: Path) -> None:
    out, _ = make_report(tmp_path, hostile_table(tmp_path / "hostile.tsv"))
    html = out.read_text(encoding="utf-8")
    assert "<script>window" not in html and "&lt;/script&gt;&lt;script&gt;window" in html  # the menu escapes
    page = Page(browser, out, "#rows")
    pwned = "return window.__pwned === undefined"
    assert page.js(pwned)
    text = page.js("return document.body.innerText")
    for name in ("script", "img", "svg", "close", "template"):
        assert HOSTILE[name] in text, name
    assert "49" not in page.column("API")
    assert page.count() == len(HOSTILE)
    labels = [o.text for o in page.all("#provider option")]
    assert HOSTILE["close"] in labels and HOSTILE["img"] in labels  # ProviderName first, as text

    page.type("#q", "onerror")
    assert page.count() == len(HOSTILE)  # every row has the <img onerror> provider symbol
    page.type("#q", "")
    for n in range(len(HOSTILE)):
        page.go(f"#event/{n}")
        assert page.js(pwned)
        assert page.find("main h2").text.startswith(list(HOSTILE.values())[n][:40])
        labels = [t.text for t in page.all("#graph svg g.node text")]
        assert HOSTILE["svg"] in labels and HOSTILE["dot"] in labels  # DOT escapes shown literally
        assert page.js("return document.querySelectorAll('#graph script, #graph foreignObject, #graph a').length") == 0
    long_label = [t.text for t in page.all("#graph svg g.node text") if t.text.startswith("NtVeryLong")]
    assert long_label and long_label[0].endswith("\u2026") and len(long_label[0]) < 60
    titles = page.js("return Array.from(document.querySelectorAll('#graph svg g.node title')).map(t => t.textContent)")
    assert HOSTILE["long"] in titles
    page.go("#apis")
    page.screenshot("report-hostile.png")
    assert page.js(pwned)
    page.check_console()


SCALE = Path(REPO) / "benchmarks" / "scratch" / "scale_40000_3000" / "O2"


def test_scale_kernel_report_is_small_enough_to_mail(tmp_path: Path) -> None:
    """About 13,000 rows of a kernel-sized binary: the report with every drawing stays under 5 MB."""
    exe = SCALE / "scale_40000_3000.exe"
    if not exe.exists():
        pytest.skip("scale kernel not built (python benchmarks/bench_analyze.py or bench_report.py builds it)")
    table = tmp_path / "scale.tsv"
    assert run_cli("analyze", str(exe), "-o", str(table), "-q").code == 0
    rows = read_tsv(table)
    assert len(rows) >= 12000
    out, _ = make_report(tmp_path, table)
    assert out.stat().st_size < 5 * 1024 * 1024
    data = embedded(out.read_text(encoding="utf-8"))
    assert len(data["r"]) == len(rows) and len(data["g"]) > 1000


def test_store_report_binaries_and_builds(browser: Any, tmp_path: Path, kernel_builds: tuple[Path, dict]) -> None:
    """From a store: the Binaries view lists both builds, Builds lists what the generator changed."""
    db, truths = kernel_builds
    variant = truths["v2"]["generator"]["variant"]
    out, stderr = make_report(tmp_path, db)
    data = embedded(out.read_text(encoding="utf-8"))
    assert len(data["r"]) == len(truths["v1"]["rows"]) + len(truths["v2"]["rows"])
    page = Page(browser, out, "#binaries")
    assert page.count() == 2 and sorted(page.column("FileVersion")) == ["10.0.1.0", "10.0.2.0"]
    page.go("#builds")
    changes = set(zip(page.column("Change"), page.column("Event")))
    assert ("removed", variant["removed"][1]) in changes and ("added", variant["added"][1]) in changes
    assert {name for _, name in changes} >= {variant["removed"][1], variant["moved"][0], variant["added"][1]}
    page.screenshot("report-store-builds.png")
    page.settle(lambda: browser.find_element(page.By.LINK_TEXT, variant["added"][1]).click())
    assert "Binaries and builds that have it" in page.js("return document.body.innerText")
    chips = [c.text for c in page.all(".chips span")]
    assert any("10.0.2.0" in c for c in chips) and not any("10.0.1.0" in c for c in chips)  # new in build 2
    page.check_console()


def test_entry_types_ioctls_and_event_sites(browser: Any, tmp_path: Path) -> None:
    """The mc -km driver fixture: filter by entry type (ioctl, callback, driver), EventSite drawn as such."""
    table = tmp_path / "mcdriver.tsv"
    assert run_cli("analyze", os.path.join(REPO, "samples", "mcdriver", "O2", "mcdriver.sys"), "-o", str(table),
                   "-q").code == 0
    rows = read_tsv(table)
    out, _ = make_report(tmp_path, table)
    page = Page(browser, out, "#rows")
    assert "Entry" in [th.text for th in page.all("main table thead th")]
    page.choose("#entry", "ioctl")
    assert page.count() == sum(1 for r in rows if r["Ioctl"]) and all(page.column("Ioctl"))
    page.choose("#entry", "callback")
    assert page.count() == sum(1 for r in rows if r["Entry"].startswith("callback:"))
    assert all(e.startswith("callback:") for e in page.column("Entry"))
    page.choose("#entry", "driver")
    assert set(page.column("Entry")) == {r["Entry"] for r in rows if r["Entry"] in ("AddDevice", "DriverUnload")}
    page.choose("#entry", "every entry type")
    page.type("#q", "0x81232000")  # an IOCTL code: the search covers the Ioctl column
    truth = [r for r in rows if "0x81232000" in r["Ioctl"].split(",")]
    assert page.count() == len(truth) and truth
    page.settle(lambda: browser.find_element(page.By.LINK_TEXT, truth[0]["EventDescriptorSymbol"]).click())
    sites = [t.text for t in page.all("#graph svg g.node.site text")]
    assert sites == [truth[0]["EventSite"]]
    page.screenshot("report-mcdriver-event.png")
    page.check_console()
