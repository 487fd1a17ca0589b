"""A DLL with a chained-unwind fragment, assembled and linked at test time (no committed fixture has one)."""

from __future__ import annotations

import os
import subprocess

from conftest import require_tools

CHAINED = """.intel_syntax noprefix
.text
.globl f
f:
  push rbx
  sub rsp, 0x20
  test ecx, ecx
  jne cold
  add rsp, 0x20
  pop rbx
  ret
f_end:
.globl g
g:
  xor eax, eax
  ret
  int3
cold:
  call g
  add rsp, 0x20
  pop rbx
  ret
cold_end:
.section .xdata,"dr"
  .p2align 2
uw_f:
  .byte 1, 5, 2, 0
  .byte 5, 0x32, 1, 0x30
uw_cold:
  .byte 0x21, 0, 0, 0
  .rva f
  .rva f_end
  .rva uw_f
.section .pdata,"dr"
  .rva f
  .rva f_end
  .rva uw_f
  .rva cold
  .rva cold_end
  .rva uw_cold
"""


def build_chained(tmp: str) -> str:
    """A DLL whose ``f`` has a cold fragment (``cold``) with UNW_FLAG_CHAININFO unwind data naming ``f``.

    Compilers emit this for code moved out of line; .pdata and .xdata are written by hand so the layout
    (f, then g, then the fragment) is exactly this one.
    """
    require_tools("llvm-mc", "lld-link")
    source, obj, dll = (os.path.join(tmp, n) for n in ("c.s", "c.obj", "chained.dll"))
    with open(source, "w", encoding="utf-8") as handle:
        handle.write(CHAINED)
    subprocess.run(["llvm-mc", "-triple=x86_64-pc-windows-msvc", "-filetype=obj", source, "-o", obj],
                   check=True, capture_output=True)
    subprocess.run(["lld-link", "/dll", "/noentry", "/nodefaultlib", "/export:f", "/export:g", "/machine:x64",
                    f"/out:{dll}", obj], check=True, capture_output=True)
    return dll
