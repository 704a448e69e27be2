"""EVL201 eval-with-grad: evaluation code runs a model with autograd enabled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evallint.analysis.facts import ProjectFacts
from evallint.analysis.lattice import CONTEXT, GRAD_ON, UNKNOWN
from evallint.analysis.torch_api import NEEDS_GRAD_ATTRIBUTES, NEEDS_GRAD_NAMES
from evallint.rules.base import MessageRefs, Rule, describe_caller, first_per
from evallint.runtime.judging import (
    CONFIRMED,
    NOT_REACHED,
    NOT_REPRODUCED,
    Judge,
    caller,
    forward_keys,
    mib,
    module_names,
    not_an_evaluation,
    plural,
)
from evallint.types import Edit, Finding, FixSpec

if TYPE_CHECKING:
    from evallint.positions import PositionTable
    from evallint.runtime.observations import Observations


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
        fix = None if forward.context.by_flow else FixSpec("unsafe", "Run the evaluation under `torch.no_grad()`", (forward.key,))
        finding = Finding("EVL201", message, forward.file, forward.node, fix, tuple(refs.refs))
        # Once per model and evaluation region (a function, a loop over evaluation data, a block).
        region = (forward.context.file, forward.context.node)
        # An evaluation told by data flow is this function's own: each arm of an `if` in it is an
        # evaluation of its own. (A helper's arms under a caller's evaluation are reported once.)
        path = forward.path if forward.context.by_flow else ()
        candidates.append(((forward.file, forward.function, forward.key, region), (forward.file, forward.node), finding, path))
    return first_per(candidates)


def _needs_autograd(function) -> bool:
    """Does ``function`` use autograd itself (so `@torch.no_grad()` on it would break it)?"""
    import libcst as cst

    class Finder(cst.CSTVisitor):
        found = False

        def visit_Attribute(self, node: cst.Attribute) -> None:
            if node.attr.value in NEEDS_GRAD_ATTRIBUTES:
                self.found = True

        def visit_Name(self, node: cst.Name) -> None:
            if node.value in NEEDS_GRAD_NAMES:
                self.found = True

    finder = Finder()
    function.body.visit(finder)
    return finder.found


def fix_edits(table: PositionTable, node, spec: FixSpec) -> list[Edit]:
    """`@torch.no_grad()` on a pure evaluation function, else `with torch.no_grad():` around its loop."""
    import libcst as cst  # loaded only when a fix is built: the lint path does not need libcst

    from evallint import fixing

    chain = fixing.ancestors(table.module, node)
    function = fixing.enclosing_function(chain)
    if any(isinstance(a, cst.With) and fixing.enables_grad(a) for a in chain if a is not function):
        return []  # an inner enable_grad()/set_grad_enabled(...) would override any no_grad() around it
    torch_name = fixing.torch_name(table.module)
    needs_torch = torch_name is None
    torch_name = torch_name or "torch"
    call = cst.parse_expression(f"{torch_name}.no_grad()")
    if (
        fixing.is_eval_function(function, table.path)
        and function.asynchronous is None
        and not _needs_autograd(function)
    ):

        def decorate(original, updated):
            decorators = [*updated.decorators, cst.Decorator(decorator=call)]
            return updated.with_changes(decorators=decorators)

        return fixing.transform(table, function, decorate, needs_torch)
    anchor = fixing.evaluation_anchor(node, chain, include_grad_with=False)
    if anchor is None:
        return []

    def wrap(original, updated):
        inner = updated.with_changes(leading_lines=())
        return cst.With(
            items=[cst.WithItem(item=call)],
            body=cst.IndentedBlock(body=[inner]),
            leading_lines=updated.leading_lines,
        )

    return fixing.transform(table, anchor, wrap, needs_torch)


def judge(obs: Observations, path: str, line: int) -> tuple[str, str]:
    """The outermost forwards whose user stack passes through the line: did an evaluation forward
    run with autograd enabled and build a graph nobody used?"""
    keys = forward_keys(obs, path, line)
    if not keys:
        return NOT_REACHED, f"line {line} never called a model"
    stats = [obs.forwards[k] for k in keys]
    if not any(s.sig.get("params", True) for s in stats):
        return NOT_REPRODUCED, (
            f"{module_names(stats)} has no parameters: a graph through it belongs to the model "
            "call whose output it was given"
        )
    stats = [s for s in stats if s.sig.get("params", True)]
    calls = sum(s.calls for s in stats)
    evaluation, why_not = not_an_evaluation(stats, calls, line, caller(stats, path, line))
    if not evaluation:
        return why_not
    who = caller(evaluation, path, line)
    with_grad = [s for s in evaluation if s.sig["grad"] and not s.sig["inference"]]
    n_eval = sum(s.calls for s in evaluation)
    if not with_grad:
        return NOT_REPRODUCED, (
            f"{who} ran {plural(n_eval, 'forward')} of {module_names(evaluation)}, "
            "all with autograd disabled"
        )
    n = sum(s.calls for s in with_grad)
    graphs = sum(s.graphs for s in with_grad)
    if graphs == 0:
        return NOT_REPRODUCED, (
            f"{who} ran {plural(n, 'forward')} with autograd enabled, but none built a graph "
            "(nothing they use requires grad)"
        )
    text = (f"{who} ran {plural(n, 'forward')} of {module_names(with_grad)} with autograd enabled; "
            f"{graphs} built autograd graphs that were never used")
    mem = [s.mem_max for s in with_grad if s.mem_max]
    if mem:
        text += f", each holding up to {mib(max(mem))} of GPU memory"
    return CONFIRMED, text


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
    fix=fix_edits,
    judge=Judge(judge),
)
