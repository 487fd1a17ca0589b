"""Entry points beyond exports: how code outside the binary reaches a function.

Drivers and DLLs are mostly entered through pointers they hand out: dispatch routines stored into
DRIVER_OBJECT.MajorFunction, callbacks passed to registration APIs, function-pointer tables in read-only
data (vtables, ops tables, RPC dispatch tables), thread and thread-pool start routines. Each is found
from engine facts alone (call-site argument values, stores of image addresses, memory), so it works
without a PDB. The result labels functions with their entry kinds, the strings of the ``Entry`` column.
"""

from __future__ import annotations

import logging
import re
import struct
import sys
from array import array as qword_array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Optional

from ..model import Addr, CallSite, CaseSet, Facts, Load, Memory, Offset, Param, StackAddr, Value
from . import wdfbind
from .sites import sites_by_caller
from .values import CallValues, asked_at
from .wppsites import import_thunks

log = logging.getLogger(__name__)

#: IRP major function codes (wdm.h), by index into DRIVER_OBJECT.MajorFunction.
IRP_MJ = (
    "IRP_MJ_CREATE", "IRP_MJ_CREATE_NAMED_PIPE", "IRP_MJ_CLOSE", "IRP_MJ_READ", "IRP_MJ_WRITE",
    "IRP_MJ_QUERY_INFORMATION", "IRP_MJ_SET_INFORMATION", "IRP_MJ_QUERY_EA", "IRP_MJ_SET_EA",
    "IRP_MJ_FLUSH_BUFFERS", "IRP_MJ_QUERY_VOLUME_INFORMATION", "IRP_MJ_SET_VOLUME_INFORMATION",
    "IRP_MJ_DIRECTORY_CONTROL", "IRP_MJ_FILE_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CONTROL",
    "IRP_MJ_INTERNAL_DEVICE_CONTROL", "IRP_MJ_SHUTDOWN", "IRP_MJ_LOCK_CONTROL", "IRP_MJ_CLEANUP",
    "IRP_MJ_CREATE_MAILSLOT", "IRP_MJ_QUERY_SECURITY", "IRP_MJ_SET_SECURITY", "IRP_MJ_POWER",
    "IRP_MJ_SYSTEM_CONTROL", "IRP_MJ_DEVICE_CHANGE", "IRP_MJ_QUERY_QUOTA", "IRP_MJ_SET_QUOTA", "IRP_MJ_PNP",
)
#: x64 DRIVER_OBJECT / DRIVER_EXTENSION layout (wdm.h).
DRIVER_EXTENSION = 0x30
DRIVER_UNLOAD = 0x68
MAJOR_FUNCTION = 0x70
ADD_DEVICE = 0x08
IOCTL_DISPATCH = ("IRP_MJ_DEVICE_CONTROL", "IRP_MJ_INTERNAL_DEVICE_CONTROL")
#: IO_STACK_LOCATION.Parameters.DeviceIoControl.IoControlCode of the dispatch routine's IRP (its second
#: parameter): Irp->Tail.Overlay.CurrentStackLocation is at IRP+0xB8, the code at +0x18 of the location.
IOCTL_SELECTOR: Value = Load(Offset(Load(Offset(Param(1), 0xB8), 8), 0x18), 4)  # ioctl_selector(1)

#: Registration APIs and the argument index of the routine they will call.
CALLBACK_ARGS = {
    # kernel
    "PsSetCreateProcessNotifyRoutine": 0, "PsSetCreateProcessNotifyRoutineEx": 0,
    "PsSetCreateProcessNotifyRoutineEx2": 1, "PsSetCreateThreadNotifyRoutine": 0,
    "PsSetCreateThreadNotifyRoutineEx": 1, "PsSetLoadImageNotifyRoutine": 0, "PsSetLoadImageNotifyRoutineEx": 0,
    "CmRegisterCallback": 0, "CmRegisterCallbackEx": 0, "KeRegisterBugCheckCallback": 1,
    "KeRegisterBugCheckReasonCallback": 1, "KeInitializeDpc": 1, "KeInitializeThreadedDpc": 1,
    "IoQueueWorkItem": 1, "IoQueueWorkItemEx": 1, "ExInitializeWorkItem": 1, "PsCreateSystemThread": 5,
    "IoRegisterPlugPlayNotification": 5, "KeSetTimer": 2, "ExAllocateTimer": 0,
    # user mode
    "CreateThread": 2, "CreateRemoteThread": 3, "CreateRemoteThreadEx": 3, "_beginthreadex": 2, "_beginthread": 0,
    "CreateThreadpoolWork": 0, "CreateThreadpoolWait": 0, "CreateThreadpoolTimer": 0, "CreateThreadpoolIo": 1,
    "TrySubmitThreadpoolCallback": 0, "QueueUserWorkItem": 0, "RegisterWaitForSingleObject": 2,
    "CreateTimerQueueTimer": 2, "QueueUserAPC": 0, "RegisterServiceCtrlHandlerA": 1,
    "RegisterServiceCtrlHandlerW": 1, "RegisterServiceCtrlHandlerExA": 1, "RegisterServiceCtrlHandlerExW": 1,
    "SetConsoleCtrlHandler": 0, "SetUnhandledExceptionFilter": 0, "AddVectoredExceptionHandler": 1,
    # CPython's C API: profile/trace functions, the frame evaluator, exit functions, threads
    "PyEval_SetProfile": 0, "PyEval_SetTrace": 0, "PyEval_SetProfileAllThreads": 0, "PyEval_SetTraceAllThreads": 0,
    "_PyInterpreterState_SetEvalFrameFunc": 1, "Py_AtExit": 0, "PyThread_start_new_thread": 0,
    # ETW calls a provider's enable callback when a session enables or disables it (rundown events)
    "EventRegister": 1, "EtwRegister": 1, "RegisterTraceGuidsW": 0, "RegisterTraceGuidsA": 0,
}
#: APIs that take a table of (name, routine) pairs: SERVICE_TABLE_ENTRY arrays, 16 bytes an entry.
SERVICE_TABLES = ("StartServiceCtrlDispatcherA", "StartServiceCtrlDispatcherW")
#: ObRegisterCallbacks(CallbackRegistration, RegistrationHandle). x64 OB_CALLBACK_REGISTRATION (wdm.h):
#: USHORT Version; USHORT OperationRegistrationCount; UNICODE_STRING Altitude; PVOID RegistrationContext;
#: OB_OPERATION_REGISTRATION *OperationRegistration (+0x20). Each OB_OPERATION_REGISTRATION (0x20 bytes):
#: POBJECT_TYPE *ObjectType; OB_OPERATION Operations; PreOperation (+0x10); PostOperation (+0x18).
OB_REGISTER = "ObRegisterCallbacks"
OB_COUNT = 2
OB_OPERATIONS = 0x20
OB_OPERATION_SIZE = 0x20
OB_ROUTINES = {0x10: "PreOperation", 0x18: "PostOperation"}
#: Most OB_OPERATION_REGISTRATION entries read when the count is not known.
OB_MAX_OPERATIONS = 8
#: Callers followed up from a registration call whose argument is a parameter of the calling function,
#: and the most call sites of one function looked at.
PARAM_DEPTH = 2
MAX_PARAM_CALLERS = 32
#: Most entry kinds listed per function (shared destructors sit in hundreds of vtables).
MAX_KINDS = 4
#: Read-only data scanned for pointer tables: per section at most, and per read.
MAX_TABLE_SECTION = 256 << 20
TABLE_WINDOW = 1 << 20
_SYSCALL = re.compile(r"^Nt[A-Z]")


class EntryPoints:
    """Function RVA -> how it is entered from outside the binary, and the IOCTL guards of dispatchers.
    (A plain class: never compared, it needs none of a dataclass's generated methods, compiled at import.)"""

    __slots__ = ("kinds", "ioctl_guards", "ioctl_selectors")

    def __init__(self) -> None:
        self.kinds: dict[int, dict[str, None]] = {}
        #: IRP_MJ_(INTERNAL_)DEVICE_CONTROL routine -> call site RVA -> the IOCTL codes guarding it.
        self.ioctl_guards: dict[int, dict[int, CaseSet]] = {}
        #: Where such a routine finds the IOCTL code (the IRP's stack location, or a KMDF queue callback's
        #: IoControlCode parameter).
        self.ioctl_selectors: dict[int, Value] = {}

    def add(self, rva: int, kind: str) -> None:
        self.kinds.setdefault(rva, {})[kind] = None

    def label(self, rva: int) -> str:
        found = self.kinds.get(rva)
        if not found:  # most row functions are entered by no kind of their own (an API's internal callers)
            return ""
        if len(found) <= MAX_KINDS:
            return ",".join(found)
        kinds = list(found)
        shown = kinds[:MAX_KINDS]
        more = f",+{len(kinds) - MAX_KINDS}" if len(kinds) > MAX_KINDS else ""
        return ",".join(shown) + more


def ioctl_selector(irp_param: int) -> Value:
    """The IoControlCode of the IRP a function received in parameter ``irp_param``."""
    return Load(Offset(Load(Offset(Param(irp_param), 0xB8), 8), 0x18), 4)


class IoctlAttribution:
    """The IOCTL codes under which a call path from a DEVICE_CONTROL routine reaches an event site.

    The switch is often not in the dispatch routine itself: it passes the IRP (or the code it read) to
    a helper that switches. Along the path, the first function whose next call is guarded decides;
    the selector follows the argument that carries the IRP or the code.
    """

    def __init__(self, entries: EntryPoints, values: CallValues, sites_in: dict[int, list[CallSite]]):
        self.entries = entries
        self.values = values
        self.sites_in = sites_in

    def codes(self, path_ids: list[int], site: int, hop: int) -> str:
        """``path_ids`` runs from the dispatch routine to the containing function; ``site`` is the event
        site on it and ``hop`` the call in ``site`` that passes the event on."""
        root = path_ids[0]
        if root not in self.entries.ioctl_guards:
            return ""
        selector = self.entries.ioctl_selectors.get(root, IOCTL_SELECTOR)
        for i, func in enumerate(path_ids):
            if func == site:
                hops = [hop]
            elif i + 1 < len(path_ids):
                hops = [s.rva for s in self.sites_in.get(func, ()) if s.callee == path_ids[i + 1]]
            else:
                return ""
            guards = self.entries.ioctl_guards[root] if i == 0 else self.values.case_guards(func, selector)
            cases: set[Optional[int]] = set()
            for rva in hops:
                found = guards.get(rva)
                if found is None:
                    break
                cases |= found
            else:
                if hops:
                    return format_cases(cases)
            if func == site:
                return ""
            selector_next = self._passed(func, hops, selector)
            if selector_next is None:
                return ""
            selector = selector_next
        return ""

    def _passed(self, func: int, hops: list[int], selector: Value) -> Optional[Value]:
        """The selector as the callee sees it: its parameter that receives the code, or the IRP's."""
        self.values.resolve([func])
        irp = _irp_of(selector)
        for site in self.sites_in.get(func, ()):
            if site.rva not in hops:
                continue
            for k in range(4):
                values = self.values.arg(site, k)
                if selector in values:
                    return Param(k)
                if irp is not None and irp in values:
                    return ioctl_selector(k)
        return None


def _irp_of(selector: Value) -> Optional[Value]:
    """The IRP expression a stack-location selector reads through (``Param(1)`` for IOCTL_SELECTOR)."""
    if isinstance(selector, Load) and isinstance(selector.addr, Offset) and isinstance(selector.addr.base, Load):
        inner = selector.addr.base.addr
        if isinstance(inner, Offset) and inner.delta == 0xB8:
            return inner.base
    return None


def format_cases(codes: Iterable[Optional[int]]) -> str:
    named = sorted(c for c in codes if c is not None)
    text = [f"0x{c:x}" for c in named]
    if None in set(codes):
        text.append("default")
    return ",".join(text)


def _api_name(name: str) -> str:
    """``dll!name`` or ``__imp_name`` as the bare imported name (``_beginthreadex`` keeps its underscore)."""
    name = name.rsplit("!", 1)[-1]
    return name[len("__imp_"):] if name.startswith("__imp_") else name


class EntryFinder:
    """Collects the entry kinds of one binary from its facts (asking the engine for more where needed)."""

    def __init__(self, facts: Facts, values: CallValues, callers_of: dict[int, list[CallSite]],
                 sites_in: Optional[dict[int, list[CallSite]]] = None):
        """``callers_of`` and ``sites_in`` are the analysis' site maps (analysis/sites.py): callee -> its
        sites, caller -> its sites (made here when not given)."""
        self.facts = facts
        self.values = values
        self.callers_of = callers_of
        self.entries = EntryPoints()
        self.code = {rva for rva, f in facts.functions.items() if not f.imported}
        #: Imported function -> its bare API name; exported functions of the image (each one pass, kept: the
        #: stages below ask them several times, and the 1x kernel has 40,000 functions).
        # Loops, not filtered comprehensions: those are called once and, their filters mostly false, ran on
        # CPython 3.11's generic bytecode to the end (only their kept items count towards quickening).
        imported: dict[int, str] = {}
        for rva, f in facts.functions.items():
            if f.imported:
                imported[rva] = _api_name(f.name)
        self._imported = imported
        exported: list[int] = []
        for rva, f in facts.functions.items():
            if f.exported and not f.imported:
                exported.append(rva)
        self._exported = exported
        self._by_caller = sites_by_caller(facts.calls) if sites_in is None else sites_in
        #: Framework methods called through the KMDF function table: (call site, method name).
        self.framework_calls: list[tuple[CallSite, str]] = []
        #: Per WDF function table: its modelled methods by offset and the calls through it (``_table_calls``).
        self._registrations: Optional[list[tuple[CallSite, str]]] = None
        self._tables_called: Optional[list[tuple[dict[int, str], list[tuple[CallSite, int]]]]] = None

    def ask_first(self) -> None:
        """Before the analysis' main resolution: what ``run`` will read in the functions that resolution may
        flow, handed to ``values`` (``CallValues.ask_later``), so that such a function is flowed once with all
        of it rather than a second time here: every argument in the entry point (``_driver_object``), the
        routine arguments of the registrations (``_callbacks``), every argument in the callers of framework
        methods (``_wdf``). Those calls are found now, through the KMDF function table: a function flowed
        before the calls the table adds are known has no answer for them."""
        values = self.values
        values.ask_later(_callback_asks(self._registration_sites()))
        for _names, found in self._table_calls():
            values.ask_later({site.caller: None for site, _offset in found})
        entry = self.facts.entry_point
        if entry is not None and entry in self.code:
            # The entry point and the functions it calls may be handed the DriverObject (``_driver_object``).
            holders = [entry] + sorted({s.callee for s in self._sites_in(entry) if s.callee in self.code})
            values.ask_later({func: self._passing_asks(func) for func in holders})

    def run(self, roots: Iterable[int]) -> EntryPoints:
        funcs = self.facts.functions
        for rva in sorted(roots):
            func = funcs[rva]
            self.entries.add(rva, "syscall" if _SYSCALL.match(func.name) else "export" if func.exported else "root")
        for rva in self._exported:
            self.entries.add(rva, "export")
        entry = self.facts.entry_point
        if entry is not None and entry in self.code:
            self.entries.add(entry, "entry")
            self._driver_object(entry)
        self._callbacks()
        self._wdf()
        self._tables()
        wdf_ioctl: tuple[str, ...] = ()
        wdf_selector: Optional[Value] = None
        if self.framework_calls:  # the only source of "callback:Wdf..." kinds (_wdf)
            from . import wdf

            wdf_ioctl = tuple(f"callback:{k}" for k in wdf.IOCTL_CALLBACKS)
            wdf_selector = Param(wdf.IOCTL_PARAM)
        dispatch = frozenset(IOCTL_DISPATCH)
        queue_callbacks = frozenset(wdf_ioctl)
        for rva, kinds in self.entries.kinds.items():  # 8,500 at 1x: one set test each, in C
            selector: Optional[Value] = None
            if not dispatch.isdisjoint(kinds):
                selector = IOCTL_SELECTOR
            elif not queue_callbacks.isdisjoint(kinds):
                selector = wdf_selector
            if selector is not None:
                self.entries.ioctl_selectors[rva] = selector
                self.entries.ioctl_guards[rva] = self.values.case_guards(rva, selector)
        return self.entries

    # ------------------------------------------------------------------ DRIVER_OBJECT stores
    def _driver_object(self, entry: int) -> None:
        """Dispatch routines, DriverUnload and AddDevice stored through DriverEntry's first parameter.

        The DriverObject may be passed on to helpers (``InitDispatch(DriverObject)``): functions called
        with it are looked at too, two levels down. The stores are those the resolved functions made (``CallValues``).
        """
        holders: dict[int, set[int]] = {entry: {0}}
        frontier = [entry]
        for _level in range(2):
            self.values.resolve(frontier, {func: self._passing_asks(func) for func in frontier})
            nxt = []
            for func in frontier:
                for site in self._sites_in(func):
                    if site.callee not in self.code or site.callee == func:
                        continue
                    for i in range(4):
                        if any(isinstance(v, Param) and v.index in holders[func] for v in self.values.arg(site, i)):
                            if i not in holders.setdefault(site.callee, set()):
                                holders[site.callee].add(i)
                                nxt.append(site.callee)
            frontier = sorted(set(nxt))
        # Only their stores are read now: any flow of a function has them all.
        self.values.resolve(sorted(holders), {func: {} for func in holders})
        for store in self.values.stores_in(holders):
            params = holders[store.function]
            kind = _driver_slot(store.address, params)
            if kind is None:
                continue
            for value in store.values:
                if isinstance(value, Addr) and value.rva in self.code:
                    self.entries.add(value.rva, kind)

    def _sites_in(self, func: int) -> list[CallSite]:
        return self._by_caller.get(func, [])

    def _passing_asks(self, func: int) -> dict[int, set[int]]:
        """What ``_driver_object`` reads in a function that may hold the DriverObject, and ``_filled`` in one that
        builds a structure: the register arguments of its calls to the image's other functions (whether one
        passes the object or the structure on)."""
        return {s.rva: set(range(4)) for s in self._sites_in(func) if s.callee in self.code and s.callee != func}

    # ------------------------------------------------------------------ registration APIs
    def _api_sites(self, names: Iterable[str]) -> list[tuple[CallSite, str]]:
        """Calls of the imported APIs ``names``, directly or through an import thunk (``jmp [__imp_X]``)."""
        wanted = set(names)
        apis = {rva: name for rva, name in self._imported.items() if name in wanted}
        if not apis:
            return []
        apis.update(import_thunks(self.facts, apis))
        return [(s, name) for callee, name in apis.items() for s in self.callers_of.get(callee, ())]

    def _registration_sites(self) -> list[tuple[CallSite, str]]:
        """The calls of the registration APIs ``_callbacks`` reads (found once: ``ask_first`` and ``run``)."""
        if self._registrations is None:
            self._registrations = self._api_sites(list(CALLBACK_ARGS) + list(SERVICE_TABLES) + [OB_REGISTER])
        return self._registrations

    def _callbacks(self) -> None:
        sites = self._registration_sites()
        if not sites:
            return
        self.values.resolve(sorted({s.caller for s, _ in sites}), _callback_asks(sites))
        for site, name in sites:
            if name in SERVICE_TABLES:
                for routine in self._service_routines(self.values.arg(site, 0)):
                    self.entries.add(routine, f"callback:{name}")
                continue
            if name == OB_REGISTER:
                for routine, field_name in self._ob_routines(self._argument(site, 0)):
                    self.entries.add(routine, f"callback:{name}.{field_name}")
                continue
            for value in self._argument(site, CALLBACK_ARGS[name]):
                if isinstance(value, Addr) and value.rva in self.code:
                    self.entries.add(value.rva, f"callback:{name}")

    def _ob_routines(self, values: Iterable[Value]) -> list[tuple[int, str]]:
        """PreOperation/PostOperation of each OB_OPERATION_REGISTRATION an OB_CALLBACK_REGISTRATION names."""
        out = []
        for value in values:
            count = self._struct_bytes(value, OB_COUNT, 2)
            n = int.from_bytes(count, "little") if count is not None else OB_MAX_OPERATIONS
            arrays = self._pointed(value, OB_OPERATIONS)  # an array in a global or on the stack
            for array in arrays:
                for i in range(min(n, OB_MAX_OPERATIONS)):
                    entry = (Addr(array.rva + OB_OPERATION_SIZE * i) if isinstance(array, Addr)
                             else _shifted(array, OB_OPERATION_SIZE * i))
                    fields = self._struct_pointers(entry, OB_OPERATION_SIZE)
                    for offset, field_name in OB_ROUTINES.items():
                        out += [(rva, field_name) for rva in sorted(fields.get(offset, ())) if rva in self.code]
        return out

    # ------------------------------------------------------------------ KMDF and UMDF 2
    def _bind_infos(self) -> list[int]:
        """The WDF_BIND_INFOs of the image: passed to an imported WdfVersionBind (KMDF), or, in a DLL that
        exports FxDriverEntryUm (UMDF 2, bound through the host's loader interface), found in its data."""
        found: list[int] = []
        binds = self._api_sites([wdfbind.BIND_API])
        funcs = self.facts.functions
        umdf = any(funcs[rva].name == wdfbind.UMDF_ENTRY for rva in self._exported)
        if not binds and not umdf:
            return found
        from . import wdf

        if binds:
            self.values.resolve(sorted({s.caller for s, _ in binds}))
            found += [info for site, _name in binds
                      if (info := wdf.bind_info_address(self.values.arg(site, wdf.BIND_INFO_ARG))) is not None]
        if umdf:
            found += wdf.umdf_bind_infos(self.facts.memory, self.facts.image_base, self.facts.sections)
        return found

    def _table_calls(self) -> list[tuple[dict[int, str], list[tuple[CallSite, int]]]]:
        """Per WDF function table of the image: its modelled methods by offset, and the calls through it (asked
        of the engine once: ``ask_first`` and ``run``)."""
        if self._tables_called is not None:
            return self._tables_called
        self._tables_called = []
        tables = set()
        infos = self._bind_infos()
        if not infos:
            return self._tables_called
        from . import wdf

        for info in infos:
            table = wdf.function_table(self.facts.memory, self.facts.image_base, info)
            if table is not None:
                tables.add((*table, wdf.framework_of(self.facts.memory, info)))
        for slot, count, framework in sorted(tables, key=lambda t: t[:2]):
            log.debug("WDF: a %s function table of %d methods at 0x%x", framework.name, count, slot)
            names = wdf.table_names(count, framework)
            self._tables_called.append((names, self.values.table_calls(slot, names)))
        return self._tables_called

    def _wdf(self) -> None:
        """Callbacks in the structures passed to framework methods, called through the WDF function table."""
        tables = self._table_calls()
        if not tables:
            return
        from . import wdf

        for names, found in tables:
            self.values.resolve(sorted({s.caller for s, _ in found}))
            for site, offset in found:
                api = wdf.api_named(names[offset])
                if api is None:
                    continue
                self.framework_calls.append((site, api.name))
                kind = f"callback:{api.name}."
                for arg, field_name in api.routines.items():
                    for value in self._argument(site, arg):
                        if isinstance(value, Addr) and value.rva in self.code:
                            self.entries.add(value.rva, kind + field_name)
                for arg, (size, fields) in api.structures.items():
                    for func, value in self._argument_frames(site, arg):
                        self._add_fields(value, size, fields, kind, func)
                if api.interface is not None:
                    for value in self._argument(site, api.interface.arg):
                        for inner in self._pointed(value, api.interface.at):
                            self._add_fields(inner, *self._interface_fields(inner, api.interface.name), kind)

    def _add_fields(self, value: Value, size: int, fields: dict[int, str], kind: str,
                    func: Optional[int] = None) -> None:
        """The routines in the callback fields of one structure, as entries ``kind`` + the field's name (a
        structure in ``func``'s frame also with the fields its callees fill through a pointer to it)."""
        pointers = self._struct_pointers(value, size)
        if func is not None and isinstance(value, StackAddr):
            for at, rvas in self._filled(func, value, size).items():
                pointers.setdefault(at, set()).update(rvas)
        for at, field_name in fields.items():
            for rva in sorted(pointers.get(at, ())):
                if rva in self.code:
                    self.entries.add(rva, kind + field_name)

    def _interface_fields(self, value: Value, name: str) -> tuple[int, dict[int, str]]:
        """An INTERFACE's extent and routine fields: InterfaceReference, InterfaceDereference, then
        ``Interface+0x20`` ... up to its USHORT Size when those bytes are known, else the run of code pointers
        from +0x20 (a slot that holds none ends the interface)."""
        from . import wdf

        raw = self._struct_bytes(value, 0, 2)
        if raw is not None:
            size = min(int.from_bytes(raw, "little"), wdf.MAX_INTERFACE)
        else:
            pointers = self._struct_pointers(value, wdf.MAX_INTERFACE)
            size = wdf.INTERFACE_ROUTINES
            while size < wdf.MAX_INTERFACE and any(rva in self.code for rva in pointers.get(size, ())):
                size += 8
        fields = dict(wdf.INTERFACE_FIELDS)
        fields.update({at: f"{name}+0x{at:x}" for at in range(wdf.INTERFACE_ROUTINES, size - 7, 8)})
        return size, fields

    def _pointed(self, value: Value, pos: int) -> list[Addr | StackAddr]:
        """The structures a pointer field at ``pos`` of a structure points to: globals of the image that are
        not code, and buffers of the same frame (a structure on the stack linking another)."""
        found: list[Addr | StackAddr] = [
            Addr(rva) for rva in sorted(self._struct_pointers(value, pos + 8).get(pos, ())) if rva not in self.code]
        return found + _linked(value, pos)

    # ------------------------------------------------------------------ structures passed to APIs
    def _argument(self, site: CallSite, index: int) -> set[Value]:
        """The values of a call's argument, a parameter of the calling function replaced by what its callers
        pass (``CreateQueue(Device, &Config)`` calling WdfIoQueueCreate), up to ``PARAM_DEPTH`` callers up."""
        return {value for _func, value in self._argument_frames(site, index)}

    def _argument_frames(self, site: CallSite, index: int) -> set[tuple[int, Value]]:
        """``_argument`` with the function each value was found in (whose frame a stack address is of)."""
        out: set[tuple[int, Value]] = set()
        todo = [(site.caller, self.values.arg(site, index), 0)]
        seen: set[tuple[int, int]] = set()
        while todo:
            func, values, depth = todo.pop()
            for value in values:
                if not isinstance(value, Param) or depth >= PARAM_DEPTH:
                    out.add((func, value))
                    continue
                callers = [c for c in self.callers_of.get(func, ()) if c.caller in self.code]
                if (func, value.index) in seen or len(callers) > MAX_PARAM_CALLERS:
                    continue
                seen.add((func, value.index))
                self.values.resolve(sorted({c.caller for c in callers}), asked_at((c, (value.index,)) for c in callers))
                todo += [(c.caller, self.values.arg(c, value.index), depth + 1) for c in callers]
        return out

    def _filled(self, func: int, value: StackAddr, size: int) -> dict[int, set[int]]:
        """Field offset -> image addresses that the callees of ``func`` store through a pointer into the
        structure ``value`` of its frame (``InitCallbacks(&config)`` before ``WdfIoQueueCreate(..., &config)``).
        Any call of ``func`` counts, before the registration or not; a callee's stores are known only when the
        engine resolves it (the native engine skips leaf functions)."""
        passed: list[tuple[int, int, int]] = []  # (callee, parameter, offset into the structure)
        self.values.resolve([func], {func: self._passing_asks(func)})
        for site in self._sites_in(func):
            if site.callee not in self.code or site.callee == func:
                continue
            for i in range(4):
                for arg in self.values.arg(site, i):
                    if (isinstance(arg, StackAddr) and arg.frame == value.frame
                            and value.offset <= arg.offset < value.offset + size):
                        passed.append((site.callee, i, arg.offset - value.offset))
        out: dict[int, set[int]] = {}
        if not passed:
            return out
        callees = sorted({callee for callee, _i, _d in passed})
        self.values.resolve(callees)
        for store in self.values.stores_in(callees):
            where = store.address
            base, delta = (where.base, where.delta) if isinstance(where, Offset) else (where, 0)
            if not isinstance(base, Param):
                continue
            for callee, i, start in passed:
                at = start + delta
                if store.function == callee and base.index == i and 0 <= at < size and at % 8 == 0:
                    out.setdefault(at, set()).update(
                        v.rva for v in store.values if isinstance(v, Addr) and v.rva in self.code)
        return out

    def _struct_pointers(self, value: Value, size: int) -> dict[int, set[int]]:
        """Field offset -> the image addresses in the 8-byte fields of the first ``size`` bytes of a
        structure: built on the stack (the call's snapshot of the frame), or a global (its initialised
        bytes and the stores the resolved code makes into it)."""
        out: dict[int, set[int]] = {}
        if isinstance(value, StackAddr):
            for pos, rva in value.refs or ():
                if 0 <= pos < size and pos % 8 == 0:
                    out.setdefault(pos, set()).add(rva)
        elif isinstance(value, Addr):
            for pos in range(0, size, 8):
                raw = self.facts.memory.read(value.rva + pos, 8)
                if len(raw) == 8:
                    target = int.from_bytes(raw, "little") - self.facts.image_base
                    if 0 < target < 1 << 32 and self.facts.memory.read(target, 1):
                        out.setdefault(pos, set()).add(target)
            for store in self.values.stores_to(value.rva, value.rva + size):
                where = store.address
                if isinstance(where, Addr):
                    for stored in store.values:
                        if isinstance(stored, Addr):
                            out.setdefault(where.rva - value.rva, set()).add(stored.rva)
        return out

    def _struct_bytes(self, value: Value, offset: int, size: int) -> Optional[bytes]:
        """``size`` known bytes at ``offset`` of a structure on the stack or in the image."""
        if isinstance(value, StackAddr):
            raw = (value.content or ())[offset:offset + size]
            if len(raw) == size and all(b is not None for b in raw):
                return bytes(b for b in raw if b is not None)
            return None
        if isinstance(value, Addr):
            data = self.facts.memory.read(value.rva + offset, size)
            return data if len(data) == size else None
        return None

    def _service_routines(self, values: Iterable[Value]) -> list[int]:
        """ServiceProc of each SERVICE_TABLE_ENTRY of a table in the image or built on the stack."""
        out = []
        for value in values:
            if isinstance(value, Addr):
                for n in range(64):
                    raw = self.facts.memory.read(value.rva + 16 * n, 16)
                    if len(raw) < 16:
                        break
                    name, proc = struct.unpack("<QQ", raw)
                    target = self._function_at(proc)
                    if name == 0 or target is None:
                        break
                    out.append(target)
            elif isinstance(value, StackAddr) and value.content is not None and len(value.content) >= 16:
                raw8 = value.content[8:16]
                if all(b is not None for b in raw8):
                    target = self._function_at(int.from_bytes(bytes(b for b in raw8 if b is not None), "little"))
                    if target is not None:
                        out.append(target)
        return out

    def _function_at(self, va: int) -> Optional[int]:
        rva = va - self.facts.image_base
        return rva if rva in self.code else None

    # ------------------------------------------------------------------ read-only pointer tables
    def _tables(self) -> None:
        """Runs of pointers to functions in non-executable sections: vtables, ops tables, RPC dispatch tables
        in read-only data, and the statically initialised tables of writable data (a Python extension's
        PyMethodDef and PyModuleDef slots, callback structures C declares without ``const``), which the
        code that receives their address calls through. Only the bytes the file backs are read: what the
        loader zero-fills holds no pointer. A symbol starting inside a run starts a new table; slots count
        from its start."""
        facts = self.facts
        base = facts.image_base
        symbols = facts.symbols
        code_ranges = [(a, a + n) for a, n, _w, x in facts.sections if x]
        low = min((a for a, _b in code_ranges), default=0)
        high = max((b for _a, b in code_ranges), default=0)
        code = self.code
        in_code = _range_test(code_ranges)
        # Words outside [lowest, highest) are neither code nor a known function: they only end a run.
        lowest = min(low, min(code)) if code else low
        highest = max(high, max(code) + 1) if code else high

        # A writable structure of code pointers is most often one the code hands to an API modelled above
        # (SERVICE_TABLE_ENTRY, a WDF config): its slots only label functions nothing else enters.
        entered = set(self.entries.kinds)
        add = self.entries.add
        for start, size, writable, executable in facts.sections:
            if executable or size <= 0:
                continue
            if size > MAX_TABLE_SECTION:
                log.warning("pointer tables: only the first %d MB of the section at 0x%x are scanned",
                            MAX_TABLE_SECTION >> 20, start)
                size = MAX_TABLE_SECTION
            # The words that point to a known function or into code (the others end a run, as a gap does:
            # a run is consecutive words), in one pass in C-level comprehensions rather than a step each.
            words = _code_words(facts.memory, start, size, base + lowest, base + highest)
            kept = [(rva, target) for rva, va in words if (target := va - base) in code or in_code(target)]
            table = 0
            slot = 0
            previous = -8
            for rva, target in kept:
                if rva != previous + 8 or (rva != table and rva in symbols):
                    table, slot = rva, 0  # a run starts, or a symbol inside it starts a new table
                previous = rva
                if target in code and not (writable and target in entered):
                    add(target, f"table:{symbols.get(table) or f'0x{table:x}'}[{slot}]")
                slot += 1
            facts.memory.release()  # the scan touched every page of the section; give them back


def _callback_asks(sites: Iterable[tuple[CallSite, str]]) -> dict[int, dict[int, set[int]]]:
    """Only the argument each registration hands the routine (or its table) in is read: a sliced engine runs
    only the code that argument and the stores depend on."""
    return asked_at((s, (CALLBACK_ARGS.get(name, 0),)) for s, name in sites)


def _shifted(value: StackAddr, delta: int) -> StackAddr:
    """The stack buffer ``delta`` bytes into ``value``, with the image addresses ``value`` knows there."""
    refs = tuple((pos - delta, rva) for pos, rva in value.refs or ())
    return StackAddr(value.offset + delta, None, value.frame, refs or None)


def _linked(value: Value, pos: int) -> list[StackAddr]:
    """The stack buffers whose address a stack structure holds at ``pos`` (its ``links``)."""
    if not isinstance(value, StackAddr):
        return []
    return [_shifted(value, delta) for at, delta in value.links or () if at == pos]


def _code_words(memory: Memory, start: int, size: int, low: int, high: int) -> Iterator[tuple[int, int]]:
    """(rva, value) of each aligned 8-byte word of a range whose value lies in ``[low, high)``, read a window
    at a time. Only the bytes the file backs: the loader's zero fill holds no pointer, and a lying VirtualSize
    would otherwise make a 2 KB file cost a minute of scanning zeros.

    When every value in the range has the same upper 32 bits (an image below 4 GB of itself: always), only the
    words whose upper half is those 4 bytes are looked at, found by a byte search in C; the rest of the data
    (most of it: strings, constants) costs no Python step."""
    upper = (low >> 32).to_bytes(4, "little") if low < high and low >> 32 == (high - 1) >> 32 else None
    # A pattern that can overlap itself (``00 00 00 00``) would hide aligned matches behind unaligned ones.
    if upper is not None and any(upper[k:] == upper[: 4 - k] for k in range(1, 4)):
        upper = None
    for window in range(start, start + size, TABLE_WINDOW):
        want = min(TABLE_WINDOW, start + size - window)
        data = memory.file_bytes(window, want)
        whole = len(data) // 8 * 8
        if upper is not None:
            for match in re.finditer(re.escape(upper), data):
                pos = match.start() - 4
                if pos % 8 == 0 and pos + 8 <= whole:
                    (value,) = _QWORD(data, pos)
                    if low <= value < high:
                        yield window + pos, value
        else:
            words = qword_array("Q", data[:whole])
            if sys.byteorder != "little":
                words.byteswap()
            for n in [n for n, value in enumerate(words) if low <= value < high]:
                yield window + 8 * n, words[n]
        if len(data) < want:
            return


def _range_test(ranges: list[tuple[int, int]]) -> Callable[[int], bool]:
    """Whether an RVA lies in one of ``ranges`` (start, end): one bisection over them merged, since most
    words a table scan tests point to data between two code sections (node.exe: 67K of 105K)."""
    merged: list[list[int]] = []
    for start, end in sorted(r for r in ranges if r[0] < r[1]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    starts = [start for start, _end in merged]
    ends = [end for _start, end in merged]

    def test(rva: int) -> bool:
        i = bisect_right(starts, rva)
        return i > 0 and rva < ends[i - 1]

    return test


#: A little-endian 8-byte word read in place.
_QWORD = struct.Struct("<Q").unpack_from


def _driver_slot(address: Value, params: set[int]) -> Optional[str]:
    """The DRIVER_OBJECT field a store goes to, when its address is relative to a DriverObject parameter."""
    if isinstance(address, Offset) and isinstance(address.base, Param) and address.base.index in params:
        delta = address.delta
        if delta == DRIVER_UNLOAD:
            return "DriverUnload"
        index, rest = divmod(delta - MAJOR_FUNCTION, 8)
        if rest == 0 and 0 <= index < len(IRP_MJ):
            return IRP_MJ[index]
        return None
    if isinstance(address, Offset) and address.delta == ADD_DEVICE and isinstance(address.base, Load):
        inner = address.base.addr
        if (isinstance(inner, Offset) and inner.delta == DRIVER_EXTENSION and isinstance(inner.base, Param)
                and inner.base.index in params):
            return "AddDevice"
    return None


#: Most functions one search beyond the depth budget visits, and the rounds of address-taken scans it
#: makes (each round asks the engine for the code that takes the address of the functions reached so far).
MAX_REACH_NODES = 100_000
POINTER_ROUNDS = 3


_new_object = object.__new__


class Reach:
    """The entry points nearest to a function: each with its path (entry point first, the function last)
    and the functions on it entered through a pointer rather than a call. (A plain class: never compared,
    it needs none of a dataclass's generated methods, compiled at import.)"""

    __slots__ = ("paths", "pointer_hops", "closure", "truncated")

    def __init__(self) -> None:
        self.paths: dict[int, list[int]] = {}
        self.pointer_hops: dict[int, frozenset[int]] = {}
        #: Every function the search visited (its callers' closure, through pointers too where it looked).
        self.closure: set[int] = set()
        #: True when the search stopped at MAX_REACH_NODES before finding an entry point or running out of
        #: callers.
        self.truncated = False


class EntryReach:
    """How an event site no entry point reaches within the depth budget is entered after all.

    Beyond the budget, the nearest entry points up the call graph (a constructor five calls above a
    trace helper). Where no call path leads to one, through pointers: a function whose address other
    code takes (``lea rcx, [rip+F]``; a thread or pool callback, a WIL or std::function callback, a
    handler stored into an object) is entered from wherever that code is, so the search goes on from the
    function taking it. The pointer is followed only when calls alone reach nothing: it says who hands the
    function out, not when it runs.
    """

    def __init__(self, callers: Callable[[int], Sequence[int]], entry_points: set[int], values: CallValues,
                 code: set[int]):
        #: A function's direct callers, sorted by RVA (the walk's own lists where no funclet reorders them:
        #: searched as they are).
        self.callers = callers
        self.entry_points = entry_points
        self.values = values
        self.code = code
        #: Function -> the functions whose code takes its address (filled by rounds of scans).
        self.takers: dict[int, set[int]] = {}
        self._scanned: set[int] = set()

    def nearest(self, functions: Iterable[int],
                seeds: Optional[Mapping[int, tuple[dict[int, Optional[int]], list[int]]]] = None
                ) -> dict[int, Reach]:
        """For each function, its nearest entry points (none found: an empty ``paths``).

        ``seeds``: per function, the same breadth-first search over ``callers`` already run some levels
        up without meeting an entry point (every function found -> the next toward the start, in the order
        found; the last level, empty where that search is complete), so the first search goes on from there
        (the caller's walk searched those levels already). A seed is given up to the search (it extends the
        dict); one with no level left (a complete search) is only read: it is the answer."""
        todo = list(dict.fromkeys(functions))
        seeds = seeds or {}
        found: dict[int, Reach] = {}
        for f in todo:
            seed = seeds.get(f)
            if seed is not None and not seed[1] and not self.takers and len(seed[0]) < MAX_REACH_NODES:
                # a complete search that met no entry point (its last level's callers all found): what
                # ``_search`` would find from it, without its call
                # ``Reach()`` written out (3,735 of 4,950 at 1x; a class with a Python ``__init__`` is called
                # through type_call and slot_tp_init, with no inlined frame)
                found[f] = reach = _new_object(Reach)
                reach.paths = {}
                reach.pointer_hops = {}
                reach.closure = set(seed[0])
                reach.truncated = False
            else:
                found[f] = self._search(f, seed)
        for _round in range(POINTER_ROUNDS):
            lost = [f for f in todo if not found[f].paths]
            need = set().union(*(found[f].closure for f in lost)) - self._scanned if lost else set()
            if not need:
                break
            self._scanned |= need
            taken: set[int] = set()  # the functions that gained a taker this round
            for ref in self.values.references(sorted(need)):
                if ref.target in need and ref.function != ref.target and ref.function in self.code:
                    self.takers.setdefault(ref.target, set()).add(ref.function)
                    taken.add(ref.target)
            for f in lost:  # a search none of whose functions gained a taker would find the same again
                if not taken.isdisjoint(found[f].closure):
                    found[f] = self._search(f)
        return found

    def _search(self, start: int, seed: Optional[tuple[dict[int, Optional[int]], list[int]]] = None) -> Reach:
        """Breadth first up calls (then pointers), stopping at the first level that holds entry points;
        from ``seed``'s level where one is given (``nearest``), the same search before any pointer is known."""
        if seed is not None and not self.takers and len(seed[0]) < MAX_REACH_NODES:
            nxt, level = seed
        else:
            nxt = {start: None}
            level = [start]
        via_pointer: set[int] = set()  # functions whose next step toward ``start`` is a pointer they take
        reach = Reach()
        entry_points, callers, takers = self.entry_points, self.callers, self.takers
        while level and len(nxt) < MAX_REACH_NODES:
            hits = entry_points.intersection(level)
            hits.discard(start)
            if hits:
                for hit in sorted(hits):
                    path = [hit]
                    while path[-1] != start:
                        step = nxt[path[-1]]
                        assert step is not None
                        path.append(step)
                    reach.paths[hit] = path
                    reach.pointer_hops[hit] = frozenset(b for a, b in zip(path, path[1:]) if a in via_pointer)
                break
            following: list[int] = []
            for node in level:
                for caller in callers(node):
                    if caller not in nxt:
                        nxt[caller] = node
                        following.append(caller)
                taken = takers.get(node)
                if taken:
                    for taker in sorted(taken):
                        if taker not in nxt:
                            nxt[taker] = node
                            via_pointer.add(taker)
                            following.append(taker)
            level = following
        reach.closure = set(nxt)
        reach.truncated = not reach.paths and bool(level)
        return reach
