"""Standard ETW names from ``winmeta.xml``: the levels, opcodes, keywords, tasks and channels a manifest may
use without declaring them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

STANDARD_LEVELS: Mapping[str, int] = MappingProxyType(
    {
        "win:LogAlways": 0,
        "win:Always": 0,  # the spelling manifest reconstructions (PerfView/EtwExplorer) use for level 0
        "win:Critical": 1,
        "win:Error": 2,
        "win:Warning": 3,
        "win:Informational": 4,
        "win:Verbose": 5,
    }
)
"""``winmeta.xml`` levels."""

STANDARD_OPCODES: Mapping[str, int] = MappingProxyType(
    {
        "win:Info": 0,
        "win:Start": 1,
        "win:Stop": 2,
        "win:DC_Start": 3,
        "win:DC_Stop": 4,
        "win:Extension": 5,
        "win:Reply": 6,
        "win:Resume": 7,
        "win:Suspend": 8,
        "win:Send": 9,
        "win:Receive": 240,
    }
)
"""``winmeta.xml`` opcodes."""

STANDARD_KEYWORDS: Mapping[str, int] = MappingProxyType(
    {
        "win:AnyKeyword": 0,
        "win:ResponseTime": 0x0001000000000000,
        "win:WDIContext": 0x0002000000000000,
        "win:WDIDiag": 0x0004000000000000,
        "win:SQM": 0x0008000000000000,
        "win:AuditFailure": 0x0010000000000000,
        "win:AuditSuccess": 0x0020000000000000,
        "win:CorrelationHint": 0x0040000000000000,
        "win:EventlogClassic": 0x0080000000000000,
    }
)
"""``winmeta.xml`` keywords (bits 48-55 are reserved for these)."""

STANDARD_TASKS: Mapping[str, int] = MappingProxyType({"win:None": 0})
"""``winmeta.xml`` tasks."""

STANDARD_CHANNELS: Mapping[str, int] = MappingProxyType(
    {"TraceClassic": 0, "System": 8, "Application": 9, "Security": 10, "TraceLogging": 11}
)
"""``winmeta.xml`` channels, referenced through ``<importChannel>`` (also accepted with ``win:``)."""
