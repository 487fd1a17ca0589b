"""The model an mc.exe-style image is written in.

Each image is explicit: a manifest provider (GUID, events with their descriptor fields and template), and the
functions of the image, each with its C body, the model functions it calls, the events it writes and how code
outside the image reaches it (its entry kinds, which the generated code sets up: DriverEntry storing dispatch
routines into DRIVER_OBJECT.MajorFunction, callbacks handed to registration APIs, function-pointer tables in
read-only data). The emitters and the truth read nothing else.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Optional

LEVELS = ("O1", "O2", "Os")
NAMESPACE = uuid.UUID("8a3f61d2-5b0e-4c47-9e21-7d54c0b3a9e6")  # every GUID here derives from it
FUNCTION_CODES = 0x800  # the first function code a vendor may use in CTL_CODE


def ctl_code(device: int, function: int, method: int = 0, access: int = 0) -> int:
    """CTL_CODE(DeviceType, Function, Method, Access) of devioctl.h."""
    return (device << 16) | (access << 14) | (function << 2) | method


@dataclass
class Event:
    symbol: str
    id: int
    level: int
    opcode: int
    task: int
    keyword: int
    #: Template fields: "q" = UINT32 (mc's InType win:UInt32), "x" = UINT64 (win:UInt64).
    args: str = ""
    version: int = 0
    channel: int = 0x10
    #: The Level the writer patches into its by-value copy of the descriptor (None: reported as declared).
    patched_level: Optional[int] = None


@dataclass
class Func:
    name: str
    signature: str                  # "NTSTATUS {name}(PDEVICE_OBJECT DeviceObject, PIRP Irp)"
    body: list[str]
    calls: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    #: How the generated code makes the function reachable from outside (the Entry kinds).
    entries: list[str] = field(default_factory=list)
    exported: bool = False
    #: IRP_MJ_DEVICE_CONTROL routines: callee or written event -> the IOCTL codes (None: default) leading to it.
    cases: dict[str, list[Optional[int]]] = field(default_factory=dict)


@dataclass
class Image:
    name: str
    mode: str                       # "km" or "um"
    provider: str                   # manifest provider name
    symbol: str                     # the provider's C symbol (mc's symbol attribute)
    events: list[Event]
    functions: list[Func]
    globals_: list[str]             # C declarations after the header (tables, pointers)
    imports: dict[str, list[str]]   # dll -> imported names
    entry: str
    #: "kmdf": a KMDF driver (wdflite.h beside wdmlite.h: the WDF function table and its structures); "umdf": a
    #: UMDF 2 driver DLL (umdflite.h beside winlite.h: UMDF's own table).
    framework: str = ""

    @property
    def guid(self) -> str:
        return str(uuid.uuid5(NAMESPACE, self.provider))

    @property
    def file(self) -> str:
        return f"{self.name}.{'sys' if self.mode == 'km' else 'dll'}"
