"""EVL102 train-in-eval-mode: a training step runs while the trained model may be in eval mode."""

from __future__ import annotations

from evallint.analysis.facts import ProjectFacts, TrainingForward
from evallint.analysis.lattice import EVAL, PRETRAINED, SET_BY_CALL, Poss
from evallint.rules.base import MessageRefs, Rule, describe_caller, describe_mode_origin, first_per
from evallint.types import Finding, FixSpec


def is_eval_call_in_step(forward: TrainingForward, poss: Poss) -> bool:
    """The eval() was called inside this very training step (EVL103), not carried in from elsewhere."""
    origin = poss.origin
    region = (forward.region_file, forward.region_node)
    return origin.kind == SET_BY_CALL and origin.region == region and region not in poss.carried


def kept_in_eval_on_purpose(forward: TrainingForward, poss: Poss) -> bool:
    """eval() in the set-up part of the training function itself (outside any training or
    evaluation region): a model frozen by design, such as a teacher or a feature extractor."""
    origin = poss.origin
    return (
        origin.kind == SET_BY_CALL
        and origin.region_kind == ""
        and origin.function == forward.function
        and origin.file == forward.file
    )


def eval_possibilities(forward: TrainingForward) -> list[Poss]:
    """Eval modes some path really sets (unknown possibilities are no evidence either way)."""
    return sorted(
        p
        for p in forward.modes
        if p.value == EVAL and (p.origin.kind == PRETRAINED or p.origin.kind == SET_BY_CALL)
    )


def check(facts: ProjectFacts):
    candidates = []
    for forward in facts.training_forwards:
        carried = [
            p for p in eval_possibilities(forward) if not is_eval_call_in_step(forward, p) and not kept_in_eval_on_purpose(forward, p)
        ]
        if not carried:
            continue
        refs = MessageRefs()
        evidence = describe_mode_origin(carried[0], forward.key, refs)
        if carried[0].origin.kind == PRETRAINED:
            tail = f"and nothing calls {forward.key}.train() before this training step"
        else:
            tail = f"and nothing calls {forward.key}.train() before the next training step"
        message = f"{forward.key} may still be in eval mode here: {evidence} {tail}{describe_caller(forward.caller, refs)}"
        fix = FixSpec("insert-train", "unsafe", f"Call `{forward.key}.train()` at the start of the training step", (forward.key,))
        finding = Finding("EVL102", message, forward.file, forward.node, fix, tuple(refs.refs))
        candidates.append(((forward.file, forward.function, forward.key), (forward.file, forward.node), finding))
    return first_per(candidates)


RULE = Rule(
    code="EVL102",
    name="train-in-eval-mode",
    summary="A training step runs while the model being trained may be in eval mode.",
    fix_safety="unsafe",
    doc='''
## What it does
Finds forwards whose loss is backpropagated (or followed by `optimizer.step()`) while the model
may be in eval mode: a validation pass switched it with `model.eval()` and nothing switched it back
with `model.train()` before the next training step, or the model came from `from_pretrained(...)`
(which returns it in eval mode) and nothing calls `train()`.

## Why is this bad?
The rest of training silently runs with Dropout off and BatchNorm frozen on its running
statistics: regularisation is gone, BatchNorm stops adapting, and the model overfits or trains
worse, with no error anywhere.

## Example
```python
for epoch in range(epochs):
    for x, y in train_loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    validate(model)  # calls model.eval()
```

## Use instead
```python
for epoch in range(epochs):
    model.train()
    for x, y in train_loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    validate(model)
```

## Fix safety
The fix inserts `model.train()` at the top of the training loop body (or of the training-step
function when the step is not in a loop). It is unsafe: a model kept
in eval mode on purpose (a frozen feature extractor that is still fine-tuned) would change
behaviour.

## Known problems
A model switched to eval in set-up code (outside any training or evaluation code) is taken to be
kept in eval on purpose and is not reported.
''',
    valid=(
        '''
def validate(model, loader):
    model.eval()
    with torch.no_grad():
        for x in loader:
            model(x)

def fit(model, optimizer, train_loader, val_loader):
    for epoch in range(3):
        model.train()
        for x, y in train_loader:
            loss = (model(x) - y).pow(2).mean()
            loss.backward()
            optimizer.step()
        validate(model, val_loader)
''',
    ),
    invalid=(
        '''
def validate(model, loader):
    model.eval()
    with torch.no_grad():
        for x in loader:
            model(x)

def fit(model, optimizer, train_loader, val_loader):
    for epoch in range(3):
        for x, y in train_loader:
            loss = (model(x) - y).pow(2).mean()  # EVL102
            loss.backward()
            optimizer.step()
        validate(model, val_loader)
''',
        '''
from transformers import AutoModelForSequenceClassification

def finetune(batches, optimizer):
    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
    for batch in batches:
        loss = model(**batch).loss  # EVL102
        loss.backward()
        optimizer.step()
''',
    ),
    check=check,
)
