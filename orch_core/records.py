"""Frozen records without `dataclasses`: immutable, compared, hashed and shown by their fields.

A one-shot command pays for every import and every class it builds, and
``dataclasses`` (with ``inspect``, ``ast`` and ``dis`` under it) plus the code each
``@dataclass`` generates cost a lock write about a fifth of its start-up
(docs/ARCHITECTURE.md, performance budgets). A record class derives from
:class:`Frozen`, annotates its fields and names them in ``FIELDS`` (the order of
``__init__``, ``==``, ``hash`` and ``repr``), sets them in ``__init__`` with
``_set``, and is then what ``@dataclass(frozen=True)`` made: a field cannot be
assigned (FrozenField at run time; an error for mypy, which reads the class as a
frozen dataclass), instances of one class compare and hash by their fields, and
``copy`` and ``pickle`` work. No imports: a leaf.
"""

from __future__ import annotations

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar, dataclass_transform
else:
    def dataclass_transform(**_kwargs: object) -> object:
        """``typing.dataclass_transform`` at run time: a decorator that changes nothing."""
        return lambda cls: cls


class FrozenField(AttributeError):
    """A field of a record was assigned or deleted (``dataclasses.FrozenInstanceError``)."""


@dataclass_transform(frozen_default=True)
class Frozen:
    """Base of a frozen record (see the module docstring)."""

    __slots__ = ()
    FIELDS: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenField(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenField(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Frozen)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}"
                          for name, value in zip(self.FIELDS, self._values(), strict=True))
        return f"{type(self).__qualname__}({shown})"

    def _set(self, **fields: Any) -> None:
        """Set the fields in ``__init__`` (the instance's ``__dict__``, as dataclasses do)."""
        self.__dict__.update(fields)
