"""Notebooks under `verify`: each code cell runs as its own piece of code, named after its cell.

A cell is compiled with the file name ``/abs/nb.ipynb:cell 3``, so the probes
record rows within the cell and the evidence reads like the lint's locations
(``nb.ipynb:cell 3:4``). The cells are the ones the lint reads: magics and
shell lines masked, rows unchanged.
"""

from __future__ import annotations

import re

CELL_NAME = re.compile(r"^(?P<path>.*\.ipynb):cell (?P<cell>\d+)$")


def is_notebook(path: str) -> bool:
    return path.endswith(".ipynb")


def cell_filename(path: str, cell: int) -> str:
    return f"{path}:cell {cell}"


def split_cell_filename(filename: str) -> tuple[str, int | None]:
    """``/abs/nb.ipynb:cell 3`` -> (``/abs/nb.ipynb``, 3); any other name -> (name, None)."""
    match = CELL_NAME.match(filename)
    if match is None:
        return filename, None
    return match.group("path"), int(match.group("cell"))


def code_cells(data: bytes) -> list[tuple[int, str]]:
    """(cell number, source with IPython syntax masked) of each code cell, in order.

    Raises ``NotebookError`` for a file that is not a Python notebook.
    """
    from evallint.parsing.notebook import notebook_to_python

    text, cell_map = notebook_to_python(data)
    lines = text.split("\n")
    starts = list(cell_map.starts)
    cells = []
    for index, (number, first) in enumerate(starts):
        last = starts[index + 1][1] - 1 if index + 1 < len(starts) else len(lines)
        cells.append((number, "\n".join(lines[first - 1:last]).rstrip("\n") + "\n"))
    return cells
