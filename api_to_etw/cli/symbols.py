"""``api-to-etw symbols BINARY``: locate or download the matching PDB and print its path."""

from __future__ import annotations

import argparse
import logging

from ..errors import ExitCode
from .common import Progress, add_symbol_options, add_verbosity, symbol_path, transfer_limits

log = logging.getLogger("api_to_etw")


def register(sub: argparse._SubParsersAction) -> None:
    sy = sub.add_parser("symbols", help="locate or download the PDB matching a binary and print its path",
                        description="Find the PDB matching BINARY (beside it, in symbol stores, on symbol servers).")
    sy.add_argument("binary")
    sy.add_argument("--pdb", help="a PDB to check against the binary")
    add_symbol_options(sy)
    add_verbosity(sy)
    sy.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..binary.pe import load_pe
    from ..binary.symsrv import locate_pdb, require_pdb
    from ..render.tables import write_output

    image = load_pe(args.binary)
    with Progress.for_args(args) as bar:
        result = locate_pdb(image.codeview, image.path, args.pdb, symbol_path(args), offline=args.offline, limits=transfer_limits(args),
                            progress=bar.download, pe_sections=[(s.name, s.rva, s.virtual_size) for s in image.sections])
    for place in result.tried:
        log.info("tried %s", place)
    write_output(f"{require_pdb(result)}\n", "-")  # stdout full or closed: exit 11, as for tables
    return ExitCode.OK
