"""WPP (Windows software trace preprocessor) trace-message metadata, from the PDB's S_ANNOTATION records.

A WPP trace call identifies its message by (message GUID, message number): the GUID is the first element of the
source file's ``WPP_LOCAL_TraceGuids`` array (a static ``WPP_<hash>_Traceguids`` in the image), the number is
an immediate. Everything else about the message exists only in the PDB, as annotations the tracewpp-generated
``.tmh`` headers compile in (their templates: ``WPP_ANNOTATE_<name>`` and ``WPP_CONTROL_ANNOTATION``):

TMC (one per control GUID, from ``WPP_DEFINE_CONTROL_GUID(Name, (Guid), WPP_DEFINE_BIT(Flag)...)``)::

    "TMC:", "<control guid>", "<control name>", "<flag name>"..., ["PUBLIC_TMF:"]

TMF (one per trace statement, placed by ``WPP_ANNOTATE`` just before the statement's enable check and call)::

    "TMF:",
    "<message guid> <provider> // SRC=<file> MJ=<major> MN=<minor>",
    "#typev <name> <number> \\"<format>\\" // <indent> <KEY=VALUE>...[ FUNC=<function>]",
    "{", "<argument expression>, <type> -- <argument number>"..., "}",
    ["PUBLIC_TMF:"]

* ``<provider>`` is tracewpp's ``CurrentDir`` (the project/component name a TMF file shows); with
  ``WPP_USER_MSG_GUID`` the GUID text and the provider are concatenated without a space.
* ``<name>`` is ``WPP_THIS_FILE`` (the file name with ``.`` as ``_``) followed by the statement's line number,
  e.g. ``Queue_c2319``; that is where the line number comes from.
* ``KEY=VALUE`` pairs are the trace macro's fixed arguments ("goo pairs"): ``LEVEL=`` / ``TRACELEVEL=`` and
  ``FLAGS=`` for ``DoTraceEvents(LEVEL, FLAGS, ...)``; ``DoTraceMessage(FLAG, ...)`` gives ``LEVEL=<flag>`` (in
  WPP, "LEVEL" historically means a flag). ``FUNC=`` is appended when ``WPP_EMIT_FUNC_NAME`` is defined.
* Argument types are the TMF item types (``ItemString``, ``ItemLong``, ``ItemPtr``, ``ItemNTSTATUS``,
  ``ItemEnum(...)``, ``ItemListLong(...)``...); argument numbers start at 10 (``%10!s!`` in the format).
* A public message (``WPP_PUBLIC_``) hides the file and name (``Unknown_cxx00``) and the argument names
  (``Arg``) and ends with ``"PUBLIC_TMF:"``; older templates write ``#typev  <name>`` with two spaces.

Sources: the tracewpp templates ``um-default``/``km-default`` (``WPP_ANNOTATE_*`` and
``WPP_CONTROL_ANNOTATION`` definitions) and generated ``.tmh`` headers in public repositories, the WDK's "Trace
Message Format File" and "Trace Message Control File" pages, microsoft/pdb-rs's S_ANNOTATION documentation.

The message's control GUID is not in its TMF: a TMF names its flag (``FLAGS=`` or, for ``DoTraceMessage``,
``LEVEL=``), and the TMC that defines that flag is its control. With a single control in the PDB, every message
belongs to it.

Tying annotations to call sites: the S_ANNOTATION's address is where the compiler placed ``__annotation`` in the
function's code, i.e. before the enable check that guards the trace call, in the same function. In the fixture
(``samples/wpp``, clang -O2) every trace call (or tail jump) follows its annotation by 0x27-0x4b bytes in the
same function, with no other trace call in between; the annotation of a statement inlined from another function
(``__forceinline`` wrappers, ``WPP_CONTROL_ANNOTATION``) belongs to the caller's procedure. The reliable key is
the call's own arguments (message GUID pointer and message number, see :data:`.wppcalls.TRACE_FUNCTIONS`) looked up with
:meth:`WppIndex.lookup`; :meth:`WppIndex.at` (the nearest annotation at or before an address, within a window
and optionally within one procedure) is the fallback when the arguments cannot be recovered, and can be wrong
when the optimizer lays a guarded call out after the next statement's annotation.

A public message's ``file`` is None (its TMF says ``SRC=Unknown_cxx00``) and so is its ``line``.
"""

from __future__ import annotations

import bisect
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Optional, Union

#: Default distance, in bytes, from an annotation to the trace call it describes for :meth:`WppIndex.at`.
DEFAULT_WINDOW = 0x200

TMF_TAG = "TMF:"
TMC_TAG = "TMC:"
PUBLIC_TAG = "PUBLIC_TMF:"
PUBLIC_FILE = "Unknown_cxx00"

_GUID_RE = re.compile(r"\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?")
_PAIR_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*?)(?=\s+[A-Za-z_][A-Za-z0-9_]*=|\s*$)")
_TYPEV_RE = re.compile(r"\s*#typev\s+(\S+)\s+(0[xX][0-9a-fA-F]+|\d+)\s*(.*)$", re.S)
_ARGNO_RE = re.compile(r"\s*--\s*(\d+)\s*$")


@dataclass(frozen=True)
class WppControl:
    """A WPP control GUID (the provider a trace session enables) and its flag names, from a TMC annotation."""

    guid: str
    name: str
    flags: tuple[str, ...]
    public: bool = False
    rva: Optional[int] = None
    module: Optional[str] = None
    function: Optional[str] = None

    def flag_bit(self, flag: str) -> Optional[int]:
        """The enable-flag bit of ``flag`` (WPP_DEFINE_BIT order: the first flag is bit 0)."""
        try:
            return self.flags.index(flag)
        except ValueError:
            return None


@dataclass(frozen=True)
class WppMessage:
    """One WPP trace message, from a TMF annotation."""

    message_guid: str
    number: int
    provider_name: str
    format: str
    args: tuple[tuple[str, str], ...]
    control_guid: Optional[str] = None
    file: Optional[str] = None
    line: Optional[int] = None
    #: ``FUNC=`` of the TMF if present, else the procedure that holds the annotation in the PDB.
    function: Optional[str] = None
    #: ``LEVEL=`` (or ``TRACELEVEL=``) and ``FLAGS=`` as written in the trace statement.
    level: Optional[str] = None
    flags: Optional[str] = None
    #: tracewpp's message name: WPP_THIS_FILE followed by the line number (``Unknown_cxx00`` when public).
    name: str = ""
    #: Every KEY=VALUE of the ``#typev`` string's comment, in order (LEVEL, FLAGS, FUNC, ...).
    attributes: tuple[tuple[str, str], ...] = ()
    #: The argument numbers (10, 11, ... as ``%10!s!`` in the format); None where the TMF omits it.
    arg_numbers: tuple[Optional[int], ...] = ()
    public: bool = False
    #: Where the annotation is: its RVA, module, and the procedure holding it (from the PDB).
    rva: Optional[int] = None
    module: Optional[str] = None
    procedure: Optional[str] = None
    procedure_rva: Optional[int] = None
    #: Strings after the argument list other than PUBLIC_TMF:.
    extra: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, int]:
        return (self.message_guid, self.number)


def normalize_guid(value: Union[str, uuid.UUID]) -> Optional[str]:
    """Lower-case, no braces; None if ``value`` is not a GUID."""
    if isinstance(value, uuid.UUID):
        return str(value)
    match = _GUID_RE.fullmatch(value.strip())
    return match.group(1).lower() if match else None


def canonical_file(file: str) -> str:
    """tracewpp's WPP_THIS_FILE for a source file name: every non-identifier character becomes ``_``."""
    base = file.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c if c.isalnum() or c == "_" else "_" for c in base)


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """``KEY=VALUE`` pairs separated by blanks (a value runs until the next `` KEY=``)."""
    return [(m.group(1), m.group(2).strip()) for m in _PAIR_RE.finditer(text)]


def parse_tmc(strings: Iterable[str], warnings: Optional[list[str]] = None) -> Optional[WppControl]:
    """A TMC annotation's strings -> WppControl (None, with a warning, if it is unusable)."""
    items = list(strings)
    warnings = warnings if warnings is not None else []
    if not items or items[0].strip() != TMC_TAG:
        warnings.append("TMC: annotation does not start with 'TMC:'")
        return None
    public = len(items) > 1 and items[-1].strip() == PUBLIC_TAG
    if public:
        items = items[:-1]
    if len(items) < 2:
        warnings.append("TMC: annotation has no control GUID")
        return None
    guid = normalize_guid(items[1])
    if guid is None:
        warnings.append(f"TMC: {items[1]!r} is not a GUID")
        return None
    if len(items) < 3 or not items[2].strip():
        warnings.append(f"TMC: control {guid} has no name")
        name = ""
    else:
        name = items[2].strip()
    flags = tuple(s.strip() for s in items[3:] if s.strip())
    return WppControl(guid=guid, name=name, flags=flags, public=public)


def parse_tmf(strings: Iterable[str], warnings: Optional[list[str]] = None) -> Optional[WppMessage]:
    """A TMF annotation's strings -> WppMessage (None, with a warning, if it is unusable).

    Tolerated: ANSI or wide origin (the PDB holds UTF-8 either way), extra blanks, a GUID in braces or glued to
    the provider name, a missing ``// SRC=`` part, a format containing quotes, a missing ``{``/``}`` or argument
    number, argument names and types containing commas and parentheses, unknown trailing strings (kept in
    ``extra``).
    """
    items = list(strings)
    warnings = warnings if warnings is not None else []
    if not items or items[0].strip() != TMF_TAG:
        warnings.append("TMF: annotation does not start with 'TMF:'")
        return None
    if len(items) < 3:
        warnings.append(f"TMF: annotation has {len(items)} strings, needs at least 3")
        return None
    head = _parse_head(items[1])
    if head is None:
        warnings.append(f"TMF: no message GUID in {items[1][:80]!r}")
        return None
    guid, provider, src = head
    typev = _parse_typev(items[2])
    if typev is None:
        warnings.append(f"TMF: {guid}: unsupported message definition {items[2][:80]!r}")
        return None
    name, number, fmt, pairs = typev
    where = f"TMF: {guid} #{number}"
    args, numbers, extra, public = _parse_args(items[3:], where, warnings)
    attrs = dict(pairs)
    file = src.get("SRC") or None
    if file == PUBLIC_FILE:  # a public message hides its file and name
        public, file = True, None
    return WppMessage(
        message_guid=guid,
        number=number,
        provider_name=provider,
        format=fmt,
        args=tuple(args),
        file=file,
        line=_line_from_name(name, file),
        function=attrs.get("FUNC") or None,
        level=attrs.get("LEVEL") or attrs.get("TRACELEVEL") or None,
        flags=attrs.get("FLAGS") or None,
        name=name,
        attributes=tuple(pairs),
        arg_numbers=tuple(numbers),
        public=public,
        extra=tuple(extra),
    )


def parse_annotation(
    strings: Iterable[str], warnings: Optional[list[str]] = None
) -> Optional[Union[WppControl, WppMessage]]:
    """WppControl for a TMC annotation, WppMessage for a TMF one, None for any other annotation."""
    items = tuple(strings)
    tag = items[0].strip() if items else ""
    if tag == TMC_TAG:
        return parse_tmc(items, warnings)
    if tag == TMF_TAG:
        return parse_tmf(items, warnings)
    return None


def _parse_head(text: str) -> Optional[tuple[str, str, dict[str, str]]]:
    """``<guid> <provider> // SRC=file MJ= MN=`` -> (guid, provider, {SRC, MJ, MN})."""
    match = _GUID_RE.match(text.strip())
    if match is None:
        return None
    rest = text.strip()[match.end() :]
    provider, _sep, comment = rest.partition("//")
    return match.group(1).lower(), provider.strip(), dict(parse_pairs(comment))


def _parse_typev(text: str) -> Optional[tuple[str, int, str, list[tuple[str, str]]]]:
    """``#typev <name> <number> "<format>" // <pairs>`` -> (name, number, format, pairs)."""
    match = _TYPEV_RE.match(text)
    if match is None:
        return None
    name, number_text, rest = match.group(1), match.group(2), match.group(3)
    number = int(number_text, 0) if number_text.lower().startswith("0x") else int(number_text)
    rest = rest.strip()
    if not rest.startswith('"'):
        fmt, _sep, comment = rest.partition("//")
        return name, number, fmt.strip(), parse_pairs(comment)
    # The format may itself contain quotes: its end is the last quote followed only by an optional comment.
    close = len(rest)
    while True:
        close = rest.rfind('"', 1, close)
        if close <= 0:
            return name, number, rest[1:], []
        tail = rest[close + 1 :].strip()
        if not tail or tail.startswith("//"):
            return name, number, rest[1:close], parse_pairs(tail[2:])


def _parse_args(
    items: list[str], where: str, warnings: list[str]
) -> tuple[list[tuple[str, str]], list[Optional[int]], list[str], bool]:
    args: list[tuple[str, str]] = []
    numbers: list[Optional[int]] = []
    extra: list[str] = []
    public = False
    pos = 0
    if items and items[0].strip() == "{":
        pos = 1
    elif items and items[0].strip() != PUBLIC_TAG:
        warnings.append(f"{where}: argument list does not start with '{{'")
    closed = False
    while pos < len(items):
        text = items[pos].strip()
        pos += 1
        if text == "}":
            closed = True
            break
        if text == PUBLIC_TAG:
            public = True
            continue
        arg = _parse_arg(text)
        if arg is None:
            warnings.append(f"{where}: unreadable argument {text[:60]!r}")
            continue
        args.append((arg[0], arg[1]))
        numbers.append(arg[2])
    if not closed and (args or pos > 1):
        warnings.append(f"{where}: argument list is not closed with '}}'")
    for text in items[pos:]:
        if text.strip() == PUBLIC_TAG:
            public = True
        elif text.strip():
            extra.append(text)
    return args, numbers, extra, public


def _parse_arg(text: str) -> Optional[tuple[str, str, Optional[int]]]:
    """``<expression>, <type> -- <number>``; the split is the last comma outside parentheses."""
    number: Optional[int] = None
    match = _ARGNO_RE.search(text)
    if match:
        number = int(match.group(1))
        text = text[: match.start()]
    depth, split = 0, -1
    for i, ch in enumerate(text):
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>" and depth:
            depth -= 1
        elif ch == "," and depth == 0:
            split = i
    if split < 0:
        return None
    name, moftype = text[:split].strip(), text[split + 1 :].strip()
    if not moftype:
        return None
    return name, moftype, number


def _line_from_name(name: str, file: Optional[str]) -> Optional[int]:
    """The line number in tracewpp's message name ``<WPP_THIS_FILE><line>``, when the file matches."""
    if not file:
        return None
    prefix = canonical_file(file)
    if name.lower().startswith(prefix.lower()) and name[len(prefix) :].isdigit():
        return int(name[len(prefix) :])
    return None


@dataclass
class WppIndex:
    """WPP controls and messages of one PDB, keyed by (message GUID, number) and by annotation address."""

    controls: list[WppControl] = field(default_factory=list)
    messages: list[WppMessage] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _by_key: dict[tuple[str, int], WppMessage] = field(default_factory=dict, repr=False)
    _by_rva: list[tuple[int, int]] = field(default_factory=list, repr=False)  # (rva, index into messages)

    @classmethod
    def from_annotations(cls, annotations: Iterable) -> WppIndex:
        """Build the index from :class:`~api_to_etw.binary.pdb_annotations.Annotation` objects (anything with
        ``strings`` and optionally ``rva``, ``module``, ``function``, ``function_rva``), or plain string tuples."""
        index = cls()
        raw_messages: list[WppMessage] = []
        for annotation in annotations:
            strings = getattr(annotation, "strings", annotation)
            rva = getattr(annotation, "rva", None)
            module = getattr(annotation, "module", None)
            procedure = getattr(annotation, "function", None)
            procedure_rva = getattr(annotation, "function_rva", None)
            parsed = parse_annotation(strings, index.warnings)
            if isinstance(parsed, WppControl):
                index.controls.append(replace(parsed, rva=rva, module=module, function=procedure))
            elif isinstance(parsed, WppMessage):
                raw_messages.append(replace(parsed, rva=rva, module=module, procedure=procedure,
                                            procedure_rva=procedure_rva,
                                            function=parsed.function or procedure))
        index._dedupe_controls()
        for message in raw_messages:
            index._add(replace(message, control_guid=index._control_of(message)))
        return index

    def _dedupe_controls(self) -> None:
        seen: dict[str, WppControl] = {}
        for control in self.controls:
            other = seen.get(control.guid)
            if other is None:
                seen[control.guid] = control
            elif (other.name, other.flags) != (control.name, control.flags):
                self.warnings.append(f"TMC: control {control.guid} is defined twice differently; first kept")
        self.controls = list(seen.values())

    def _control_of(self, message: WppMessage) -> Optional[str]:
        for flag in (message.flags, message.level):
            if not flag:
                continue
            owners = [c for c in self.controls if flag in c.flags]
            if len(owners) == 1:
                return owners[0].guid
            if len(owners) > 1:
                self.warnings.append(f"TMF: {message.message_guid} #{message.number}: flag {flag} is defined by "
                                     f"{len(owners)} controls")
                return None
        return self.controls[0].guid if len(self.controls) == 1 else None

    def _add(self, message: WppMessage) -> None:
        position = len(self.messages)
        self.messages.append(message)
        if message.rva is not None:
            bisect.insort(self._by_rva, (message.rva, position))
        existing = self._by_key.get(message.key)
        if existing is None:
            self._by_key[message.key] = message
        elif _definition(existing) != _definition(message):
            self.warnings.append(f"TMF: {message.message_guid} #{message.number} is defined twice differently; "
                                 "first kept")

    def lookup(self, message_guid: Union[str, uuid.UUID], number: int) -> Optional[WppMessage]:
        """The message with this GUID (any case, braces allowed) and number."""
        guid = normalize_guid(message_guid)
        return self._by_key.get((guid, int(number))) if guid else None

    def at(self, rva: int, window: int = DEFAULT_WINDOW, function_rva: Optional[int] = None) -> Optional[WppMessage]:
        """The message whose annotation is nearest at or before ``rva``, at most ``window`` bytes before it;
        with ``function_rva``, only annotations inside that procedure count."""
        pos = bisect.bisect_right(self._by_rva, (rva, len(self.messages)))
        while pos > 0:
            pos -= 1
            ann_rva, index = self._by_rva[pos]
            if rva - ann_rva > window:
                return None
            message = self.messages[index]
            if function_rva is None or message.procedure_rva == function_rva:
                return message
        return None

    def in_function(self, name: str) -> list[WppMessage]:
        """The messages annotated in the procedure ``name`` (from the PDB), in address order."""
        return sorted((m for m in self.messages if m.procedure == name), key=lambda m: m.rva or 0)

    def control(self, guid: Union[str, uuid.UUID]) -> Optional[WppControl]:
        wanted = normalize_guid(guid)
        return next((c for c in self.controls if c.guid == wanted), None)

    def __len__(self) -> int:
        return len(self._by_key)


def _definition(message: WppMessage) -> tuple:
    return (message.format, message.args, message.level, message.flags, message.file, message.line)
