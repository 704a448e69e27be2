"""Jupyter notebooks as Python: code cells joined in order, IPython syntax masked, cells remembered.

Every cell counts when numbering (markdown too, from 1), as ruff numbers them,
so ``nb.ipynb:cell 3:4:9`` points at the third cell a person sees.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# Cell magics whose body is still Python.
# (%%writefile writes its body to a file: text, not code this notebook runs.)
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug", "pypy", "python", "python3"}
_LINE_MAGIC = re.compile(r"^\s*(%|!|\?)")
_HELP_SUFFIX = re.compile(r"^\s*[\w.*]+\?{1,2}\s*$")  # `obj?`, `torch.*Tensor?` (a wildcard search)
_LINE_REFERENCE = re.compile(r"\bline (\d+)")
_ASSIGNED_MAGIC = re.compile(r"^\s*[\w.,\s]+=\s*(%|!)")


@dataclass(frozen=True)
class CellMap:
    """Where each code cell starts in the joined source: (cell number, first joined row)."""

    starts: tuple[tuple[int, int], ...]
    # Joined rows IPython dedented (a cell whose first line is indented: IPython removes that
    # indentation from every line that has it), with the width removed.
    dedented: tuple[tuple[int, int], ...] = ()

    def column(self, row: int, column: int) -> int:
        """A column of a joined row, as a column of the cell's own line."""
        for dedented_row, width in self.dedented:
            if dedented_row == row:
                return column + width
        return column

    def locate(self, row: int) -> tuple[int, int]:
        """Joined 1-based row -> (cell number, 1-based row within the cell)."""
        cell, first = self.starts[0] if self.starts else (1, 1)
        for number, start in self.starts:
            if start > row:
                break
            cell, first = number, start
        return cell, row - first + 1

    def cell_rows_in(self, message: str, cell: int) -> str:
        """A message about the joined source (Python's "... on line 12") with each line number
        as the row in its cell: "line 3", or "line 3 of cell 2" for a line of another cell than
        ``cell``, the one the message is reported in."""

        def in_cell(match: re.Match) -> str:
            number, row = self.locate(int(match.group(1)))
            return f"line {row}" if number == cell else f"line {row} of cell {number}"

        return _LINE_REFERENCE.sub(in_cell, message) if self.starts else message

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
    dedented: list[tuple[int, int]] = []
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
        indent = next((_indent_of(line) for line in lines if line.strip()), "")
        if indent:
            for offset, line in enumerate(lines):
                if line.startswith(indent):
                    lines[offset] = line[len(indent) :]
                    dedented.append((row + offset, len(indent)))
        starts.append((number, row))
        chunks.append("\n".join(lines) + "\n")
        row += len(lines)
    return "".join(chunks), CellMap(tuple(starts), tuple(dedented))


def mask_ipython(source: str) -> str:
    """Replace IPython-only lines with `pass` at the same indentation: parsable, same line count.

    As IPython reads a cell: a cell magic (``%%time``) is its first non-blank line, and its body
    is Python only for the magics that run it as Python (``_PYTHON_CELL_MAGICS``); a line magic
    (``%``), a shell escape (``!``) or a help request (``obj?``) counts only at the start of a
    logical line, never inside brackets, a triple-quoted string or after a backslash, where
    ``%`` is Python's own operator (``print('%d' \\n %(n))``).
    """
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        words = lines[first].lstrip()[2:].split()
        if (words[0] if words else "") not in _PYTHON_CELL_MAGICS:
            # The whole cell is another language, or text (%%writefile): every line becomes a top-level `pass`.
            return "\n".join(_masked(line, "") for line in lines)
        lines[first] = _masked(lines[first], _indent_of(lines[first]))
    out = []
    continuing = False  # the previous line was a masked escape that ends with a backslash
    statement_indent = ""
    scanner = _LogicalLines()
    for line in lines:
        if continuing:
            # Continuation lines of a shell escape keep the escape's indentation, not their own.
            out.append(_masked(line, statement_indent))
            continuing = line.rstrip().endswith("\\")
        elif scanner.at_start and (_LINE_MAGIC.match(line) or _HELP_SUFFIX.match(line) or _ASSIGNED_MAGIC.match(line)):
            statement_indent = _indent_of(line)
            out.append(_masked(line, statement_indent))
            continuing = line.rstrip().endswith("\\")
        else:
            scanner.feed(line)
            out.append(line)
    return "\n".join(out)


class _LogicalLines:
    """Follows Python's lines one at a time: is the next line the start of a logical line, or
    inside brackets, a triple-quoted string, or a backslash continuation?"""

    def __init__(self) -> None:
        self.depth = 0  # open brackets
        self.quote: str | None = None  # the delimiter of a string left open at the end of the line
        self.backslash = False

    @property
    def at_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.backslash

    def feed(self, line: str) -> None:
        line = line.rstrip("\r")
        quote, depth = self.quote, self.depth
        index, length = 0, len(line)
        comment = False
        while index < length:
            char = line[index]
            if quote is not None:
                if char == "\\":
                    index += 2
                    continue
                if line.startswith(quote, index):
                    index += len(quote)
                    quote = None
                    continue
            elif char == "#":
                comment = True
                break
            elif char in "\"'":
                quote = char * 3 if line.startswith(char * 3, index) else char
                index += len(quote)
                continue
            elif char in "([{":
                depth += 1
            elif char in ")]}":
                depth = max(depth - 1, 0)
            index += 1
        self.backslash = quote is None and not comment and line.endswith("\\")
        if quote is not None and len(quote) == 1 and not line.endswith("\\"):
            quote = None  # a one-quote string ends with its line (or the line is a syntax error)
        self.quote, self.depth = quote, depth


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _masked(line: str, indent: str) -> str:
    return f"{indent}pass" if line.strip() else ""
