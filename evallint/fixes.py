"""Turn a finding's FixSpec into text edits, and apply edits to files.

A fix is computed from the node the finding points at; its edit replaces
exactly that node's text (or inserts at one place), so everything outside the
edited node stays byte-for-byte as it was.
"""

from __future__ import annotations

import libcst as cst

from evallint.types import Edit, Finding, Fix, Location


def build_fix(table, finding: Finding) -> Fix | None:
    spec = finding.fix
    if spec is None:
        return None
    node = table.nodes[finding.node] if 0 <= finding.node < len(table.nodes) else None
    if node is None:
        return None
    builder = _BUILDERS.get(spec.kind)
    if builder is None:
        return None
    edits = builder(table, node, spec)
    if not edits:
        return None
    return Fix(spec.applicability, spec.message, tuple(edits))


def _end_of(table, node: cst.CSTNode) -> Location | None:
    code_range = table.positions.get(node)
    if code_range is None:
        return None
    return Location(code_range.end.line, code_range.end.column + 1)


def _append_call(table, node, spec):
    """`model.eval` -> `model.eval()`: insert `()` right after the attribute."""
    end = _end_of(table, node)
    if end is None:
        return []
    return [Edit("()", end, end)]


def _call_with_item(table, node, spec):
    """`with torch.no_grad:` -> `with torch.no_grad():`."""
    if not isinstance(node, cst.WithItem):
        return []
    end = _end_of(table, node.item)
    if end is None:
        return []
    return [Edit("()", end, end)]


_BUILDERS = {
    "call-attribute": _append_call,
    "call-with-item": _call_with_item,
}
