"""GitHub Actions workflow commands: each finding becomes an annotation on the pull request.

`::error title=evallint (EVL101),file=train.py,line=4,col=9,endLine=4,endColumn=17::train.py:4:9: EVL101 ...`
Notebook findings name the cell in the message (annotations have no notion of cells).
"""

from __future__ import annotations

from evallint.output.concise import location_prefix
from evallint.types import Diagnostic


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(diagnostics: list[Diagnostic], options) -> str:
    lines = []
    for d in diagnostics:
        properties = ",".join(
            f"{key}={_escape_property(str(value))}"
            for key, value in (
                ("title", f"evallint ({d.code})"),
                ("file", d.path.replace("\\", "/")),
                ("line", d.location.row),
                ("col", d.location.column),
                ("endLine", d.end_location.row),
                ("endColumn", d.end_location.column),
            )
        )
        message = f"{location_prefix(d)}: {d.code} {d.message}"
        lines.append(f"::error {properties}::{_escape_data(message)}")
    return "".join(line + "\n" for line in lines)
