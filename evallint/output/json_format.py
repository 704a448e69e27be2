"""A JSON list shaped like ruff's `--output-format json`, so tools that read ruff's read ours."""

from __future__ import annotations

import json

from evallint.types import Diagnostic


def _location(location) -> dict:
    return {"row": location.row, "column": location.column}


def diagnostic_to_json(diagnostic: Diagnostic) -> dict:
    fix = None
    if diagnostic.fix is not None:
        fix = {
            "applicability": diagnostic.fix.applicability,
            "message": diagnostic.fix.message,
            "edits": [
                {"content": e.content, "location": _location(e.location), "end_location": _location(e.end_location)}
                for e in diagnostic.fix.edits
            ],
        }
    return {
        "code": diagnostic.code,
        "message": diagnostic.message,
        "filename": diagnostic.path,
        "location": _location(diagnostic.location),
        "end_location": _location(diagnostic.end_location),
        "fix": fix,
        "cell": diagnostic.cell,
        "noqa_row": diagnostic.location.row,
        "url": diagnostic.url,
    }


def render(diagnostics: list[Diagnostic], options) -> str:
    return json.dumps([diagnostic_to_json(d) for d in diagnostics], indent=2) + "\n"
