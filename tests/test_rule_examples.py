"""Every rule's VALID examples are clean and its INVALID examples flag exactly the marked lines."""

from __future__ import annotations

import textwrap

import pytest

from evallint.config import Settings
from evallint.rules import ALL_RULES
from evallint.rules.base import DOC_HEADINGS

from .conftest import expected_findings, found, lint_snippet

VALID = [(code, index, source) for code, rule in ALL_RULES.items() for index, source in enumerate(rule.valid)]
INVALID = [(code, index, source) for code, rule in ALL_RULES.items() for index, source in enumerate(rule.invalid)]


def enabling(tmp_path, code: str) -> Settings:
    """Default settings, plus the rule itself when it is off by default."""
    extra = () if ALL_RULES[code].default_enabled else (code,)
    return Settings(project_root=str(tmp_path), extend_select=extra)


@pytest.mark.parametrize(("code", "index", "source"), VALID, ids=[f"{c}-valid-{i}" for c, i, _ in VALID])
def test_valid_example_is_clean(tmp_path, code, index, source):
    assert found(lint_snippet(tmp_path, source, settings=enabling(tmp_path, code))) == set()


@pytest.mark.parametrize(("code", "index", "source"), INVALID, ids=[f"{c}-invalid-{i}" for c, i, _ in INVALID])
def test_invalid_example_flags_marked_lines(tmp_path, code, index, source):
    source = textwrap.dedent(source).lstrip("\n")
    expected = expected_findings(source)
    assert any(c == code for _, c in expected), "an INVALID example must mark the rule's own code"
    assert found(lint_snippet(tmp_path, source, settings=enabling(tmp_path, code))) == expected


@pytest.mark.parametrize("code", sorted(ALL_RULES))
def test_rule_has_examples_both_ways_and_full_docs(code):
    rule = ALL_RULES[code]
    assert rule.valid, f"{code} needs VALID examples"
    if code != "EVL001":  # a parse error cannot be shown as an example snippet that parses
        assert rule.invalid, f"{code} needs INVALID examples"
    headings = [line[3:].strip() for line in rule.doc.splitlines() if line.startswith("## ")]
    assert headings == list(DOC_HEADINGS)
    assert rule.name == rule.name.lower() and " " not in rule.name


def test_parse_error_is_reported_as_evl001(tmp_path):
    diagnostics = lint_snippet(tmp_path, "def validate(model)\n    pass\n")
    assert [(d.code, d.location.row) for d in diagnostics] == [("EVL001", 1)]
    assert "SyntaxError" in diagnostics[0].message
