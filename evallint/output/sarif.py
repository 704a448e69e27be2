"""SARIF 2.1.0, the format GitHub code scanning (and other static-analysis dashboards) upload.

Every rule is listed with its name, summary, documentation and help URI, so a
result's rule can be looked up by index. Columns count Unicode code points, as
evallint's do (SARIF's default would be UTF-16 units). Paths are relative URIs
against %SRCROOT%, which is what code scanning resolves against the checkout;
a notebook result names its cell in the message and in ``properties``.
"""

from __future__ import annotations

import json
from pathlib import PurePath
from urllib.parse import quote

from evallint import __version__
from evallint.types import DOCS_URL, REPOSITORY_URL, Diagnostic

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = REPOSITORY_URL


def _uri(path: str) -> str:
    posix = PurePath(path).as_posix()
    if posix.startswith("./"):
        posix = posix[2:]
    return quote(posix, safe="/:")


def rule_descriptors() -> tuple[list[dict], dict[str, int]]:
    from evallint.rules import ALL_RULES

    descriptors = []
    index = {}
    for position, (code, rule) in enumerate(ALL_RULES.items()):
        index[code] = position
        descriptors.append(
            {
                "id": code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": rule.summary},
                "help": {"text": rule.render_doc(), "markdown": rule.render_doc()},
                "helpUri": DOCS_URL.format(code=code),
                "defaultConfiguration": {"level": "error"},
                "properties": {"tags": ["correctness", "pytorch"], "fixSafety": rule.fix_safety},
            }
        )
    return descriptors, index


def _result(diagnostic: Diagnostic, index: dict[str, int]) -> dict:
    message = diagnostic.message
    if diagnostic.cell is not None:
        message = f"cell {diagnostic.cell}: {message}"
    result = {
        "ruleId": diagnostic.code,
        "level": "error",
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(diagnostic.path), "uriBaseId": "%SRCROOT%"},
                    "region": {
                        "startLine": diagnostic.location.row,
                        "startColumn": diagnostic.location.column,
                        "endLine": diagnostic.end_location.row,
                        "endColumn": diagnostic.end_location.column,
                    },
                }
            }
        ],
    }
    if diagnostic.code in index:
        result["ruleIndex"] = index[diagnostic.code]
    if diagnostic.cell is not None:
        result["properties"] = {"cell": diagnostic.cell}
    if diagnostic.fix is not None:
        result["fixes"] = [
            {
                "description": {"text": f"{diagnostic.fix.message} ({diagnostic.fix.applicability} fix)"},
                "artifactChanges": [
                    {
                        "artifactLocation": {"uri": _uri(diagnostic.path), "uriBaseId": "%SRCROOT%"},
                        "replacements": [
                            {
                                "deletedRegion": {
                                    "startLine": edit.location.row,
                                    "startColumn": edit.location.column,
                                    "endLine": edit.end_location.row,
                                    "endColumn": edit.end_location.column,
                                },
                                "insertedContent": {"text": edit.content},
                            }
                            for edit in diagnostic.fix.edits
                        ],
                    }
                ],
            }
        ]
    return result


def render(diagnostics: list[Diagnostic], options) -> str:
    descriptors, index = rule_descriptors()
    document = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "evallint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": descriptors,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [_result(d, index) for d in diagnostics],
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
