"""EVL202 grad-context-not-entered: a grad context manager built but never entered."""

from __future__ import annotations

from evallint.analysis.facts import ProjectFacts
from evallint.rules.base import Rule
from evallint.types import Finding, FixSpec


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
            fix = FixSpec("call-with-item", "safe", f"Call it: `with {fact.name}():`")
            yield Finding("EVL202", message, fact.file, fact.node, fix)


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
)
