"""Command line: ``api-to-etw COMMAND ...``.

Each subcommand is one module of this package with ``register(subparsers)``, which adds its parser and
sets ``run`` to the function that carries it out; ``main`` parses, sets up logging and turns every
expected failure into one line on stderr and a named exit code (``api_to_etw.errors``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Optional

from .. import __version__
from ..errors import ApiToEtwError, ExitCode
from .common import PROG, setup_logging

#: The subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("analyze", "tracelogging", "manifest", "report", "diff", "symbols", "fetch_binary", "parity", "scan", "query",
            "history")


def build_parser(only: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of every command, or of the one module ``only`` names (what one run needs: building all
    eleven costs about 12 ms and their imports, a few percent of a small binary's whole analysis)."""
    parser = argparse.ArgumentParser(
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
