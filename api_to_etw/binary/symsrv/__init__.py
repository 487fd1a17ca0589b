"""Symbol stores and servers: find the PDB matching a binary, or a binary by its index.

One module per job: :mod:`.path` parses the symbol path, :mod:`.keys` builds names and index keys
from untrusted input, :mod:`.safety` keeps every path inside its store or cache, :mod:`.compressed`
expands ``.pd_`` files, :mod:`.http` is the bounded HTTP client, :mod:`.store` searches one symbol
path for one file, :mod:`.limits` holds the bounds, and :mod:`.locate` is the API used by the commands.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .compressed import expand_compressed
    from .http import USER_AGENT
    from .keys import (
        binary_key,
        binary_keys,
        compressed_name,
        display_url,
        parse_hex,
        pdb_key,
        pdb_keys,
        safe_file_name,
        safe_pdb_name,
    )
    from .limits import DEFAULT_MAX_BYTES, DEFAULT_RETRIES, DEFAULT_TIMEOUT, ProgressCallback
    from .locate import LocateResult, fetch_binary, locate_pdb, pdb_candidates, pe_index, require_pdb
    from .path import (
        FOLDER,
        HTTP,
        STORE,
        SymbolPathElement,
        default_cache_dir,
        is_foreign_path,
        parse_symbol_path,
        resolve_symbol_path,
    )

#: Name -> the module that defines it. Imported on first use (PEP 562): an ``analyze`` run with its PDB
#: beside the binary needs the locator but neither the HTTP client nor the CAB/ZIP expansion.
_WHERE = {
    "expand_compressed": "compressed", "USER_AGENT": "http",
    **dict.fromkeys(("binary_key", "binary_keys", "compressed_name", "display_url", "parse_hex", "pdb_key", "pdb_keys",
                     "safe_file_name", "safe_pdb_name"), "keys"),
    **dict.fromkeys(("DEFAULT_MAX_BYTES", "DEFAULT_RETRIES", "DEFAULT_TIMEOUT", "ProgressCallback"), "limits"),
    **dict.fromkeys(("LocateResult", "fetch_binary", "locate_pdb", "pdb_candidates", "pe_index", "require_pdb"),
                    "locate"),
    **dict.fromkeys(("FOLDER", "HTTP", "STORE", "SymbolPathElement", "default_cache_dir", "is_foreign_path",
                     "parse_symbol_path", "resolve_symbol_path"), "path"),
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_MAX_BYTES", "DEFAULT_RETRIES", "DEFAULT_TIMEOUT", "FOLDER", "HTTP", "STORE", "USER_AGENT",
    "LocateResult", "ProgressCallback", "SymbolPathElement", "binary_key", "binary_keys", "compressed_name",
    "default_cache_dir", "display_url", "expand_compressed", "fetch_binary", "is_foreign_path", "locate_pdb",
    "parse_hex", "parse_symbol_path", "pdb_candidates", "pdb_key", "pdb_keys", "pe_index", "require_pdb",
    "resolve_symbol_path", "safe_file_name", "safe_pdb_name",
]
