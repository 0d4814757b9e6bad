"""The work tree's policy parsed once per text (state/config.py ``_parse_cached``): the
same Config as parsing, every refusal still made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orch_core.errors import UsageError
from orch_core.state import config


def _load(root: Path, text: str) -> config.Config:
    (root / config.FILENAME).write_text(text)
    return config.load(root, root / "cache")


def test_cached_values_are_the_parsed_ones(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    text = ('[locks]\ndefault_ttl = 600\n[merge]\nprotected = ["main", "release"]\n'
            'rules = [{pattern = "^x", message = "no x"}]\n[scheduler]\nw_files = 0.5\n'
            '[[approval]]\npaths = ["docs/"]\napprovals = 2\n')
    first = _load(tmp_path, text)
    assert first == config.parse(text, tmp_path / config.FILENAME)
    assert json.loads((tmp_path / "cache" / config.PARSED).read_text())["text"] == text
    again = _load(tmp_path, text)
    assert again == first and again.values is not first.values
    assert again.source == tmp_path / config.FILENAME
    assert again.rules == first.rules and again.approval_rules == first.approval_rules
    assert again.get("scheduler", "w_files") == 0.5
    assert _load(tmp_path, text.replace("600", "700")).get("locks", "default_ttl") == 700


def test_refusals_are_made_every_time(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    _load(tmp_path, "[locks]\ndefault_ttl = 600\n")
    for bad in ("[locks]\ndefault_ttl = 0\n", "[lock]\n", "[locks\n"):
        for _ in range(2):
            with pytest.raises(UsageError):
                _load(tmp_path, bad)
    # An entry for another text is never used, whatever it says.
    cache = tmp_path / "cache" / config.PARSED
    cache.write_text(json.dumps({"text": "[locks]\ndefault_ttl = 5\n",
                                 "values": {"locks": {"default_ttl": 1}}}))
    assert _load(tmp_path, "[locks]\ndefault_ttl = 6\n").get("locks", "default_ttl") == 6


def test_values_json_cannot_carry_are_not_remembered(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    text = '[merge]\nrules = [{pattern = "^x", since = 2024-01-01}]\n'
    first = _load(tmp_path, text)
    assert not (tmp_path / "cache" / config.PARSED).exists()
    assert _load(tmp_path, text) == first
    # No cache folder: nothing is created, the policy is parsed.
    assert config.load(tmp_path, tmp_path / "missing") == first
    assert not (tmp_path / "missing").exists()
