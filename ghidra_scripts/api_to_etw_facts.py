# Save api-to-etw facts for the current program, and optionally the ETW table (TSV).
# @author api-to-etw
# @category Analysis.ETW
# @menupath Tools.api-to-etw.Save facts and ETW table
# @runtime PyGhidra
"""Run from Ghidra's Script Manager (PyGhidra) on an analysed x64 PE (e.g. ntoskrnl.exe with its PDB).

It uses the same code as ``api-to-etw analyze --engine ghidra`` (``api_to_etw.engine.ghidra``) on the
program open in this Ghidra, so nothing is imported or analysed again:

1. asks where to save the facts file (JSON, replayable with ``api-to-etw analyze --facts FILE``);
2. asks whether to run the analysis here:
   * yes -- asks for --max-depth, runs it, writes ``<facts name>.tsv`` beside the facts file; the
     facts then hold the arguments that analysis asked for (replay with the same or a smaller depth);
   * no -- resolves the arguments of every call site and saves every data block, so the facts replay
     at any depth outside Ghidra.

api-to-etw must be importable by PyGhidra's Python: install it there (``pip install <api-to-etw
checkout>`` with that interpreter), or keep this script in the ``ghidra_scripts`` folder of a checkout
(the checkout is then put on ``sys.path``). See docs/ghidra.md.
"""

import os
import sys


class ScriptError(Exception):
    """A problem reported as one line in Ghidra's console."""


def _script(name):
    """A GhidraScript global (currentProgram, askFile, ...): PyGhidra puts them in this module's globals."""
    value = globals().get(name)
    if value is None:
        raise ScriptError(f"run this script from Ghidra's Script Manager (PyGhidra): {name} is not defined")
    return value


def _import_api_to_etw():
    try:
        import api_to_etw  # noqa: F401
    except ImportError:
        source = _script("getSourceFile")()
        root = os.path.dirname(os.path.dirname(str(source.getAbsolutePath())))
        if os.path.isdir(os.path.join(root, "api_to_etw")) and root not in sys.path:
            sys.path.insert(0, root)
        try:
            import api_to_etw  # noqa: F401
        except ImportError as exc:
            raise ScriptError(f"api-to-etw is not importable from PyGhidra's Python ({exc}): install it there, "
                              "e.g. <PyGhidra python> -m pip install <api-to-etw checkout>") from None


def main():
    _import_api_to_etw()
    from api_to_etw.engine.ghidra.engine import GhidraEngine
    from api_to_etw.engine.recorder import RecordingEngine
    from api_to_etw.errors import ApiToEtwError

    program = _script("currentProgram")
    monitor = _script("monitor")
    ask_file = _script("askFile")
    ask_yes_no = _script("askYesNo")
    ask_int = _script("askInt")
    say = globals().get("println") or print

    facts_path = str(ask_file("api-to-etw: save the facts file as", "Save").getAbsolutePath())
    if not facts_path.endswith(".json"):
        facts_path += ".facts.json"
    run_analysis = ask_yes_no("api-to-etw", "Run the analysis here and write the ETW table (TSV) too?\n\n"
                                            "No: resolve every call site instead (slower, replayable at any depth).")
    engine = RecordingEngine(GhidraEngine.for_program(program))
    try:
        monitor.setMessage("api-to-etw: reading functions, calls and symbols")
        facts = engine.load()
        if run_analysis:
            try:
                from api_to_etw.analysis.pipeline import AnalysisOptions, analyze
                from api_to_etw.render.tables import render, write_output
            except ImportError as exc:
                raise ScriptError(f"the analysis needs api-to-etw's dependencies in PyGhidra's Python ({exc})") \
                    from None
            depth = int(ask_int("api-to-etw", "Longest call path to report (--max-depth, default 5)"))

            def progress(phase, done, total):
                monitor.setMessage(f"api-to-etw: {phase}")
                if monitor.isCancelled():
                    raise KeyboardInterrupt

            result = analyze(engine, AnalysisOptions(max_depth=max(1, depth)), progress)
            stem = facts_path[: -len(".facts.json")] if facts_path.endswith(".facts.json") else facts_path[:-5]
            table = stem + ".tsv"
            write_output(render(result.rows, "tsv"), table)
            say(f"api-to-etw: {len(result.rows)} rows ({result.stats.write_sites} write sites, "
                f"{result.stats.unresolved_rows} unresolved) -> {table}")
        else:
            def step(phase, done, total):
                monitor.setMaximum(total)
                monitor.setProgress(done)
                monitor.setMessage(f"api-to-etw: decompiling {done}/{total}")
                if monitor.isCancelled():
                    raise KeyboardInterrupt

            engine.complete(step)
        engine.save(facts_path)
        say(f"api-to-etw: {len(facts.functions)} functions, {len(facts.calls)} call sites -> {facts_path}")
    except KeyboardInterrupt:
        say("api-to-etw: cancelled; nothing saved")
    except (ApiToEtwError, ScriptError) as exc:
        say(f"api-to-etw: error: {exc}")
    finally:
        engine.close()


try:
    main()
except ScriptError as error:
    print(f"api-to-etw: error: {error}")
