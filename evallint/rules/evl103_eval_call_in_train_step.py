"""EVL103 eval-call-in-train-step: eval() on the model being trained, inside its training step."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evallint.analysis.facts import ProjectFacts
from evallint.rules.base import MessageRefs, Rule, first_per
from evallint.rules.evl102_train_in_eval_mode import eval_possibilities, is_eval_call_in_step
from evallint.runtime.judging import CONFIRMED, NOT_REACHED, NOT_REPRODUCED, Judge, plural
from evallint.types import Finding

if TYPE_CHECKING:
    from evallint.runtime.observations import Observations


def check(facts: ProjectFacts):
    candidates = []
    for forward in facts.training_forwards:
        for poss in eval_possibilities(forward):
            if not is_eval_call_in_step(forward, poss):
                continue
            origin = poss.origin
            refs = MessageRefs()
            message = (
                f"{origin.receiver or forward.key}.{origin.detail} inside the training step: the forward at line "
                f"{refs.line(forward.file, forward.node)} then trains with Dropout off and BatchNorm frozen"
            )
            finding = Finding("EVL103", message, origin.file, origin.node, None, tuple(refs.refs))
            candidates.append(((origin.file, origin.node), (origin.file, origin.node), finding))
    return first_per(candidates)


def explains(obs: Observations, path: str, line: int) -> set:
    """The modules the `eval()` at the line switched to eval mode."""
    return {(key[0], serial) for key in obs.at(path, line, "mode") for serial in obs.sigs[key]["affects"]}


def judge(obs: Observations, path: str, line: int) -> tuple[str, str]:
    """The switches to eval mode made from the line, and the training steps that followed while the
    model was still in eval mode."""
    keys = [k for k in obs.at(path, line, "mode") if not obs.sigs[k]["mode"]]
    if not keys:
        return NOT_REACHED, f"line {line} never switched a model to eval mode"
    stats = [obs.modes[k] for k in keys]
    calls = sum(s.calls for s in stats)
    steps = sum(s.steps_after for s in stats)
    backprops = sum(s.backprops_after for s in stats)
    module = "/".join(sorted({s.sig["module"] for s in stats}))
    if steps or backprops:
        parts = []
        if backprops:
            parts.append(f"{plural(backprops, 'backpropagated forward')}")
        if steps:
            parts.append(f"{plural(steps, 'optimizer step')}")
        return CONFIRMED, (f"{module}.eval() ran {plural(calls, 'time')} at line {line}; "
                           f"{' and '.join(parts)} followed while {module} was still in eval mode")
    return NOT_REPRODUCED, (f"{module}.eval() ran {plural(calls, 'time')} at line {line}, but "
                            f"{module} was back in train mode before every training step")


RULE = Rule(
    code="EVL103",
    name="eval-call-in-train-step",
    summary="`eval()` / `train(False)` is called on the model being trained inside its training step.",
    fix_safety="none",
    doc='''
## What it does
Finds `model.eval()` or `model.train(False)` inside a training step (a loop body or function that
runs a backward pass or an optimizer step) before a forward of that same model whose loss is then
backpropagated.

## Why is this bad?
The step trains the model with Dropout disabled and BatchNorm using (and not updating) its running
statistics. It usually comes from a copy-pasted evaluation snippet or a misplaced switch.

## Example
```python
for x, y in train_loader:
    model.eval()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
```

## Use instead
```python
model.train()
for x, y in train_loader:
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
```

## Fix safety
There is no automatic fix: whether the switch belongs before the loop, after it, or nowhere
depends on intent.

## Known problems
Switching a *submodule* to eval inside the step (freezing BatchNorm of a backbone) is a different
key and is not reported.
''',
    valid=(
        '''
def train_epoch(model, optimizer, loader):
    model.train()
    for x, y in loader:
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        optimizer.step()
''',
    ),
    invalid=(
        '''
def train_epoch(model, optimizer, loader):
    for x, y in loader:
        model.eval()  # EVL103
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        optimizer.step()
''',
    ),
    check=check,
    judge=Judge(judge, explains=explains),
)
