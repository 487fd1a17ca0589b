"""User-mode entry points of real binaries nobody here wrote, against truth independent of the analyzer.

_etwtrace.cp311-win_amd64.pyd (etwtrace 0.1b8): a CPython extension. Python enters it through the
PyMethodDef array and the PyModuleDef its export PyInit__etwtrace hands out; C declares both without
``const``, so they sit in writable .data. The public source (microsoft/python-etwtrace,
src/etwtrace/_etwtrace.c, _etwcommon.c, _trace.cpp) says which method writes which event:
``enable`` -> WriteBeginThread (PythonThread, opcode START), ``disable`` -> WriteEndThread (PythonThread,
STOP), ``write_mark`` (ETWCOMMON_write_mark) -> WriteCustomEvent (PythonMark with opcodes 0/START/STOP,
PythonStackSample). WriteEvalFunctionEvent, WriteFunctionPush and WriteFunctionPop are called by nothing
in this module (the source has no call of them outside _etwinstrument.c, another module): they stay
``unreached``. The method table is read here from the binary's bytes (PyMethodDef: ml_name, ml_meth,
ml_flags, ml_doc; 32 bytes), not from the analyzer.
"""

from __future__ import annotations

import csv
import io

import pefile
from conftest import run_cli

#: WINEVENT_OPCODE_START / _STOP (winmeta.h).
START, STOP = 1, 2


def _rows(path, *extra: str) -> list[dict[str, str]]:
    result = run_cli("analyze", path, "-o", "-", *extra)
    assert result.code == 0, result.stderr
    return list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"))


def _method_table(path) -> dict[str, int]:
    """ml_name -> ml_meth RVA of every PyMethodDef whose name is a string of the image: the array the
    source's ``etwtrace_methods`` declares, found as (pointer to a C string, pointer into .text) pairs."""
    pe = pefile.PE(str(path), fast_load=True)
    base = pe.OPTIONAL_HEADER.ImageBase
    text = next(s for s in pe.sections if s.Name.rstrip(b"\0") == b".text")
    data = next(s for s in pe.sections if s.Name.rstrip(b"\0") == b".data")
    raw = data.get_data()
    methods = {}
    for pos in range(0, len(raw) - 32, 8):
        name_va, meth_va = int.from_bytes(raw[pos:pos + 8], "little"), int.from_bytes(raw[pos + 8:pos + 16], "little")
        meth = meth_va - base
        if not text.VirtualAddress <= meth < text.VirtualAddress + text.Misc_VirtualSize:
            continue
        try:
            name = pe.get_string_at_rva(name_va - base, 64)
        except Exception:  # not a pointer into the image
            continue
        if name and name.isascii() and name.replace(b"_", b"").isalnum():
            methods[name.decode()] = meth
    return methods


def test_etwtrace_events_under_the_python_methods_that_write_them(real_binary):
    path = real_binary("_etwtrace.cp311-win_amd64.pyd")
    methods = _method_table(path)
    assert {"enable", "disable", "write_mark", "get_ignored_files"} <= set(methods)
    rows = _rows(path)
    by_event: dict[tuple[str, int], set[tuple[str, str]]] = {}
    for r in rows:
        by_event.setdefault((r["EventName"], int(r["Opcode"])), set()).add((r["Function"], r["Entry"]))

    for (name, opcode), method in {("PythonThread", START): "enable", ("PythonThread", STOP): "disable",
                                   ("PythonMark", 0): "write_mark", ("PythonMark", START): "write_mark",
                                   ("PythonMark", STOP): "write_mark", ("PythonStackSample", 0): "write_mark"}.items():
        found = by_event.get((name, opcode), set())
        assert found, (name, opcode)
        assert {f for f, _e in found} == {f"sub_{methods[method]:x}"}, (name, opcode, found)
        assert all(e.startswith("table:") for _f, e in found), found
    for name in ("PythonEvalFunction", "PythonFunctionPush", "PythonFunctionPop"):
        found = by_event.get((name, 0), set())
        assert found and all(e == "unreached" for _f, e in found), (name, found)
