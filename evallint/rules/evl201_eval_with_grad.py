"""EVL201 eval-with-grad: evaluation code runs a model with autograd enabled."""

from __future__ import annotations

from evallint.analysis.facts import ProjectFacts
from evallint.analysis.lattice import CONTEXT, GRAD_ON, UNKNOWN
from evallint.rules.base import MessageRefs, Rule, describe_caller, first_per
from evallint.types import Finding, FixSpec


def check(facts: ProjectFacts):
    candidates = []
    for forward in facts.forwards:
        if forward.context.kind != "eval" or forward.needs_grad or forward.method == "generate":
            continue
        if any(p.value == UNKNOWN for p in forward.grad):
            continue
        # Grad turned on explicitly (enable_grad(), set_grad_enabled(True)) is a choice, not an oversight.
        enabled = sorted(p for p in forward.grad if p.value == GRAD_ON and p.origin.kind != CONTEXT)
        if not enabled:
            continue
        refs = MessageRefs()
        evidence = "nothing on this path disables autograd (torch.no_grad(), torch.inference_mode())"
        message = (
            f"{forward.key} runs in {forward.context.label} with autograd enabled: {evidence}, so every forward "
            f"builds a graph nobody uses{describe_caller(forward.caller, refs)}"
        )
        fix = None if forward.context.by_flow else FixSpec("wrap-no-grad", "unsafe", "Run the evaluation under `torch.no_grad()`", (forward.key,))
        finding = Finding("EVL201", message, forward.file, forward.node, fix, tuple(refs.refs))
        # Once per model and evaluation region (a function, a loop over evaluation data, a block).
        region = (forward.context.file, forward.context.node)
        candidates.append(((forward.file, forward.function, forward.key, region), (forward.file, forward.node), finding))
    return first_per(candidates)


RULE = Rule(
    code="EVL201",
    name="eval-with-grad",
    summary="A model runs in an evaluation context with autograd enabled.",
    fix_safety="unsafe",
    doc='''
## What it does
Finds forwards of a model inside evaluation code where, on some path, neither `torch.no_grad()`,
`torch.inference_mode()` nor `torch.set_grad_enabled(False)` (as a context manager, a decorator,
or set by a caller) turns autograd off.

## Why is this bad?
With autograd on, every evaluation forward records a graph and keeps the activations it needs for
a backward pass that never comes: memory grows with the batch and the model, evaluation is slower,
and large evaluation batches run out of memory that the training step did not need.

## Example
```python
def evaluate(model, loader):
    model.eval()
    for x, y in loader:
        out = model(x)
```

## Use instead
```python
@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    for x, y in loader:
        out = model(x)
```

## Fix safety
The fix decorates a pure evaluation function with `@torch.no_grad()`, or wraps its evaluation
loop in `with torch.no_grad():` (adding `import torch` when needed). It is unsafe: code that deliberately needs gradients during evaluation (saliency maps,
adversarial evaluation) must not be changed, although evallint already skips regions that call
`torch.autograd.grad` or `requires_grad_()`.

## Known problems
`model.generate(...)` (Hugging Face) disables grad itself and is not reported, and neither is
grad turned on explicitly (`torch.enable_grad()`, `torch.set_grad_enabled(True)`), a choice. A grad mode set by a
library call evallint cannot see is treated as unknown and not reported.
''',
    valid=(
        '''
@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    for x in loader:
        out = model(x)
''',
        '''
def test_epoch(model, loader):
    model.eval()
    with torch.inference_mode():
        for x in loader:
            out = model(x)
''',
        '''
def validate_with_input_gradients(model, loader):
    model.eval()
    for x in loader:
        with torch.enable_grad():
            out = model(x)
''',
    ),
    invalid=(
        '''
def evaluate(model, loader):
    model.eval()
    for x in loader:
        out = model(x)  # EVL201
''',
    ),
    check=check,
)
