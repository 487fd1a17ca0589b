"""Shared paths and helpers. Fixtures are real binaries from samples/; reference data is read from ../shared."""

from __future__ import annotations

import io
import json
import os
import shutil
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(REPO, "samples")
SYNTH = os.path.join(SAMPLES, "synthkernel")
LEVELS = ("O1", "O2", "Os")
SHARED = os.environ.get("API_TO_ETW_SHARED") or os.path.join(os.path.dirname(REPO), "shared")


def synth_exe(level: str = "O2") -> str:
    return os.path.join(SYNTH, level, "synthkernel.exe")


def synth_pdb(level: str = "O2") -> str:
    return os.path.join(SYNTH, level, "synthkernel.pdb")


def load_truth(sample: str = "synthkernel") -> dict:
    """The committed truth.json of a fixture folder (samples/SAMPLE), written by its generator's model."""
    with open(os.path.join(SAMPLES, sample, "truth.json"), encoding="utf-8") as handle:
        return json.load(handle)


def code_fixtures() -> list[str]:
    """Every committed fixture image with executable code (resource-only images, which load_pe refuses by
    design, and the deliberately broken badinput images left out), sorted."""
    import glob

    import pefile

    def has_code(path: str) -> bool:
        pe = pefile.PE(path, fast_load=True)
        return any(section.Characteristics & 0x20000000 for section in pe.sections)

    return sorted(p for p in glob.glob(os.path.join(SAMPLES, "**", "*.*"), recursive=True)
                  if p.endswith((".dll", ".exe", ".sys")) and os.sep + "badinput" + os.sep not in p and has_code(p))


def pefile_exports(pe) -> dict[int, list[str]]:
    """pefile's view of a parsed PE's named, non-forwarded exports (RVA -> names): the independent truth the PE
    readers are checked against."""
    exports: dict[int, list[str]] = {}
    export_dir = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
    for sym in export_dir.symbols if export_dir is not None else []:
        if sym.name and not sym.forwarder:
            exports.setdefault(sym.address, []).append(sym.name.decode())
    return exports


def pefile_imports(pe) -> dict[int, str]:
    """pefile's view of a parsed PE's imports: IAT slot RVA -> ``dll!name`` (``dll!#ordinal`` without a name)."""
    imports = {}
    for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", []):
        for imp in entry.imports:
            name = imp.name.decode() if imp.name else f"#{imp.ordinal}"
            imports[imp.address - pe.OPTIONAL_HEADER.ImageBase] = f"{entry.dll.decode()}!{name}"
    return imports


def entry_finder(path, use_pdb: bool):
    """An EntryFinder over the native engine's facts of a binary, as the analysis builds it (callers per
    callee), for tests that ask which entry points a real binary has."""
    from api_to_etw.analysis.entries import EntryFinder
    from api_to_etw.analysis.values import CallValues
    from api_to_etw.binary.loader import open_binary
    from api_to_etw.engine.native.engine import NativeEngine

    loaded = open_binary(str(path), use_pdb=use_pdb)
    engine = NativeEngine(loaded.image, loaded.pdb)
    facts = engine.load()
    callers: dict = {}
    for site in facts.calls:
        callers.setdefault(site.callee, []).append(site)
    return EntryFinder(facts, CallValues(engine), callers)


def have_tools(*names: str) -> bool:
    return all(shutil.which(n) for n in names)


#: Set by .ci/run: a test whose tool is missing fails instead of skipping, so a broken install is loud.
REQUIRE_TOOLS = os.environ.get("API_TO_ETW_REQUIRE_TOOLS", "") == "1"


def require_tools(*names: str) -> None:
    """Skip the running test when a tool is missing (fail under API_TO_ETW_REQUIRE_TOOLS=1, as in CI)."""
    missing = [n for n in names if not shutil.which(n)]
    if not missing:
        return
    message = f"needs {', '.join(missing)} (not on PATH)"
    if REQUIRE_TOOLS:
        pytest.fail(f"{message}; CI requires it (API_TO_ETW_REQUIRE_TOOLS=1): .ci/run should have installed it")
    pytest.skip(message)


def require_fixture_toolchain(*tools: str) -> None:
    """Before rebuilding a committed fixture byte for byte: clang, lld-link and ``tools`` as :func:`require_tools`
    has them, and the clang version that built the committed images (another one builds valid, different
    images: skip with the reason)."""
    require_tools("clang", "lld-link", *tools)
    from samples import toolchain

    note = toolchain.version_note()
    if note:
        pytest.skip(f"{note}: a rebuild cannot be byte-identical")


def needs_tools(*names: str) -> pytest.MarkDecorator:
    """``@needs_tools("clang", "lld-link")``: :func:`require_tools` before the test runs."""
    return pytest.mark.tools(*names)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tools(*names): external programs the test needs (skip, or fail in CI)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("tools"):
        require_tools(*mark.args)


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> CliResult:
    """Run the CLI in-process, capturing both streams."""
    from api_to_etw.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="session")
def real_binary():
    """``real_binary("vcamp140.dll")``: the pinned binary of real-binaries.tsv (its PDB beside it), or a skip.

    See tests/real/catalog.py: fetched by the registry's own client, sha256-checked, cached outside the repo.
    """
    import sys

    sys.path.insert(0, os.path.join(REPO, "tests", "real"))
    from catalog import real_binary as fetch_real
    from fetch import FetchError

    def get(name: str):
        try:
            return fetch_real(name)
        except FetchError as exc:
            pytest.skip(f"{name} unavailable: {exc}")

    return get


@pytest.fixture(scope="session")
def kernel_builds(tmp_path_factory):
    """Build 1 (10.0.1.0) and build 2 (10.0.2.0, the generator's variant) of the kernel, scanned into one store.

    Returns (store path, {"v1": truth, "v2": truth}); shared by the history and report tests.
    """
    import subprocess
    import sys

    if not have_tools("clang", "lld-link", "llvm-rc"):
        pytest.skip("clang, lld-link and llvm-rc build the two kernel versions")
    root = tmp_path_factory.mktemp("builds")
    truths = {}
    for build, version, variant in (("v1", "10.0.1.0", []), ("v2", "10.0.2.0", ["--variant"])):
        out = root / build / "synthkernel"
        subprocess.run([sys.executable, "-m", "samples.synth", "kernel", "--out", str(out),
                        "--file-version", version, *variant], check=True, capture_output=True, cwd=REPO)
        subprocess.run([sys.executable, "-m", "samples.synth", "build", "--levels", "O2",
                        str(out)], check=True, capture_output=True, cwd=REPO)
        truths[build] = json.loads((out / "truth.json").read_text())
    db = root / "builds.db"
    # build 2 first: the order must come from FileVersion, not from the scan
    result = run_cli("scan", root / "v2", root / "v1", "--db", db, "-j", "1", "-q")
    assert result.code == 0, result.stderr
    return db, truths


@pytest.fixture(autouse=True)
def _package_logger_restored():
    """A test that runs the CLI leaves the package's logger as ``setup_logging`` set it (its own handler, not
    propagating, ``-q``'s level), and a later test's ``caplog`` would then see none of its warnings: each test
    starts from the logger as the session found it."""
    import logging

    logger = logging.getLogger("api_to_etw")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]
