"""Every output format, on the same two findings (one in a .py file with a safe fix, one in a notebook cell)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from evallint.cli import main
from evallint.output import FORMATS, renderer
from evallint.output.json_format import diagnostic_to_json
from evallint.rules import ALL_RULES

SCRIPT = "import torch\n\n\ndef validate(model, x):\n    model.eval\n    with torch.no_grad():\n        return model(x)\n"
NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Evaluation"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": ["import torch\n", "%matplotlib inline"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": ["def evaluate(model, loader):\n", "    model.eval()\n", "    return [model(x) for x in loader]\n"]},
    ],
    "metadata": {"language_info": {"name": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture()
def project(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "train.py").write_text(SCRIPT)
    (tmp_path / "nb.ipynb").write_text(json.dumps(NOTEBOOK))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


def check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["train.py", "nb.ipynb", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_all_formats_are_registered_and_the_cli_offers_them():
    assert set(FORMATS) == {"concise", "full", "json", "json-lines", "sarif", "github", "junit"}
    for name in FORMATS:
        assert callable(renderer(name))
    help_text = CliRunner().invoke(main, ["check", "--help"]).output
    for name in FORMATS:
        assert name in help_text


def test_concise(project):
    status, output = check()
    lines = output.splitlines()
    assert lines[0].startswith("nb.ipynb:cell 3:3:13: EVL201 ")
    assert lines[1].startswith("train.py:5:5: EVL104 [*] `model.eval` is not called")
    assert "Found 3 errors." in output and "[*] 1 fixable with the `--fix` option." in output
    assert status == 1
    assert "\x1b[" not in output, "no colour when not writing to a terminal"


def test_full_quotes_the_line_with_a_caret_and_the_fix(project):
    _, output = check("--output-format", "full")
    assert (
        "  |\n4 | def validate(model, x):\n5 |     model.eval\n  |     ^^^^^^^^^^ EVL104\n  |\n"
        "  = fix: Call it: `model.eval()` (safe fix)\n"
    ) in output
    assert "  = fix: Call `model.eval()` before evaluating (unsafe fix)\n" in output
    # A notebook finding quotes its cell's own line, numbered within the cell.
    assert "3 |     return [model(x) for x in loader]\n  |             ^^^^^^^^ EVL201" in output


def test_json_is_ruff_shaped(project):
    _, output = check("--output-format", "json")
    items = json.loads(output)
    by_code = {item["code"]: item for item in items}
    script = by_code["EVL104"]
    assert script["filename"] == "train.py" and script["cell"] is None
    assert script["location"] == {"row": 5, "column": 5} and script["end_location"] == {"row": 5, "column": 15}
    assert script["fix"]["applicability"] == "safe"
    assert script["fix"]["edits"] == [{"content": "()", "location": {"row": 5, "column": 15}, "end_location": {"row": 5, "column": 15}}]
    assert script["url"].endswith("/docs/rules/EVL104.md")
    notebook = by_code["EVL201"]
    assert notebook["cell"] == 3 and notebook["location"] == {"row": 3, "column": 13}
    assert set(script) >= {"code", "message", "filename", "location", "end_location", "fix", "cell", "url"}


def test_json_lines_match_json(project):
    _, lines_output = check("--output-format", "json-lines")
    _, json_output = check("--output-format", "json")
    assert [json.loads(line) for line in lines_output.splitlines()] == json.loads(json_output)


# The parts of the SARIF 2.1.0 schema (sarif-schema-2.1.0.json) that a consumer such as GitHub code
# scanning relies on, transcribed so the test needs no network.
_REGION = {
    "type": "object",
    "properties": {k: {"type": "integer", "minimum": 1} for k in ("startLine", "startColumn", "endLine", "endColumn")},
    "required": ["startLine"],
}
_ARTIFACT = {"type": "object", "properties": {"uri": {"type": "string", "format": "uri-reference"}, "uriBaseId": {"type": "string"}}, "required": ["uri"]}
_MESSAGE = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
SARIF_SUBSET = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string", "format": "uri"},
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool"],
                "additionalProperties": False,
                "properties": {
                    "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "version": {"type": "string"},
                                    "informationUri": {"type": "string", "format": "uri"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "name": {"type": "string"},
                                                "shortDescription": _MESSAGE,
                                                "fullDescription": _MESSAGE,
                                                "help": _MESSAGE,
                                                "helpUri": {"type": "string", "format": "uri"},
                                                "defaultConfiguration": {
                                                    "type": "object",
                                                    "properties": {"level": {"enum": ["none", "note", "warning", "error"]}},
                                                },
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": 0},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": _MESSAGE,
                                "locations": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "properties": {"artifactLocation": _ARTIFACT, "region": _REGION},
                                                "required": ["artifactLocation"],
                                            }
                                        },
                                    },
                                },
                                "fixes": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["artifactChanges"],
                                        "properties": {
                                            "description": _MESSAGE,
                                            "artifactChanges": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "required": ["artifactLocation", "replacements"],
                                                    "properties": {
                                                        "artifactLocation": _ARTIFACT,
                                                        "replacements": {
                                                            "type": "array",
                                                            "items": {
                                                                "type": "object",
                                                                "required": ["deletedRegion"],
                                                                "properties": {"deletedRegion": _REGION},
                                                            },
                                                        },
                                                    },
                                                },
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def test_sarif_is_valid_and_names_every_rule(project):
    _, output = check("--output-format", "sarif")
    document = json.loads(output)
    jsonschema.validate(document, SARIF_SUBSET, format_checker=jsonschema.FormatChecker())
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(ALL_RULES)
    for rule in rules:
        assert rule["helpUri"] == f"https://github.com/evallint/evallint/blob/main/docs/rules/{rule['id']}.md"
        assert "## Why is this bad?" in rule["help"]["markdown"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    location = by_rule["EVL104"]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "train.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 5, "startColumn": 5, "endLine": 5, "endColumn": 15}
    notebook = by_rule["EVL201"]
    assert notebook["message"]["text"].startswith("cell 3: ") and notebook["properties"] == {"cell": 3}


def test_github_annotations(project):
    _, output = check("--output-format", "github")
    lines = output.splitlines()
    assert len(lines) == 3
    assert lines[1].startswith(
        "::error title=evallint (EVL104),file=train.py,line=5,col=5,endLine=5,endColumn=15::train.py:5:5: EVL104 "
    )
    assert lines[0].startswith("::error title=evallint (EVL201),file=nb.ipynb,line=3,col=13,")
    assert "::nb.ipynb:cell 3:3:13: EVL201" in lines[0]


def test_github_escapes_newlines_and_percent():
    from evallint.output.github import render
    from evallint.types import Diagnostic, Location

    diagnostic = Diagnostic("EVL001", "bad 100%\nline", "a,b:c.py", Location(1, 1), Location(1, 2))
    assert render([diagnostic], None) == (
        "::error title=evallint (EVL001),file=a%2Cb%3Ac.py,line=1,col=1,endLine=1,endColumn=2::a,b:c.py:1:1: EVL001 bad 100%25%0Aline\n"
    )


def test_junit(project):
    _, output = check("--output-format", "junit")
    root = ET.fromstring(output.split("\n", 1)[1])
    assert root.tag == "testsuites" and root.get("failures") == "3"
    suites = {suite.get("name"): suite for suite in root}
    assert set(suites) == {"nb.ipynb", "train.py"}
    case = suites["train.py"].find("testcase")
    assert case.get("name") == "org.evallint.EVL104" and case.get("line") == "5"
    assert case.find("failure").text.startswith("train.py:5:5: EVL104")


def test_junit_without_findings_has_one_passing_case():
    from evallint.output.junit import render

    root = ET.fromstring(render([], None).split("\n", 1)[1])
    assert root.get("failures") == "0" and root.find("testsuite/testcase").get("name") == "No errors found"


def test_statistics_quiet_and_output_file(project):
    status, output = check("--statistics")
    assert output == "    1\tEVL101\teval-in-train-mode\n    1\tEVL104\tmode-method-not-called\n    1\tEVL201\teval-with-grad\n"
    assert status == 1
    _, output = check("--quiet")
    assert "Found" not in output and output.count("\n") == 3
    status, output = check("--output-file", "report.json", "--output-format", "json")
    assert output == "" and status == 1
    assert len(json.loads((project / "report.json").read_text())) == 3


def test_show_fixes_lists_available_fixes(project):
    _, output = check("--show-fixes")
    assert "train.py:5:5: EVL104 [*] `model.eval` is not called" in output
    assert "  = fix: Call it: `model.eval()` (safe fix)" in output


def test_colour_only_on_a_terminal_and_never_with_no_color(project, monkeypatch):
    import evallint.runner as runner

    monkeypatch.setattr(runner, "_stream_is_terminal", lambda: True)
    assert "\x1b[1;31mEVL104\x1b[0m" in check()[1]
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in check()[1]
    monkeypatch.delenv("NO_COLOR")
    check("--output-file", "out.txt")
    assert "\x1b[" not in (project / "out.txt").read_text()


def test_diagnostic_to_json_is_importable_for_verify():
    from evallint.types import Diagnostic, Location

    item = diagnostic_to_json(Diagnostic("EVL104", "m", "x.py", Location(1, 2), Location(1, 3)))
    assert item["location"] == {"row": 1, "column": 2} and item["fix"] is None
