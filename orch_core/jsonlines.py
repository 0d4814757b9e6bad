"""JSON-lines text read leniently: every line an object, a bad line reported and skipped."""

from __future__ import annotations

import json
from collections.abc import Iterable

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def objects(lines: Iterable[str], label: str,
            suffix: str = "") -> tuple[list[dict[str, Any]], list[str]]:
    """The objects among ``lines`` and one warning (``label line N: ...``) per bad line."""
    out: list[dict[str, Any]] = []
    warnings: list[str] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            warnings.append(f"{label} line {n}: not JSON ({e.msg}){suffix}")
            continue
        if not isinstance(obj, dict):
            warnings.append(f"{label} line {n}: not an object{suffix}")
            continue
        out.append(obj)
    return out, warnings
