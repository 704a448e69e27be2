"""Turn a finding's FixSpec into a Fix: its rule's ``fix`` builds the edits (``fixing`` has the tools).

Notebooks get no fixes: their positions are in the joined, magic-masked
source, and an edit there cannot be written back into a cell safely.
"""

from __future__ import annotations

from evallint.rules import ALL_RULES
from evallint.types import Finding, Fix


def build_fix(table, finding: Finding, *, edits: bool = True) -> Fix | None:
    """The finding's fix, or None when it cannot be built.

    With ``edits=False`` the fix is planned, not written: everything that decides whether it
    exists runs as in a full build (the place, the new statement or decorator); only the rewrite
    of the whole module and the diff of its text are skipped, and the fix comes back with no
    edits. A planned fix is None exactly when the built one would be: the skipped steps put a
    node that was just built in place of another, which always changes the text. The summary
    counts hidden fixes this way (``PositionTable.planned_fix``, on the top-level statement around
    the finding), without a module rewrite per fix.
    """
    spec = finding.fix
    if spec is None or table.module is None:
        return None
    node = table.nodes[finding.node] if 0 <= finding.node < len(table.nodes) else None
    if node is None:
        return None
    rule = ALL_RULES.get(finding.code)
    if rule is None or rule.fix is None:
        return None
    built = rule.fix(table if edits else _Planning(table), node, spec)
    if not built:
        return None
    return Fix(spec.applicability, spec.message, tuple(built) if edits else ())


class _Planning:
    """A position table whose fixes are planned: ``fixing.transform`` builds the new node, not
    the module."""

    planning = True

    def __init__(self, table) -> None:
        self._table = table

    def __getattr__(self, name: str):
        return getattr(self._table, name)
