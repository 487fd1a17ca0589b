"""Finding Ghidra and starting it in this process through PyGhidra.

Everything that can be checked without a JVM is checked first, so a missing or unusable installation
is reported as one line (``MissingDependencyError``, exit code 13) before anything slow happens:

1. the installation directory: ``install_dir`` or the ``GHIDRA_INSTALL_DIR`` environment variable,
   which must hold ``Ghidra/application.properties`` (the file PyGhidra itself reads);
2. its version, the ``application.version`` line of that file, against ``MINIMUM_GHIDRA_VERSION``
   (and against the minimum of the installed ``pyghidra`` package, when it declares a stricter one);
3. the PyGhidra feature in the installation (``Ghidra/Features/PyGhidra/lib/PyGhidra.jar``);
4. the ``pyghidra`` Python package (``pip install 'api-to-etw[ghidra]'``).

Only then does :func:`start_ghidra` call ``pyghidra.start(install_dir=...)``, which starts the JVM
and initialises Ghidra headless; once started (``pyghidra.started()``), later calls reuse it.
Nothing here imports ``pyghidra``, ``jpype`` or ``ghidra`` at module import time.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Optional

from ...errors import MissingDependencyError

log = logging.getLogger(__name__)

#: Oldest Ghidra release supported: 11.3 is the first release that ships PyGhidra
#: (``Ghidra/Features/PyGhidra``) and the GhidraProject, decompiler and PDB APIs the engine uses.
MINIMUM_GHIDRA_VERSION = (11, 3)
ENV_VAR = "GHIDRA_INSTALL_DIR"
PROPERTIES = os.path.join("Ghidra", "application.properties")
PYGHIDRA_JAR = os.path.join("Ghidra", "Features", "PyGhidra", "lib", "PyGhidra.jar")
INSTALL_HINT = "pip install 'api-to-etw[ghidra]'"


@dataclass(frozen=True)
class GhidraInstall:
    """A checked Ghidra installation."""

    path: str
    version: str

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return parse_version(self.version)


def format_version(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def parse_version(text: str) -> tuple[int, ...]:
    """``"11.3.2"`` -> (11, 3, 2); suffixes such as ``-BETA`` or ``_DEV`` are ignored; () if unparsable."""
    match = re.match(r"\s*(\d+(?:\.\d+)*)", text or "")
    if not match:
        return ()
    return tuple(int(part) for part in match.group(1).split("."))


def read_properties(path: str) -> dict[str, str]:
    """``key=value`` lines of a Java properties file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.strip()
            if not line or line[0] in "#!" or "=" not in line:
                continue
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def find_install_dir(install_dir: Optional[str] = None) -> str:
    """The Ghidra installation to use: ``install_dir``, else ``$GHIDRA_INSTALL_DIR``; checked to hold Ghidra."""
    chosen = install_dir or os.environ.get(ENV_VAR, "")
    where = f"{ENV_VAR}={chosen}" if not install_dir else chosen
    if not chosen.strip():
        raise MissingDependencyError(
            f"{ENV_VAR} is not set: point it at a Ghidra {format_version(MINIMUM_GHIDRA_VERSION)} or later "
            "installation (the folder that holds ghidraRun)")
    if not os.path.isdir(chosen):
        raise MissingDependencyError(f"{where}: no such directory")
    if not os.path.isfile(os.path.join(chosen, PROPERTIES)):
        raise MissingDependencyError(f"{where}: not a Ghidra installation (no {PROPERTIES.replace(os.sep, '/')})")
    return os.path.abspath(chosen)


def ghidra_version(install_dir: str) -> str:
    """``application.version`` from the installation's ``Ghidra/application.properties``."""
    path = os.path.join(install_dir, PROPERTIES)
    try:
        props = read_properties(path)
    except OSError as exc:
        raise MissingDependencyError(f"{path}: cannot read ({exc.strerror})") from None
    version = props.get("application.version", "")
    if not parse_version(version):
        raise MissingDependencyError(f"{path}: no application.version, cannot tell which Ghidra this is")
    return version


def pyghidra_minimum() -> tuple[int, ...]:
    """The oldest Ghidra the installed pyghidra package accepts (its ``MINIMUM_GHIDRA_VERSION``), or ()."""
    try:
        module = importlib.import_module("pyghidra.version")
    except Exception:  # noqa: BLE001 - absent or broken: the import check reports it
        return ()
    return parse_version(str(getattr(module, "MINIMUM_GHIDRA_VERSION", "")))


def import_pyghidra() -> Any:
    """The ``pyghidra`` module, or a one-line error saying how to install it."""
    try:
        return importlib.import_module("pyghidra")
    except ImportError as exc:
        detail = "" if getattr(exc, "name", None) == "pyghidra" else f" ({exc})"
        raise MissingDependencyError(
            f"the Ghidra engine needs the pyghidra package, which is not installed{detail}: {INSTALL_HINT}"
        ) from None


def check_ghidra(install_dir: Optional[str] = None) -> GhidraInstall:
    """Every check that needs no JVM; raises ``MissingDependencyError`` (one line) on the first failure."""
    path = find_install_dir(install_dir)
    version = ghidra_version(path)
    have = parse_version(version)
    need = MINIMUM_GHIDRA_VERSION
    if have < need:
        raise MissingDependencyError(
            f"Ghidra {version} at {path} is too old: api-to-etw needs Ghidra {format_version(need)} or later")
    if os.path.isdir(os.path.join(path, "support")) and not os.path.isfile(os.path.join(path, PYGHIDRA_JAR)):
        raise MissingDependencyError(
            f"Ghidra {version} at {path} has no PyGhidra feature ({PYGHIDRA_JAR.replace(os.sep, '/')} is missing)")
    import_pyghidra()
    package_need = pyghidra_minimum()
    if package_need and have < package_need:
        raise MissingDependencyError(
            f"Ghidra {version} at {path} is too old for the installed pyghidra, which needs Ghidra "
            f"{format_version(package_need)} or later: install the pyghidra that ships with your Ghidra "
            f"(pip install {path}/Ghidra/Features/PyGhidra/pypkg/dist/pyghidra-*)")
    return GhidraInstall(path, version)


def start_ghidra(install_dir: Optional[str] = None, verbose: bool = False) -> GhidraInstall:
    """Check the installation, then start Ghidra headless in this process (once per process)."""
    install = check_ghidra(install_dir)
    pyghidra = import_pyghidra()
    if pyghidra.started():
        return install
    log.info("starting Ghidra %s from %s", install.version, install.path)
    try:
        pyghidra.start(verbose, install_dir=install.path)
    except Exception as exc:  # noqa: BLE001 - pyghidra raises ValueError, CalledProcessError, JVM errors
        raise MissingDependencyError(f"cannot start Ghidra {install.version} at {install.path}: "
                                     f"{first_line(exc)}") from None
    return install


def first_line(exc: BaseException) -> str:
    """An exception as one line (Java exceptions carry multi-line stack traces in their text)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
