""".ci/install-tools on a machine of our kind where plain ``apt-get update`` fails (issue 13).

The script runs against a fake ``apt-get`` on a PATH holding nothing else of the system's: the fake
fails ``update`` the way apt does when its sandbox user cannot run gpgv (exit 100) unless
``-o APT::Sandbox::User=root`` is given, and "installs" a package by creating its commands.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from conftest import REPO

SCRIPT = os.path.join(REPO, ".ci", "install-tools")

FAKE_APT = r"""#!/bin/sh
echo "$*" >> "$LOG"
case " $* " in
  *" update "*)
    case " $* " in *"APT::Sandbox::User=root"*) exit 0 ;; esac
    echo "E: gpgv, gpgv2 or gpgv1 required for verification, but neither seems installed" >&2
    exit 100 ;;
esac
for package in "$@"; do
  case "$package" in
    -*|install|APT::*) continue ;;
    "$BROKEN") echo "E: Unable to locate package $package" >&2; exit 100 ;;
    "$HOLLOW") continue ;;
  esac
  for command in $(grep "^$package " "$PROVIDES" | cut -d' ' -f2-); do
    printf '#!/bin/sh\n' > "$BIN/$command" && chmod +x "$BIN/$command"
  done
done
"""

PROVIDES = {"clang": "clang", "lld": "lld-link", "llvm": "llvm-objdump llvm-pdbutil llvm-readobj llvm-dlltool llvm-rc",
            "gcab": "gcab", "msitools": "msiextract", "openssl": "openssl", "chromium": "chromium",
            "chromium-driver": "chromedriver", "graphviz": "dot"}


def run_install(tmp_path, broken: str = "", hollow: str = ""):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sort", "grep", "cut", "chmod", "cat"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    (bin_dir / "apt-get").write_text(FAKE_APT)
    (bin_dir / "apt-get").chmod(0o755)
    (tmp_path / "provides").write_text("".join(f"{k} {v}\n" for k, v in PROVIDES.items()))
    env = {"PATH": str(bin_dir), "LOG": str(tmp_path / "apt.log"), "BIN": str(bin_dir),
           "PROVIDES": str(tmp_path / "provides"), "BROKEN": broken, "HOLLOW": hollow}
    proc = subprocess.run([shutil.which("bash"), SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    calls = (tmp_path / "apt.log").read_text().splitlines() if (tmp_path / "apt.log").exists() else []
    return proc, calls, bin_dir


@pytest.mark.skipif(shutil.which("bash") is None, reason="the CI scripts are bash")
def test_update_is_retried_with_the_sandbox_user_root(tmp_path):
    proc, calls, bin_dir = run_install(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert calls[0] == "update -qq"
    assert calls[1] == "-o APT::Sandbox::User=root update -qq"
    assert calls[2].startswith("-o APT::Sandbox::User=root install -y -qq --no-install-recommends ")
    assert sorted(calls[2].split()[6:]) == sorted(PROVIDES)
    assert all((bin_dir / c).exists() for cs in PROVIDES.values() for c in cs.split())
    assert "retrying with APT::Sandbox::User=root" in proc.stdout


@pytest.mark.parametrize("broken,hollow", [("gcab", ""), ("", "msitools")])
def test_a_failed_install_fails_loudly(tmp_path, broken, hollow):
    proc, _calls, _bin = run_install(tmp_path, broken=broken, hollow=hollow)
    assert proc.returncode != 0
    if hollow:
        assert "msiextract (Debian package msitools) is still missing" in proc.stderr
