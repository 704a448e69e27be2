"""EVL104 mode-method-not-called: `model.eval` / `model.train` without `()`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evallint.analysis.facts import ProjectFacts
from evallint.analysis.torch_api import MODE_METHODS
from evallint.rules.base import Rule
from evallint.runtime.judging import (
    CONFIRMED,
    NOT_REPRODUCED,
    Judge,
    attribute_at,
    bn_phrase,
    forwards_after,
    layer_counts,
    module_names,
    plural,
    union,
)
from evallint.types import Edit, Finding, FixSpec

if TYPE_CHECKING:
    from evallint.positions import PositionTable
    from evallint.runtime.observations import Observations


def check(facts: ProjectFacts):
    for fact in facts.bare_mode_attributes:
        receiver = fact.receiver or "the module"
        message = f"`{receiver}.{fact.attr}` is not called: without `()` it does nothing, so the mode does not change"
        fix = FixSpec("safe", f"Call it: `{receiver}.{fact.attr}()`")
        yield Finding("EVL104", message, fact.file, fact.node, fix)


def fix_edits(table: PositionTable, node, spec: FixSpec) -> list[Edit]:
    """`model.eval` -> `model.eval()`: insert `()` right after the attribute."""
    from evallint import fixing

    end = fixing.end_of(table, node)
    if end is None:
        return []
    return [Edit("()", end, end)]


def judge(obs: Observations, path: str, line: int) -> tuple[str, str]:
    """A `.eval` without `()` does nothing at runtime, so no event sits at its line: the forwards
    after it in the same function are the evidence (their mode is what the call should have set)."""
    attribute = attribute_at(path, line, MODE_METHODS) or "eval"
    keys, stats, where, none_ran = forwards_after(obs, path, line)
    if none_ran:
        return none_ran
    want_training = attribute == "train"
    wrong = [s for s in stats if s.sig["training"] != want_training]
    n = sum(s.calls for s in stats)
    if not wrong:
        return NOT_REPRODUCED, (f"the {plural(n, 'forward')} after line {line} in {where} "
                                f"already ran in {attribute} mode")
    n_wrong = sum(s.calls for s in wrong)
    mode = "eval" if want_training else "train"
    layers_field = "inactive" if want_training else "active"
    layers = union(wrong, layers_field)
    state = "in eval mode" if want_training else "active"
    detail = f" with {layer_counts(layers)} {state}" if layers else ""
    return CONFIRMED, (f"`.{attribute}` without () at line {line} did nothing: "
                       f"{plural(n_wrong, 'forward')} of {module_names(wrong)} after it in {where} "
                       f"ran in {mode} mode{detail}"
                       + bn_phrase(obs, [k for k in keys if obs.forwards[k] in wrong]))


RULE = Rule(
    code="EVL104",
    name="mode-method-not-called",
    summary="`model.eval` or `model.train` is written as a statement without `()`: a no-op.",
    fix_safety="safe",
    doc='''
## What it does
Finds `model.eval` and `model.train` used as statements without being called.

## Why is this bad?
The attribute is looked up and thrown away; the mode does not change. Validation then runs in
train mode (or training in eval mode) while the code reads as if it switched.

## Example
```python
model.eval
with torch.no_grad():
    metrics = evaluate(model, loader)
```

## Use instead
```python
model.eval()
with torch.no_grad():
    metrics = evaluate(model, loader)
```

## Fix safety
The fix adds `()`. It is safe: the statement had no effect before, and calling the method is what
the line says.

## Known problems
None known.
''',
    valid=("model.eval()\n", "switch = model.eval\n"),
    invalid=("model.eval  # EVL104\n", "self.net.train  # EVL104\n"),
    check=check,
    fix=fix_edits,
    judge=Judge(judge, reads_later_forwards=True),
)
