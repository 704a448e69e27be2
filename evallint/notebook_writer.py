"""Rewrite the code cells of a notebook and nothing else, as ruff does: outputs, metadata, the
other cells, the key order and the JSON layout (indent, escaping, final newline) stay as they were.

Edits come in cell coordinates (1-based row and column within the cell, as diagnostics of
notebooks are located). They are computed on the cell as evallint parsed it, with IPython lines
masked (``evallint.parsing.notebook``); an edit that would change a masked line (a magic, a shell
escape) is refused, since the text under it is not what the fix saw.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from evallint.parsing.notebook import mask_ipython
from evallint.parsing.python import split_lines
from evallint.types import Edit, Fix, Location

_INDENT = re.compile(r"^\{\r?\n([ \t]+)\"")


class NotebookWriteError(ValueError):
    pass


@dataclass
class NotebookText:
    document: dict
    indent: str | None
    ensure_ascii: bool
    final_newline: bool

    @classmethod
    def parse(cls, text: str) -> "NotebookText":
        try:
            document = json.loads(text.removeprefix("\ufeff"))
        except (json.JSONDecodeError, RecursionError) as error:
            raise NotebookWriteError(f"notebook is not valid JSON: {error}") from None
        if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
            raise NotebookWriteError("notebook has no 'cells' list")
        match = _INDENT.match(text.removeprefix("\ufeff"))
        indent = match.group(1) if match else None
        ensure_ascii = all(ord(character) < 128 for character in text) and "\\u" in text
        return cls(document, indent, ensure_ascii, text.endswith("\n"))

    def cell_source(self, number: int) -> str:
        source = self.document["cells"][number - 1].get("source", "")
        return "".join(source) if isinstance(source, list) else source

    def set_cell_source(self, number: int, text: str) -> None:
        cell = self.document["cells"][number - 1]
        # Kept in the cell's own form: a list of lines (each with its newline) or one string.
        cell["source"] = split_lines(text) if isinstance(cell.get("source", ""), list) else text

    def dump(self) -> str:
        text = json.dumps(self.document, indent=self.indent, ensure_ascii=self.ensure_ascii)
        return text + "\n" if self.final_newline else text


def masked_rows(cell_source: str) -> frozenset[int]:
    """1-based rows of a cell that evallint parsed as `pass` (or blank) instead of the text there."""
    masked = mask_ipython(cell_source).split("\n")
    original = cell_source.split("\n")
    return frozenset(row for row, (a, b) in enumerate(zip(original, masked), start=1) if a != b)


def apply_cell_edits(cell_source: str, edits: list[Edit]) -> str:
    """The cell with ``edits`` applied; NotebookWriteError when one would change a masked line."""
    from evallint.edits import apply_edits

    masked = masked_rows(cell_source)
    for edit in edits:
        # Inserting at the start of a line puts text before it, and leaves the line itself alone.
        before_line = edit.location == edit.end_location and edit.location.column == 1
        touched = range(edit.location.row, edit.end_location.row + 1)
        if not before_line and any(row in masked for row in touched):
            raise NotebookWriteError(f"a fix would change line {edit.location.row}, an IPython line evallint does not parse")
    # A cell's last line has no newline of its own; the edits were made with one (cells are joined).
    had_newline = cell_source.endswith("\n")
    fixed = apply_edits(cell_source if had_newline else cell_source + "\n", edits)
    return fixed if had_newline or not fixed.endswith("\n") else fixed[:-1]


def fix_in_cell(fix: Fix | None, cell: int, cell_map) -> Fix | None:
    """A notebook's fix, its edits moved from the joined source to ``cell``'s rows; None when an
    edit lies outside that cell (the fix would have to change two cells at once)."""
    if fix is None or not fix.edits:
        return fix
    moved = []
    for edit in fix.edits:
        if cell_map.column(edit.location.row, 1) != 1 or cell_map.column(edit.end_location.row, 1) != 1:
            return None  # a line IPython dedents: its edits were made for the dedented text
        start_cell, start_row = cell_map.locate(edit.location.row)
        end_cell, end_row = cell_map.locate(edit.end_location.row)
        if end_cell != cell and edit.end_location.column == 1 and end_row == 1 and start_cell == cell:
            # An edit that ends at the start of the next cell ends at the end of this one.
            end_row = edit.end_location.row - cell_map.joined_row(cell, 1) + 1
            end_cell = cell
        if start_cell != cell or end_cell != cell:
            return None
        moved.append(Edit(edit.content, Location(start_row, edit.location.column), Location(end_row, edit.end_location.column)))
    return Fix(fix.applicability, fix.message, tuple(moved))
