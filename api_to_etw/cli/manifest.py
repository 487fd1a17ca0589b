"""``api-to-etw manifest BINARY``: the instrumentation manifest embedded in a binary's resources."""

from __future__ import annotations

import argparse
import logging
import os
import time
from typing import TYPE_CHECKING

from ..errors import CorruptFileError, ExitCode, InputNotFoundError, UnsupportedArchitectureError
from .common import add_binary_command, output_format, summary

if TYPE_CHECKING:  # pragma: no cover
    from ..etw.embedded import EmbeddedManifest
    from ..etw.manifest import ManifestIndex

log = logging.getLogger("api_to_etw")
FORMATS = ("xml", "tsv", "csv")


def register(sub: argparse._SubParsersAction) -> None:
    add_binary_command(
        sub, "manifest", help="print the ETW manifest compiled into a binary (WEVT_TEMPLATE + message table)",
        description="Decode the WEVT_TEMPLATE resource and RT_MESSAGETABLE strings of a PE file (any machine, "
                    "resource-only DLLs too) and print them as an instrumentation manifest (XML, usable with "
                    "--manifests and Windows' tools) or one line per event (TSV). Every event the resource "
                    "defines is listed, whether the code references it or not.",
        binary_help="PE file: exe, dll, sys, or a resource-only DLL", formats=FORMATS, default_format="xml", run=run)


def open_manifest(path: str) -> EmbeddedManifest:
    """The embedded manifest of a PE file; images PEImage refuses (other machines, no code) are mapped
    by pefile, since resources do not depend on the code."""
    from ..binary.pe import load_pe
    from ..binary.resources import MappedFile, image_resources
    from ..errors import NotAPEError
    from ..etw.embedded import read_embedded
    from ..model import Memory

    memory: Memory
    try:
        image = load_pe(path)
        memory, headers = image, image.data[:4096]
    except (UnsupportedArchitectureError, CorruptFileError):
        from ..inputs import read_regular

        data = read_regular(path, kind="binary")  # the same checks (regular file, size limit) as load_pe
        try:
            memory, headers = MappedFile(data), data[:4096]
        except Exception as exc:  # pefile's errors on a file load_pe already half-accepted
            raise NotAPEError(f"{os.path.basename(path)}: not a valid PE file ({exc})") from None
    tree = image_resources(memory, headers)
    manifest = read_embedded(memory, tree.entries, os.path.basename(path))
    manifest.warnings[:0] = tree.warnings
    return manifest


def _is_pe(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(2) == b"MZ"
    except OSError:
        return False


def load_manifests(paths: list[str]) -> ManifestIndex:
    """``--manifests``: XML/TSV files and folders, and PE files (a provider's resource DLL) whose embedded
    manifest is read like an XML one; corrupt embedded manifests are an error naming the file (exit 9)."""
    from ..errors import CorruptMetadataError
    from ..etw.embedded import to_xml
    from ..etw.manifest import ManifestIndex

    index = ManifestIndex()
    binaries = [p for p in paths if os.path.isfile(p) and _is_pe(p)]
    for path in binaries:
        manifest = open_manifest(path)
        if manifest.warnings:
            raise CorruptMetadataError(f"{path}: corrupt embedded manifest ({manifest.warnings[0]})")
        if not manifest.providers:
            raise CorruptMetadataError(f"{path}: no WEVT_TEMPLATE manifest in the resources")
        index.load_xml(to_xml(manifest, os.path.basename(path)).encode("utf-8"), f"{path}:WEVT_TEMPLATE")
    others = [p for p in paths if p not in binaries]
    if others:
        index.load(others)
    return index


def run(args: argparse.Namespace) -> int:
    from ..etw.embedded import TSV_COLUMNS, to_index, to_xml, tsv_rows
    from ..render.tables import render_table, write_output

    started = time.perf_counter()
    if not os.path.exists(args.binary):
        raise InputNotFoundError(f"{args.binary}: no such file")
    fmt = output_format(args.format, args.output, {"xml": "xml", "man": "xml", "tsv": "tsv", "csv": "csv"}, "xml")
    name = os.path.basename(args.binary)
    manifest = open_manifest(args.binary)
    for warning in manifest.warnings:
        log.warning("%s: %s", name, warning)
    if not manifest.providers:
        log.warning("%s: no WEVT_TEMPLATE manifest in the resources", name)
    if fmt == "xml":
        text = to_xml(manifest, name) if manifest.providers else ""
    else:
        text = render_table(tsv_rows(to_index(manifest, name)), TSV_COLUMNS, fmt)
    write_output(text, args.output)
    languages = ", ".join(str(lang) for lang in manifest.languages()) or "none"
    where = "stdout" if args.output == "-" else args.output
    summary(args, f"{len(manifest.providers)} providers, {manifest.events} events, message tables in languages "
                  f"{languages} -> {where} in {time.perf_counter() - started:.1f}s")
    return ExitCode.CORRUPT_METADATA if manifest.warnings else ExitCode.OK
