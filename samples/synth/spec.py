"""The reviewable synthetic kernel, written in the model's language: its providers, events and ~150 functions.

Every pattern samples/README.md lists is one function or a few here; ``make_variant`` turns the model into the
kernel's next build (for ``api-to-etw history``).
"""

from __future__ import annotations

from samples.synth.constants import HOOKS, TLG_CCOUNT, TLG_IN, TLG_OUT, TLG_VCOUNT
from samples.synth.model import (
    PF,
    T_D,
    T_H,
    T_P,
    T_TE,
    T_TP,
    T_U,
    Assign,
    Call,
    E,
    Func,
    Guid,
    Handle,
    If,
    IfEnabled,
    IfProviderEnabled,
    Legacy,
    LocalProvider,
    Model,
    ModelError,
    P,
    Raw,
    Sel,
    StackDesc,
    Stmt,
    StructGlobal,
    Switch,
    Tlg,
    TlgEvent,
    TlgField,
    TlgProvider,
    Var,
    Vol,
    Write,
    WriteString,
    hook,
    mask,
    mk_desc,
)


def build_synthkernel() -> Model:
    """The reviewable synthetic kernel: ~120 functions exercising every pattern the analyzer must handle."""
    g_ps = Guid("KernelProcessProviderGuid", "22fb2cd6-0e7b-422b-a0c7-2fad1fd0e716", "Microsoft-Windows-Kernel-Process")
    g_audit = Guid("KernelAuditApiCallsGuid", "e02a841c-75a3-4fa7-afc8-ae09cf9b7f23",
                   "Microsoft-Windows-Kernel-Audit-API-Calls")
    g_ti = Guid("ThreatIntProviderGuid", "f4e1897c-bb5d-5668-f1d8-040f4d8dd344",
                "Microsoft-Windows-Threat-Intelligence")
    g_mit = Guid("SecurityMitigationsProviderGuid", "fae10392-f0af-4ac0-b8ff-9f4d920c3cdf",
                 "Microsoft-Windows-Security-Mitigations")
    g_mem = Guid("KernelMemoryProviderGuid", "d1d93ef7-e1f2-4f45-9943-03d245fe6c00", "Microsoft-Windows-Kernel-Memory")
    g_gen = Guid("KernelGeneralProviderGuid", "a68ca8b7-004f-d7b6-a698-07e2de0f1f5d",
                 "Microsoft-Windows-Kernel-General")
    g_ld = Guid("LiveDumpProviderGuid", "bef2aa8e-81cd-11e2-a7bb-5eac6188709b", "Microsoft-Windows-Kernel-LiveDump")
    g_pow = Guid("KernelPowerProviderGuid", "331c3b3a-2005-44c2-ac5e-77220c37d6b4", "Microsoft-Windows-Kernel-Power")
    guids = [g_ps, g_audit, g_ti, g_mit, g_mem, g_gen, g_ld, g_pow]

    h_ps = Handle("ps", "EtwpPsProvRegHandle", "EtwpPsProvRegHandle", g_ps)
    h_audit = Handle("audit", "EtwApiCallsProvRegHandle", "EtwApiCallsProvRegHandle", g_audit)
    h_ti = Handle("ti", "EtwThreatIntProvRegHandle", "EtwThreatIntProvRegHandle", g_ti)
    h_mit = Handle("mit", "EtwSecurityMitigationsRegHandle", "EtwSecurityMitigationsRegHandle", g_mit)
    h_pow = Handle("pow", "PopDiagHandle", "PopDiagHandle", g_pow)
    h_mem = Handle("mem", "EtwpState.MemoryRegHandle", "EtwpState+0x8", g_mem)
    h_gen = Handle("gen", "EtwpState.GeneralRegHandle", "EtwpState+0x10", g_gen)
    h_ld = Handle("livedump", "LiveDumpRegHandle", "", g_ld)  # a local in IopLiveDumpWriteEvents
    state = StructGlobal("EtwpState", "ETWP_STATE", (("MemoryRegHandle", h_mem), ("GeneralRegHandle", h_gen)))
    registrations = [(g_ps, h_ps, "NULL"), (g_audit, h_audit, "NULL"), (g_ti, h_ti, "EtwpTiEnableCallback"),
                     (g_mit, h_mit, "NULL"), (g_mem, h_mem, "NULL"), (g_gen, h_gen, "NULL"), (g_pow, h_pow, "NULL")]

    d = {}

    def desc(sym, *vals):
        d[sym] = mk_desc(sym, *vals)
        return d[sym]

    k_ps = 0x8000000000000000
    desc("KERNEL_PROCESS_EVENT_PROCESS_START", 1, 3, 0x10, 4, 1, 1, k_ps | 0x10)
    desc("KERNEL_PROCESS_EVENT_PROCESS_STOP", 2, 2, 0x10, 4, 2, 2, k_ps | 0x10)
    desc("KERNEL_PROCESS_EVENT_THREAD_START", 3, 1, 0x10, 4, 1, 3, k_ps | 0x20)
    desc("KERNEL_PROCESS_EVENT_IMAGE_LOAD", 5, 0, 0x10, 4, 0, 5, k_ps | 0x40)
    desc("KERNEL_PROCESS_EVENT_IMAGE_UNLOAD", 6, 0, 0x10, 4, 0, 6, k_ps | 0x40)
    for i, api in enumerate(["PSSETLOADIMAGENOTIFYROUTINE", "TERMINATEPROCESS", "CREATESYMBOLICLINKOBJECT",
                             "SETCONTEXTTHREAD", "OPENPROCESS", "OPENTHREAD",
                             "IOREGISTERLASTCHANCESHUTDOWNNOTIFICATION", "IOREGISTERSHUTDOWNNOTIFICATION"], start=1):
        desc("KERNEL_AUDIT_API_" + api, i, 0, 0, 4, 0, 0, 0)
    k_ti = 0x8000000000000000
    desc("THREATINT_ALLOCVM_REMOTE", 1, 1, 0x10, 4, 0, 1, k_ti | 0x4)
    desc("THREATINT_ALLOCVM_LOCAL", 6, 1, 0x10, 4, 0, 1, k_ti | 0x1)
    desc("THREATINT_PROTECTVM_REMOTE", 2, 1, 0x10, 4, 0, 2, k_ti | 0x40)
    # Same field values as THREATINT_PROTECTVM_REMOTE under another name: rows must keep the symbol apart.
    desc("THREATINT_PROTECTVM_REMOTE_KERNEL_CALLER", 2, 1, 0x10, 4, 0, 2, k_ti | 0x40)
    desc("THREATINT_PROTECTVM_LOCAL", 7, 1, 0x10, 4, 0, 2, k_ti | 0x10)
    desc("THREATINT_MAPVIEW_REMOTE", 3, 1, 0x10, 4, 0, 3, k_ti | 0x400)
    desc("THREATINT_QUEUEUSERAPC_REMOTE", 4, 1, 0x10, 4, 0, 4, k_ti | 0x1000)
    desc("THREATINT_SETTHREADCONTEXT_REMOTE", 5, 1, 0x10, 4, 0, 5, k_ti | 0x4000)
    desc("THREATINT_READVM_REMOTE", 14, 0, 0x10, 4, 0, 14, k_ti | 0x20000)
    desc("THREATINT_WRITEVM_REMOTE", 16, 0, 0x10, 4, 0, 16, k_ti | 0x80000)
    desc("THREATINT_SUSPEND_THREAD", 21, 0, 0x10, 4, 0, 21, k_ti | 0x100000)
    desc("THREATINT_RESUME_THREAD", 22, 0, 0x10, 4, 0, 22, k_ti | 0x200000)
    desc("MITIGATION_AUDIT_PROHIBIT_DYNAMIC_CODE", 1, 0, 0x10, 0, 0, 1, 0x8000000000000000)
    desc("MITIGATION_ENFORCE_PROHIBIT_DYNAMIC_CODE", 2, 0, 0x10, 0, 0, 1, 0x8000000000000000)
    desc("MITIGATION_AUDIT_PROHIBIT_FSCTL_SYSTEM_CALLS", 35, 0, 0x10, 0, 0, 18, 0x8000000000000000)
    desc("MITIGATION_AUDIT_PROHIBIT_WIN32K_SYSTEM_CALLS", 10, 0, 0x10, 0, 0, 5, 0x8000000000000000)
    desc("KERNEL_MEM_EVENT_MDL_ALLOCATION", 10, 0, 0x10, 4, 0, 7, 0x8000000000000200)
    desc("KERNEL_MEM_EVENT_MEMINFO_WS", 2, 0, 0x10, 4, 0, 2, 0x8000000000000040)
    desc("KERNEL_MEM_EVENT_PAGEFILE_ADDED", 12, 0, 0x10, 4, 0, 9, 0x8000000000000100)
    desc("KernelSystemTimeChange", 1, 4, 0x08, 4, 0, 5, 0x8000000000000010)
    desc("AccessCheckLog", 14, 0, 0x00, 2, 0, 0, 0x20)
    desc("ObjectDirectoryLookup", 30, 0, 0x10, 5, 0, 12, 0x8000000000000080)
    desc("LIVEDUMP_EVENT_CAPTURE_API_START", 1, 0, 0x10, 4, 10, 1, 0x8000000000000000)
    desc("LIVEDUMP_EVENT_CAPTURE_API_END", 2, 5, 0x11, 4, 11, 1, 0x4000000000000000)
    desc("POP_ETW_EVENT_GRACEFULSHUTDOWN_START", 47, 0, 0x10, 4, 1, 48, 0x4000000000000009)
    desc("POP_ETW_EVENT_GRACEFULSHUTDOWN_STOP", 48, 0, 0x10, 4, 2, 48, 0x4000000000000009)
    desc("POP_ETW_EVENT_KERNEL_QUERY_ALLOWED", 61, 0, 0x10, 4, 0, 67, 0x4000000000002404)
    desc("POP_ETW_EVENT_STRS", 63, 2, 0x10, 4, 0, 69, 0x4000000000004004)
    desc("POP_ETW_EVENT_SESSION_DISPLAY_ON", 150, 0, 0x10, 4, 0, 186, 0x4000400000000404)
    # Descriptors built on the stack: no symbol, every field still in the row.
    sd_thread_name = mk_desc("", 13, 0, 0x10, 4, 0, 13, k_ps | 0x20, key="ThreadSetName")
    sd_cpu_prio = mk_desc("", 9, 1, 0x10, 4, 0, 9, k_ps | 0x80, key="CpuPriorityChange")
    sd_tz_bias = mk_desc("", 22, 0, 0x08, 4, 0, 8, 0x8000000000000010, key="KernelTimeZoneBiasChange")

    m_process, m_thread, m_job = mask("PROCESS"), mask("THREAD"), mask("JOB")
    m_prio, m_va, m_ws = mask("PRIORITY"), mask("VIRTUAL_ALLOC"), mask("MEMINFO_WS")
    m_section, m_hive, m_obh = mask("MEMORY", "SESSION"), mask("REG_HIVE"), mask("OB_HANDLE")
    masks = [m_process, m_thread, m_job, m_prio, m_va, m_ws, m_section, m_hive, m_obh]
    hk = {name: hook(name) for name in HOOKS}

    t_sec = TlgProvider("_TlgKernelSecurityProv", "TlgKernelSecurityProvider", "Microsoft.Windows.Kernel.Security",
                        "09a69a38-2680-4bfa-ad01-792ad63a4ff2")
    t_asm = TlgProvider("_TlgAttackSurfaceMonitorProv", "TlgAttackSurfaceMonitorProvider", "AttackSurfaceMonitor",
                        "c4e507b1-7224-4737-bde0-ced9284e7073")
    t_kp = TlgProvider("_TlgKernelProcessProv", "TlgKernelProcessProvider", "KernelProcess",
                       "2839ff94-8f12-4e1b-82e3-af7af77a450f", group="4f50731a-89cf-4782-b3e0-dce8c90476ba")
    tin = TLG_IN
    ev_token = TlgEvent("_tlgEvent_TokenIntegrityChange", t_sec, "TokenIntegrityChange", 5, 0x400000000000, fields=(
        TlgField("ProcessId", tin["UINT32"], TLG_OUT["PID"]),
        TlgField("OldIntegrityLevel", tin["HEXINT32"]),
        TlgField("NewIntegrityLevel", tin["HEXINT32"])))
    ev_blocked = TlgEvent("_tlgEvent_DriverBlocked", t_sec, "DriverBlocked", 4, 0x200000000000, tags=0x0A04000,
                          fields=(TlgField("DriverName", tin["UNICODESTRING"]),
                                  TlgField("ImageHash", tin["UINT8"] | TLG_CCOUNT, TLG_OUT["HEX"], count=32),
                                  TlgField("BlockReason", tin["UINT32"], tags=0x0000005)))
    ev_prot = TlgEvent("_tlgEvent_ProtectionChange", t_sec, "ProtectionChange", 4, 0x400000000000, opcode=1,
                       tags=0x0FE00000, fields=(
                           TlgField("ProcessId", tin["UINT32"], TLG_OUT["PID"]),
                           TlgField("Protection", tin["UINT8"]),
                           TlgField("SignatureLevels", tin["STRUCT"], 2),
                           TlgField("SignatureLevel", tin["UINT8"]),
                           TlgField("SectionSignatureLevel", tin["UINT8"])))
    ev_ioctl = TlgEvent("_tlgEvent_AstIoctlCalled", t_asm, "Ast.IoctlCalled", 5, 0x200000000000, fields=(
        TlgField("IoctlCode", tin["HEXINT32"]),
        TlgField("DeviceName", tin["UNICODESTRING"]),
        TlgField("InputBufferLength", tin["UINT32"])))
    ev_fsctl = TlgEvent("_tlgEvent_AstFsctlCalled", t_asm, "Ast.FsctlCalled", 5, 0x200000000000, fields=(
        TlgField("FsctlCode", tin["HEXINT32"]),
        TlgField("VolumeName", tin["UNICODESTRING"])))
    ev_usage = TlgEvent("_tlgEvent_AstSyscallUsage", t_asm, "Ast.SyscallUsageAggregate", 5, 0x400000000000,
                        fields=(TlgField("InformationClasses", tin["UINT32"] | TLG_VCOUNT),
                                TlgField("Count", tin["UINT64"])))
    ev_started = TlgEvent("_tlgEvent_ProcessStarted", t_kp, "ProcessStarted", 5, 0x3, fields=(
        TlgField("ProcessId", tin["UINT32"], TLG_OUT["PID"]),
        TlgField("ParentProcessId", tin["UINT32"], TLG_OUT["PID"]),
        TlgField("Image", tin["STRUCT"], 2),
        TlgField("ImageName", tin["UNICODESTRING"]),
        TlgField("ImageSize", tin["UINT64"]),
        TlgField("Flags", tin["HEXINT32"], tags=0x2000000)))
    ev_denied = TlgEvent("_tlgEvent_DeniedTokenCreation", t_kp, "DeniedTokenCreation", 5, 0x200000000001,
                         tags=0x0123457, fields=(
                             TlgField("Status", tin["UINT32"], TLG_OUT["NTSTATUS"], tags=0x1),
                             TlgField("ProcessId", tin["UINT32"])))
    tlg_events = [ev_token, ev_blocked, ev_prot, ev_ioctl, ev_fsctl, ev_usage, ev_started, ev_denied]

    funcs: list[Func] = []

    def F(name, params, body, file, exported=False, doc="", locals_=None, ret="NTSTATUS"):
        funcs.append(Func(name, list(params), list(body), file, exported, ret, list(locals_ or []), doc))

    def filler(name, file, params=((T_P, "Object"),), exported=False, calls=(), doc=""):
        """A function doing ordinary work and reaching no write by itself."""
        arg = params[0][1] if params else "0"
        body: list[Stmt] = [Raw(f"KiSyntheticCounter += (LONG)(ULONG_PTR){arg} + {len(funcs) + 3};")]
        for c in calls:
            body.append(Call(c, [P(arg)] if params else []))
        F(name, params, body, file, exported, doc or "ordinary work, no ETW write of its own")

    def ent(x, via_var=False):
        return E(x, via_var)

    # ---------------------------------------------------------------- init.c
    F("EtwpTiEnableCallback", [("LPCGUID", "SourceId"), (T_U, "ControlCode"), ("UCHAR", "Level"),
                               ("ULONGLONG", "MatchAnyKeyword"), ("ULONGLONG", "MatchAllKeyword"),
                               ("PEVENT_FILTER_DESCRIPTOR", "FilterData"), ("PVOID", "CallbackContext")],
      [Raw("EtwpState.EnableMask = MatchAnyKeyword & ~MatchAllKeyword;\n"
           "EtwpState.Flags = ControlCode | ((ULONG)Level << 8) | (ULONG)(ULONG_PTR)SourceId;\n"
           "KiSyntheticCounter += (LONG)(ULONG_PTR)FilterData + (LONG)(ULONG_PTR)CallbackContext;")],
      "init.c", doc="enable callback passed to EtwRegister (referenced, never called directly)", ret="VOID")
    # EtwpInitialize and DriverEntry are written by emit_init() from `registrations`.

    # ---------------------------------------------------------------- etwp.c: shared logging helpers
    F("EtwpLogAuditApiEvent", [(T_D, "Descriptor"), (T_U, "TargetId"), ("NTSTATUS", "ReturnCode")],
      [Raw("EtwpState.SequenceNumber += TargetId ^ (ULONG)ReturnCode;"),
       Write("EtwWrite", ent(h_audit), P("Descriptor"))], "etwp.c",
      doc="1-level wrapper: the descriptor arrives in rcx; the handle is a global")
    F("EtwpWriteEventPassthrough", [(T_H, "RegHandle"), (T_D, "Descriptor"), ("LPCGUID", "ActivityId"),
                                    (T_U, "UserDataCount"), ("PEVENT_DATA_DESCRIPTOR", "UserData")],
      [Raw("if (RegHandle == 0) {\n    return STATUS_INVALID_HANDLE;\n}"),
       Write("EtwWrite", P("RegHandle"), P("Descriptor"), tail_passthrough=True)], "etwp.c",
      doc="tail call: jmp EtwWrite with the caller's own arguments (handle and descriptor are parameters)")
    F("EtwpWriteProcessEvent", [(T_P, "Process"), (T_U, "Flags"), (T_U, "Spare1"), (T_U, "Spare2"),
                                (T_H, "RegHandle"), (T_D, "Descriptor")],
      [Raw("EtwpState.SequenceNumber += Flags + Spare1 * 3 + Spare2 + (ULONG)(ULONG_PTR)Process;"),
       Write("EtwWriteTransfer", P("RegHandle"), P("Descriptor"))], "etwp.c",
      doc="handle and descriptor are the 5th and 6th parameters: they arrive in stack slots")
    F("EtwpLogImageEvent", [(T_H, "RegHandle"), (T_D, "Descriptor"), (T_P, "ImageBase")],
      [Call("EtwpWriteProcessEvent", [P("ImageBase"), E(0x10), E(0), E(1), P("RegHandle"), P("Descriptor")])],
      "etwp.c", doc="2-level wrapper: passes its register parameters on as stack parameters")
    F("EtwTraceProcess", [(T_P, "Process"), (T_U, "Flags")],
      [Call("EtwpWriteProcessEvent", [P("Process"), P("Flags"), E(1), E(0), ent(h_ps),
                                      ent(d["KERNEL_PROCESS_EVENT_PROCESS_START"])]),
       Legacy(ent(m_process), ent(hk["WMI_LOG_TYPE_PROCESS_CREATE"])),
       Tlg("_tlgWriteTransfer_EtwWriteTransfer", ent(t_kp, via_var=True), ent(ev_started))], "etwp.c",
      doc="manifest (through a wrapper), legacy and TraceLogging (provider loaded from its handle variable)")
    F("EtwTraceProcessTerminate", [(T_P, "Process"), ("NTSTATUS", "ExitStatus")],
      [Legacy(ent(m_process), ent(hk["WMI_LOG_TYPE_PROCESS_TERMINATE"])),
       Raw("KiSyntheticCounter += (LONG)ExitStatus + (LONG)(ULONG_PTR)Process;"),
       Call("EtwpWriteEventPassthrough", [ent(h_ps), ent(d["KERNEL_PROCESS_EVENT_PROCESS_STOP"]), E(0), E(0),
                                          E(0)])], "etwp.c")
    F("EtwTraceThread", [(T_P, "Thread"), (T_U, "Flags")],
      [If("Flags & 0x4", [Raw("KiSyntheticCounter += 7;")]),
       Write("EtwWrite", ent(h_ps), ent(d["KERNEL_PROCESS_EVENT_THREAD_START"])),
       Legacy(ent(m_thread), ent(hk["WMI_LOG_TYPE_THREAD_CREATE"])),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Thread;")], "etwp.c")
    F("EtwTraceJob", [("USHORT", "HookId"), (T_P, "Job")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Job;"), Legacy(ent(m_job), P("HookId"))], "etwp.c",
      doc="legacy event whose HookId is a parameter: resolved per call path")
    F("EtwpTraceKernelEventPassthrough", [("PEVENT_DATA_DESCRIPTOR", "EventData"), (T_U, "DataCount"),
                                          (T_U, "GroupMask"), ("USHORT", "HookId"), (T_U, "Flags")],
      [Raw("if (DataCount == 0) {\n    return STATUS_INVALID_PARAMETER;\n}"),
       Legacy(P("GroupMask"), P("HookId"), tail_passthrough=True)], "etwp.c",
      doc="tail call: jmp EtwTraceKernelEvent; group mask and hook id are parameters")
    F("EtwTracePriority", [("USHORT", "HookId"), (T_P, "Thread"), (T_U, "Priority")],
      [Raw("EVENT_DATA_DESCRIPTOR PriorityData[1];\n"
           "PriorityData[0].Ptr = (ULONGLONG)(ULONG_PTR)&Priority;\n"
           "PriorityData[0].Size = sizeof(Priority);\n"
           "PriorityData[0].Reserved = (ULONG)(ULONG_PTR)Thread & 0;"),
       Call("EtwpTraceKernelEventPassthrough", [E("PriorityData"), E(1), ent(m_prio), P("HookId"),
                                                E("ETW_TRACE_KERNEL_EVENT_FLAGS")])], "etwp.c",
      doc="passes its HookId parameter on (2 levels of hook-id wrappers)")
    F("EtwpTraceVirtualMemory", [("USHORT", "HookId"), (T_P, "BaseAddress"), ("SIZE_T", "RegionSize")],
      [Raw("KiSyntheticCounter += (LONG)RegionSize + (LONG)(ULONG_PTR)BaseAddress;"),
       Legacy(ent(m_va), P("HookId"))], "etwp.c")
    F("EtwTiLogAllocExecVm", [(T_D, "Descriptor"), (T_P, "BaseAddress"), ("SIZE_T", "RegionSize")],
      [IfEnabled(ent(h_ti), P("Descriptor"), [
          Raw("KiSyntheticCounter += (LONG)RegionSize + (LONG)(ULONG_PTR)BaseAddress;"),
          Write("EtwWrite", ent(h_ti), P("Descriptor"))])], "etwp.c",
      doc="EtwEventEnabled check (not a write) before the write")
    F("EtwTiLogProtectExecVm", [(T_D, "Descriptor"), (T_U, "NewProtect")],
      [IfEnabled(ent(h_ti), P("Descriptor"), [
          Raw("KiSyntheticCounter += (LONG)NewProtect;"),
          Write("EtwWriteEx", ent(h_ti), P("Descriptor"))])], "etwp.c")
    F("EtwTiLogReadWriteVm", [(T_D, "Descriptor"), (T_P, "BaseAddress"), ("SIZE_T", "BufferSize")],
      [Raw("KiSyntheticCounter += (LONG)BufferSize - (LONG)(ULONG_PTR)BaseAddress;"),
       Write("EtwWrite", Vol(ent(h_ti), T_H), P("Descriptor"))], "etwp.c",
      doc="the handle goes through a volatile stack slot")
    F("EtwTiLogMapExecView", [(T_P, "Process"), (T_U, "Protect")],
      [If("Protect & 0xF0", [Write("EtwWrite", ent(h_ti), ent(d["THREATINT_MAPVIEW_REMOTE"]))]),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Process;")], "etwp.c")
    F("EtwTiLogSetContextThread", [(T_P, "Thread"), (T_U, "Mode")],
      [Raw("KiSyntheticCounter += (LONG)Mode;"),
       Write("EtwWrite", ent(h_ti), ent(d["THREATINT_SETTHREADCONTEXT_REMOTE"])),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Thread;")], "etwp.c")
    F("EtwTiLogQueueApcThread", [(T_P, "Thread"), (T_U, "Flags")],
      [Raw("KiSyntheticCounter ^= (LONG)Flags;"),
       Write("EtwWrite", ent(h_ti), ent(d["THREATINT_QUEUEUSERAPC_REMOTE"])),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Thread;")], "etwp.c")
    F("EtwTiLogSuspendResumeThread", [(T_D, "Descriptor"), (T_P, "Thread")],
      [Raw("KiSyntheticCounter -= (LONG)(ULONG_PTR)Thread;"),
       Write("EtwWrite", ent(h_ti), P("Descriptor"))], "etwp.c")
    F("EtwpTimLogMitigationForProcess", [(T_D, "Descriptor"), (T_P, "Process"), (T_U, "Flags")],
      [IfProviderEnabled(ent(h_mit), 0, 0x8000000000000000, [
          Raw("KiSyntheticCounter += (LONG)Flags + (LONG)(ULONG_PTR)Process;"),
          Write("EtwWrite", ent(h_mit), P("Descriptor"))])], "etwp.c",
      doc="EtwProviderEnabled check (not a write) before the write")
    F("EtwpTlgLogSecurityEvent", [(T_TP, "Provider"), (T_TE, "EventMetadata"), (T_U, "Value")],
      [Raw("KiSyntheticCounter += (LONG)Value;"),
       Tlg("_tlgWriteTransfer_EtwWriteTransfer", P("Provider"), P("EventMetadata"))], "etwp.c",
      doc="TraceLogging provider and event metadata are parameters: resolved per call path")
    F("MiLogWorkingSetInfo", [("PETWP_STATE", "State"), (T_P, "Process")],
      [Raw("State->SequenceNumber += (ULONG)(ULONG_PTR)Process;"),
       Write("EtwWrite", PF("State", "MemoryRegHandle"), ent(d["KERNEL_MEM_EVENT_MEMINFO_WS"])),
       Legacy(ent(m_ws), ent(hk["PERFINFO_LOG_TYPE_MEMINFOEX_WS"]))], "etwp.c",
      doc="the handle is read through a pointer to the global EtwpState (State->MemoryRegHandle)")
    F("SeLogAccessFailure", [(T_U, "DesiredAccess"), ("NTSTATUS", "AccessStatus")],
      [IfProviderEnabled(ent(h_gen), 2, 0x20, [
          Raw("KiSyntheticCounter += (LONG)DesiredAccess + (LONG)AccessStatus;"),
          Write("EtwWrite", ent(h_gen), ent(d["AccessCheckLog"]))])], "etwp.c",
      doc="handle in a field of a global structure (EtwpState+0x10)")
    F("MiLogSectionCreate", [(T_P, "Section"), (T_U, "Flags")],
      [Raw("KiSyntheticCounter += (LONG)Flags + (LONG)(ULONG_PTR)Section;"),
       Legacy(ent(m_section), ent(hk["PERFINFO_LOG_TYPE_PFMAPPED_SECTION_CREATE"]))], "etwp.c",
      doc="combined group mask: PERF_MEMORY | PERF_SESSION")

    # ---------------------------------------------------------------- ps.c: processes, threads, jobs
    filler("PspReferenceProcess", "ps.c")
    filler("PspCaptureCreateInfo", "ps.c")
    filler("PspRundownProcess", "ps.c")
    filler("PspAddProcessToJob", "ps.c", calls=("PspReferenceProcess",))
    filler("PspCaptureThreadContext", "ps.c")
    F("NtCreateUserProcess", [(T_P, "ProcessParameters"), (T_U, "ProcessFlags"), (T_U, "ThreadFlags")],
      [Call("PspCaptureCreateInfo", [P("ProcessParameters")]),
       Call("PspAllocateProcess", [P("ProcessFlags")]),
       Call("PspInsertProcess", [P("ProcessParameters"), P("ProcessFlags")]),
       Raw("KiSyntheticCounter += (LONG)ThreadFlags;")], "ps.c",
      doc="syscall, not exported: known from the PDB only")
    F("NtCreateProcessEx", [(T_P, "ParentProcess"), (T_U, "Flags")],
      [Call("PspCreateProcessCommon", [P("ParentProcess"), P("Flags")])], "ps.c", exported=True)
    F("PspCreateProcessCommon", [(T_P, "ParentProcess"), (T_U, "Flags")],
      [Call("PspAllocateProcess", [P("Flags")]),
       Call("PspInsertProcess", [P("ParentProcess"), P("Flags")])], "ps.c")
    F("PspAllocateProcess", [(T_U, "Flags")],
      [Call("MmCreateProcessAddressSpace", [P("Flags")]),
       Call("PspReferenceProcess", [E("(PVOID)(ULONG_PTR)Flags")])], "ps.c")
    F("PspInsertProcess", [(T_P, "Process"), (T_U, "Flags")],
      [Call("EtwTraceProcess", [P("Process"), P("Flags")]),
       If("Flags & 0x2", [Call("PspCheckTokenCreation", [P("Process"), P("Flags")])])], "ps.c")
    F("PspCheckTokenCreation", [(T_P, "Process"), (T_U, "Flags")],
      [Raw("KiSyntheticCounter += (LONG)Flags;"),
       Tlg("_tlgWriteEx_EtwWriteEx", ent(t_kp), ent(ev_denied)),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Process;")], "ps.c")
    F("NtTerminateProcess", [(T_P, "ProcessHandle"), ("NTSTATUS", "ExitStatus")],
      [IfEnabled(Vol(ent(h_audit), T_H), ent(d["KERNEL_AUDIT_API_TERMINATEPROCESS"]), [
          Write("EtwWrite", Vol(ent(h_audit), T_H), ent(d["KERNEL_AUDIT_API_TERMINATEPROCESS"]))]),
       Call("PspTerminateProcess", [P("ProcessHandle"), P("ExitStatus")])], "ps.c",
      doc="write at depth 1, handle copied through a volatile local")
    F("ZwTerminateProcess", [(T_P, "ProcessHandle"), ("NTSTATUS", "ExitStatus")],
      [Call("NtTerminateProcess", [P("ProcessHandle"), P("ExitStatus")], tail=True)], "ps.c", exported=True,
      doc="exported Zw alias: a jmp to the Nt syscall")
    F("PspTerminateProcess", [(T_P, "Process"), ("NTSTATUS", "ExitStatus")],
      [Call("EtwTraceProcessTerminate", [P("Process"), P("ExitStatus")]),
       Call("PspRundownProcess", [P("Process")])], "ps.c")
    F("NtOpenProcess", [(T_P, "ClientId"), (T_U, "DesiredAccess")],
      [Call("PsOpenProcess", [E("(ULONG)(ULONG_PTR)ClientId"), P("DesiredAccess")])], "ps.c", exported=True)
    F("PsOpenProcess", [(T_U, "ProcessId"), (T_U, "DesiredAccess")],
      [Call("PspReferenceProcess", [E("(PVOID)(ULONG_PTR)ProcessId")]),
       Call("EtwpLogAuditApiEvent", [ent(d["KERNEL_AUDIT_API_OPENPROCESS"]), P("ProcessId"),
                                     E("(NTSTATUS)DesiredAccess")])], "ps.c")
    F("NtOpenThread", [(T_P, "ClientId"), (T_U, "DesiredAccess")],
      [Call("PsOpenThread", [E("(ULONG)(ULONG_PTR)ClientId"), P("DesiredAccess")])], "ps.c")
    F("PsOpenThread", [(T_U, "ThreadId"), (T_U, "DesiredAccess")],
      [Raw("KiSyntheticCounter += (LONG)DesiredAccess;"),
       Call("EtwpLogAuditApiEvent", [ent(d["KERNEL_AUDIT_API_OPENTHREAD"]), P("ThreadId"), E(0)])], "ps.c")
    F("PsSetLoadImageNotifyRoutineEx", [(T_P, "NotifyRoutine"), ("ULONG_PTR", "Flags")],
      [Raw("KiSyntheticCounter += (LONG)Flags;"),
       Call("EtwpLogAuditApiEvent", [ent(d["KERNEL_AUDIT_API_PSSETLOADIMAGENOTIFYROUTINE"]),
                                     E("(ULONG)(ULONG_PTR)NotifyRoutine"), E(0)], tail=True)], "ps.c",
      exported=True, doc="exported non-Nt API; tail call (jmp) to a wrapper")
    F("NtSetContextThread", [(T_P, "ThreadHandle"), (T_P, "ThreadContext")],
      [Call("PspCaptureThreadContext", [P("ThreadContext")]),
       Call("PspSetContextThreadInternal", [P("ThreadHandle"), E("(ULONG)(ULONG_PTR)ThreadContext")]),
       Call("EtwpLogAuditApiEvent", [ent(d["KERNEL_AUDIT_API_SETCONTEXTTHREAD"]),
                                     E("(ULONG)(ULONG_PTR)ThreadHandle"), E(0)])], "ps.c")
    F("PspSetContextThreadInternal", [(T_P, "Thread"), (T_U, "Mode")],
      [If("Mode != 0", [Call("EtwTiLogSetContextThread", [P("Thread"), P("Mode")])])], "ps.c")
    F("NtSuspendThread", [(T_P, "ThreadHandle"), (T_P, "PreviousSuspendCount")],
      [Call("PsSuspendThread", [P("ThreadHandle"), P("PreviousSuspendCount")])], "ps.c")
    F("PsSuspendThread", [(T_P, "Thread"), (T_P, "PreviousSuspendCount")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)PreviousSuspendCount;"),
       Call("EtwTiLogSuspendResumeThread", [ent(d["THREATINT_SUSPEND_THREAD"]), P("Thread")])], "ps.c")
    F("NtResumeThread", [(T_P, "ThreadHandle"), (T_P, "PreviousSuspendCount")],
      [Call("PsResumeThread", [P("ThreadHandle"), P("PreviousSuspendCount")])], "ps.c")
    F("PsResumeThread", [(T_P, "Thread"), (T_P, "PreviousSuspendCount")],
      [Raw("KiSyntheticCounter -= (LONG)(ULONG_PTR)PreviousSuspendCount;"),
       Call("EtwTiLogSuspendResumeThread", [ent(d["THREATINT_RESUME_THREAD"]), P("Thread")])], "ps.c")
    F("NtQueueApcThreadEx", [(T_P, "ThreadHandle"), (T_U, "Flags")],
      [Call("PspQueueApcThreadEx", [P("ThreadHandle"), P("Flags")])], "ps.c")
    F("PspQueueApcThreadEx", [(T_P, "Thread"), (T_U, "Flags")],
      [Raw("KiSyntheticCounter += (LONG)Flags;"),
       Call("EtwTiLogQueueApcThread", [P("Thread"), P("Flags")])], "ps.c")
    F("NtCreateThreadEx", [(T_P, "ProcessHandle"), (T_U, "CreateFlags")],
      [Call("PspCreateThread", [P("ProcessHandle"), P("CreateFlags")])], "ps.c")
    F("PsCreateSystemThread", [(T_P, "StartRoutine"), (T_U, "Flags")],
      [Call("PspInsertThread", [P("StartRoutine"), P("Flags")])], "ps.c", exported=True)
    F("PspCreateThread", [(T_P, "Process"), (T_U, "Flags")],
      [Call("PspReferenceProcess", [P("Process")]),
       Call("PspInsertThread", [P("Process"), P("Flags")])], "ps.c")
    F("PspInsertThread", [(T_P, "Thread"), (T_U, "Flags")],
      [Call("EtwTraceThread", [P("Thread"), P("Flags")])], "ps.c")
    F("NtSetInformationThread", [(T_P, "ThreadHandle"), (T_U, "ThreadInformationClass"),
                                 (T_P, "ThreadInformation"), (T_U, "ThreadInformationLength")],
      [Switch("ThreadInformationClass", [
          (0, [Call("KeSetPriorityThread", [P("ThreadHandle"), P("ThreadInformationLength")])]),
          (1, [Call("MmSetPagePriorityThread", [P("ThreadHandle"), P("ThreadInformationLength")])]),
          (2, [Call("PsSetIoPriorityThread", [P("ThreadHandle"), P("ThreadInformationLength")])]),
          (38, [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)ThreadInformation;"),
                Write("EtwWrite", ent(h_ps), StackDesc(sd_thread_name))]),
      ], [Raw("KiSyntheticCounter -= 1;")])], "ps.c", exported=True,
      doc="switch: each case reaches a different hook id; case 38 builds its descriptor on the stack")
    F("KeSetPriorityThread", [(T_P, "Thread"), (T_U, "Priority")],
      [Call("EtwTracePriority", [ent(hk["PERFINFO_LOG_TYPE_THREAD_SET_PRIORITY"]), P("Thread"),
                                 P("Priority")])], "ps.c", exported=True)
    F("MmSetPagePriorityThread", [(T_P, "Thread"), (T_U, "PagePriority")],
      [Raw("KiSyntheticCounter += (LONG)PagePriority * 5;"),
       Call("EtwTracePriority", [ent(hk["PERFINFO_LOG_TYPE_THREAD_SET_PAGE_PRIORITY"]), P("Thread"),
                                 P("PagePriority")])], "ps.c")
    F("PsSetIoPriorityThread", [(T_P, "Thread"), (T_U, "IoPriority")],
      [Raw("KiSyntheticCounter += (LONG)IoPriority * 3;"),
       Call("EtwTracePriority", [ent(hk["PERFINFO_LOG_TYPE_THREAD_SET_IO_PRIORITY"]), P("Thread"),
                                 P("IoPriority")])], "ps.c")
    F("NtCreateJobObject", [(T_P, "JobHandle"), (T_U, "DesiredAccess")],
      [Raw("KiSyntheticCounter += (LONG)DesiredAccess;"),
       Call("EtwTraceJob", [ent(hk["WMI_LOG_TYPE_JOB_CREATE"]), P("JobHandle")])], "ps.c")
    F("NtTerminateJobObject", [(T_P, "JobHandle"), ("NTSTATUS", "ExitStatus")],
      [Call("PspTerminateJobTree", [P("JobHandle"), E("(ULONG)ExitStatus")])], "ps.c")
    F("PspTerminateJobTree", [(T_P, "Job"), (T_U, "Depth")],
      [If("Depth > 1", [Call("PspTerminateJobTree", [E("(PVOID)((ULONG_PTR)Job + 8)"), E("Depth - 1")])]),
       Call("EtwTraceJob", [ent(hk["WMI_LOG_TYPE_JOB_TERMINATE"]), P("Job")])], "ps.c",
      doc="self-recursive")
    F("NtAssignProcessToJobObject", [(T_P, "JobHandle"), (T_P, "ProcessHandle")],
      [Call("PspAddProcessToJob", [P("ProcessHandle")]),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)JobHandle;")], "ps.c",
      doc="a syscall reaching no write")
    F("NtSetInformationProcess", [(T_P, "ProcessHandle"), (T_U, "ProcessInformationClass"),
                                  (T_P, "ProcessInformation"), (T_U, "ProcessInformationLength")],
      [Switch("ProcessInformationClass", [
          (5, [Call("MmAdjustWorkingSetSize", [P("ProcessHandle"), E("(SIZE_T)ProcessInformationLength")])]),
          (52, [Call("PspSetProcessMitigation", [P("ProcessHandle"), P("ProcessInformationLength")])]),
          (18, [Call("PsSetProcessPriorityClass", [P("ProcessHandle"), E("(UCHAR)ProcessInformationLength")])]),
          (61, [Call("PspSetProcessProtection", [P("ProcessHandle"), P("ProcessInformation")])]),
      ])], "ps.c", exported=True)
    F("PspSetProcessMitigation", [(T_P, "Process"), (T_U, "Flags")],
      [If("Flags & 0x1",
          [Raw("KiSyntheticCounter += 0x100;"),
           Call("EtwpTimLogMitigationForProcess", [ent(d["MITIGATION_AUDIT_PROHIBIT_DYNAMIC_CODE"]), P("Process"),
                                                   P("Flags")])],
          [Raw("KiSyntheticCounter -= 0x200;"),
           Call("EtwpTimLogMitigationForProcess", [ent(d["MITIGATION_ENFORCE_PROHIBIT_DYNAMIC_CODE"]),
                                                   P("Process"), E("Flags | 0x8")])])], "ps.c",
      doc="if/else: each branch calls the wrapper with its own descriptor")
    F("PsSetProcessPriorityClass", [(T_P, "Process"), ("UCHAR", "PriorityClass")],
      [Call("PspLogCpuPriorityChange", [P("Process"), E("(ULONG)PriorityClass")])], "ps.c", exported=True)
    F("PspLogCpuPriorityChange", [(T_P, "Process"), (T_U, "NewPriority")],
      [Raw("KiSyntheticCounter += (LONG)NewPriority;"),
       Write("EtwWrite", ent(h_ps), StackDesc(sd_cpu_prio)),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Process;")], "ps.c",
      doc="descriptor built on the stack field by field")
    F("PspSetProcessProtection", [(T_P, "Process"), (T_P, "Protection")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Protection;"),
       Tlg("_tlgWriteEx_EtwWriteEx", ent(t_sec), ent(ev_prot)),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Process;")], "ps.c")

    # ---------------------------------------------------------------- mm.c: memory manager
    filler("MiDoMappedCopy", "mm.c", params=((T_P, "Buffer"),))
    filler("MiLockProcessWorkingSet", "mm.c")
    filler("MiInsertVad", "mm.c", calls=("MiLockProcessWorkingSet",))
    F("MmCreateProcessAddressSpace", [(T_U, "Flags")],
      [Call("MiInsertVad", [E("(PVOID)(ULONG_PTR)Flags")]),
       If("Flags & 0x10", [Call("MmAdjustWorkingSetSize", [E("(PVOID)(ULONG_PTR)Flags"), E(0x1000)])])], "mm.c")
    F("NtAllocateVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), ("SIZE_T", "RegionSize"),
                                  (T_U, "AllocationType"), (T_U, "Protect")],
      [Raw("KiSyntheticCounter += (LONG)AllocationType;"),
       Call("MiAllocateVirtualMemory", [P("ProcessHandle"), P("BaseAddress"), P("RegionSize"), P("Protect")])],
      "mm.c", exported=True)
    F("MiAllocateVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), ("SIZE_T", "RegionSize"),
                                  (T_U, "Protect")],
      [Call("MiInsertVad", [P("BaseAddress")]),
       Call("EtwpTraceVirtualMemory", [ent(hk["PERFINFO_LOG_TYPE_VIRTUAL_ALLOC"]), P("BaseAddress"),
                                       P("RegionSize")]),
       If("Protect & 0xF0",
          [Call("EtwTiLogAllocExecVm", [Sel("ProcessHandle != NtCurrentProcess()",
                                            ent(d["THREATINT_ALLOCVM_REMOTE"]), ent(d["THREATINT_ALLOCVM_LOCAL"])),
                                        P("BaseAddress"), P("RegionSize")])])], "mm.c",
      doc="cond ? &A : &B selects the descriptor (cmov)")
    F("NtFreeVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), ("SIZE_T", "RegionSize")],
      [Call("MiFreeVirtualMemory", [P("BaseAddress"), P("RegionSize")]),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)ProcessHandle;")], "mm.c", exported=True)
    F("MiFreeVirtualMemory", [(T_P, "BaseAddress"), ("SIZE_T", "RegionSize")],
      [Call("MiLockProcessWorkingSet", [P("BaseAddress")]),
       Call("EtwpTraceVirtualMemory", [ent(hk["PERFINFO_LOG_TYPE_VIRTUAL_FREE"]), P("BaseAddress"),
                                       P("RegionSize")])], "mm.c")
    F("NtProtectVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), ("SIZE_T", "RegionSize"),
                                 (T_U, "NewProtect")],
      [Call("MiProtectVirtualMemory", [P("ProcessHandle"), P("BaseAddress"), P("RegionSize"), P("NewProtect")])],
      "mm.c")
    F("MiProtectVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), ("SIZE_T", "RegionSize"),
                                 (T_U, "NewProtect")],
      [If("ProcessHandle != NtCurrentProcess()",
          [Raw("KiSyntheticCounter += (LONG)RegionSize;"),
           Assign("ProtectDescriptor", ent(d["THREATINT_PROTECTVM_REMOTE"]))],
          [Raw("KiSyntheticCounter -= (LONG)(ULONG_PTR)BaseAddress;"),
           Assign("ProtectDescriptor", ent(d["THREATINT_PROTECTVM_LOCAL"]))]),
       Call("MiLockProcessWorkingSet", [P("BaseAddress")]),
       Call("EtwTiLogProtectExecVm", [Var("ProtectDescriptor"), P("NewProtect")])], "mm.c",
      locals_=[(T_D, "ProtectDescriptor")],
      doc="if/else branches assign different descriptors, then one call (a phi)")
    F("MmProtectVirtualMemoryKernel", [(T_P, "BaseAddress"), ("SIZE_T", "RegionSize"), (T_U, "NewProtect")],
      [Raw("KiSyntheticCounter += (LONG)RegionSize + (LONG)(ULONG_PTR)BaseAddress;"),
       Call("EtwTiLogProtectExecVm", [ent(d["THREATINT_PROTECTVM_REMOTE_KERNEL_CALLER"]), P("NewProtect")])],
      "mm.c", exported=True)
    F("NtReadVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), (T_P, "Buffer"),
                              ("SIZE_T", "BufferSize")],
      [Call("MiReadWriteVirtualMemory", [P("ProcessHandle"), P("BaseAddress"), P("Buffer"), P("BufferSize"),
                                         ent(d["THREATINT_READVM_REMOTE"])])], "mm.c")
    F("NtWriteVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), (T_P, "Buffer"),
                               ("SIZE_T", "BufferSize")],
      [Raw("KiSyntheticCounter ^= 0x55;"),
       Call("MiReadWriteVirtualMemory", [P("ProcessHandle"), P("BaseAddress"), P("Buffer"), P("BufferSize"),
                                         ent(d["THREATINT_WRITEVM_REMOTE"])])], "mm.c")
    F("MiReadWriteVirtualMemory", [(T_P, "ProcessHandle"), (T_P, "BaseAddress"), (T_P, "Buffer"),
                                   ("SIZE_T", "BufferSize"), (T_D, "Descriptor")],
      [Call("MiDoMappedCopy", [P("Buffer")]),
       If("ProcessHandle != NtCurrentProcess()",
          [Call("EtwTiLogReadWriteVm", [P("Descriptor"), P("BaseAddress"), P("BufferSize")])])], "mm.c",
      doc="the descriptor is the 5th parameter (stack) and is passed on (2 levels of descriptor wrappers)")
    F("NtMapViewOfSection", [(T_P, "SectionHandle"), (T_P, "ProcessHandle"), (T_U, "Protect")],
      [Call("MiMapViewOfSection", [P("ProcessHandle"), P("SectionHandle"), P("Protect")])], "mm.c", exported=True)
    F("MiMapViewOfSection", [(T_P, "Process"), (T_P, "Section"), (T_U, "Protect")],
      [If("Process != NtCurrentProcess()", [Call("EtwTiLogMapExecView", [P("Process"), P("Protect")])]),
       Call("MiMapViewOfImageSection", [P("Section")])], "mm.c")
    F("MiMapViewOfImageSection", [(T_P, "Section")],
      [Call("MiInsertVad", [P("Section")]),
       Call("EtwpLogImageEvent", [ent(h_ps), ent(d["KERNEL_PROCESS_EVENT_IMAGE_LOAD"]), P("Section")])], "mm.c")
    F("NtUnmapViewOfSection", [(T_P, "ProcessHandle"), (T_P, "BaseAddress")],
      [Call("MiUnmapViewOfSection", [P("ProcessHandle"), P("BaseAddress")])], "mm.c")
    F("MiUnmapViewOfSection", [(T_P, "Process"), (T_P, "BaseAddress")],
      [Call("MiLockProcessWorkingSet", [P("Process")]),
       Call("EtwpLogImageEvent", [ent(h_ps), ent(d["KERNEL_PROCESS_EVENT_IMAGE_UNLOAD"]), P("BaseAddress")])],
      "mm.c")
    F("MmLoadSystemImage", [(T_P, "ImageFileName"), (T_U, "Flags")],
      [If("Flags & 0x80000000",
          [Call("EtwpTlgLogSecurityEvent", [ent(t_sec), ent(ev_blocked), P("Flags")])]),
       Call("EtwpLogImageEvent", [ent(h_ps), ent(d["KERNEL_PROCESS_EVENT_IMAGE_LOAD"]), P("ImageFileName")])],
      "mm.c", exported=True)
    F("NtCreateSection", [(T_P, "SectionHandle"), (T_U, "AllocationAttributes")],
      [Call("MiCreateSectionCommon", [P("SectionHandle"), P("AllocationAttributes")])], "mm.c", exported=True)
    F("NtCreateSectionEx", [(T_P, "SectionHandle"), (T_U, "AllocationAttributes"), (T_P, "ExtendedParameters")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)ExtendedParameters;"),
       Call("MiCreateSectionCommon", [P("SectionHandle"), P("AllocationAttributes")])], "mm.c")
    F("MiCreateSectionCommon", [(T_P, "Section"), (T_U, "Attributes")],
      [Call("MiCreateSection", [P("Section"), P("Attributes")])], "mm.c")
    F("MiCreateSection", [(T_P, "Section"), (T_U, "Attributes")],
      [If("Attributes & 0x8000000", [Call("MiCreatePagingFileMap", [P("Section"), P("Attributes")])]),
       Raw("KiSyntheticCounter += (LONG)Attributes;")], "mm.c")
    F("MiCreatePagingFileMap", [(T_P, "Section"), (T_U, "Attributes")],
      [Call("MiInsertVad", [P("Section")]),
       Call("MiLogSectionCreate", [P("Section"), P("Attributes")])], "mm.c")
    F("NtCreatePagingFile", [(T_P, "PageFileName"), ("SIZE_T", "MinimumSize")],
      [Call("MiCreatePagingFile", [P("PageFileName"), E("(ULONG)MinimumSize")])], "mm.c",
      doc="reaches MiLogSectionCreate only at depth 6: not reported with the default max depth")
    F("MiCreatePagingFile", [(T_P, "PageFileName"), (T_U, "Size")],
      [Write("EtwWriteEx", ent(h_mem), ent(d["KERNEL_MEM_EVENT_PAGEFILE_ADDED"])),
       Call("MiCreateSectionCommon", [P("PageFileName"), E("Size | 0x8000000")])], "mm.c")
    F("MmAllocatePagesForMdlEx", [("SIZE_T", "TotalBytes"), (T_U, "Flags")],
      [Call("MiAllocatePagesForMdl", [P("TotalBytes"), P("Flags")])], "mm.c", exported=True)
    F("MiAllocatePagesForMdl", [("SIZE_T", "TotalBytes"), (T_U, "Flags")],
      [Raw("KiSyntheticCounter += (LONG)TotalBytes;"),
       Write("EtwWriteEx", ent(h_mem), ent(d["KERNEL_MEM_EVENT_MDL_ALLOCATION"])),
       Raw("KiSyntheticCounter ^= (LONG)Flags;")], "mm.c",
      doc="handle in a field of a global structure (EtwpState+0x8), RIP-relative load")
    F("MmAdjustWorkingSetSize", [(T_P, "Process"), ("SIZE_T", "WorkingSetSize")],
      [Raw("KiSyntheticCounter += (LONG)WorkingSetSize;"),
       Call("MiLogWorkingSetInfo", [ent(state), P("Process")])], "mm.c")
    F("MmTrimAllSystemPagableMemory", [(T_U, "TrimType")],
      [Call("MiLogWorkingSetInfo", [ent(state), E("(PVOID)(ULONG_PTR)TrimType")])], "mm.c", exported=True)

    # ---------------------------------------------------------------- ob.c: object manager
    filler("ObReferenceObjectByHandle", "ob.c", exported=True,
           doc="exported API reaching no write")
    F("ObCreateSymbolicLink", [(T_P, "LinkName"), (T_U, "DesiredAccess")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)LinkName;"),
       Call("EtwpLogAuditApiEvent", [ent(d["KERNEL_AUDIT_API_CREATESYMBOLICLINKOBJECT"]), P("DesiredAccess"),
                                     E(0)])], "ob.c", exported=True)
    F("NtCreateSymbolicLinkObject", [(T_P, "LinkHandle"), (T_U, "DesiredAccess")],
      [Call("ObCreateSymbolicLink", [P("LinkHandle"), P("DesiredAccess")])], "ob.c")
    F("NtClose", [(T_P, "Handle")], [Call("ObpCloseHandle", [P("Handle"), E(1)])], "ob.c", exported=True)
    F("ObpCloseHandle", [(T_P, "Handle"), (T_U, "PreviousMode")],
      [Raw("KiSyntheticCounter += (LONG)PreviousMode;"),
       Call("ObpTraceHandleEvent", [ent(hk["PERFINFO_LOG_TYPE_CLOSE_HANDLE"]), P("Handle"), E(0)])], "ob.c")
    F("NtDuplicateObject", [(T_P, "SourceProcess"), (T_P, "SourceHandle"), (T_U, "Options")],
      [Call("ObDuplicateObject", [P("SourceProcess"), P("SourceHandle"), P("Options")])], "ob.c", exported=True)
    F("ObDuplicateObject", [(T_P, "SourceProcess"), (T_P, "SourceHandle"), (T_U, "Options")],
      [If("Options & 0x1", [Call("ObpCloseHandle", [P("SourceHandle"), E(0)])]),
       Call("ObpCreateHandle", [P("SourceProcess"), P("SourceHandle")])], "ob.c")
    F("ObOpenObjectByPointer", [(T_P, "Object"), (T_U, "HandleAttributes")],
      [Raw("KiSyntheticCounter += (LONG)HandleAttributes;"),
       Call("ObpCreateHandle", [P("Object"), E("(PVOID)(ULONG_PTR)HandleAttributes")])], "ob.c", exported=True)
    F("ObpCreateHandle", [(T_P, "Object"), (T_P, "Handle")],
      [Call("ObReferenceObjectByHandle", [P("Handle")]),
       Call("ObpTraceHandleEvent", [ent(hk["PERFINFO_LOG_TYPE_CREATE_HANDLE"]), P("Handle"), P("Object")])],
      "ob.c")
    F("ObpTraceHandleEvent", [("USHORT", "HookId"), (T_P, "Handle"), (T_P, "Object")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Handle - (LONG)(ULONG_PTR)Object;"),
       Legacy(ent(m_obh), P("HookId"))], "ob.c")
    F("NtQueryDirectoryObject", [(T_P, "DirectoryHandle"), (T_U, "Context")],
      [Call("ObpLookupDirectoryEntry", [P("DirectoryHandle"), P("Context")])], "ob.c")
    F("ObpLookupDirectoryEntry", [(T_P, "Directory"), (T_U, "Depth")],
      [If("Depth != 0", [Call("ObpLookupDirectoryRecursive", [P("Directory"), E("Depth - 1")])]),
       Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Directory;")], "ob.c",
      doc="mutual recursion with ObpLookupDirectoryRecursive")
    F("ObpLookupDirectoryRecursive", [(T_P, "Directory"), (T_U, "Depth")],
      [Write("EtwWriteTransfer", ent(h_gen), ent(d["ObjectDirectoryLookup"])),
       If("Depth > 2", [Call("ObpLookupDirectoryEntry", [E("(PVOID)((ULONG_PTR)Directory + 16)"),
                                                          P("Depth")])])], "ob.c")

    # ---------------------------------------------------------------- io.c: I/O manager
    F("IoRegisterShutdownNotification", [(T_P, "DeviceObject")],
      [Call("IopRegisterShutdownCommon", [P("DeviceObject"),
                                          ent(d["KERNEL_AUDIT_API_IOREGISTERSHUTDOWNNOTIFICATION"])], tail=True)],
      "io.c", exported=True, doc="jmp to a 2-level descriptor wrapper")
    F("IoRegisterLastChanceShutdownNotification", [(T_P, "DeviceObject")],
      [Raw("KiSyntheticCounter += 0x11;"),
       Call("IopRegisterShutdownCommon", [P("DeviceObject"),
                                          ent(d["KERNEL_AUDIT_API_IOREGISTERLASTCHANCESHUTDOWNNOTIFICATION"])]),
       Raw("KiSyntheticCounter -= 0x3;")], "io.c", exported=True)
    F("IopRegisterShutdownCommon", [(T_P, "DeviceObject"), (T_D, "AuditDescriptor")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)DeviceObject;"),
       Call("EtwpLogAuditApiEvent", [P("AuditDescriptor"), E("(ULONG)(ULONG_PTR)DeviceObject"), E(0)])], "io.c")
    F("NtDeviceIoControlFile", [(T_P, "FileHandle"), (T_U, "IoControlCode")],
      [Call("IopXxxControlFile", [P("FileHandle"), P("IoControlCode"), E(1),
                                  ent(d["MITIGATION_AUDIT_PROHIBIT_WIN32K_SYSTEM_CALLS"])])], "io.c", exported=True)
    F("NtFsControlFile", [(T_P, "FileHandle"), (T_U, "FsControlCode")],
      [Call("IopXxxControlFile", [P("FileHandle"), P("FsControlCode"), E(0),
                                  ent(d["MITIGATION_AUDIT_PROHIBIT_FSCTL_SYSTEM_CALLS"])])], "io.c", exported=True)
    F("IopXxxControlFile", [(T_P, "FileHandle"), (T_U, "ControlCode"), ("BOOLEAN", "DeviceIoControl"),
                            (T_D, "MitigationDescriptor")],
      [Tlg("_tlgWriteTransfer_EtwWriteTransfer", ent(t_asm),
           Sel("DeviceIoControl", ent(ev_ioctl), ent(ev_fsctl))),
       If("ControlCode & 0x3",
          [Call("EtwpTimLogMitigationForProcess", [P("MitigationDescriptor"), P("FileHandle"), P("ControlCode")])])],
      "io.c", doc="TraceLogging event selected by cmov; mitigation descriptor per call path")
    F("IoCaptureLiveDump", [(T_U, "Flags")],
      [Raw("KiSyntheticCounter += (LONG)Flags;"), Call("IopLiveDumpWriteEvents", [P("Flags")])], "io.c",
      exported=True)
    F("IopLiveDumpWriteEvents", [(T_U, "Flags")],
      [LocalProvider(h_ld, [
          Write("EtwWriteEx", ent(h_ld), ent(d["LIVEDUMP_EVENT_CAPTURE_API_START"])),
          Raw("KiSyntheticCounter += (LONG)Flags;"),
          Write("EtwWriteEx", ent(h_ld), ent(d["LIVEDUMP_EVENT_CAPTURE_API_END"]))])], "io.c",
      doc="local REGHANDLE registered, used and unregistered in one function")
    F("NtSystemDebugControl", [(T_U, "Command"), (T_P, "InputBuffer")],
      [Switch("Command", [(37, [Call("IoCaptureLiveDump", [E("(ULONG)(ULONG_PTR)InputBuffer")])]),
                          (7, [Call("KdpQueryTraceInformation", [P("InputBuffer")])])])], "io.c")
    filler("KdpQueryTraceInformation", "io.c", params=((T_P, "Buffer"),))

    # ---------------------------------------------------------------- ke.c: executive, security, power
    F("NtSetSystemTime", [(T_P, "SystemTime"), (T_P, "PreviousTime")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)PreviousTime;"),
       Call("ExpSetSystemTime", [P("SystemTime")])], "ke.c")
    F("KeSetSystemTime", [(T_P, "NewTime"), (T_P, "OldTime")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)OldTime;"), Call("ExpSetSystemTime", [P("NewTime")])], "ke.c",
      exported=True)
    F("ExpSetSystemTime", [(T_P, "NewTime")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)NewTime;"),
       Write("EtwWrite", ent(h_gen), ent(d["KernelSystemTimeChange"]))], "ke.c")
    F("NtSetSystemInformation", [(T_U, "SystemInformationClass"), (T_P, "SystemInformation")],
      [Switch("SystemInformationClass", [
          (44, [Call("ExpSetTimeZoneInformation", [P("SystemInformation")])]),
          (38, [Call("MmLoadSystemImage", [P("SystemInformation"), E(0)])]),
          (3, [WriteString(ent(h_ps), 5, 0x8000000000000400, "SystemInformationChange")]),
      ])], "ke.c", doc="EtwWriteString at depth 1 in one case")
    F("ExpSetTimeZoneInformation", [(T_P, "TimeZone")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)TimeZone;"),
       Write("EtwWrite", ent(h_gen), StackDesc(sd_tz_bias))], "ke.c")
    F("NtSetTimerResolution", [(T_U, "DesiredTime"), ("BOOLEAN", "SetResolution")],
      [Raw("KiSyntheticCounter += (LONG)DesiredTime;"),
       If("SetResolution", [WriteString(ent(h_gen), 4, 0x8000000000000010, "TimerResolutionChange")])], "ke.c",
      doc="EtwWriteString through a handle in a global structure field")
    F("NtShutdownSystem", [(T_U, "Action")], [Call("PopGracefulShutdown", [P("Action")])], "ke.c")
    F("PopGracefulShutdown", [(T_U, "Action")],
      [Write("EtwWriteStartScenario", ent(h_pow), ent(d["POP_ETW_EVENT_GRACEFULSHUTDOWN_START"])),
       Raw("KiSyntheticCounter += (LONG)Action;"),
       Call("PopShutdownComplete", [P("Action")])], "ke.c")
    F("PopShutdownComplete", [(T_U, "Action")],
      [Raw("KiSyntheticCounter ^= (LONG)Action;"),
       Write("EtwWriteEndScenario", ent(h_pow), ent(d["POP_ETW_EVENT_GRACEFULSHUTDOWN_STOP"]))], "ke.c")
    F("NtPowerInformation", [(T_U, "InformationLevel"), (T_P, "InputBuffer")],
      [Switch("InformationLevel", [
          (0, [Write("EtwWrite", ent(h_pow), ent(d["POP_ETW_EVENT_KERNEL_QUERY_ALLOWED"]))]),
          (1, [Raw("KiSyntheticCounter += 2;"),
               Write("EtwWriteEx", ent(h_pow), ent(d["POP_ETW_EVENT_STRS"]))]),
          (2, [Raw("KiSyntheticCounter += 3;"),
               Write("EtwWriteTransfer", ent(h_pow), ent(d["POP_ETW_EVENT_SESSION_DISPLAY_ON"]))]),
      ], [Call("PopFilterCapabilities", [P("InputBuffer")])])], "ke.c",
      doc="switch: a different writer in each case, all at depth 1")
    filler("PopFilterCapabilities", "ke.c", params=((T_P, "Capabilities"),))
    F("SeAccessCheck", [(T_P, "SecurityDescriptor"), (T_U, "DesiredAccess")],
      [Call("SepAccessCheck", [P("SecurityDescriptor"), P("DesiredAccess")])], "ke.c", exported=True)
    F("NtAccessCheck", [(T_P, "SecurityDescriptor"), (T_P, "ClientToken"), (T_U, "DesiredAccess")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)ClientToken;"),
       Call("SepAccessCheck", [P("SecurityDescriptor"), P("DesiredAccess")])], "ke.c")
    F("SepAccessCheck", [(T_P, "SecurityDescriptor"), (T_U, "DesiredAccess")],
      [If("((ULONG_PTR)SecurityDescriptor & DesiredAccess) == 0",
          [Call("SeLogAccessFailure", [P("DesiredAccess"), E("STATUS_ACCESS_DENIED")])])], "ke.c")
    F("NtSetInformationToken", [(T_P, "TokenHandle"), (T_U, "TokenInformationClass")],
      [If("TokenInformationClass == 25", [Call("SepSetTokenIntegrity", [P("TokenHandle"), E(0x2000)])])], "ke.c")
    F("SepSetTokenIntegrity", [(T_P, "Token"), (T_U, "IntegrityLevel")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)Token;"),
       Call("EtwpTlgLogSecurityEvent", [ent(t_sec, via_var=True), ent(ev_token), P("IntegrityLevel")])], "ke.c",
      doc="TraceLogging provider pointer loaded from its const handle variable and passed to a wrapper")
    F("NtYieldExecution", [], [Raw("KiSyntheticCounter += 1;")], "ke.c", doc="a syscall with no call at all")
    F("NtQuerySystemInformation", [(T_U, "SystemInformationClass"), (T_P, "SystemInformation")],
      [Call("ExpQuerySystemInformation", [P("SystemInformationClass"), P("SystemInformation")])], "ke.c",
      exported=True)
    F("ExpQuerySystemInformation", [(T_U, "SystemInformationClass"), (T_P, "SystemInformation")],
      [Switch("SystemInformationClass", [
          (5, [Call("ExpQueryProcessInformation", [P("SystemInformation")])]),
          (185, [Raw("KiSyntheticCounter += 185;"),
                 Tlg("_tlgWriteAgg", ent(t_asm), ent(ev_usage))]),
      ])], "ke.c")
    filler("ExpQueryProcessInformation", "ke.c", params=((T_P, "Buffer"),), calls=("PspReferenceProcess",))

    # ---------------------------------------------------------------- cm.c: configuration manager (registry)
    F("NtDeleteValueKey", [(T_P, "KeyHandle"), (T_P, "ValueName")],
      [Call("CmDeleteValueKey", [P("KeyHandle"), P("ValueName")])], "cm.c")
    F("CmDeleteValueKey", [(T_P, "KeyControlBlock"), (T_P, "ValueName")],
      [Raw("KiSyntheticCounter += (LONG)(ULONG_PTR)ValueName;"),
       Call("HvpMarkCellDirty", [P("KeyControlBlock"), E(0x20)])], "cm.c")
    F("NtSetInformationKey", [(T_P, "KeyHandle"), (T_U, "KeySetInformationClass")],
      [If("KeySetInformationClass == 0", [Call("CmSetLastWriteTimeKey", [P("KeyHandle")])])], "cm.c")
    F("CmSetLastWriteTimeKey", [(T_P, "KeyControlBlock")],
      [Call("HvpMarkCellDirty", [P("KeyControlBlock"), E(0x8)])], "cm.c")
    F("HvpMarkCellDirty", [(T_P, "Hive"), (T_U, "Cell")],
      [If("(Cell & 0x7) == 0", [Call("HvpMarkDirty", [P("Hive"), P("Cell")])]),
       Raw("KiSyntheticCounter ^= (LONG)Cell;")], "cm.c")
    F("HvpMarkDirty", [(T_P, "Hive"), (T_U, "Start")],
      [Raw("KiSyntheticCounter += (LONG)Start + (LONG)(ULONG_PTR)Hive;"),
       Legacy(ent(m_hive), ent(hk["PERFINFO_LOG_TYPE_REG_HIVE_DIRTY"]))], "cm.c",
      doc="legacy event with an index-2 group mask (PERF_REG_HIVE)")

    files = ["init.c", "etwp.c", "ps.c", "mm.c", "ob.c", "io.c", "ke.c", "cm.c"]
    file_docs = {
        "init.c": "DriverEntry, provider registration and the system service table",
        "etwp.c": "ETW logging helpers and wrappers (handles/descriptors as parameters)",
        "ps.c": "process, thread and job syscalls",
        "mm.c": "memory manager syscalls",
        "ob.c": "object manager",
        "io.c": "I/O manager",
        "ke.c": "executive, security and power",
        "cm.c": "configuration manager (registry hives)",
    }
    handles = [h_ps, h_audit, h_ti, h_mit, h_pow]
    return Model("synthkernel", guids, handles, [state], list(d.values()), [t_sec, t_asm, t_kp], tlg_events,
                 masks, [hk[n] for n in HOOKS], funcs, files, registrations, file_docs)


def add_init_funcs(model: Model) -> None:
    """DriverEntry -> EtwpInitialize, which registers every provider (manifest and TraceLogging)."""
    lines = []
    for g, h, cb in model.registrations:
        lines.append(f"Status |= EtwRegister(&{g.sym}, {cb}, NULL, &{h.c});")
    for p in model.tlg_providers:
        lines.append(f"Status |= TraceLoggingRegisterEx_EtwRegister_EtwSetInformation(&{p.sym}, NULL, NULL);")
    model.funcs.insert(0, Func("EtwpInitialize", [], [Raw("\n".join(lines))], "init.c",
                               doc="registers the manifest providers (handles in globals and in EtwpState "
                                   "fields) and the TraceLogging providers"))
    model.funcs.insert(0, Func("DriverEntry", [(T_P, "DriverObject"), (T_P, "RegistryPath")],
                               [Raw("KeServiceTableBase = (PVOID)KiServiceTable;\n"
                                    "KeServiceTableLimit = sizeof(KiServiceTable) / sizeof(KiServiceTable[0]);\n"
                                    "KiSyntheticCounter += (LONG)(ULONG_PTR)DriverObject "
                                    "+ (LONG)(ULONG_PTR)RegistryPath;"),
                                Call("EtwpInitialize", [])], "init.c", doc="image entry point (not a root)"))



VARIANT_REMOVED = ("MiAllocatePagesForMdl", "KERNEL_MEM_EVENT_MDL_ALLOCATION")
VARIANT_MOVED = ("ObpLookupDirectoryRecursive", "ObjectDirectoryLookup")
VARIANT_ADDED = ("MiCreatePagingFile", "KERNEL_MEM_EVENT_PAGEFILE_REMOVED")


def _manifest_write(func: Func, sym: str) -> Write:
    for st in func.body:
        if isinstance(st, Write) and isinstance(st.desc, E) and getattr(st.desc.entity, "sym", None) == sym:
            return st
    raise ModelError(f"{func.name} has no top-level write of {sym}")


def make_variant(model: Model) -> dict:
    """Turn the kernel's model into its next build: one event removed, one moved to the function's first
    caller, one new event (a new descriptor) added beside an existing write. Returns what changed."""
    removed = model.func(VARIANT_REMOVED[0])
    removed.body.remove(_manifest_write(removed, VARIANT_REMOVED[1]))
    source = model.func(VARIANT_MOVED[0])
    moved = _manifest_write(source, VARIANT_MOVED[1])
    callers = sorted(f.name for f in model.funcs if f is not source and any(c.callee == source.name
                                                                            for c in f.calls()))
    if not callers:
        raise ModelError(f"{source.name} has no caller to move its write to")
    source.body.remove(moved)
    target = model.func(callers[0])
    target.body.insert(0, moved)
    host = model.func(VARIANT_ADDED[0])
    beside = next(st for st in host.body if isinstance(st, Write))
    old = beside.desc.entity  # type: ignore[attr-defined]
    new = mk_desc(VARIANT_ADDED[1], old.id + 1, old.version, old.channel, old.level, old.opcode, old.task, old.keyword)
    model.descs.append(new)
    host.body.insert(host.body.index(beside) + 1, Write(beside.writer, beside.handle, E(new)))
    return {"removed": list(VARIANT_REMOVED), "moved": [VARIANT_MOVED[1], source.name, target.name],
            "added": list(VARIANT_ADDED)}

