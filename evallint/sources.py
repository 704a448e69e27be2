"""Where the text of a file comes from: the disk or an overlay of unsaved text, decoded (notebooks
converted to Python), and the dotted module name its directories give it.
"""

from __future__ import annotations

import contextlib
import functools
import os
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from evallint.analysis import ir
from evallint.internal_errors import InternalError
from evallint.parsing.notebook import CellMap
from evallint.parsing.python import ParseFailure


@dataclass
class FileResult:
    """What phase 1 made of one file: its index, or the failure to report as EVL001."""

    path: str  # display path
    absolute: str
    index: ir.FileIndex | None = None
    error: ParseFailure | None = None
    cell_map: CellMap | None = None
    # `# noqa` comments, read only for a file with a diagnostic (tokenizing costs a tenth of the parse).
    suppressions: object = None  # evallint.suppression.Suppressions once read
    # A bug of evallint's met while indexing the file: the file is then unknown to the analysis.
    internal_error: InternalError | None = None


def module_name_for(absolute: str) -> tuple[str, bool]:
    """Dotted module name from the package directories above a file (``pkg/sub/mod.py`` -> ``pkg.sub.mod``)."""
    directory, filename = os.path.split(absolute)
    is_package = filename == "__init__.py"
    packages = _packages_of(directory)
    if is_package:
        # An ``__init__.py`` outside any package (at the file system's root) is named after its directory.
        parts = packages or (os.path.basename(directory),)
    else:
        parts = (*packages, filename.rpartition(".")[0] or filename)
    return ".".join(parts) or Path(absolute).stem, is_package


def forget_packages() -> None:
    """Directories may have gained or lost an ``__init__.py`` since the last run."""
    _packages_of.cache_clear()


@functools.lru_cache(maxsize=None)
def _packages_of(directory: str) -> tuple[str, ...]:
    """The package names a directory's modules are inside, outermost first: one ``stat`` per
    directory of a run, not one per directory per file. ``forget_packages`` clears it."""
    parent = os.path.dirname(directory)
    if parent == directory or not os.path.isfile(os.path.join(directory, "__init__.py")):
        return ()
    return (*_packages_of(parent), os.path.basename(directory))


# Texts to read instead of the files on disk, by absolute path: fixed-but-unwritten text during the
# fix loop, the lines flake8 read, an editor's buffer (a notebook's: its JSON). Worker processes
# do not see them: lint with jobs=1 inside.
_OVERLAYS: ContextVar[dict[str, str | bytes] | None] = ContextVar("evallint_source_overlays", default=None)


@contextlib.contextmanager
def overlaid_sources(texts: dict[str, str | bytes]):
    """Read these texts instead of the files on disk while the block runs."""
    token = _OVERLAYS.set({**(_OVERLAYS.get() or {}), **texts})
    try:
        yield
    finally:
        _OVERLAYS.reset(token)


def read_source(absolute: str) -> tuple[str | None, CellMap | None, ParseFailure | None]:
    """Text of a file as Python (notebooks converted), or the failure to report."""
    overlays = _OVERLAYS.get()
    if overlays and absolute in overlays:
        text = overlays[absolute]
        # A notebook's overlay is its JSON, and bytes are what the file would hold: both read as a file is.
        if isinstance(text, bytes) or absolute.endswith(".ipynb"):
            return source_from_bytes(absolute, text if isinstance(text, bytes) else text.encode("utf-8"))
        return text, None, None
    data = read_bytes(absolute)
    if isinstance(data, ParseFailure):
        return None, None, data
    return source_from_bytes(absolute, data)


def read_bytes(absolute: str) -> bytes | ParseFailure:
    """A file's bytes from the disk, or why they cannot be read."""
    try:
        with open(absolute, "rb") as handle:
            return handle.read()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        return ParseFailure(f"cannot read file: {reason}")


def source_from_bytes(absolute: str, data: bytes) -> tuple[str | None, CellMap | None, ParseFailure | None]:
    from evallint.parsing.notebook import NotebookError, notebook_to_python
    from evallint.parsing.python import decode_source

    if absolute.endswith(".ipynb"):
        try:
            text, cells = notebook_to_python(data)
        except NotebookError as error:
            return None, None, ParseFailure(str(error))
        return text, cells, None
    decoded = decode_source(data)
    if isinstance(decoded, ParseFailure):
        return None, None, decoded
    return decoded, None, None
