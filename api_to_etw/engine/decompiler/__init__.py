"""The decompiler engine: Ghidra's own C++ decompiler through flatline, without Java or a Ghidra install.

flatline needs Python >= 3.13. Where this interpreter is older, the engine runs flatline in a worker
process of a 3.13 interpreter: ``--decompiler-python PATH``, else ``$API_TO_ETW_DECOMPILER_PYTHON``,
else ``python3.13`` on PATH, else pyenv's 3.13 versions; the first that imports flatline is used.
Modules: ``adapter`` (flatline's p-code as Ghidra-shaped objects), ``worker`` (decompile and translate;
also the worker process), ``engine`` (``DecompilerEngine``).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING, Optional

from ...errors import MissingDependencyError

if TYPE_CHECKING:  # pragma: no cover
    from .. import EngineSource
    from .engine import DecompilerEngine

PYTHON_ENV = "API_TO_ETW_DECOMPILER_PYTHON"
INSTALL_HINT = ("the decompiler engine needs flatline under Python >= 3.13: pip install 'api-to-etw[decompiler]' "
                "there, or give a 3.13 interpreter with flatline as --decompiler-python PATH")


def in_process() -> bool:
    """flatline imports here (Python >= 3.13)."""
    return sys.version_info >= (3, 13) and importlib.util.find_spec("flatline") is not None


def _imports_flatline(python: str) -> bool:
    try:
        proc = subprocess.run([python, "-c", "import flatline"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def candidate_pythons() -> list[str]:
    """3.13+ interpreters to try, in order: the environment variable, PATH, pyenv's versions."""
    out = []
    if os.environ.get(PYTHON_ENV):
        out.append(os.environ[PYTHON_ENV])
    for name in ("python3.14", "python3.13"):
        found = shutil.which(name)
        if found:
            out.append(found)
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    out.extend(sorted(glob.glob(os.path.join(root, "versions", "3.1[3-9]*", "bin", "python3")), reverse=True))
    return list(dict.fromkeys(out))


def find_python(explicit: Optional[str] = None) -> Optional[str]:
    """The interpreter that runs the worker, or None to run flatline in this process."""
    if explicit:
        if not _imports_flatline(explicit):
            raise MissingDependencyError(f"--decompiler-python {explicit}: cannot import flatline there; "
                                         + INSTALL_HINT)
        return explicit
    if in_process():
        return None
    for python in candidate_pythons():
        if _imports_flatline(python):
            return python
    raise MissingDependencyError(INSTALL_HINT)


def open_decompiler(source: EngineSource) -> DecompilerEngine:
    """The decompiler engine over the native engine's facts for ``source`` (registered in ``engine``)."""
    from ...errors import UsageError
    from ..native import open_native
    from .engine import DecompilerEngine

    if not source.binary:
        raise UsageError("--engine ghidra-decompiler needs a BINARY")
    options = source.options or {}
    python = find_python(str(options["decompiler_python"]) if options.get("decompiler_python") else None)
    return DecompilerEngine(open_native(source), python)
