"""C template files of the fixtures: ``${name}`` placeholders filled from a generator's model.

Only the braced form is a placeholder, so C and inline assembly keep every other ``$`` as written (AT&T
immediates such as ``$0x28``) and a template reads as the C it becomes. A name the template uses but the
caller does not give is an error, as is a value given for no placeholder: the template and its model stay in step.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

#: The templates shared by several fixtures (documented layouts copied verbatim, the WPP header).
SHARED = Path(__file__).resolve().parent / "templates"


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PLACEHOLDER = re.compile(r"\$\{(" + _NAME + r")\}")


class CTemplate(string.Template):
    """``${name}`` only; a lone ``$`` is text (the other groups string.Template wants never match)."""

    pattern = r"\$(?:(?P<escaped>(?!))|(?P<named>(?!))|\{(?P<braced>" + _NAME + r")\}|(?P<invalid>(?!)))"  # type: ignore[assignment]


def placeholders(text: str) -> set[str]:
    """The names a template's text uses."""
    return set(_PLACEHOLDER.findall(text))


def fill(path: Path, **values: str) -> str:
    """The template at ``path`` with every placeholder replaced; names used or given on one side only raise."""
    text = path.read_text(encoding="utf-8")
    used = placeholders(text)
    if used != set(values):
        missing, unused = sorted(used - set(values)), sorted(set(values) - used)
        raise ValueError(f"{path.name}: placeholders without a value {missing}, values without a placeholder {unused}")
    return CTemplate(text).substitute(values)


def shared(name: str) -> str:
    """A shared template copied verbatim (``samples/templates/NAME``)."""
    return (SHARED / name).read_text(encoding="utf-8")
