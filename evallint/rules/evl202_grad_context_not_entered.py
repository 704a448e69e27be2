"""EVL202 grad-context-not-entered: a grad context manager built but never entered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evallint.analysis.facts import ProjectFacts
from evallint.analysis.torch_api import GRAD_CONTEXT_FACTORY_ATTRIBUTES
from evallint.rules.base import Rule
from evallint.runtime.judging import (
    CONFIRMED,
    NOT_REPRODUCED,
    Judge,
    attribute_at,
    forwards_after,
    module_names,
    plural,
)
from evallint.types import Edit, Finding, FixSpec

if TYPE_CHECKING:
    from evallint.positions import PositionTable
    from evallint.runtime.observations import Observations


def check(facts: ProjectFacts):
    for fact in facts.grad_contexts_not_entered:
        if fact.form == "statement":
            message = (
                f"`{fact.name}()` as a statement does nothing: the context manager is built and thrown away, "
                f"so autograd stays as it was; use `with {fact.name}():` around the code"
            )
            yield Finding("EVL202", message, fact.file, fact.node, None)
        else:
            message = (
                f"`with {fact.name}:` is missing the call: it raises TypeError when this line runs; "
                f"write `with {fact.name}():`"
            )
            fix = FixSpec("safe", f"Call it: `with {fact.name}():`")
            yield Finding("EVL202", message, fact.file, fact.node, fix)


def fix_edits(table: PositionTable, node, spec: FixSpec) -> list[Edit]:
    """`with torch.no_grad:` -> `with torch.no_grad():`."""
    import libcst as cst  # loaded only when a fix is built: the lint path does not need libcst

    from evallint import fixing

    if not isinstance(node, cst.WithItem):
        return []
    end = fixing.end_of(table, node.item)
    if end is None:
        return []
    return [Edit("()", end, end)]


def judge(obs: Observations, path: str, line: int) -> tuple[str, str]:
    """A bare `torch.no_grad()` does nothing at runtime, so no event sits at its line: the forwards
    after it in the same function are the evidence; a `with torch.no_grad:` raises, and the
    script's traceback through the line confirms it."""
    error = obs.error
    if error and any(f[0] == path and f[1] == line for f in error.get("frames", [])):
        return CONFIRMED, (f"line {line} raised {error['type']}: {error['message']} "
                           "when it first ran")
    attribute = attribute_at(path, line, GRAD_CONTEXT_FACTORY_ATTRIBUTES)
    want_grad = attribute == "enable_grad"
    keys, stats, where, none_ran = forwards_after(obs, path, line)
    if none_ran:
        return none_ran
    wrong = [s for s in stats
             if (s.sig["grad"] and not s.sig["inference"]) != want_grad]
    context = f"torch.{attribute or 'no_grad'}()"
    if not wrong:
        return NOT_REPRODUCED, (f"the forwards after line {line} in {where} ran with autograd "
                                f"{'enabled' if want_grad else 'disabled'} anyway")
    n = sum(s.calls for s in wrong)
    graphs = sum(s.graphs for s in wrong)
    text = (f"{context} at line {line} did nothing: {plural(n, 'forward')} of {module_names(wrong)} "
            f"after it in {where} ran with autograd {'disabled' if want_grad else 'enabled'}")
    if not want_grad:
        text += f" ({graphs} built autograd graphs)"
    return CONFIRMED, text


RULE = Rule(
    code="EVL202",
    name="grad-context-not-entered",
    summary="`torch.no_grad()` / `torch.inference_mode()` / `torch.enable_grad()` is not entered with `with`.",
    fix_safety="sometimes",
    doc='''
## What it does
Finds `torch.no_grad()`, `torch.inference_mode()` and `torch.enable_grad()` used as bare
statements, and `with torch.no_grad:` (and friends) written without the call.

## Why is this bad?
A bare `torch.no_grad()` builds a context manager and throws it away: autograd stays on and the
code below builds graphs it does not need. `with torch.no_grad:` passes the class itself to
`with`, which raises `TypeError` only when the line first runs, often at the end of the first
training epoch.

## Example
```python
torch.no_grad()
preds = model(x)

with torch.no_grad:
    preds = model(x)
```

## Use instead
```python
with torch.no_grad():
    preds = model(x)
```

## Fix safety
`with torch.no_grad:` gets the missing `()`: a safe fix, the original could only raise. The bare
statement has no automatic fix: which code it was meant to cover is unknown.

## Known problems
`torch.set_grad_enabled(False)` as a statement is a real function call and is not reported.
''',
    valid=(
        '''
with torch.no_grad():
    y = 1
torch.set_grad_enabled(False)
''',
    ),
    invalid=(
        '''
torch.no_grad()  # EVL202
with torch.inference_mode:  # EVL202
    y = 1
''',
    ),
    check=check,
    fix=fix_edits,
    judge=Judge(judge, reads_later_forwards=True),
)
