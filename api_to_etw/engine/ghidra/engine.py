"""The Ghidra engine: the same facts as the native engine, from a Ghidra program and its decompiler.

Two ways to get the program:

* **import** (default): a temporary, throw-away Ghidra project is created
  (``GhidraProject.createProject(dir, name, temporary=True)``), the binary imported
  (``GhidraProject.importProgram(File)``), the PDB named with ``PdbUniversalAnalyzer.setPdbFileOption``
  and auto-analysis run (``FlatProgramAPI.analyzeAll``). Slow on a kernel, but needs nothing prepared.
* **existing project** (``project=`` and ``program=``): an analysed database is opened read-only
  (``GhidraProject.openProject`` + ``openProgram(folder, name, readOnly=True)``), so a kernel analysed
  once in Ghidra (with its PDB) is reused. It is analysed in memory only if it never was.

``load()`` extracts functions, call sites, symbols and memory (``extract.extract_facts``);
``resolve()`` decompiles the requested functions (``DecompInterface.decompileFunction``) and maps the
p-code of each call to argument value sets (``engine.pcode.PcodeTranslator``). Inside a running Ghidra (the
script in ``ghidra_scripts/``), :meth:`GhidraEngine.for_program` wraps the open program instead.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Collection, Iterable
from typing import Any, Optional

from ...errors import ApiToEtwError, InputNotFoundError, NotAPEError, UsageError
from ...model import Facts, Reference, Resolution
from ..base import ARGUMENTS, MEMORY, REFERENCES, Asked, Engine
from ..pcode import PcodeTranslator, fill_call_args
from .extract import (
    Decompiler,
    ProgramFacts,
    extract_facts,
    register_namer,
    scan_references,
)
from .launcher import GhidraInstall, check_ghidra, first_line, start_ghidra

log = logging.getLogger(__name__)

#: Seconds the decompiler may spend on one function before it gives up (its arguments stay unresolved).
DEFAULT_DECOMPILE_TIMEOUT = 60
TEMP_PROJECT_NAME = "api_to_etw"


def locate_project(path: str) -> tuple[str, str]:
    """(folder, name) of a Ghidra project given as ``NAME.gpr`` or as a folder holding exactly one ``.gpr``."""
    if path.lower().endswith(".gpr"):
        if not os.path.isfile(path):
            raise InputNotFoundError(f"{path}: no such Ghidra project file")
        folder, file = os.path.split(os.path.abspath(path))
        return folder, file[:-4]
    if not os.path.isdir(path):
        raise InputNotFoundError(f"{path}: no such Ghidra project (give its folder or its .gpr file)")
    found = sorted(f for f in os.listdir(path) if f.lower().endswith(".gpr"))
    if not found:
        raise InputNotFoundError(f"{path}: not a Ghidra project folder (no .gpr file in it)")
    if len(found) > 1:
        raise UsageError(f"{path}: holds several Ghidra projects ({', '.join(found)}): give the .gpr file")
    return os.path.abspath(path), found[0][:-4]


def split_program_path(program: str) -> tuple[str, str]:
    """``/folder/prog.exe`` -> (``/folder``, ``prog.exe``); a bare name lives in the root folder ``/``."""
    text = program.replace("\\", "/").strip()
    if "/" not in text.strip("/"):
        return "/", text.strip("/")
    folder, _, name = text.rstrip("/").rpartition("/")
    return (folder if folder.startswith("/") else "/" + folder) or "/", name


class GhidraEngine(Engine):
    """Facts from Ghidra, in the same value domain as the native engine.

    ``binary``/``pdb``: the image to import and the PDB to apply (validated beforehand by the caller,
    e.g. with ``binary.loader.open_binary``). ``project``/``program``: an existing Ghidra project (its
    folder or ``.gpr`` file) and the program in it (``name`` or ``/folder/name``; defaults to the
    binary's file name). ``analyze``: None runs auto-analysis only on a program never analysed, True
    always, False never. ``install_dir`` overrides ``GHIDRA_INSTALL_DIR``.

    Capabilities: argument values (the decompiler), references (a ``lea`` scan) and memory; no stores,
    PDB annotations or case guards (the analysis says so once when it needs them).

    Construction checks the installation without starting a JVM, so a missing Ghidra is reported at
    once (``MissingDependencyError``, exit code 13); ``load()`` starts Ghidra.
    """

    name = "ghidra"
    capabilities = frozenset((ARGUMENTS, REFERENCES, MEMORY))

    def __init__(self, binary: Optional[str] = None, pdb: Optional[str] = None, *, project: Optional[str] = None,
                 program: Optional[str] = None, analyze: Optional[bool] = None, install_dir: Optional[str] = None,
                 decompile_timeout: int = DEFAULT_DECOMPILE_TIMEOUT):
        if project is None and program is not None:
            raise UsageError("--ghidra-program needs --ghidra-project")
        if project is None and not binary:
            raise UsageError("the Ghidra engine needs a BINARY or --ghidra-project DIR --ghidra-program NAME")
        if project is not None and program is None and not binary:
            raise UsageError("--ghidra-project needs --ghidra-program NAME (or a BINARY whose name it has there)")
        if binary is not None and not os.path.isfile(binary):
            raise InputNotFoundError(f"{binary}: no such file")
        self.binary = binary
        self.pdb = pdb
        self.project_path = project
        self.program_path = program or (os.path.basename(binary) if binary else None)
        self.analyze = analyze
        self.decompile_timeout = decompile_timeout
        #: The checked installation; None for an engine over a program a running Ghidra already has open.
        self.install: Optional[GhidraInstall] = check_ghidra(install_dir)
        self._install_dir = install_dir
        self._owns_program = True
        self._project: Any = None
        self._program: Any = None
        self._temp_dir: Optional[str] = None
        self._extracted: Optional[ProgramFacts] = None
        self._facts: Optional[Facts] = None
        self._decompiler: Optional[Decompiler] = None
        self._translator: Optional[PcodeTranslator] = None
        self._references: Optional[list[Reference]] = None
        self._closed = False

    @classmethod
    def for_program(cls, program: Any, decompile_timeout: int = DEFAULT_DECOMPILE_TIMEOUT) -> GhidraEngine:
        """An engine over a program already open in a running Ghidra (``currentProgram`` of a script)."""
        engine = cls.__new__(cls)
        engine.binary = None
        engine.pdb = None
        engine.project_path = None
        engine.program_path = str(program.getName())
        engine.analyze = False
        engine.decompile_timeout = decompile_timeout
        engine.install = None
        engine._install_dir = None
        engine._owns_program = False
        engine._project = None
        engine._program = program
        engine._temp_dir = None
        engine._extracted = None
        engine._facts = None
        engine._decompiler = None
        engine._translator = None
        engine._references = None
        engine._closed = False
        return engine

    @property
    def label(self) -> str:
        """The name outputs are called after: the binary's file name, else the program's."""
        if self.binary:
            return os.path.basename(self.binary)
        return os.path.basename((self.program_path or "ghidra").rstrip("/")) or "ghidra"

    @property
    def program(self) -> Any:
        return self._program

    # ------------------------------------------------------------------ opening
    def _open(self) -> Any:
        start_ghidra(self._install_dir)
        atexit.register(self.close)
        if self.project_path is not None:
            program = self._open_existing()
        else:
            program = self._import()
        self._program = program
        self._analyze_if_needed(program)
        return program

    def _open_existing(self) -> Any:
        from ghidra.base.project import GhidraProject

        folder, name = locate_project(self.project_path or "")
        try:
            self._project = GhidraProject.openProject(folder, name, False)
        except Exception as exc:
            raise ApiToEtwError(f"cannot open Ghidra project {name} in {folder}: {first_line(exc)} "
                                "(is it open in Ghidra? close it there first)") from None
        program_folder, program_name = split_program_path(self.program_path or "")
        try:
            return self._project.openProgram(program_folder, program_name, True)
        except Exception as exc:
            available = ", ".join(self._program_paths()) or "none"
            raise InputNotFoundError(f"{name}: no program {self.program_path} in the Ghidra project "
                                     f"({first_line(exc)}; programs: {available})") from None

    def _program_paths(self) -> list[str]:
        out: list[str] = []
        if self._project is None:
            return out
        folders = [self._project.getRootFolder()]
        while folders and len(out) < 50:
            folder = folders.pop()
            out.extend(str(f.getPathname()) for f in folder.getFiles())
            folders.extend(folder.getFolders())
        return sorted(out)

    def _import(self) -> Any:
        from ghidra.base.project import GhidraProject
        from java.io import File

        self._temp_dir = tempfile.mkdtemp(prefix="api-to-etw-ghidra-")
        self._project = GhidraProject.createProject(self._temp_dir, TEMP_PROJECT_NAME, True)
        binary = os.path.abspath(self.binary or "")
        log.info("importing %s into a temporary Ghidra project", binary)
        try:
            program = self._project.importProgram(File(binary))
        except Exception as exc:
            raise NotAPEError(f"{os.path.basename(binary)}: Ghidra could not import it ({first_line(exc)})") from None
        if program is None:
            raise NotAPEError(f"{os.path.basename(binary)}: Ghidra found no loader for it")
        if self.pdb:
            self._set_pdb(program, os.path.abspath(self.pdb))
        return program

    @staticmethod
    def _set_pdb(program: Any, pdb_path: str) -> None:
        """Point the PDB Universal analyzer at the PDB (``PdbUniversalAnalyzer.setPdbFileOption``)."""
        from ghidra.app.plugin.core.analysis import PdbUniversalAnalyzer
        from java.io import File

        tx = program.startTransaction("api-to-etw: PDB file")
        try:
            PdbUniversalAnalyzer.setPdbFileOption(program, File(pdb_path))
        finally:
            program.endTransaction(tx, True)
        log.info("PDB for analysis: %s", pdb_path)

    def _analyze_if_needed(self, program: Any) -> None:
        from ghidra.program.util import GhidraProgramUtilities

        wanted = self.analyze
        if wanted is None:
            wanted = not _is_analyzed(program, GhidraProgramUtilities)
        if not wanted:
            return
        from ghidra.app.script import GhidraScriptUtil
        from ghidra.program.flatapi import FlatProgramAPI

        log.info("running Ghidra auto-analysis on %s (this takes a while on a large binary)", program.getName())
        GhidraScriptUtil.acquireBundleHostReference()
        tx = program.startTransaction("api-to-etw: analysis")
        try:
            FlatProgramAPI(program).analyzeAll(program)
        finally:
            program.endTransaction(tx, True)
            GhidraScriptUtil.releaseBundleHostReference()
        if program.canSave() and hasattr(GhidraProgramUtilities, "markProgramAnalyzed"):
            GhidraProgramUtilities.markProgramAnalyzed(program)

    # ------------------------------------------------------------------ Engine
    def load(self) -> Facts:
        if self._facts is not None:
            return self._facts
        program = self._program if self._program is not None else self._open()
        extracted = extract_facts(program, binary_name=self.binary and os.path.basename(self.binary))
        # Ghidra maps the PE headers at the image base: the resource tree is read through its memory.
        from ...binary.resources import image_resources

        extracted.facts.resources = image_resources(extracted.memory, extracted.memory.read(0, 4096)).entries
        self._extracted = extracted
        self._facts = extracted.facts
        self._translator = PcodeTranslator(extracted.facts.image_base, extracted.image_size, extracted.memory,
                                           register_namer(program))
        self._decompiler = Decompiler(program, self.decompile_timeout)
        return self._facts

    def references(self, targets: Optional[Collection[int]] = None) -> list[Reference]:
        """Every RIP-relative ``lea`` in the program's functions (``extract.scan_references``, scanned once);
        with ``targets``, only those addressing one of them (the lea scan is Ghidra's whole answer here)."""
        assert self._extracted is not None and self._facts is not None, "load() first"
        if self._references is None:
            self._references = scan_references(self._program, self._extracted.bodies)
        refs = list(self._references)
        return refs if targets is None else [r for r in refs if r.target in set(targets)]

    def resolve(self, functions: Iterable[int], asked: Optional[Asked] = None) -> Resolution:
        """Decompile each function and translate the p-code of its calls (on working copies of its sites)."""
        assert self._extracted is not None and self._decompiler is not None and self._translator is not None, \
            "load() first"
        facts = self._extracted.facts
        base = facts.image_base
        fm = self._program.getFunctionManager()
        answer = Resolution()
        for rva in dict.fromkeys(functions):
            func = facts.functions.get(rva)
            own = self._extracted.sites_by_function.get(rva)
            if func is None or func.imported or not own:
                continue
            gfunc = fm.getFunctionAt(self._program.getImageBase().add(rva))
            if gfunc is None:
                continue
            high = self._decompiler.high_function(gfunc)
            if high is None:
                continue
            sites = {site_rva: site.working_copy() for site_rva, site in own.items()}
            fill_call_args(high, sites, self._translator, lambda address: int(address.getOffset()) - base)
            answer.args.update({(rva, site_rva): site.args for site_rva, site in sites.items() if site.args is not None})
        return answer

    def close(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        if self._decompiler is not None:
            self._decompiler.close()
        if self._owns_program and self._project is not None:
            try:
                self._project.close()
            except Exception as exc:
                log.debug("closing the Ghidra project: %s", first_line(exc))
            self._project = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None


def _is_analyzed(program: Any, utilities: Any) -> bool:
    """``GhidraProgramUtilities.isAnalyzed``, or the "Analyzed" program property it reads."""
    if hasattr(utilities, "isAnalyzed"):
        return bool(utilities.isAnalyzed(program))
    return bool(program.getOptions("Program Information").getBoolean("Analyzed", False))
