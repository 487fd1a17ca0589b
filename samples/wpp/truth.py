"""The WPP fixture's ground truth, from the model alone."""

from __future__ import annotations

from samples.wpp.emit import tmc_strings, tmf_strings
from samples.wpp.model import (
    TRACE_LEVELS,
    TRUTH_FORMAT,
    WPP_TRACE_OPTIONS,
    Control,
    Image,
    Message,
    Unit,
    canonical,
    message_guid,
    signature,
    trace_guids_symbol,
)

# ---------------------------------------------------------------------------------------------------------------
# Ground truth.
# ---------------------------------------------------------------------------------------------------------------


TRUTH_NOTES = {
    "controls": "one per TMC annotation: control GUID, name, flag names (bit 0 first), the procedure and module "
                "holding the annotation, its exact strings",
    "messages": "one per trace statement (TMF annotation) in source order; function/module: the procedure and "
                "module holding the annotation and the trace call; name/file/line/tmf_function: as the TMF "
                "writes them (file and name are Unknown_cxx00, line null, when public); format/args: the TMF's "
                "format and (expression, type) list; level/flags: the LEVEL=/FLAGS= values (DoTraceMessage "
                "gives LEVEL=<flag>); control_guid: the TMC defining that flag",
    "call sites": "callee: what the procedure calls (call_instruction call or jmp) after the annotation, with "
                  "callee_args the 0-based argument positions of the logger, message number, message GUID "
                  "pointer (and MessageFlags = trace_options); guid_symbol: the WPP_<md5>_Traceguids array the "
                  "GUID pointer points at; wrapper: the WPP_SF_ function, null when the writer is called "
                  "directly; writer: the trace API finally called, writer_call import (call [IAT]), indirect "
                  "(call [pfnWppTraceMessage]) or direct (call rel32 to the image's own export)",
    "rows": "(exported API, message, procedure) with a shortest path over edges (the direct calls of the "
            "model's functions; WPP_SF_ wrappers and trace APIs left out); depth counts the API and the procedure",
}


def truth(images: list[Image]) -> dict:
    out: dict = {"format": TRUTH_FORMAT, "sample": "wpp", "notes": TRUTH_NOTES, "trace_options": WPP_TRACE_OPTIONS,
                 "images": []}
    for image in images:
        functions = [fn for unit in image.units for fn in unit.functions]
        exported = sorted([fn.name for fn in functions if fn.exported] + image.extra_exports)
        img: dict = {
            "name": image.name,
            "file": f"{image.name}.{image.ext}",
            "pdb": f"{image.name}.pdb",
            "kind": image.kind,
            "provider_name": image.project,
            "exports": exported,
            "controls": [
                {"guid": c.guid, "name": c.name, "flags": list(c.flags), "public": c.public,
                 "function": image.entry, "module": _module_of(image, image.entry),
                 "annotation": tmc_strings(c)}
                for c in image.controls
            ],
            "edges": sorted({(fn.name, callee) for fn in functions for callee in fn.calls}),
            "messages": [],
        }
        img["edges"] = [list(e) for e in img["edges"]]
        for unit in image.units:
            for msg in unit.messages:
                img["messages"].append(_message_truth(image, unit, msg))
        img["rows"] = _rows(image, img["messages"])
        out["images"].append(img)
    return out


def _module_of(image: Image, function: str) -> str:
    for unit in image.units:
        if any(fn.name == function for fn in unit.functions):
            return unit.file[:-2] + ".obj"
    raise KeyError(function)


def _control_of(image: Image, msg: Message) -> Control:
    flag = msg.flags or msg.level
    for control in image.controls:
        if flag in control.flags:
            return control
    raise KeyError(flag)


def _message_truth(image: Image, unit: Unit, msg: Message) -> dict:
    inline = unit.template in ("um-inline", "km-inline")
    if unit.template == "km-legacy":
        writer, writer_call = "WmiTraceMessage", "direct"
    elif unit.template.startswith("km"):
        writer, writer_call = "pfnWppTraceMessage", "indirect"
    else:
        writer, writer_call = "TraceMessage", "import"
    sig = signature(msg)
    control = _control_of(image, msg)
    level = TRACE_LEVELS.get(msg.level)
    return {
        "module": unit.file[:-2] + ".obj",
        "function": msg.function,               # the containing function (the PDB's procedure)
        "message_guid": message_guid(image, unit),
        "number": msg.number,
        "guid_symbol": trace_guids_symbol(image.name, unit.file),
        "name": "Unknown_cxx00" if msg.public else f"{canonical(unit.file)}{msg.line}",
        "file": "Unknown_cxx00" if msg.public else unit.file,
        "line": None if msg.public else msg.line,
        "tmf_function": msg.function if msg.emit_func else None,
        "provider_name": image.project,
        "control_guid": control.guid,
        "control_name": control.name,
        "macro": msg.macro,
        "level": msg.level,
        "level_value": level,
        "flags": msg.flags,
        "format": msg.text,
        "args": [["Arg" if msg.public else expr, moftype] for expr, moftype in msg.args],
        "public": msg.public,
        "annotation": tmf_strings(image, unit, msg),
        # How the trace is emitted in the machine code:
        "callee": writer if inline else f"WPP_SF_{sig}",   # what the containing function calls
        "call_instruction": "jmp" if msg.tail else "call",
        "callee_args": ({"logger": 0, "flags": 1, "guid": 2, "number": 3} if inline
                        else {"logger": 0, "number": 1, "guid": 2}),
        "writer": writer,                        # the trace API finally called
        "writer_call": writer_call,              # import (call [__imp_]), indirect (call [pfn]), direct (call rel32)
        "wrapper": None if inline else f"WPP_SF_{sig}",
    }


def _rows(image: Image, messages: list[dict]) -> list[dict]:
    """(API, message, containing function) with the shortest call path; APIs are the exports and the entry."""
    functions = {fn.name: fn for unit in image.units for fn in unit.functions}
    roots = sorted(name for name, fn in functions.items() if fn.exported)
    rows = []
    for root in roots:
        paths = {root: [root]}
        frontier = [root]
        while frontier:
            nxt = []
            for name in frontier:
                for callee in functions[name].calls if name in functions else []:
                    if callee not in paths:
                        paths[callee] = paths[name] + [callee]
                        nxt.append(callee)
            frontier = nxt
        for msg in messages:
            path = paths.get(msg["function"])
            if path is not None:
                rows.append({"api": root, "message_guid": msg["message_guid"], "number": msg["number"],
                             "function": msg["function"], "depth": len(path), "path": path})
    return rows


