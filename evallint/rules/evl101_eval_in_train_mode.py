"""EVL101 eval-in-train-mode: evaluation code runs a model that may be in train mode."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evallint.analysis.facts import ModelForward, ProjectFacts
from evallint.analysis.lattice import SET_BY_CALL, TRAIN
from evallint.rules.base import MessageRefs, Rule, describe_caller, describe_mode_origin, first_per
from evallint.runtime import roles
from evallint.runtime.judging import (
    CONFIRMED,
    NOT_REACHED,
    NOT_REPRODUCED,
    Judge,
    bn_phrase,
    caller,
    forward_keys,
    layer_counts,
    looked_through,
    module_names,
    no_mode_layers,
    not_an_evaluation,
    plural,
    union,
)
from evallint.types import Edit, Finding, FixSpec

if TYPE_CHECKING:
    from evallint.positions import PositionTable
    from evallint.runtime.observations import Observations


def _switched_here(forward: ModelForward, poss) -> bool:
    """The possibility comes from a `train()`/`eval()` call in the forward's own function."""
    origin = poss.origin
    return origin.kind == SET_BY_CALL and origin.function == forward.function and origin.file == forward.file


def _origins_of_training(facts: ProjectFacts) -> frozenset:
    """The `train()` calls whose mode some training step runs in."""
    return frozenset(p.origin for step in facts.training_forwards for p in step.modes if p.value == TRAIN and p.origin.kind == SET_BY_CALL)


def _deliberate(forward: ModelForward, poss, serves_training: frozenset) -> bool:
    """A train mode chosen on purpose for this forward.

    `model.train()` inside the evaluation region itself (recomputing BatchNorm statistics), under
    a condition in the same function (`if training: model.train() else: model.eval()`), or after
    the last training of the model in the same function (Monte-Carlo dropout after training).
    """
    origin = poss.origin
    if origin.kind != SET_BY_CALL:
        return False
    if origin.region == (forward.context.file, forward.context.node) and not forward.context.by_flow:
        # (A region told by data flow is the loop that also trains: train() there is for training.)
        return True
    if not _switched_here(forward, poss):
        return False
    if poss.chosen_under_condition:
        return True
    return (
        origin.detail == "train()"
        and not forward.context.by_flow
        and origin.node < forward.node
        and all(node < origin.node for node in forward.trained_at)
        # Written after the training in the file, but a loop takes it back to a training step (the
        # `train()` that ends an epoch): it restores the mode for training, it chooses nothing.
        and origin not in serves_training
    )


def _flag_chooses_mode(forward: ModelForward) -> bool:
    """`if train: model.train()` and `if not train: model.eval()` in the same function: the
    flag chooses the mode, whatever the paths evallint cannot rule out."""
    chosen = {p.value for p in forward.modes if p.chosen_under_condition and _switched_here(forward, p)}
    return len(chosen) == 2


def check(facts: ProjectFacts):
    candidates = []
    serves_training = _origins_of_training(facts)
    for forward in facts.forwards:
        if forward.context.kind != "eval" or not forward.mode_matters or _flag_chooses_mode(forward):
            continue
        train = sorted(p for p in forward.modes if p.value == TRAIN and not _deliberate(forward, p, serves_training))
        if not train:
            continue
        refs = MessageRefs()
        evidence = describe_mode_origin(train[0], forward.key, refs)
        message = (
            f"{forward.key} may be in train mode in {forward.context.label}: {evidence} and nothing calls "
            f"{forward.key}.eval() before this forward{describe_caller(forward.caller, refs)}"
        )
        fix = None if forward.context.by_flow else FixSpec("unsafe", f"Call `{forward.key}.eval()` before evaluating", (forward.key,))
        finding = Finding("EVL101", message, forward.file, forward.node, fix, tuple(refs.refs))
        # Once per model and evaluation region (a function, a loop over evaluation data, a block).
        region = (forward.context.file, forward.context.node)
        # An evaluation told by data flow is this function's own: each arm of an `if` in it is an
        # evaluation of its own. (A helper's arms under a caller's evaluation are reported once.)
        path = forward.path if forward.context.by_flow else ()
        candidates.append(((forward.file, forward.function, forward.key, region), (forward.file, forward.node), finding, path))
    return first_per(candidates)


def fix_edits(table: PositionTable, node, spec: FixSpec) -> list[Edit]:
    """`model.eval()` at the start of an evaluation function, else before the evaluation loop."""
    from evallint import fixing

    key = spec.data[0] if spec.data else None
    if not key:
        return []
    chain = fixing.ancestors(table.module, node)
    function = fixing.enclosing_function(chain)
    if fixing.is_eval_function(function, table.path) and fixing.available_at_entry(function, key):
        return fixing.insert_at_top(table, function, f"{key}.eval()")
    anchor = fixing.evaluation_anchor(node, chain, include_grad_with=True)
    # (`[m(x) for m in models]`: `m.eval()` before the loop that binds `m` would name nothing.)
    if anchor is None or fixing.bound_by_loop(chain, key, stop=anchor):
        return []
    return fixing.insert_before(table, anchor, f"{key}.eval()")


def judge(obs: Observations, path: str, line: int) -> tuple[str, str]:
    """The outermost forwards whose user stack passes through the line: did an evaluation forward
    run in train mode with a mode-dependent layer active?"""
    keys = forward_keys(obs, path, line)
    if not keys:
        return NOT_REACHED, f"line {line} never called a model"
    stats = [obs.forwards[k] for k in keys]
    reason = no_mode_layers(stats)
    if reason:
        return NOT_REPRODUCED, reason
    stats = [s for s in stats if roles.has_mode_dependent_layers(s.sig)]
    calls = sum(s.calls for s in stats)
    who = caller(stats, path, line)
    through = [s for s in looked_through(obs, keys) if roles.has_mode_dependent_layers(s.sig)]
    evaluation, why_not = (through, None) if through else not_an_evaluation(stats, calls, line, who)
    if not evaluation:
        return why_not
    who = caller(evaluation, path, line)
    in_train = [s for s in evaluation if s.sig["training"]]
    if not in_train:
        n = sum(s.calls for s in evaluation)
        return NOT_REPRODUCED, (
            f"{who} ran {plural(n, 'forward')} of {module_names(evaluation)}, all in eval mode"
        )
    n = sum(s.calls for s in in_train)
    active = union(in_train, "active")
    if not active:
        return NOT_REPRODUCED, (
            f"{who} ran {plural(n, 'forward')} of {module_names(in_train)} in train mode, but its "
            f"{layer_counts(union(in_train, 'inactive'))} were in eval mode"
        )
    text = (f"{who} ran {plural(n, 'forward')} of {module_names(in_train)} in train mode "
            f"with {layer_counts(active)} active")
    return CONFIRMED, text + bn_phrase(obs, [k for k in keys if obs.forwards[k] in in_train])


RULE = Rule(
    code="EVL101",
    name="eval-in-train-mode",
    summary="A model runs in an evaluation context (validation, test, prediction) while it may be in train mode.",
    fix_safety="unsafe",
    doc='''
## What it does
Finds evaluation forwards of a model that holds Dropout, BatchNorm or another mode-dependent
layer, where, on some path, nothing has called `model.eval()` since the model was built or last
switched to train mode.

An evaluation forward is one whose output never reaches `backward()`, of a model that is trained
or whose weights are loaded by then: a validation pass inline in the training loop, a helper such
as `compute_metrics(model, loader)` called by the code that trains the model, inference after
`load_state_dict` or `torch.load`. Functions named like `validate`, `evaluate`, `test`, `predict`
or `infer`, loops over `val`/`test`/`dev` loaders and a script's `torch.no_grad()` blocks are
evaluation too. So is a forward through which an optimizer updates only inputs (`SGD([image])` in
class visualisation): the model is looked through, with gradients on purpose, so EVL201 stays
quiet there. Losses, metrics and modules with no mode-dependent layer are never reported.

## Why is this bad?
In train mode Dropout keeps dropping activations and BatchNorm normalises with batch statistics and
keeps updating its running statistics. Validation metrics come out noisy and wrong, and the
running statistics used later for inference drift towards the validation data.

## Example
```python
def validate(model, loader):
    with torch.no_grad():
        for x, y in loader:
            loss = criterion(model(x), y)
```

## Use instead
```python
def validate(model, loader):
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            loss = criterion(model(x), y)
```

## Fix safety
The fix inserts `model.eval()` at the start of the evaluation function, or before the evaluation
loop (or `torch.no_grad()` block) when the forward is not in an evaluation function. It is unsafe:
the caller may rely on the model still being in train mode afterwards, so pair it with
`model.train()` where training continues.

## Known problems
A forward whose output leaves the function (returned, stored on `self`) is judged by the caller
only when evallint sees the caller. Train mode chosen on purpose is recognised when `train()` is
called inside the evaluation region, under a condition in the same function, or in the same
function after the model's last training step (Monte-Carlo dropout after training). A
`train()` in the same function with training after it (also the next pass of a loop, as a
`train()` that ends each epoch), or sampling in a helper that a caller
switched to train mode, is reported: say so with `# noqa: EVL101`, or pass the choice as a flag
(`model.train(mc_dropout)`). A mode switched by code evallint cannot resolve (a library call that
receives the model) is treated as unknown, and unknown is never reported. A project's own tests
(`test_*.py`, `tests/`) are not evaluation: their forwards check code, they measure nothing.
''',
    valid=(
        '''
def validate(model, loader):
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
''',
        '''
def evaluate(model, loader):
    with torch.no_grad():
        return [model(x) for x in loader]

def main(model, loader):
    model.eval()
    evaluate(model, loader)
''',
        '''
def probe_shapes():
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5))
    print(net(torch.randn(2, 4)).shape)
''',
        '''
net = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Dropout(0.3), torch.nn.Linear(8, 1))
net.load_state_dict(torch.load("net.pt"))
def sample(net, x, mc_dropout):
    net.train(mc_dropout)  # Monte-Carlo dropout when asked: the choice is the flag's
    with torch.no_grad():
        return [net(x) for _ in range(20)]
''',
    ),
    invalid=(
        '''
def validate(model, loader):
    with torch.no_grad():
        for x, y in loader:
            out = model(x)  # EVL101
''',
        '''

model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5))
model.load_state_dict(torch.load("model.pt"))
val_loader = [torch.randn(2, 4)]
with torch.no_grad():
    for x in val_loader:
        out = model(x)  # EVL101
''',
        '''
model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Dropout(0.5))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    model.train()
    loss = torch.nn.functional.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 3, (8,)))
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        accuracy = model(torch.randn(8, 4)).argmax(1)  # EVL101
''',
    ),
    check=check,
    fix=fix_edits,
    judge=Judge(judge),
)
