"""Lock is a plain class that dataclasses' functions still see as the frozen dataclass
it was (locks/table.py; hooks/receivelocks.py relies on ``dataclasses.replace``)."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from orch_core.locks.table import Lock


def _lock(**changes: object) -> Lock:
    base = Lock("L-1", "src/", "exclusive", "s-1", "alice", None, 10.0, 40.0, 30.0)
    return base.replace(**changes) if changes else base


def test_dataclasses_functions_see_a_frozen_dataclass() -> None:
    lk = _lock(task="T-1")
    assert dataclasses.is_dataclass(lk) and dataclasses.is_dataclass(Lock)
    assert [f.name for f in dataclasses.fields(Lock)] == [
        "id", "path", "mode", "session", "owner", "task", "acquired_at", "expires_at", "ttl",
        "release_on_land", "branch"]
    assert dataclasses.asdict(lk) == lk.to_json()
    later = dataclasses.replace(lk, expires_at=99.0)
    assert later == lk.replace(expires_at=99.0) == lk.renewed(69.0)
    assert later != lk and dataclasses.replace(later, expires_at=40.0) == lk
    with pytest.raises(TypeError):
        dataclasses.replace(lk, colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        lk.replace(colour="red")


def test_frozen_compared_and_hashed_by_value() -> None:
    lk = _lock()
    with pytest.raises(AttributeError):
        lk.path = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del lk.path
    assert lk == _lock() and hash(lk) == hash(_lock()) and len({lk, _lock()}) == 1
    assert lk != _lock(branch="b") and lk != ("L-1",)
    assert copy.deepcopy(lk) == lk and pickle.loads(pickle.dumps(lk)) == lk
    assert repr(lk) == ("Lock(id='L-1', path='src/', mode='exclusive', session='s-1', "
                        "owner='alice', task=None, acquired_at=10.0, expires_at=40.0, "
                        "ttl=30.0, release_on_land=False, branch=None)")
    assert Lock.__match_args__ == tuple(f.name for f in dataclasses.fields(Lock))
