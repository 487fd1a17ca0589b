"""What every subcommand shares: verbosity, logging, progress on stderr, output formats, symbol options.

Results go to a file or stdout; progress, warnings and summaries go to stderr, so stdout stays clean
for pipes. Each subcommand module calls these instead of declaring its own copies.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:  # pragma: no cover
    from ..binary.symsrv.limits import TransferLimits

PROG = "api-to-etw"
log = logging.getLogger("api_to_etw")


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="only errors on stderr")
    group.add_argument("-v", "--verbose", action="count", default=0, help="more detail on stderr (-vv: debug)")


def add_output_options(parser: argparse.ArgumentParser, formats: Sequence[str], default_format: str,
                       what: str = "output file") -> None:
    """``-o FILE`` (default stdout) and ``--format`` chosen from ``formats``, else from -o's extension."""
    parser.add_argument("-o", "--output", default="-", help=f"{what}, '-' for stdout (default)")
    parser.add_argument("--format", choices=formats,
                        help=f"{what.split()[0]} format (default: from -o's extension, else {default_format})")


def add_binary_command(sub: argparse._SubParsersAction, name: str, *, help: str, description: str,
                       binary_help: str, formats: Sequence[str], default_format: str,
                       run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """A subcommand that reads one BINARY and writes one output (``manifest``, ``tracelogging``).

    Declared once so those commands take the same positional, output and verbosity options in the same order.
    """
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help, description=description)
    parser.add_argument("binary", metavar="BINARY", help=binary_help)
    add_output_options(parser, formats, default_format)
    add_verbosity(parser)
    parser.set_defaults(run=run)
    return parser


def add_symbol_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symbol-path", metavar="PATH",
                        help="';'-separated symbol path, e.g. 'srv*~/.cache/sym*https://msdl.microsoft.com/download/symbols'"
                             " (default: _NT_SYMBOL_PATH)")
    parser.add_argument("--offline", action="store_true", help="never download symbols or binaries")
    parser.add_argument("--download-deadline", type=float, metavar="SECONDS",
                        help="longest time one download may take, retries included "
                             "(default: $API_TO_ETW_DOWNLOAD_DEADLINE, else 600)")
    parser.add_argument("--lookup-deadline", type=float, metavar="SECONDS",
                        help="longest time one symbol or binary lookup may take along the whole symbol path "
                             "(default: $API_TO_ETW_LOOKUP_DEADLINE, else 1800)")


def transfer_limits(args: argparse.Namespace) -> TransferLimits:
    """The symbol-server bounds from the options and the environment."""
    from ..binary.symsrv.limits import TransferLimits

    return TransferLimits.from_options(getattr(args, "download_deadline", None), getattr(args, "lookup_deadline", None))


def symbol_path(args: argparse.Namespace) -> str:
    from ..binary.symsrv.path import resolve_symbol_path

    return resolve_symbol_path(args.symbol_path)


def output_format(fmt: Optional[str], output: Optional[str], by_extension: dict[str, str], default: str) -> str:
    """``--format`` if given, else the one the ``-o`` file's extension names, else ``default``."""
    if fmt is not None:
        return fmt
    ext = os.path.splitext(output or "")[1].lower().lstrip(".")
    return by_extension.get(ext, default)


#: The table formats, by the file extensions that select them.
TABLE_EXTENSIONS = {"tsv": "tsv", "csv": "csv", "jsonl": "jsonl", "json": "jsonl"}


def names_file(path: str) -> set[str]:
    """Function names, one per line; blank lines and ``#`` comments are skipped."""
    from ..inputs import read_text_regular

    text = read_text_regular(path, kind="names", encoding="utf-8-sig")
    return {line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()}


def setup_logging(quiet: bool, verbose: int) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    root = logging.getLogger("api_to_etw")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def summary(args: argparse.Namespace, text: str) -> None:
    """The one-line summary on stderr, unless ``-q``."""
    if not getattr(args, "quiet", False):
        print(f"{PROG}: {text}", file=sys.stderr)


class Progress:
    """A rich progress bar on stderr, only when stderr is a terminal and not quiet."""

    def __init__(self, enabled: bool):
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(TextColumn("{task.description:<8}"), BarColumn(),
                                     TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                                     console=Console(stderr=True), transient=True)
            self._bar.start()

    @classmethod
    def for_args(cls, args: argparse.Namespace) -> Progress:
        return cls(enabled=not getattr(args, "quiet", False) and sys.stderr.isatty())

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self._bar is None:
            return
        task = self._tasks.get(phase)
        if task is None:
            task = self._tasks[phase] = self._bar.add_task(phase, total=total)
        self._bar.update(task, completed=done, total=total)

    def download(self, done: int, total: Optional[int]) -> None:
        self("download", done, total or 0)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__: Sequence[str] = ["PROG", "Progress", "add_output_options", "add_symbol_options", "add_verbosity", "names_file", "output_format",
                          "setup_logging", "summary", "symbol_path", "transfer_limits"]
