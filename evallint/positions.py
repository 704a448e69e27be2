"""Positions of the nodes findings point at, and the libcst nodes that fixes rewrite.

The index records each node's span as CPython reports it (UTF-8 byte columns);
here spans become 1-based character columns, which costs only reading the file.
Fixes need libcst's tree (it keeps formatting): it is parsed only when a fix is
built, and nodes are found in it by type and span.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from evallint.parsing.python import split_lines
from evallint.sources import read_source
from evallint.types import Finding, Fix, Location


# CPython node type -> libcst node type, for the nodes findings point at.
_LIBCST_TYPE = {"withitem": "WithItem"}


@dataclass
class PositionTable:
    path: str
    ranges: dict[int, tuple[Location, Location]]
    cell_map: object
    source: str
    index: object = None  # the file's ``ir.FileIndex``: each node's span and type
    lines: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, result, wanted: set[int]) -> "PositionTable":
        index = result.index
        text, _cells, failure = read_source(result.absolute)
        if failure is not None or text is None or index is None:
            return cls(result.path, {}, result.cell_map, text or "")
        lines = split_lines(text)
        table = cls(result.path, {}, result.cell_map, text, index, lines)
        for ordinal in wanted:
            if 0 <= ordinal < index.node_count():
                line, column, end_line, end_column = index.span(ordinal)
                table.ranges[ordinal] = (
                    Location(line, table.character_column(line, column) + 1),
                    Location(end_line, table.character_column(end_line, end_column) + 1),
                )
        return table

    def character_column(self, line: int, byte_column: int) -> int:
        """CPython counts UTF-8 bytes; people (and libcst) count characters."""
        if not 1 <= line <= len(self.lines):
            return byte_column
        prefix = self.lines[line - 1].encode("utf-8", "surrogatepass")[:byte_column]
        return len(prefix.decode("utf-8", "replace"))

    def display_row(self, ordinal: int) -> str:
        span = self.ranges.get(ordinal)
        if span is None:
            return "?"
        row = span[0].row
        if self.cell_map is not None:
            cell, cell_row = self.cell_map.locate(row)
            return f"{cell_row} of cell {cell}"
        return str(row)

    def fix_for(self, finding: Finding, *, edits: bool = True) -> Fix | None:
        """The finding's fix; with ``edits=False`` planned, not written (``fixes.build_fix``)."""
        if finding.fix is None or self.module is None:
            return None
        from evallint.fixes import build_fix
        from evallint.strict import strict

        try:
            return build_fix(self, finding, edits=edits)
        except Exception:
            # A fix is optional: the finding is still reported, without it.
            if strict():
                raise
            return None

    def planned_fix(self, finding: Finding) -> Fix | None:
        """The finding's fix planned, not written (``fixes.build_fix(edits=False)``), on the
        top-level statement around it alone.

        Everything a fix builder looks at lies inside that statement (the node, its ancestors up
        to the module, the function around it), except the module's `import torch`, which only
        decides whether the fix would add one; so parsing that statement with libcst decides the
        same as parsing the whole file, at the cost of the statement.
        """
        if finding.fix is None or self.index is None or not 0 <= finding.node < self.index.node_count():
            return None
        statements = self._top_level_statements
        if statements is None:
            return self.fix_for(finding, edits=False)
        line = self.index.span(finding.node)[0]
        for first, last in statements:
            if first <= line <= last:
                break
        else:
            return self.fix_for(finding, edits=False)
        # In a class, the method around the finding under a class header of its own: a builder
        # stops at the class, and parsing one method costs far less than a whole large class.
        header: list[str] = []
        for method_first, method_last in self._class_methods.get(first, ()):
            if method_first <= line <= method_last:
                header, first, last = ["class _Fragment:\n"], method_first, method_last
                break
        fragment = self._fragments.get(first)
        if fragment is None:
            lines = header + self.lines[first - 1 : last]
            fragment = self._fragments[first] = PositionTable(
                self.path, {}, None, "".join(lines), _ShiftedIndex(self.index, first - 1 - len(header)), lines,
            )
        return fragment.fix_for(finding, edits=False)

    @cached_property
    def _fragments(self) -> dict:
        return {}

    @cached_property
    def _class_methods(self) -> dict[int, list[tuple[int, int]]]:
        """(first line of a top-level class) -> the spans of its body's statements."""
        import ast

        body = self._module_body
        return {
            first: [span for span in _statement_spans(statement.body) if span[0] > statement.lineno]
            for statement, (first, _) in zip(body or (), _statement_spans(body or (), merge=False))
            if isinstance(statement, ast.ClassDef)
        }

    @cached_property
    def _module_body(self) -> list | None:
        """CPython's top-level statements, or None when it cannot parse the source."""
        import ast

        try:
            return ast.parse(self.source).body
        except (SyntaxError, ValueError):
            return None

    @cached_property
    def _top_level_statements(self) -> list[tuple[int, int]] | None:
        """(first line, last line) of each top-level statement, decorators included; statements
        that share a line (`a = 1; b = 2`) are one. None when CPython cannot parse the source."""
        body = self._module_body
        return _statement_spans(body) if body is not None else None

    # -- libcst, for fixes only ---------------------------------------------------------------

    @cached_property
    def module(self):
        import libcst as cst

        from evallint.parsing.python import parse_python

        if not self.source:
            return None
        module = parse_python(self.source)
        return module if isinstance(module, cst.Module) else None

    @cached_property
    def positions(self):
        from libcst.metadata import MetadataWrapper, PositionProvider

        return MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)

    @cached_property
    def nodes(self) -> "_NodesBySpan":
        return _NodesBySpan(self)


class _NodesBySpan:
    """``table.nodes[ordinal]``: the libcst node of the same type and span as the indexed node."""

    def __init__(self, table: PositionTable) -> None:
        self.table = table
        self.by_span: dict[tuple, object] = {}
        self.by_start: dict[tuple, object] = {}
        for node, code_range in table.positions.items():
            kind = type(node).__name__
            start = (code_range.start.line, code_range.start.column)
            end = (code_range.end.line, code_range.end.column)
            self.by_span.setdefault((kind, start, end), node)
            self.by_start.setdefault((kind, start), node)

    def __len__(self) -> int:
        return self.table.index.node_count() if self.table.index is not None else 0

    def __getitem__(self, ordinal: int):
        line, column, end_line, end_column = self.table.index.span(ordinal)
        kind = self.table.index.kinds[ordinal]
        kind = _LIBCST_TYPE.get(kind, kind)
        start = (line, self.table.character_column(line, column))
        end = (end_line, self.table.character_column(end_line, end_column))
        node = self.by_span.get((kind, start, end))
        return node if node is not None else self.by_start.get((kind, start))


def _statement_spans(body, merge: bool = True) -> list[tuple[int, int]]:
    """(first line, last line) of each statement, decorators included; with ``merge``, statements
    that share a line (`a = 1; b = 2`) are one."""
    spans: list[tuple[int, int]] = []
    for statement in body:
        decorators = getattr(statement, "decorator_list", None) or []
        first = min([statement.lineno, *(d.lineno for d in decorators)])
        last = statement.end_lineno or statement.lineno
        if merge and spans and first <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(last, spans[-1][1]))
        else:
            spans.append((first, last))
    return spans


class _ShiftedIndex:
    """An index whose spans are moved up by ``offset`` lines: the nodes of one statement, as
    they sit in a source that starts with that statement."""

    def __init__(self, index, offset: int) -> None:
        self.kinds = index.kinds
        self._index = index
        self._offset = offset

    def node_count(self) -> int:
        return self._index.node_count()

    def span(self, ordinal: int) -> tuple[int, int, int, int]:
        line, column, end_line, end_column = self._index.span(ordinal)
        return line - self._offset, column, end_line - self._offset, end_column
