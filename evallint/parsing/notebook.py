"""Jupyter notebooks as Python: code cells joined in order, IPython syntax masked, cells remembered.

Every cell counts when numbering (markdown too, from 1), as ruff numbers them,
so ``nb.ipynb:cell 3:4:9`` points at the third cell a person sees.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# Cell magics whose body is still Python.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "pypy", "python", "python3", "writefile"}
_LINE_MAGIC = re.compile(r"^\s*(%|!|\?)")
_HELP_SUFFIX = re.compile(r"^\s*[\w.]+\?{1,2}\s*$")
_ASSIGNED_MAGIC = re.compile(r"^\s*[\w.,\s]+=\s*(%|!)")


@dataclass(frozen=True)
class CellMap:
    """Where each code cell starts in the joined source: (cell number, first joined row)."""

    starts: tuple[tuple[int, int], ...]

    def locate(self, row: int) -> tuple[int, int]:
        """Joined 1-based row -> (cell number, 1-based row within the cell)."""
        cell, first = self.starts[0] if self.starts else (1, 1)
        for number, start in self.starts:
            if start > row:
                break
            cell, first = number, start
        return cell, row - first + 1

    def joined_row(self, cell: int, row: int) -> int:
        for number, start in self.starts:
            if number == cell:
                return start + row - 1
        raise KeyError(cell)


class NotebookError(ValueError):
    pass


def _load(data: bytes) -> dict:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise NotebookError(f"notebook is not valid JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise NotebookError("notebook has no 'cells' list")
    return document


def _cell_source(cell: object, number: int) -> str:
    if not isinstance(cell, dict):
        raise NotebookError(f"cell {number} is not an object")
    source = cell.get("source", "")
    if isinstance(source, list):
        if not all(isinstance(part, str) for part in source):
            raise NotebookError(f"cell {number} has a malformed 'source'")
        source = "".join(source)
    if not isinstance(source, str):
        raise NotebookError(f"cell {number} has a malformed 'source'")
    return source


def cell_sources(data: bytes) -> dict[int, str]:
    """The unmasked source of every code cell by cell number, as the user wrote it (for quoting lines)."""
    document = _load(data)
    return {
        number: _cell_source(cell, number)
        for number, cell in enumerate(document["cells"], start=1)
        if isinstance(cell, dict) and cell.get("cell_type") == "code"
    }


def notebook_to_python(data: bytes) -> tuple[str, CellMap]:
    document = _load(data)
    language = (
        document.get("metadata", {}).get("language_info", {}).get("name", "python")
        if isinstance(document.get("metadata"), dict)
        else "python"
    )
    if isinstance(language, str) and language.lower() not in ("python", "python3", "ipython", ""):
        raise NotebookError(f"notebook language is {language}, not Python")
    chunks: list[str] = []
    starts: list[tuple[int, int]] = []
    row = 1
    for number, cell in enumerate(document["cells"], start=1):
        if not isinstance(cell, dict):
            raise NotebookError(f"cell {number} is not an object")
        if cell.get("cell_type") != "code":
            continue
        source = _cell_source(cell, number)
        lines = mask_ipython(source).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            lines = [""]
        starts.append((number, row))
        chunks.append("\n".join(lines) + "\n")
        row += len(lines)
    return "".join(chunks), CellMap(tuple(starts))


def mask_ipython(source: str) -> str:
    """Replace IPython-only lines with `pass` at the same indentation: parsable, same line count."""
    lines = source.split("\n")
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split()[0] if lines[0].lstrip()[2:].split() else ""
        if magic not in _PYTHON_CELL_MAGICS:
            # The whole cell is another language: every line becomes a top-level `pass`.
            return "\n".join(_masked(line, "") for line in lines)
        lines[0] = _masked(lines[0], _indent_of(lines[0]))
    out = []
    continuing = False
    statement_indent = ""
    for line in lines:
        if continuing:
            # Continuation lines of a shell escape keep the escape's indentation, not their own.
            out.append(_masked(line, statement_indent))
            continuing = line.rstrip().endswith("\\")
        elif _LINE_MAGIC.match(line) or _HELP_SUFFIX.match(line) or _ASSIGNED_MAGIC.match(line):
            statement_indent = _indent_of(line)
            out.append(_masked(line, statement_indent))
            continuing = line.rstrip().endswith("\\")
        else:
            out.append(line)
    return "\n".join(out)


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _masked(line: str, indent: str) -> str:
    return f"{indent}pass" if line.strip() else ""
