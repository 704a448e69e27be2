"""Positions for the few files that have findings.

libcst's PositionProvider costs several times the parse, so the index never
computes it. Here a file is parsed again, the index's node numbering is
replayed to find the nodes by ordinal, and positions are resolved once.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from evallint.types import Finding, Fix, Location


@dataclass
class PositionTable:
    path: str
    ranges: dict[int, tuple[Location, Location]]
    module: cst.Module | None
    nodes: list[cst.CSTNode]
    positions: object
    cell_map: object
    source: str

    @classmethod
    def build(cls, result, wanted: set[int]) -> "PositionTable":
        from evallint.analysis.index import collect_nodes
        from evallint.engine import module_name_for, read_source
        from evallint.parsing.python import parse_python

        text, _cells, failure = read_source(result.absolute)
        empty = cls(result.path, {}, None, [], {}, result.cell_map, text or "")
        if failure is not None or text is None:
            return empty
        module = parse_python(text)
        if not isinstance(module, cst.Module):
            return empty
        name, is_package = module_name_for(result.absolute)
        nodes = collect_nodes(result.path, name, is_package, module)
        positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        ranges = {}
        for ordinal in wanted:
            if 0 <= ordinal < len(nodes):
                code_range = positions.get(nodes[ordinal])
                if code_range is not None:
                    ranges[ordinal] = (
                        Location(code_range.start.line, code_range.start.column + 1),
                        Location(code_range.end.line, code_range.end.column + 1),
                    )
        return cls(result.path, ranges, module, nodes, positions, result.cell_map, text)

    def display_row(self, ordinal: int) -> str:
        span = self.ranges.get(ordinal)
        if span is None:
            return "?"
        row = span[0].row
        if self.cell_map is not None:
            cell, cell_row = self.cell_map.locate(row)
            return f"{cell_row} of cell {cell}"
        return str(row)

    def fix_for(self, finding: Finding) -> Fix | None:
        if finding.fix is None or self.module is None:
            return None
        from evallint.fixes import build_fix
        from evallint.strict import strict

        try:
            return build_fix(self, finding)
        except Exception:
            # A fix is optional: the finding is still reported, without it.
            if strict():
                raise
            return None
