"""One exception root for the whole tool, each error carrying the exit code the CLI returns.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``; nothing below the CLI
prints tracebacks for expected bad input.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Named process exit codes, stable so scripts and CI can branch on them."""

    OK = 0
    ERROR = 1
    USAGE = 2
    FILE_NOT_FOUND = 3
    NOT_A_PE = 4
    UNSUPPORTED_ARCH = 5
    CORRUPT_FILE = 6
    PDB_MISMATCH = 7
    CORRUPT_PDB = 8
    CORRUPT_METADATA = 9
    SYMBOLS_UNAVAILABLE = 10
    OUTPUT_ERROR = 11
    DIFF_FOUND = 12
    MISSING_DEPENDENCY = 13
    STORE_ERROR = 14
    INTERRUPTED = 130


class ApiToEtwError(Exception):
    """Root of every error api-to-etw raises on purpose."""

    exit_code: ExitCode = ExitCode.ERROR


class InputNotFoundError(ApiToEtwError):
    exit_code = ExitCode.FILE_NOT_FOUND


class NotAPEError(ApiToEtwError):
    exit_code = ExitCode.NOT_A_PE


class UnsupportedArchitectureError(ApiToEtwError):
    exit_code = ExitCode.UNSUPPORTED_ARCH


class CorruptFileError(ApiToEtwError):
    exit_code = ExitCode.CORRUPT_FILE


class PdbMismatchError(ApiToEtwError):
    exit_code = ExitCode.PDB_MISMATCH


class CorruptPdbError(ApiToEtwError):
    exit_code = ExitCode.CORRUPT_PDB


class CorruptMetadataError(ApiToEtwError):
    """ETW metadata (TraceLogging blob, manifest, descriptor) that cannot be decoded."""

    exit_code = ExitCode.CORRUPT_METADATA


class SymbolsUnavailableError(ApiToEtwError):
    exit_code = ExitCode.SYMBOLS_UNAVAILABLE


class OutputError(ApiToEtwError):
    exit_code = ExitCode.OUTPUT_ERROR


class MissingDependencyError(ApiToEtwError):
    exit_code = ExitCode.MISSING_DEPENDENCY


class StoreError(ApiToEtwError):
    """A corpus store that is not one, or whose schema this version cannot read or migrate."""

    exit_code = ExitCode.STORE_ERROR


class UsageError(ApiToEtwError):
    exit_code = ExitCode.USAGE
