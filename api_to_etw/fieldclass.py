"""Record classes that behave as dataclasses do, without what a dataclass costs at import.

A dataclass compiles its generated methods with ``exec`` when its module is imported: ``__init__``,
``__repr__`` and ``__eq__``, and for a frozen one ``__hash__``, ``__setattr__`` and ``__delattr__`` too, about
0.35 M instructions each on Python 3.11 (2-3 M a class), paid by every run before it reads a byte. A subclass
of :class:`Frozen` or :class:`Mutable` lists its fields in ``_fields`` and writes its ``__init__``; the rest is
here, once, as the dataclass generated it: equal when the class and the fields' tuple are, printed as
``Name(field=value, ...)``. A :class:`Frozen` object is hashed as that tuple (so sets and dictionaries of
them iterate in the same order) and refuses any assignment or deletion with the dataclass's
``FrozenInstanceError``; a :class:`Mutable` one is unhashable, as a dataclass with ``eq`` is. A class whose
equality or hash is on a hot path writes its own, the same way (model.py's values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # for the checker only: a bound named by a string is compiled when made, and the first
    # ``compile`` of a run sets up the interpreter's syntax-tree types (about 10 M instructions)
    from typing import TypeVar

    _F = TypeVar("_F", bound="_Fields")


def _frozen_error(message: str) -> Exception:
    """The dataclass's ``FrozenInstanceError``, its module imported only when one is raised (importing
    ``dataclasses`` brings ``inspect``, ``ast`` and ``dis``: about 34 M instructions of every start-up)."""
    from dataclasses import FrozenInstanceError

    return FrozenInstanceError(message)

#: Sets a field of a :class:`Frozen` object in its ``__init__`` (what a frozen dataclass's ``__init__`` calls).
set_field = object.__setattr__


class _Fields:
    """Equality and ``repr`` over the fields ``_fields`` names, in order."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __repr__(self) -> str:
        return f"{self.__class__.__qualname__}({', '.join(f'{name}={getattr(self, name)!r}' for name in self._fields)})"

    def _replace(self: _F, **changes: object) -> _F:
        """A new object of the class with ``changes`` over this one's fields (what ``dataclasses.replace``
        did: each field passed to ``__init__`` by name)."""
        unknown = set(changes).difference(self._fields)
        if unknown:
            raise TypeError(f"{self.__class__.__qualname__} has no field {sorted(unknown)[0]!r}")
        return self.__class__(**{name: changes[name] if name in changes else getattr(self, name)
                                 for name in self._fields})


class Frozen(_Fields):
    """What ``@dataclass(frozen=True)`` generates."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: object) -> None:
        raise _frozen_error(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise _frozen_error(f"cannot delete field {name!r}")


class Mutable(_Fields):
    """What ``@dataclass`` generates: fields assigned as any attribute, and no hash (equality is by value)."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]


__all__ = ["Frozen", "Mutable", "set_field"]
