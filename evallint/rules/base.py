"""What a rule is: one module per rule defines ``RULE``, the single source of truth.

The code, name, message, fix safety, documentation and examples live together, with the
rule's check, its fix and its runtime judge;
``evallint rule CODE`` and ``docs/rules/CODE.md`` are generated from them, and
the test suite runs every rule's VALID and INVALID examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from evallint.analysis.facts import CallerInfo, ProjectFacts
from evallint.analysis.lattice import CONSTRUCTED, ENTRY, LOADED, PRETRAINED, SET_BY_CALL, Poss
from evallint.types import Edit, Finding, FixSpec

_REDEFINITION = re.compile(r"@\d+")

if TYPE_CHECKING:
    from evallint.positions import PositionTable
    from evallint.runtime.judging import Judge

DOC_HEADINGS = ("What it does", "Why is this bad?", "Example", "Use instead", "Fix safety", "Known problems")


@dataclass(frozen=True)
class Rule:
    code: str
    name: str  # kebab-case
    summary: str  # one line
    fix_safety: str  # "safe", "unsafe", "sometimes" or "none"
    doc: str  # markdown with the DOC_HEADINGS as "## " sections
    valid: tuple[str, ...]  # code that must not trigger the rule
    invalid: tuple[str, ...]  # code that must trigger it (marked lines end with "# <CODE>")
    check: Callable[[ProjectFacts], Iterable[Finding]]
    # Builds the edits of a finding's FixSpec: (the file's positions, the finding's libcst node, the spec).
    # Rules whose findings carry no FixSpec have none.
    fix: Callable[[PositionTable, object, FixSpec], list[Edit]] | None = None
    # How `evallint verify` decides a finding from what ran; torch-free, so the lint path can hold it.
    judge: Judge | None = None
    # Off by default (as ruff's RUF100): selected only by its code, a prefix longer than `EVL`, or ALL.
    default_enabled: bool = True

    def render_doc(self) -> str:
        return f"# {self.code} {self.name}\n\n{self.summary}\n\n{self.doc.strip()}\n"


class MessageRefs:
    """Collects nodes whose line numbers a message mentions as ``{0}``, ``{1}``..."""

    def __init__(self) -> None:
        self.refs: list[tuple[str, int]] = []

    def line(self, file: str, node: int) -> str:
        self.refs.append((file, node))
        return "{" + str(len(self.refs) - 1) + "}"


def function_label(qualname: str) -> str:
    if qualname == "<module>":
        return "module-level code"
    # `validate@57`: the earlier of two definitions of `validate` (``analysis.redefinitions``).
    return _REDEFINITION.sub("", qualname).replace(".<locals>.", ".") + "()"


def describe_mode_origin(poss: Poss, key: str, refs: MessageRefs) -> str:
    origin = poss.origin
    where = function_label(origin.function) if origin.function else ""
    if origin.kind == SET_BY_CALL:
        place = f"{where} at line {refs.line(origin.file, origin.node)}"
        return f"{place} calls {origin.receiver or key}.{origin.detail}"
    if origin.kind == CONSTRUCTED:
        return f"{key} is built at line {refs.line(origin.file, origin.node)} (a new module starts in train mode)"
    if origin.kind == PRETRAINED:
        return (
            f"{key} comes from from_pretrained() at line {refs.line(origin.file, origin.node)}, "
            "which returns a model in eval mode"
        )
    if origin.kind == LOADED:
        return (
            f"{key} comes from {origin.detail or 'torch.load'}() at line {refs.line(origin.file, origin.node)}, "
            "which returns a whole model in the mode it was saved in"
        )
    if origin.kind == ENTRY:
        return f"nothing in {where or 'this code'} sets the mode of {key}"
    return f"{key} was last set by {origin.detail or 'a call'}"


def describe_caller(caller: CallerInfo | None, refs: MessageRefs) -> str:
    if caller is None:
        return ""
    return f" (reached from {function_label(caller.function)} at line {refs.line(caller.file, caller.node)})"


def first_per(findings: Iterable[tuple]) -> list[Finding]:
    """Keep the first finding (by sort position) for each dedupe key, and one per line: a helper
    reached from two callers is one finding at its forward, not two.

    A candidate may carry a fourth item, the branch conditions on its path (``ModelForward.path``):
    a later finding whose path excludes every kept one's for its key (the other arm of an
    ``if``) is a separate evaluation, and is kept too."""
    kept_per_key: dict[tuple, list[tuple[tuple, Finding, tuple]]] = {}
    for item in sorted(findings, key=lambda item: item[1]):
        key, order, finding = item[0], item[1], item[2]
        path = item[3] if len(item) > 3 else ()
        current = kept_per_key.setdefault(key, [])
        if not current or (path and all(_exclusive(path, other) for _, _, other in current)):
            current.append((order, finding, path))
    kept: list[Finding] = []
    seen: set[tuple] = set()
    for _, finding, _ in sorted((entry for entries in kept_per_key.values() for entry in entries), key=lambda e: e[0]):
        place = (finding.code, finding.file, finding.node)
        if place not in seen:
            seen.add(place)
            kept.append(finding)
    return kept


def _exclusive(path: tuple, other: tuple) -> bool:
    """No run takes both paths: one went through a branch whose other arm the other took."""
    taken = {(text, deps): polarity for text, polarity, deps in path}
    return any(taken.get((text, deps), polarity) != polarity for text, polarity, deps in other)
