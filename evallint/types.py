"""Plain data shared by every layer of evallint: locations, fixes, diagnostics.

Everything here is immutable and picklable so that it can cross process
boundaries (parallel indexing) and be stored in the cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DOCS_URL = "https://github.com/evallint/evallint/blob/main/docs/rules/{code}.md"


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based row and 1-based column, as ruff and the concise format print them."""

    row: int
    column: int


@dataclass(frozen=True)
class Edit:
    """Replace the text between ``location`` and ``end_location`` with ``content``."""

    content: str
    location: Location
    end_location: Location


@dataclass(frozen=True)
class Fix:
    """A fix. Unsafe fixes are computed only when a run asks for them (--fix, --diff, --show-fixes,
    formats that print fixes); otherwise ``edits`` is empty and the fix is only announced."""

    applicability: str  # "safe" or "unsafe"
    message: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Diagnostic:
    """One finding, located in the file as a user sees it.

    For notebooks ``cell`` is the 1-based cell number (every cell counts) and
    ``location`` / ``end_location`` are relative to that cell.
    """

    code: str
    message: str
    path: str
    location: Location
    end_location: Location
    fix: Fix | None = None
    cell: int | None = None

    @property
    def url(self) -> str:
        return DOCS_URL.format(code=self.code)

    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.location, self.code, self.message)


@dataclass(frozen=True)
class Finding:
    """A diagnostic before positions are known: it points at a node by ordinal.

    The analysis runs on plain-data summaries; a node ordinal is the pre-order
    index of a libcst node in its module, so positions can be computed later,
    only for files that have findings.
    """

    code: str
    message: str
    file: str
    node: int
    fix: "FixSpec | None" = None
    # Nodes whose line numbers fill the message's ``{0}``, ``{1}``... placeholders.
    refs: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class FixSpec:
    """What a fix should do to the node a finding points at; turned into edits by evallint.fixes."""

    kind: str
    applicability: str
    message: str
    data: tuple = field(default=())
