"""How the native engine's passes over code make their iced-x86 decoders (one definition for all of them)."""

from __future__ import annotations

from iced_x86 import DecoderOptions

#: Decoders are made with positional arguments, this for the options: 0.3 us less each than ``ip=`` as a keyword
#: (one decoder per function and per gap piece).
NO_OPTIONS = DecoderOptions.NONE

__all__ = ["NO_OPTIONS"]
