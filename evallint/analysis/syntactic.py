"""Facts read from the code alone, whatever state it runs in: a bare ``model.eval`` (no call), a
grad context built and never entered (``torch.no_grad()`` as a statement, ``with torch.no_grad:``)."""

from __future__ import annotations

from evallint.analysis import ir, torch_api
from evallint.analysis.bodies import flatten
from evallint.analysis.callgraph import function_id
from evallint.analysis.evidence import Evidence
from evallint.analysis.facts import (
    BareModeAttribute,
    GradContextNotEntered,
    ProjectFacts,
)


def syntactic_facts(evidence: Evidence, paths: list[str] | None = None) -> ProjectFacts:
    """The syntactic facts of the files ``paths`` (all of the project's by default)."""
    project = evidence.project
    facts = ProjectFacts()
    for path in project.files if paths is None else paths:
        f = project.files[path]
        for fn in f.functions:
            # A qualname defined twice in a file (a property's setter) has one id: its first
            # definition is flattened here, not taken from the other's cache entry.
            fref = project.functions.get(function_id(f.path, fn.qualname))
            for stmt in evidence.statements(fref) if fref is not None and fref.info is fn else flatten(fn.body):
                if isinstance(stmt, ir.BareAttribute):
                    facts.bare_mode_attributes.append(BareModeAttribute(f.path, stmt.node, stmt.receiver, stmt.attr))
                elif isinstance(stmt, ir.Call) and stmt.statement and stmt.func is not None:
                    name = project.qualify(f.path, stmt.func)
                    if name in torch_api.GRAD_CONTEXT_FACTORIES:
                        facts.grad_contexts_not_entered.append(
                            GradContextNotEntered(f.path, stmt.node, stmt.func, "statement")
                        )
                elif isinstance(stmt, ir.With):
                    for item in stmt.items:
                        if item.chain is None:
                            continue
                        name = project.qualify(f.path, item.chain)
                        if name in torch_api.GRAD_CONTEXT_FACTORIES or name in torch_api.SET_GRAD_ENABLED:
                            facts.grad_contexts_not_entered.append(
                                GradContextNotEntered(f.path, item.node, item.chain, "uncalled-with")
                            )
    return facts
