"""One JSON object per line, the same objects as the json format (ruff's `json-lines`)."""

from __future__ import annotations

import json

from evallint.output.json_format import diagnostic_to_json
from evallint.types import Diagnostic


def render(diagnostics: list[Diagnostic], options) -> str:
    return "".join(json.dumps(diagnostic_to_json(d), ensure_ascii=False) + "\n" for d in diagnostics)
