"""The one dispatcher: look a method up, check its parameters, call it, shape its errors.

The CLI (click), the JSON-lines server and the MCP server are encoders over
:func:`call` and :func:`answer`; none of them validates or catches on its own.

Parameters are checked against the method's JSON Schema by the ``jsonschema``
package, which costs about 100 ms to import. Most calls never import it: a call
whose parameters are *plainly valid* (every key known, every required key there,
every value of exactly the declared JSON type and within the ``enum``,
``minimum`` and ``minLength`` written beside it) is accepted as is. That check
may only accept, like the awk fast path of the pre-commit hook: anything it is
not sure of goes to ``jsonschema``, whose verdict and message are the only ones
a caller ever sees (tests/api/test_dispatch.py checks that whatever it accepts,
``jsonschema`` accepts too). A ``null`` value of a known parameter means "the
default" and is dropped before either check.
"""

from __future__ import annotations

import math

from orch_core.api import catalog
from orch_core.api.catalog import FAMILIES as FAMILIES
from orch_core.api.catalog import get as get
from orch_core.api.catalog import load as load
from orch_core.api.registry import Method as Method
from orch_core.errors import OrchError, UsageError, log_bug

# typing.TYPE_CHECKING without importing typing (docs/ARCHITECTURE.md, performance budgets)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from orch_core.state.context import Context

# Schema keywords the plain check understands; a spec with any other one goes to jsonschema.
_PLAIN_KEYWORDS = frozenset({"type", "description", "enum", "minimum", "minLength", "items"})
_validators: dict[str, Any] = {}


def _plain(spec: dict[str, Any], value: Any) -> bool:
    """Is ``value`` certainly valid against ``spec``? False means "ask jsonschema"."""
    if not _PLAIN_KEYWORDS.issuperset(spec):
        return False
    kind = spec.get("type")
    if kind == "string":
        ok = type(value) is str and len(value) >= spec.get("minLength", 0)
    elif kind == "boolean":
        ok = type(value) is bool
    elif kind == "integer":
        ok = type(value) is int
    elif kind == "number":
        ok = type(value) in (int, float) and math.isfinite(value)
    elif kind == "array":
        items = spec.get("items")
        ok = type(value) is list and (items is None or all(_plain(items, v) for v in value))
    else:
        return False
    if not ok:
        return False
    if "minLength" in spec and kind != "string":
        return False
    if "minimum" in spec and (kind not in ("integer", "number")
                              or not value >= spec["minimum"]):
        return False
    return "enum" not in spec or (kind == "string" and value in spec["enum"])


def plainly_valid(m: Method, params: dict[str, Any]) -> bool:
    props = m.params
    return (all(k in params for k in m.required)
            and all(k in props and _plain(props[k], v) for k, v in params.items()))


def _validator(m: Method) -> Any:
    v = _validators.get(m.name)
    if v is None:
        from jsonschema import Draft202012Validator, validators

        # JSON Schema lets 1.0 pass as an integer; handlers want a Python int.
        checker = Draft202012Validator.TYPE_CHECKER.redefine(
            "integer", lambda _c, x: isinstance(x, int) and not isinstance(x, bool))
        cls = validators.extend(Draft202012Validator, type_checker=checker)
        v = _validators[m.name] = cls(m.schema)
    return v


def _message(m: Method, params: Any, err: Any) -> str:
    """One line for the first error jsonschema ranks highest."""
    where = list(err.path)
    key = where[0] if where else None
    if err.validator == "required":
        missing = [k for k in m.required if k not in params]
        return f"missing required parameter {missing[0]!r}" if missing else err.message
    if err.validator == "additionalProperties":
        unknown = sorted(k for k in params if k not in m.params)
        return f"unknown parameter {', '.join(repr(k) for k in unknown)}"
    if key is None:
        return "params must be an object" if err.validator == "type" else err.message
    if err.validator == "enum":
        return f"parameter {key!r} must be one of {err.validator_value}, got {err.instance!r}"
    if err.validator == "type" and len(where) == 1:
        want = err.validator_value
        items = m.params.get(str(key), {}).get("items")
        if want == "array" and isinstance(items, dict) and "type" in items:
            want = f"an array of {items['type']}"
        return f"parameter {key!r} must be {want}, got {_short(err.instance)}"
    if err.validator == "minLength" and err.validator_value == 1:
        return f"parameter {key!r} must not be empty"
    return f"parameter {key!r}: {err.message}"


def _short(value: Any) -> str:
    import json

    return json.dumps(value, default=str)[:60]


def check(m: Method, params: Any) -> dict[str, Any]:
    """The parameters to call ``m`` with; a UsageError carrying the schema if invalid."""
    if params is None:
        params = {}
    if isinstance(params, dict) and m.aliases:
        params = resolve_aliases(m, params)
    if isinstance(params, dict):
        given: dict[str, Any] = {k: v for k, v in params.items()
                                 if v is not None or k not in m.params}
        if plainly_valid(m, given):
            return given
        params = given
    from jsonschema.exceptions import best_match

    err = best_match(_validator(m).iter_errors(params))
    if err is None:  # valid after all (a keyword the plain check does not know)
        valid: dict[str, Any] = params
        return valid
    raise UsageError(f"{m.name}: {_message(m, params, err)}", code="invalid_params",
                     hint="see details.schema for the expected parameters",
                     details={"schema": m.schema})


def resolve_aliases(m: Method, params: dict[str, Any]) -> dict[str, Any]:
    """Rename the seeds' parameter names to the method's own (registry.ALIASES).

    A single value given for a list parameter becomes a one-item list, and a
    one-item list for a string parameter its item. A name and its alias with
    different values is a usage error."""
    out: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for key, value in params.items():
        canon = m.aliases.get(key)
        if canon is None:
            if key in seen and value is not None and out.get(key) != value:
                raise _clash(m, key, seen[key])
            if key not in seen or value is not None:
                out[key] = value
            continue
        kind = m.params[canon].get("type")
        if kind == "array" and isinstance(value, str):
            value = [value]
        elif kind == "string" and isinstance(value, list) and len(value) == 1:
            value = value[0]
        if canon in out and out[canon] is not None and value is not None \
                and out[canon] != value:
            raise _clash(m, canon, key)
        if value is not None or canon not in out:
            out[canon] = value
        seen[canon] = key
    return out


def _clash(m: Method, name: str, alias: str) -> UsageError:
    return UsageError(f"{m.name}: parameter {name!r} and its alias {alias!r} have different "
                      "values", code="invalid_params", hint="give one of them",
                      details={"schema": m.schema, "aliases": m.aliases})


def call(ctx: Context, name: str, params: Any = None) -> Any:
    """Look up, check and call method ``name``; errors propagate (the CLI's way)."""
    m = catalog.get(name)
    return m.handler(ctx, **check(m, params))


def answer(ctx: Context, m: Method, params: Any, where: str) -> tuple[bool, Any]:
    """Call ``m`` for a server: (True, result) or (False, error object); never raises.

    Every error object carries the method's schema so an agent can correct the
    call. A bug is logged to the crash log (see errors.log_bug) and answered with
    code ``internal``; the server keeps serving.
    """
    try:
        return True, m.handler(ctx, **check(m, params))
    except OrchError as e:
        err = e.to_dict()
        details = dict(err.get("details") or {})
        details.setdefault("schema", m.schema)
        err["details"] = details
        return False, err
    except Exception as e:
        path = log_bug(f"{where}: method {m.name}", e)
        return False, {"code": "internal",
                       "message": f"internal error in {m.name}: {type(e).__name__}: {e}",
                       "hint": f"this is a bug; the traceback is in {path}",
                       "retryable": False, "details": {"schema": m.schema}}
