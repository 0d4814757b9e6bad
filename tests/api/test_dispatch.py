"""The one dispatcher: jsonschema decides, the plain check only accepts, one crash log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from orch_core.api import dispatch
from orch_core.api import dispatch as api
from orch_core.api.registry import Method, s_int, s_str, s_strs
from orch_core.errors import NotFound, UsageError
from orch_core.state.context import Context


def test_every_method_lives_in_the_module_its_family_names() -> None:
    for name, m in api.load().items():
        assert m.handler.__module__ == api.FAMILIES[name.partition(".")[0]], name


def test_every_schema_is_a_valid_json_schema() -> None:
    for m in api.load().values():
        Draft202012Validator.check_schema(m.schema)


def _jsonschema_accepts(m: Method, params: dict[str, Any]) -> bool:
    return not list(dispatch._validator(m).iter_errors(params))


def _value(spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values near the edges of ``spec``: right and wrong types, bounds, enums."""
    anything = st.none() | st.booleans() | st.integers(-3, 3) | st.floats(
        allow_nan=True, allow_infinity=True) | st.text(max_size=3) | st.lists(
        st.text(max_size=2) | st.integers(), max_size=3)
    extra: list[st.SearchStrategy[Any]] = []
    if isinstance(spec.get("enum"), list):
        extra.append(st.sampled_from(spec["enum"]))
    if "minimum" in spec:
        m = spec["minimum"]
        extra.append(st.sampled_from([m - 1, m, m + 1, float(m), m - 0.5, True]))
    return st.one_of(anything, *extra)


@st.composite
def a_call(draw: st.DrawFn) -> tuple[Method, dict[str, Any]]:
    methods = api.load()
    m = methods[draw(st.sampled_from(sorted(methods)))]
    keys = draw(st.lists(st.sampled_from(sorted(m.params)), unique=True)) if m.params else []
    params = {k: draw(_value(m.params[k])) for k in keys}
    if draw(st.booleans()):
        params[draw(st.text(max_size=4))] = draw(_value({}))
    return m, params


@settings(max_examples=600, deadline=None, derandomize=True)
@given(a_call())
def test_the_plain_check_only_accepts_what_jsonschema_accepts(
        call: tuple[Method, dict[str, Any]]) -> None:
    m, params = call
    clean = {k: v for k, v in params.items() if v is not None or k not in m.params}
    if dispatch.plainly_valid(m, clean):
        assert _jsonschema_accepts(m, clean), (m.name, clean)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(a_call())
def test_check_and_jsonschema_agree_on_every_call(call: tuple[Method, dict[str, Any]]) -> None:
    m, params = call
    clean = {k: v for k, v in params.items() if v is not None or k not in m.params}
    try:
        out = dispatch.check(m, params)
    except UsageError as e:
        assert e.code == "invalid_params" and e.details["schema"] == m.schema
        assert not _jsonschema_accepts(m, clean)
    else:
        assert out == clean and _jsonschema_accepts(m, clean)


BOOM = Method("test.boom", "Always fails.", {"n": s_int("A number.", minimum=1)}, ("n",),
              lambda ctx, n: 1 / 0)


def test_minimum_is_enforced_with_the_schema_attached(ctx: Context) -> None:
    sid = api.call(ctx, "session.open", {"owner": "a", "bind": False})["session_id"]
    for name, params in (("lock.acquire", {"paths": ["docs/"], "ttl": 0, "session": sid}),
                         ("session.open", {"ttl": -5}),
                         ("worktree.create", {"ttl": 0}),
                         ("scheduler.decide_worktree", {"files": -1}),
                         ("scheduler.decide_worktree", {"duration": -0.5}),
                         ("plan.ready", {"limit": 0})):
        with pytest.raises(UsageError) as info:
            api.call(ctx, name, params)
        e = info.value
        key = next(iter(k for k in params if k != "session" and k != "paths"))
        assert e.code == "invalid_params" and repr(key) in e.message, e.message
        assert e.details["schema"] == api.get(name).schema


def test_messages_name_the_parameter(ctx: Context) -> None:
    def message(name: str, params: Any) -> str:
        with pytest.raises(UsageError) as info:
            dispatch.check(api.get(name), params)
        return info.value.message

    assert message("lock.check", {}) == "lock.check: missing required parameter 'paths'"
    assert message("lock.check", {"paths": [], "x": 1}) == "lock.check: unknown parameter 'x'"
    assert message("lock.check", {"paths": "a"}) == (
        "lock.check: parameter 'paths' must be an array of string, got \"a\"")
    assert message("lock.check", [1]) == "lock.check: params must be an object"
    assert "must be one of" in message("task.create", {"level": "story", "title": "t"})
    assert message("task.create", {"level": "epic", "title": ""}) == (
        "task.create: parameter 'title' must not be empty")
    # null means "the default"; 1.0 is not an integer for a handler.
    assert dispatch.check(api.get("lock.list"), {"all": None}) == {}
    assert "integer" in message("plan.ready", {"limit": 1.0})


def test_unknown_method_is_not_found(ctx: Context) -> None:
    with pytest.raises(NotFound) as info:
        api.call(ctx, "no.such", {})
    assert info.value.code == "unknown_method" and "lock.check" in info.value.details["methods"]


def test_a_bug_is_answered_and_logged_in_the_one_crash_log(ctx: Context) -> None:
    ok, err = dispatch.answer(ctx, BOOM, {"n": 1}, "test")
    assert not ok and err["code"] == "internal" and "ZeroDivisionError" in err["message"]
    assert err["details"]["schema"] == BOOM.schema
    log = Path.home() / ".cache" / "orch-hooks" / "crash.log"
    assert str(log) in err["hint"] and "ZeroDivisionError" in log.read_text()
    ok, err = dispatch.answer(ctx, BOOM, {"n": 0}, "test")
    assert not ok and err["code"] == "invalid_params"


def _imported_after(code: str) -> list[str]:
    probe = ("import sys\n" + code + "\nprint(json.dumps(sorted(m for m in ('jsonschema', "
             "'pygit2', 'mcp', 'click') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", "import json\n" + probe], capture_output=True,
                         text=True, check=True).stdout
    found: list[str] = json.loads(out)
    return found


def test_jsonschema_is_imported_only_for_a_call_that_is_not_plainly_valid() -> None:
    head = "from orch_core.api import dispatch\nm = dispatch.get('lock.check')\n"
    assert _imported_after(head + "dispatch.check(m, {'paths': ['a'], 'session': None})") == []
    bad = head + "\ntry:\n    dispatch.check(m, {'paths': 'a'})\nexcept Exception:\n    pass"
    assert _imported_after(bad) == ["jsonschema"]


def test_front_ends_need_no_copy_of_the_dispatch() -> None:
    root = Path(dispatch.__file__).parent.parent
    for front in ("servers/jsonl.py", "servers/mcp.py", "cli/app.py"):
        assert "handler(" not in (root / front).read_text(), front
    for server in ("servers/jsonl.py", "servers/mcp.py"):  # bugs: dispatch.answer's alone
        assert "except Exception" not in (root / server).read_text(), server
    assert "validate" not in (root / "api" / "registry.py").read_text()


def test_schema_helpers_still_build_the_same_shapes() -> None:
    assert s_str("d", minLength=1) == {"type": "string", "description": "d", "minLength": 1}
    assert s_strs("d")["items"] == {"type": "string"}
