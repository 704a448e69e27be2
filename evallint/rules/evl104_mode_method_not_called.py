"""EVL104 mode-method-not-called: `model.eval` / `model.train` without `()`."""

from __future__ import annotations

from evallint.analysis.facts import ProjectFacts
from evallint.rules.base import Rule
from evallint.types import Finding, FixSpec


def check(facts: ProjectFacts):
    for fact in facts.bare_mode_attributes:
        receiver = fact.receiver or "the module"
        message = f"`{receiver}.{fact.attr}` is not called: without `()` it does nothing, so the mode does not change"
        fix = FixSpec("call-attribute", "safe", f"Call it: `{receiver}.{fact.attr}()`")
        yield Finding("EVL104", message, fact.file, fact.node, fix)


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
)
