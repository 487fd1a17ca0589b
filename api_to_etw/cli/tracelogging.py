"""``api-to-etw tracelogging BINARY``: every TraceLogging provider and event of the ETW0 metadata."""

from __future__ import annotations

import argparse
import logging
import os
import time

from ..errors import ExitCode
from .common import TABLE_EXTENSIONS, add_binary_command, output_format, summary

log = logging.getLogger("api_to_etw")
FORMATS = ("tsv", "csv", "jsonl")


def register(sub: argparse._SubParsersAction) -> None:
    add_binary_command(
        sub, "tracelogging", help="list the TraceLogging providers and events embedded in a binary",
        description="Decode every TraceLogging (ETW0) metadata region of an x64 PE image and list one row per "
                    "provider and per event; events carry the provider a write site ties them to. No PDB needed.",
        binary_help="x64 PE image (exe, dll, sys)", formats=FORMATS, default_format="tsv", run=run)


def run(args: argparse.Namespace) -> int:
    from ..binary.pe import load_pe
    from ..render.tables import write_output
    from ..tlgcmd import decode_image, render_listing

    fmt = output_format(args.format, args.output, TABLE_EXTENSIONS, "tsv")
    started = time.perf_counter()
    image = load_pe(args.binary)
    listing = decode_image(image)
    name = os.path.basename(args.binary)
    for warning in listing.warnings:
        log.warning("%s: %s", name, warning)
    if not listing.regions and not listing.warnings:
        log.warning("%s: no TraceLogging metadata (no ETW0 region)", name)
    write_output(render_listing(listing, fmt), args.output)
    tied = len(listing.event_provider)
    where = "stdout" if args.output == "-" else args.output
    summary(args, f"{len(listing.providers)} providers, {len(listing.events)} events ({tied} tied to a provider) "
                  f"in {len(listing.regions)} ETW0 region(s) -> {where} in {time.perf_counter() - started:.1f}s")
    log.info("%d code references to events and provider objects; %d provider objects", listing.references,
             sum(len(v) for v in listing.provider_objects.values()))
    return ExitCode.CORRUPT_METADATA if listing.corrupt else ExitCode.OK
