"""Turn a finding's FixSpec into a Fix: its rule's ``fix`` builds the edits (``fixing`` has the tools).

Notebooks get no fixes: their positions are in the joined, magic-masked
source, and an edit there cannot be written back into a cell safely.
"""

from __future__ import annotations

from evallint.rules import ALL_RULES
from evallint.types import Finding, Fix


def build_fix(table, finding: Finding) -> Fix | None:
    spec = finding.fix
    if spec is None or table.module is None:
        return None
    node = table.nodes[finding.node] if 0 <= finding.node < len(table.nodes) else None
    if node is None:
        return None
    rule = ALL_RULES.get(finding.code)
    if rule is None or rule.fix is None:
        return None
    edits = rule.fix(table, node, spec)
    if not edits:
        return None
    return Fix(spec.applicability, spec.message, tuple(edits))
