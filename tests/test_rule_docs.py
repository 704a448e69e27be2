"""`evallint rule`, and the docs pages generated from the rules (a stale page fails here)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from evallint import docs
from evallint.cli import main
from evallint.rules import ALL_RULES
from evallint.rules.base import DOC_HEADINGS


def test_docs_pages_are_current():
    stale = docs.stale_pages()
    assert not stale, f"stale rule docs {stale}: run `python -m evallint.docs`"


@pytest.mark.parametrize("code", list(ALL_RULES))
def test_rule_command_prints_the_docs_page(code: str):
    result = CliRunner().invoke(main, ["rule", code.lower()])
    assert result.exit_code == 0
    page = (docs.DOCS_DIR / f"{code}.md").read_text()
    assert page.startswith(result.output)
    assert result.output.startswith(f"# {code} {ALL_RULES[code].name}\n")


@pytest.mark.parametrize("code", list(ALL_RULES))
def test_headings_are_the_fixed_ones_in_order(code: str):
    headings = re.findall(r"^## (.+)$", ALL_RULES[code].render_doc(), flags=re.MULTILINE)
    assert tuple(headings) == DOC_HEADINGS


def test_rule_without_a_code_lists_every_rule():
    output = CliRunner().invoke(main, ["rule"]).output
    assert [line.split()[0] for line in output.splitlines()] == list(ALL_RULES)


def test_rule_all_prints_every_rules_documentation():
    output = CliRunner().invoke(main, ["rule", "--all"]).output
    for code, rule in ALL_RULES.items():
        assert rule.render_doc() in output
        assert f"# {code} {rule.name}\n" in output


def test_unknown_rule_is_a_usage_error():
    result = CliRunner().invoke(main, ["rule", "EVL999"])
    assert result.exit_code == 2


def test_generator_writes_and_removes(tmp_path):
    (tmp_path / "EVL999.md").write_text("old rule")
    changed = docs.write(tmp_path)
    assert "EVL999.md" in changed and not (tmp_path / "EVL999.md").exists()
    assert docs.stale_pages(tmp_path) == []
    assert docs.write(tmp_path) == []
    index = (tmp_path / "README.md").read_text()
    assert all(f"[{code}]({code}.md)" in index for code in ALL_RULES)


def test_check_mode_exit_status(capsys):
    assert docs.main(["--check"]) == 0
