"""Output formats, one module per format, imported only when used."""

from __future__ import annotations

import importlib

# format name -> module under evallint.output exposing `render(diagnostics, options) -> str`
FORMATS = {
    "concise": "concise",
    "json": "json_format",
}


def renderer(name: str):
    return importlib.import_module(f"evallint.output.{FORMATS[name]}").render
