"""Command line: ``api-to-etw COMMAND ...``.

Each subcommand is one module of this package with ``register(subparsers)``, which adds its parser and
sets ``run`` to the function that carries it out; ``main`` parses, sets up logging and turns every
expected failure into one line on stderr and a named exit code (``api_to_etw.errors``).
"""

from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, Optional

from .. import __version__
from ..collector import end_without_freeing
from ..errors import ApiToEtwError, ExitCode, OutputError
from .common import PROG, setup_logging

#: The subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("analyze", "tracelogging", "manifest", "report", "diff", "symbols", "fetch_binary", "parity", "scan", "query",
            "history")


def _terminal_columns() -> int:
    """The width ``shutil.get_terminal_size`` gives argparse's help (which keeps two columns of it free):
    ``$COLUMNS``, else the terminal's, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, sized as argparse sizes it, without its import of shutil (with bz2 and lzma
    behind it, 2.3 ms): ``add_argument`` makes a formatter to check each option's metavar, so every run
    paid that import for a help text it never prints."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: Optional[int] = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, _terminal_columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    """The parser of the command line and of each command (``add_subparsers`` makes its own kind)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def _print_message(self, message: str, file: Any = None) -> None:
        """argparse drops a failed write (``--help > /dev/full`` printed nothing and exited 0). Its stdout text is
        written as every command's stdout is (``write_output``: full or closed is the output error, exit 11; a
        reader gone ends quietly, as in :func:`main`); its stderr text stays dropped where it cannot be written."""
        if not message:
            return
        if file is not None and file is sys.stdout:
            from ..render.tables import write_output

            try:
                write_output(message, "-")
            except BrokenPipeError:
                pass
            return
        try:
            (file or sys.stderr).write(message)
        except (AttributeError, OSError, ValueError):
            pass


def build_parser(only: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of every command, or of the one module ``only`` names (what one run needs: building all
    eleven costs about 12 ms and their imports, a few percent of a small binary's whole analysis)."""
    parser = _Parser(
        prog=PROG,
        description="Map Windows APIs and syscalls to the ETW events they can emit, from the binary and its PDB.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _asked_command(argv: Sequence[str]) -> Optional[str]:
    """The command module the arguments name first (``fetch-binary`` -> ``fetch_binary``), if any: with
    options before it, an unknown name or none, every command's parser is built (usage and --help)."""
    if not argv or argv[0].startswith("-"):
        return None
    name = argv[0].replace("-", "_")
    return name if name in COMMANDS and argv[0] == name.replace("_", "-") else None


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (``timeout``, ``kill``) unwinds like Ctrl-C, so temporary files are removed on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Optional[Sequence[str]] = None, *, parser: Optional[argparse.ArgumentParser] = None) -> int:
    """Run one command; ``parser`` (from :func:`build_parser`) may be reused by callers that run many
    commands in one process (the fuzz targets), since building it costs more than most small inputs."""
    if parser is None:
        parser = build_parser(_asked_command(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help/--version exit 0
        return int(exc.code or 0)
    except OutputError as exc:  # --help or --version into a full stdout
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    if not args.command:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    setup_logging(args.quiet, args.verbose)
    try:
        with _terminate_as_interrupt():
            return int(args.run(args))
    except ApiToEtwError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return int(ExitCode.OK)
    except MemoryError:
        print(f"{PROG}: error: out of memory", file=sys.stderr)
        return int(ExitCode.ERROR)
    except Exception as exc:  # a bug: one line, the traceback only when asked for
        if args.verbose >= 2:
            raise
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc} (run with -vv for the traceback)",
              file=sys.stderr)
        return int(ExitCode.ERROR)


def entry() -> NoReturn:
    """The console entry point (``api-to-etw``, ``python -m api_to_etw``): :func:`main`, then the end of the
    process without the interpreter's teardown.

    Freeing every object and module one by one at exit cost 0.08 s of CPU after a small DLL's analysis (a
    fifth of the run) and 0.12 s after the 1x scale kernel's; the operating system reclaims the memory at
    once. What an exit must still do is done in the interpreter's order: running the atexit handlers
    (logging's flush, multiprocessing's finalizers, a JVM's shutdown) and flushing stdout and stderr. With a
    thread other than the main one still alive the normal exit runs instead (it joins non-daemon threads).
    Callers that run :func:`main` in their own process (tests, fuzz targets) keep the normal behaviour.

    ``analyze`` runs with the cyclic garbage collector off from the start: the pipeline and the renderer
    already pause it around their bulk work (``collector.py``), so what it still did was 80 young-generation
    passes during the imports (25 ms of a small DLL's run) and, when the analysis's pause ended, one pass
    over every object the analysis had made (0.12 s after the 1x scale kernel's), freeing nothing: the
    process ends right after. A ``scan`` coordinator or other long-lived commands keep it. For the same
    reason ``analyze`` leaves its analysis's working state, its rows, facts and engine to the process's end
    (``collector.keep_to_exit``) rather than freeing them object by object when each returns: 176 M of the
    1x scale kernel's 13,163 M instructions.
    """
    if _asked_command(sys.argv[1:]) == "analyze":
        gc.disable()
        end_without_freeing()
    code = main()
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    code = _flush_streams(code)
    os._exit(code)


def _flush_streams(code: int) -> int:
    """Flush stdout and stderr as the interpreter's exit would; a reader gone (broken pipe) is not an error,
    as in :func:`main`; any other failure to write stdout is one line and the output exit code."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        pass
    except (OSError, ValueError) as exc:
        print(f"{PROG}: error: cannot write stdout ({exc})", file=sys.stderr)
        code = int(ExitCode.OUTPUT_ERROR)
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return code


if __name__ == "__main__":  # pragma: no cover
    entry()
