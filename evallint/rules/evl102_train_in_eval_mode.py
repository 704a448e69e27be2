"""EVL102 train-in-eval-mode: a training step runs while the trained model may be in eval mode."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evallint.analysis.facts import ProjectFacts, TrainingForward
from evallint.analysis.lattice import EVAL, PRETRAINED, SET_BY_CALL, Poss
from evallint.rules.base import MessageRefs, Rule, describe_caller, describe_mode_origin, first_per
from evallint.runtime import roles
from evallint.runtime.judging import (
    CONFIRMED,
    NOT_REACHED,
    NOT_REPRODUCED,
    Judge,
    forward_keys,
    layer_counts,
    merge_counts,
    module_names,
    plural,
    scope_of,
)
from evallint.types import Edit, Finding, FixSpec

if TYPE_CHECKING:
    from evallint.positions import PositionTable
    from evallint.runtime.observations import Observations


def is_eval_call_in_step(forward: TrainingForward, poss: Poss) -> bool:
    """The eval() was called inside this very training step (EVL103), not carried in from elsewhere."""
    origin = poss.origin
    region = (forward.region_file, forward.region_node)
    return origin.kind == SET_BY_CALL and origin.region == region and region not in poss.carried


def kept_in_eval_on_purpose(forward: TrainingForward, poss: Poss) -> bool:
    """eval() in the set-up part of the training function itself (outside any training or
    evaluation region): a model frozen by design, such as a teacher or a feature extractor. So is
    eval() anywhere in the training function when the code froze the model's parameters but
    those of a head (a linear probe keeps the frozen layers' BatchNorm statistics as they are)."""
    origin = poss.origin
    return (
        origin.kind == SET_BY_CALL
        and (origin.region_kind == "" or forward.partly_frozen)
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
        fix = FixSpec("unsafe", f"Call `{forward.key}.train()` at the start of the training step", (forward.key,))
        finding = Finding("EVL102", message, forward.file, forward.node, fix, tuple(refs.refs))
        candidates.append(((forward.file, forward.function, forward.key), (forward.file, forward.node), finding))
    return first_per(candidates)


def fix_edits(table: PositionTable, node, spec: FixSpec) -> list[Edit]:
    """`model.train()` at the top of the training loop body, else of the training step function."""
    import libcst as cst  # loaded only when a fix is built: the lint path does not need libcst

    from evallint import fixing

    key = spec.data[0] if spec.data else None
    if not key:
        return []
    chain = fixing.ancestors(table.module, node)
    function = fixing.enclosing_function(chain)
    if fixing.bound_by_loop(chain, key, stop=function, loops=False):
        return []  # a comprehension's target is bound nowhere a statement could go
    for ancestor in chain:
        if ancestor is function:
            break
        if isinstance(ancestor, (cst.For, cst.While)):
            return fixing.insert_at_top(table, ancestor, f"{key}.train()")
    if function is not None and fixing.available_at_entry(function, key):
        return fixing.insert_at_top(table, function, f"{key}.train()")
    return []


def _eval_mode_training(obs: Observations, keys: list) -> list:
    return [obs.forwards[k] for k in keys
            if obs.forwards[k].trained and not obs.forwards[k].sig["training"]]


def explains(obs: Observations, path: str, line: int) -> set:
    """The modules trained at the line (by its forwards or its optimizer steps)."""
    found = {(key[0], obs.sigs[key]["m"]) for key in obs.at(path, line, "forward")}
    for key in obs.at(path, line, "step"):
        found.update((key[0], trained["m"]) for trained in obs.sigs[key]["trained"])
    return found


def judge(obs: Observations, path: str, line: int) -> tuple[str, str]:
    """The forwards and optimizer steps at the line (on a ``loss.backward()``, the forwards it
    trained in the same function): was a model with mode-dependent layers trained in eval mode?"""
    keys = forward_keys(obs, path, line)
    step_keys = obs.at(path, line, "step")
    backward_keys = obs.at(path, line, "backward")
    if not keys and not step_keys and not backward_keys:
        return NOT_REACHED, f"line {line} never ran a model, backward() or an optimizer step"
    parts = []
    bad_forwards = _eval_mode_training(obs, keys)
    if backward_keys and not keys:
        # The finding sits on loss.backward(): the forwards it trained ran in the same function.
        scope = scope_of(path, line)
        related = [
            k for k, s in obs.forwards.items()
            if s.trained and any(f[0] == path and scope[1] <= f[1] <= scope[2]
                                 for f in s.sig["frames"])
        ]
        bad_forwards = _eval_mode_training(obs, related)
    # Eval mode changes nothing in a module without mode-dependent layers, nor in a frozen part.
    unaffected = {s.sig["module"] for s in bad_forwards
                  if not roles.has_mode_dependent_layers(s.sig)}
    kept_frozen = {s.sig["module"] for s in bad_forwards
                   if roles.has_mode_dependent_layers(s.sig) and not roles.trained_in_eval_mode(s.sig)}
    bad_forwards = [s for s in bad_forwards if roles.trained_in_eval_mode(s.sig)]
    if bad_forwards:
        n = sum(s.trained for s in bad_forwards)
        inactive = merge_counts(roles.trained_in_eval_mode(s.sig) for s in bad_forwards)
        layers = f" with {layer_counts(inactive)} in eval mode" if inactive else ""
        parts.append(f"{plural(n, 'training forward')} of {module_names(bad_forwards)} ran in "
                     f"eval mode{layers} and were backpropagated")
    bad_steps = 0
    step_modules = set()
    for key in step_keys:
        for trained in obs.sigs[key]["trained"]:
            if trained["training"]:
                continue
            if not roles.has_mode_dependent_layers(trained):
                unaffected.add(trained["module"])
                continue
            if not roles.trained_in_eval_mode(trained):
                kept_frozen.add(trained["module"])
                continue
            bad_steps += obs.steps[key]
            step_modules.add(trained["module"])
    if bad_steps:
        parts.append(f"optimizer.step() updated {'/'.join(sorted(step_modules))} "
                     f"{plural(bad_steps, 'time')} while it was in eval mode")
    if parts:
        return CONFIRMED, "; ".join(parts)
    if unaffected:
        return NOT_REPRODUCED, (f"{'/'.join(sorted(unaffected))} was trained in eval mode, but "
                                f"{roles.NO_MODE_LAYER_REASON}")
    if kept_frozen:
        return NOT_REPRODUCED, (f"{'/'.join(sorted(kept_frozen))} was trained in eval mode, but each of its "
                                "eval-mode layers sits in a part whose parameters are frozen: only the rest trains")
    trained_here = [obs.forwards[k] for k in keys if obs.forwards[k].trained]
    if keys and not trained_here and not step_keys and not backward_keys:
        calls = sum(obs.forwards[k].calls for k in keys)
        return NOT_REPRODUCED, (f"the {plural(calls, 'forward')} at line {line} were never "
                                "backpropagated, so none was a training step")
    return NOT_REPRODUCED, f"every training step at line {line} ran with the model in train mode"


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
kept in eval on purpose and is not reported. So is a model whose parameters the code freezes but
for a head (`for name, p in model.named_parameters(): if name not in head: p.requires_grad =
False`) when the training function itself calls `model.eval()`: that is the linear-evaluation
protocol, whose frozen layers keep their BatchNorm statistics. An eval mode left over from a
validation pass is still reported on such a model. `evallint verify` does not confirm a training
step in eval mode whose eval-mode layers all sit in the frozen part.
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
        '''
def train(model, loader, optimizer):
    model.eval()  # a linear probe: the frozen layers keep their statistics
    for x, y in loader:
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        optimizer.step()

def linear_probe(model, loader, optimizer):
    for name, param in model.named_parameters():
        if not name.startswith("fc."):
            param.requires_grad = False
    for epoch in range(3):
        train(model, loader, optimizer)
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
    fix=fix_edits,
    judge=Judge(judge, explains=explains),
)
