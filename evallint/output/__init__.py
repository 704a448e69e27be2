"""Output formats, one module per format, imported only when used.

Each module exposes ``render(diagnostics, options) -> str``. ``options`` is the
check command's options; formats read ``color``, ``show_fixes`` and
``unsafe_fixes`` from it when present, so a plain object works too.
"""

from __future__ import annotations

import importlib

# format name -> module under evallint.output
FORMATS = {
    "concise": "concise",
    "full": "full",
    "json": "json_format",
    "json-lines": "json_lines",
    "sarif": "sarif",
    "github": "github",
    "junit": "junit",
}


# The formats that write out each fix's edits (the others name a fix by its message).
EDIT_FORMATS = frozenset({"json", "json-lines", "sarif"})


def renderer(name: str):
    return importlib.import_module(f"evallint.output.{FORMATS[name]}").render
