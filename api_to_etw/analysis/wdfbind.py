"""What tells a WDF driver apart, asked of every binary: the import a KMDF driver binds through and the export
every UMDF 2 driver has.

The framework's own knowledge (:mod:`.wdf`: its methods, their callback structures, the function tables) is
imported only for a binary that has one of these: its tables and their classes were about 2 ms of every
analysis's start-up, and most binaries of a corpus are no WDF driver.
"""

from __future__ import annotations

#: The WDFLDR.SYS import every KMDF driver calls from its FxDriverEntry stub.
BIND_API = "WdfVersionBind"
#: The export of every UMDF 2 driver (the stub's entry point the driver host calls).
UMDF_ENTRY = "FxDriverEntryUm"

__all__ = ["BIND_API", "UMDF_ENTRY"]
