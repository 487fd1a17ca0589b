"""The side that talks to flatline: decompile one function, translate its calls' arguments to values.

It runs in-process where flatline imports (Python >= 3.13), or as ``python3.13 -m
api_to_etw.engine.decompiler.worker`` beside an older interpreter, reading one JSON request per line on
stdin and answering one JSON line on stdout. It needs only flatline, the standard library and the
pure-Python parts of api_to_etw (model, engine.pcode, the value encoding of engine.frozen), so the
3.13 environment holds nothing but flatline.

Protocol: the first line is ``{"image": PATH, "base": VA, "writable": [[start, end], ...]}`` (the
image as the loader maps it, written by the parent); then each request ``{"function": RVA, "size": N,
"sites": [RVA, ...], "fills": {RVA: [FILL_SLOT|null, COUNT_SLOT]}}`` is answered ``{"function": RVA, "sites": {RVA: {"inputs": N, "args": [[value,
...], ...]}}, "error": null}`` with every CALL/CALLIND op at a requested site.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Optional

from ...model import CallSite, Memory, ValueSet
from ..frozen import decode_value, encode_value
from ..pcode import PcodeTranslator, fill_call_args
from .adapter import call_ops, high_function, register_name

LANGUAGE = "x86:LE:64:default"
COMPILER = "windows"
#: p-code instructions the decompiler may process per function before it gives up on it.
MAX_INSTRUCTIONS = 200_000


class MappedImage(Memory):
    """The mapped image by RVA, with the writable ranges the parent reported."""

    def __init__(self, data: bytes, image_base: int, writable: list[tuple[int, int]]):
        self.data = data
        self.image_base = image_base
        self.writable = writable

    def read(self, rva: int, size: int) -> bytes:
        if rva < 0 or size <= 0:
            return b""
        return self.data[rva : rva + size]

    def is_writable(self, rva: int) -> bool:
        return any(start <= rva < end for start, end in self.writable) or not 0 <= rva < len(self.data)


class FunctionDecompiler:
    """One flatline session over one image."""

    def __init__(self, image: MappedImage):
        import flatline

        self._flatline = flatline
        self.image = image
        self.session = flatline.DecompilerSession()
        self.translator = PcodeTranslator(image.image_base, len(image.data), image, register_name)

    def arguments(self, function: int, size: int, sites: list[int],
                  fills: Optional[dict[int, tuple[Optional[int], int]]] = None
                  ) -> dict[int, tuple[int, tuple[ValueSet, ...]]]:
        """(inputs of the CALL op, argument value sets) for each requested site that has a CALL op; ``fills``
        names the memset-like calls among them (call RVA -> argument slots of the fill byte and the count)."""
        fl = self._flatline
        base = self.image.image_base
        request = fl.DecompileRequest(
            memory_image=self.image.data, base_address=base, function_address=base + function,
            language_id=LANGUAGE, compiler_spec=COMPILER, function_size_hint=max(size, 1), enriched=True,
            analysis_budget=fl.AnalysisBudget(max_instructions=MAX_INSTRUCTIONS))
        result = self.session.decompile_function(request)
        if result.error is not None or result.enriched is None or result.enriched.pcode is None:
            message = getattr(result.error, "message", None) or "no p-code"
            raise RuntimeError(str(message).splitlines()[0][:200])
        high = high_function(result.enriched.pcode)
        wanted = {rva: CallSite(function, rva, -1) for rva in sites}
        fill_call_args(high, wanted, self.translator, lambda address: int(address.getOffset()) - base, fills)
        inputs = {op.seq.target.offset - base: op.getNumInputs() - 1 for op in call_ops(high)}
        return {rva: (inputs.get(rva, 0), site.args) for rva, site in wanted.items() if site.args is not None}

    def close(self) -> None:
        self.session.close()


def encode_answer(function: int, found: dict[int, tuple[int, tuple[ValueSet, ...]]],
                  error: Optional[str] = None) -> dict[str, Any]:
    return {"function": function, "error": error,
            "sites": {str(rva): {"inputs": n, "args": [[encode_value(v) for v in sorted(vs, key=repr)] for vs in args]}
                      for rva, (n, args) in found.items()}}


def decode_answer(answer: dict[str, Any]) -> dict[int, tuple[int, tuple[ValueSet, ...]]]:
    out = {}
    for rva, body in answer.get("sites", {}).items():
        args = tuple(frozenset(decode_value(v) for v in slot) for slot in body["args"])
        out[int(rva)] = (int(body["inputs"]), args)
    return out


def main() -> int:
    """The worker loop: one JSON request per stdin line, one JSON answer per stdout line."""
    setup = json.loads(sys.stdin.readline())
    with open(setup["image"], "rb") as handle:
        data = handle.read()
    image = MappedImage(data, int(setup["base"]), [(int(a), int(b)) for a, b in setup["writable"]])
    try:
        decompiler = FunctionDecompiler(image)
    except Exception as exc:  # flatline missing or broken: one answer line saying why, then stop
        print(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        function = int(request["function"])
        try:
            fills = {int(rva): (None if fill is None else int(fill), int(count))
                     for rva, (fill, count) in request.get("fills", {}).items()}
            found = decompiler.arguments(function, int(request["size"]), [int(s) for s in request["sites"]], fills)
            answer = encode_answer(function, found)
        except Exception as exc:  # one function failing never stops the worker
            answer = encode_answer(function, {}, f"{type(exc).__name__}: {exc}")
        print(json.dumps(answer), flush=True)
    decompiler.close()
    return 0


if __name__ == "__main__":  # pragma: no cover - run by the engine as a subprocess
    sys.exit(main())
