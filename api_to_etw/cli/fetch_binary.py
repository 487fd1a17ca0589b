"""``api-to-etw fetch-binary NAME TIMESTAMP SIZEOFIMAGE``: a binary from a symbol server by its index."""

from __future__ import annotations

import argparse

from ..errors import ExitCode
from .common import Progress, add_symbol_options, add_verbosity, symbol_path, transfer_limits


def register(sub: argparse._SubParsersAction) -> None:
    fb = sub.add_parser("fetch-binary", help="download a binary from a symbol server by its index",
                        description="Fetch NAME indexed by its TimeDateStamp and SizeOfImage (hex), e.g. "
                                    "ntoskrnl.exe 5F8A1B2C 1047000.")
    fb.add_argument("name")
    fb.add_argument("timestamp", help="TimeDateStamp, hex")
    fb.add_argument("size_of_image", help="SizeOfImage, hex")
    add_symbol_options(fb)
    add_verbosity(fb)
    fb.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..binary.symsrv import fetch_binary, parse_hex
    from ..render.tables import write_output

    with Progress.for_args(args) as bar:
        path = fetch_binary(args.name, parse_hex(args.timestamp, "TIMESTAMP"), parse_hex(args.size_of_image, "SIZEOFIMAGE"),
                            symbol_path(args), offline=args.offline, progress=bar.download,
                            limits=transfer_limits(args))
    write_output(f"{path}\n", "-")  # stdout full or closed: exit 11, as for tables
    return ExitCode.OK
