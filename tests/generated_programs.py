"""Complete PyTorch training scripts, each with the exact findings evallint must report.

A program is assembled from choices: how the model is built, where evaluation
sits (inline in the epoch loop, a helper, every N steps, a final test),
whether ``eval()`` is called and where, which no_grad-like context covers the
evaluation forward, whether and how ``train()`` is restored, and whether the
names say "evaluation" or nothing. Every choice emits source lines and, in
step, a small program of mode and grad effects (``Forward``, ``Mode``,
``GradScope``, ``Loop`` ...). That program is run twice:

* abstractly, as a static analysis must: every branch both ways, every loop
  zero or more times, modes and grad as sets (a ``was_training`` save keeps its
  correlation with the mode it saved);
* concretely, with the script's real loop counts, as ``evallint verify`` sees it.

The truth is read off the states each forward can see: an evaluation forward
(output never reaches ``backward()``) of a model with Dropout/BatchNorm that may
be in train mode is EVL101; one that may run with autograd on is EVL201 (also
for a model with no mode-dependent layer); a training forward (its loss is
backpropagated) that may run in eval mode is EVL102. Each sits on the line of
the model's forward, once per line. A program whose abstract and concrete
truth differ (a final test after a loop that leaves the model in eval mode on
every real run but in train mode if the loop never ran) would have no single
truth: the generator returns None for it rather than guess.

The choices come from a ``Chooser``: hypothesis's ``draw`` in the tests, a
seeded ``random.Random`` in ``benchmarks/generated_agreement.py``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")

TRAIN_BATCHES = 4
EVAL_BATCHES = 2
EPOCHS = 2
EVERY_N = 2


# ---- where choices come from ------------------------------------------------------------------


class Chooser:
    """Picks among options and remembers the picks that name a feature of the program."""

    def __init__(self, pick: Callable[[Sequence], object]) -> None:
        self._pick = pick
        self.features: dict[str, str] = {}

    def pick(self, label: str | None, options: Sequence[T]) -> T:
        value = self._pick(list(options))
        if label is not None:
            self.features[label] = str(value)
        return value  # type: ignore[return-value]

    def flag(self, label: str | None) -> bool:
        return self.pick(label, [False, True])


def random_chooser(seed: int) -> Chooser:
    rng = random.Random(seed)
    return Chooser(rng.choice)


def hypothesis_chooser(draw) -> Chooser:
    from hypothesis import strategies as st

    return Chooser(lambda options: draw(st.sampled_from(options)))


# ---- effects: what each emitted construct does to the model's mode and to autograd ---------------


@dataclass(frozen=True)
class Forward:
    site: str


@dataclass(frozen=True)
class Mode:
    mode: str  # "train" or "eval"


@dataclass(frozen=True)
class Save:
    """``was_training = model.training``."""


@dataclass(frozen=True)
class Restore:
    """``model.train(was_training)`` or ``if was_training: model.train()``."""


@dataclass(frozen=True)
class GradScope:
    """``with torch.no_grad():`` and friends, or a decorated callee: off inside, as before after."""

    body: tuple


@dataclass(frozen=True)
class GradSet:
    enabled: bool


@dataclass(frozen=True)
class Loop:
    var: str
    count: int
    body: tuple


@dataclass(frozen=True)
class EveryN:
    """``if var % n == n - 1:``."""

    var: str
    n: int
    body: tuple


# A state: (mode, grad enabled, mode saved in was_training or None).
State = tuple


def run_abstract(effects: Sequence, states: frozenset, seen: dict) -> frozenset:
    for effect in effects:
        if isinstance(effect, Forward):
            seen.setdefault(effect.site, set()).update((mode, grad) for mode, grad, _ in states)
        elif isinstance(effect, Mode):
            states = frozenset((effect.mode, grad, saved) for _, grad, saved in states)
        elif isinstance(effect, Save):
            states = frozenset((mode, grad, mode) for mode, grad, _ in states)
        elif isinstance(effect, Restore):
            states = frozenset((saved, grad, saved) for _, grad, saved in states)
        elif isinstance(effect, GradSet):
            states = frozenset((mode, effect.enabled, saved) for mode, _, saved in states)
        elif isinstance(effect, GradScope):
            after = set()
            for mode, grad, saved in states:
                for out_mode, _, out_saved in run_abstract(effect.body, frozenset({(mode, False, saved)}), seen):
                    after.add((out_mode, grad, out_saved))
            states = frozenset(after)
        elif isinstance(effect, Loop):
            reached = states
            while True:
                grown = reached | run_abstract(effect.body, reached, seen)
                if grown == reached:
                    break
                reached = grown
            states = reached
        elif isinstance(effect, EveryN):
            states = states | run_abstract(effect.body, states, seen)
        else:
            raise TypeError(effect)
    return states


def run_concrete(effects: Sequence, state: State, counters: dict, seen: dict) -> State:
    for effect in effects:
        mode, grad, saved = state
        if isinstance(effect, Forward):
            seen.setdefault(effect.site, set()).add((mode, grad))
        elif isinstance(effect, Mode):
            state = (effect.mode, grad, saved)
        elif isinstance(effect, Save):
            state = (mode, grad, mode)
        elif isinstance(effect, Restore):
            state = (saved, grad, saved)
        elif isinstance(effect, GradSet):
            state = (mode, effect.enabled, saved)
        elif isinstance(effect, GradScope):
            out_mode, _, out_saved = run_concrete(effect.body, (mode, False, saved), counters, seen)
            state = (out_mode, grad, out_saved)
        elif isinstance(effect, Loop):
            for i in range(effect.count):
                counters[effect.var] = i
                state = run_concrete(effect.body, state, counters, seen)
        elif isinstance(effect, EveryN):
            if counters[effect.var] % effect.n == effect.n - 1:
                state = run_concrete(effect.body, state, counters, seen)
        else:
            raise TypeError(effect)
    return state


def findings_from(seen: dict, roles: dict[str, str], mode_matters: bool) -> set[tuple[str, str]]:
    """(code, site) for every forward site whose states make it a bug."""
    found = set()
    for site, states in seen.items():
        modes = {mode for mode, _ in states}
        if roles[site] == "eval":
            if mode_matters and "train" in modes:
                found.add(("EVL101", site))
            if any(grad for _, grad in states):
                found.add(("EVL201", site))
        elif mode_matters and "eval" in modes:
            found.add(("EVL102", site))
    return found


# ---- source lines ---------------------------------------------------------------------------------


@dataclass
class Code:
    """Indented lines; a line may carry the site id of the model forward on it."""

    lines: list = field(default_factory=list)  # (indent, text, site or None)

    def add(self, indent: int, text: str, site: str | None = None) -> None:
        self.lines.append((indent, text, site))

    def extend(self, other: "Code") -> None:
        self.lines.extend(other.lines)


@dataclass(frozen=True)
class Program:
    source: str
    truth: frozenset  # {(code, line)}
    features: dict  # label -> choice, for grouping failures
    sites: dict  # site -> line of its forward
    roles: dict  # site -> "train" / "eval"
    site_kinds: dict  # site -> a short description, to group findings

    def __repr__(self) -> str:
        # What hypothesis prints for a failing example: the source comes with the assertion.
        return f"Program(truth={self.describe_truth()}, features={self.features})"

    def describe_truth(self) -> str:
        return ", ".join(f"{code}@{line}" for code, line in sorted(self.truth, key=lambda t: (t[1], t[0]))) or "none"


# ---- names ----------------------------------------------------------------------------------------

EVAL_HELPER_NAMES = ["validate", "evaluate", "run_validation", "test_model", "eval_epoch"]
NEUTRAL_HELPER_NAMES = ["compute_metrics", "summarize", "measure", "check_progress", "report_numbers"]
EVAL_FINAL_NAMES = ["test", "final_test", "evaluate_on_test"]
NEUTRAL_FINAL_NAMES = ["final_numbers", "wrap_up", "last_look"]
EVAL_LOADER_NAMES = ["val_loader", "valid_batches", "dev_loader"]
NEUTRAL_LOADER_NAMES = ["other_batches", "batches_b", "second_set"]
EVAL_TEST_LOADER_NAMES = ["test_loader", "test_batches"]
NEUTRAL_TEST_LOADER_NAMES = ["third_set", "batches_c"]
TRAIN_LOADER_NAMES = ["train_loader", "batches", "data"]
TRAIN_HELPER_NAMES = ["train_one_epoch", "run_epoch", "fit_batches"]
LOSS_HELPER_NAMES = ["training_loss", "step_loss", "batch_objective"]
MODEL_NAMES = ["model", "net", "clf", "mlp", "predictor"]
PARAM_NAMES = ["model", "net", "m", "network"]
CLASS_NAMES = ["Net", "Classifier", "TinyNet", "MLP"]
FACTORY_NAMES = ["make_model", "build_model", "create_network"]

GRAD_CONTEXTS = {
    "with_no_grad": "with torch.no_grad():",
    "with_inference_mode": "with torch.inference_mode():",
    "with_set_grad_enabled": "with torch.set_grad_enabled(False):",
}
GRAD_DECORATORS = {
    "decorator_no_grad": "@torch.no_grad()",
    "decorator_no_grad_bare": "@torch.no_grad",
    "decorator_inference_mode": "@torch.inference_mode()",
}


class Names:
    def __init__(self, chooser: Chooser) -> None:
        self.chooser = chooser
        self.style = chooser.pick("names", ["evaluation-like", "neutral", "mixed"])
        self.taken: set[str] = set()

    def _fresh(self, options: list[str]) -> str:
        free = [o for o in options if o not in self.taken] or [f"{options[0]}_{len(self.taken)}"]
        name = self.chooser.pick(None, free)
        self.taken.add(name)
        return name

    def styled(self, evaluation_like: list[str], neutral: list[str]) -> str:
        if self.style == "evaluation-like":
            return self._fresh(evaluation_like)
        if self.style == "neutral":
            return self._fresh(neutral)
        return self._fresh(self.chooser.pick(None, [evaluation_like, neutral]))

    def plain(self, options: list[str]) -> str:
        return self._fresh(options)


# ---- the model ------------------------------------------------------------------------------------

LAYER_KINDS = ["dropout", "batchnorm", "both", "nested_dropout", "no_mode_layer"]


def net_class(name: str, kind: str) -> Code:
    code = Code()
    code.add(0, f"class {name}(nn.Module):")
    code.add(1, "def __init__(self):")
    code.add(2, "super().__init__()")
    if kind == "nested_dropout":
        code.add(2, "self.body = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5))")
        code.add(2, "self.head = nn.Linear(16, 3)")
        code.add(0, "")
        code.add(1, "def forward(self, x):")
        code.add(2, "return self.head(self.body(x))")
        return code
    code.add(2, "self.fc1 = nn.Linear(4, 16)")
    if kind in ("batchnorm", "both"):
        code.add(2, "self.norm = nn.BatchNorm1d(16)")
    if kind in ("dropout", "both"):
        code.add(2, "self.drop = nn.Dropout(0.5)")
    code.add(2, "self.fc2 = nn.Linear(16, 3)")
    code.add(0, "")
    code.add(1, "def forward(self, x):")
    hidden = "self.norm(self.fc1(x))" if kind in ("batchnorm", "both") else "self.fc1(x)"
    code.add(2, f"x = torch.relu({hidden})")
    if kind in ("dropout", "both"):
        code.add(2, "x = self.drop(x)")
    code.add(2, "return self.fc2(x)")
    return code


def sequential_expr(kind: str) -> str:
    layers = ["nn.Linear(4, 16)"]
    if kind in ("batchnorm", "both"):
        layers.append("nn.BatchNorm1d(16)")
    layers.append("nn.ReLU()")
    if kind in ("dropout", "both", "nested_dropout"):
        layers.append("nn.Dropout(0.5)")
    layers.append("nn.Linear(16, 3)")
    return f"nn.Sequential({', '.join(layers)})"


BUILDS = [
    "Class()",
    "Class().to(device)",
    "Class().float()",
    "Class().to(device).float()",
    "Class().train()",
    "then model.to(device)",
    "then model = model.to(device)",
    "factory()",
    "factory().to(device)",
    "nn.Sequential(...)",
    "nn.Sequential(...).to(device)",
    "nn.DataParallel(Class())",
    "nn.DataParallel(Class().to(device))",
]


# ---- evaluation regions ---------------------------------------------------------------------------


@dataclass
class Region:
    """One evaluation: where it sits and how it sets mode and grad."""

    key: str  # "epoch", "step", "final"
    placement: str  # "inline" or "helper"
    eval_at: str  # "none", "inside" (region start or helper body), "call_site"
    grad: str  # "none", a GRAD_CONTEXTS key, "set_grad_enabled_statement", a GRAD_DECORATORS key
    grad_at: str  # "inside" or "call_site" (a with block around the helper call)
    restore: str  # "none", "train()", "train(was_training)", "if was_training"
    restore_at: str  # "inside" or "call_site"
    consume: str  # how the output is used
    helper: str | None = None  # the helper's name
    reuse: bool = False  # the final test calls the validation helper again


def choose_region(c: Chooser, key: str, followed_by_training: bool) -> Region:
    placement = c.pick(f"{key}.placement", ["inline", "helper"])
    eval_options = ["none", "inside"] + (["call_site"] if placement == "helper" else [])
    eval_at = c.pick(f"{key}.eval", eval_options)
    grads = ["none", *GRAD_CONTEXTS, "set_grad_enabled_statement"]
    if placement == "helper":
        grads += list(GRAD_DECORATORS)
    grad = c.pick(f"{key}.grad", grads)
    grad_at = "inside"
    if placement == "helper" and grad in GRAD_CONTEXTS:
        grad_at = c.pick(f"{key}.grad_at", ["inside", "call_site"])
    restore, restore_at = "none", "inside"
    if eval_at != "none" and followed_by_training:
        restore = c.pick(f"{key}.restore", ["none", "train()", "train(was_training)", "if was_training"])
        if placement == "helper":
            if restore == "train()":
                restore_at = c.pick(f"{key}.restore_at", ["inside", "call_site"])
            else:
                # The saved flag lives where eval() is called.
                restore_at = "call_site" if eval_at == "call_site" else "inside"
    consume = c.pick(f"{key}.consume", ["accuracy", "loss_item", "collect", "forward_in_expression"])
    return Region(key, placement, eval_at, grad, grad_at, restore, restore_at, consume)


def _grad_open(region: Region, indent: int, code: Code) -> tuple[int, Callable[[list], list]]:
    """Open the region's grad context at ``indent``: the indent of its body, and how it wraps effects."""
    if region.grad in GRAD_CONTEXTS and region.grad_at == "inside":
        code.add(indent, GRAD_CONTEXTS[region.grad])
        return indent + 1, lambda body: [GradScope(tuple(body))]
    if region.grad == "set_grad_enabled_statement":
        code.add(indent, "torch.set_grad_enabled(False)")
        return indent, lambda body: [GradSet(False), *body]
    return indent, lambda body: list(body)


def _grad_close(region: Region, indent: int, code: Code, effects: list, final: bool) -> list:
    if region.grad == "set_grad_enabled_statement" and not final:
        # Training follows: autograd must come back on, or backward() fails.
        code.add(indent, "torch.set_grad_enabled(True)")
        return [*effects, GradSet(True)]
    return effects


def _eval_loop(region: Region, model: str, loader: str, site: str, indent: int, code: Code,
               inputs: str, targets: str, criterion: str) -> tuple[str, list]:
    """The loop over held-out batches; returns the result variable and the loop's effects."""
    consume = region.consume
    result = {"accuracy": "correct", "loss_item": "total", "collect": "preds", "forward_in_expression": "correct"}[consume]
    code.add(indent, f"{result} = []" if consume == "collect" else f"{result} = 0")
    body_indent, wrap = _grad_open(region, indent, code)
    code.add(body_indent, f"for {inputs}, {targets} in {loader}:")
    inner = body_indent + 1
    if consume == "forward_in_expression":
        code.add(inner, f"{result} += ({model}({inputs}).argmax(dim=1) == {targets}).sum().item()", site)
    else:
        code.add(inner, f"out = {model}({inputs})", site)
        if consume == "accuracy":
            code.add(inner, f"{result} += (out.argmax(dim=1) == {targets}).sum().item()")
        elif consume == "loss_item":
            code.add(inner, f"{result} += {criterion}(out, {targets}).item()")
        else:
            code.add(inner, f"{result}.append(out.argmax(dim=1))")
    effects = wrap([Loop(inputs, EVAL_BATCHES, (Forward(site),))])
    return result, _grad_close(region, indent, code, effects, final=region.key == "final")


def _mode_prologue(region: Region, model: str, indent: int, code: Code, where: str) -> list:
    effects = []
    if region.eval_at == where:
        if region.restore in ("train(was_training)", "if was_training"):
            code.add(indent, f"was_training = {model}.training")
            effects.append(Save())
        code.add(indent, f"{model}.eval()")
        effects.append(Mode("eval"))
    return effects


def _mode_epilogue(region: Region, model: str, indent: int, code: Code, where: str) -> list:
    if region.restore == "none" or region.restore_at != where:
        return []
    if region.restore == "train()":
        code.add(indent, f"{model}.train()")
        return [Mode("train")]
    if region.restore == "train(was_training)":
        code.add(indent, f"{model}.train(was_training)")
    else:
        code.add(indent, "if was_training:")
        code.add(indent + 1, f"{model}.train()")
    return [Restore()]


def inline_region(region: Region, model: str, loader: str, indent: int, criterion: str) -> tuple[Code, list]:
    code = Code()
    effects = _mode_prologue(region, model, indent, code, "inside")
    result, loop_effects = _eval_loop(region, model, loader, region.key, indent, code, "vx", "vy", criterion)
    effects += loop_effects
    code.add(indent, f"history.append({result})")
    effects += _mode_epilogue(region, model, indent, code, "inside")
    return code, effects


def helper_def(region: Region, param: str) -> tuple[Code, list]:
    """The helper's definition and the effects of one call of it."""
    code = Code()
    if region.grad in GRAD_DECORATORS:
        code.add(0, GRAD_DECORATORS[region.grad])
    code.add(0, f"def {region.helper}({param}, loader):")
    effects = _mode_prologue(region, param, 1, code, "inside")
    criterion = "nn.functional.cross_entropy"
    result, loop_effects = _eval_loop(region, param, "loader", f"helper:{region.helper}", 1, code,
                                      "inputs", "targets", criterion)
    effects += loop_effects
    effects += _mode_epilogue(region, param, 1, code, "inside")
    code.add(1, f"return {result}")
    if region.grad in GRAD_DECORATORS:
        effects = [GradScope(tuple(effects))]
    return code, effects


def helper_call(region: Region, call_effects: list, model: str, loader: str, indent: int) -> tuple[Code, list]:
    code = Code()
    effects = _mode_prologue(region, model, indent, code, "call_site")
    call = f"history.append({region.helper}({model}, {loader}))"
    if region.grad in GRAD_CONTEXTS and region.grad_at == "call_site":
        code.add(indent, GRAD_CONTEXTS[region.grad])
        code.add(indent + 1, call)
        effects.append(GradScope(tuple(call_effects)))
    else:
        code.add(indent, call)
        effects += call_effects
    effects += _mode_epilogue(region, model, indent, code, "call_site")
    return code, effects


# ---- the whole script -------------------------------------------------------------------------------


def generate(c: Chooser) -> Program | None:
    """One training script and its truth; None when its truth depends on what a loop's count rules out."""
    names = Names(c)
    layer_kind = c.pick("layers", LAYER_KINDS)
    build = c.pick("build", BUILDS)
    class_name = names.plain(CLASS_NAMES)
    model = names.plain(MODEL_NAMES)
    train_loader = names.plain(TRAIN_LOADER_NAMES)
    top_level = c.pick("script", ["main()", "module level"]) == "module level"
    train_style = c.pick("train_step", ["out then loss", "loss of forward", "F.cross_entropy",
                                        "loss helper", "epoch helper"])
    train_at = c.pick("train()", ["none", "before loop", "epoch top"]
                      + (["epoch helper start"] if train_style == "epoch helper" else []))

    regions: dict[str, Region] = {}
    if c.flag("every_n_steps"):
        regions["step"] = choose_region(c, "step", followed_by_training=True)
    if c.flag("every_epoch"):
        regions["epoch"] = choose_region(c, "epoch", followed_by_training=True)
    if c.flag("final_test") or not regions:
        final = choose_region(c, "final", followed_by_training=False)
        shared = [r for r in regions.values() if r.placement == "helper"]
        if shared and c.flag("final.reuses_helper"):
            final = Region(**{**shared[0].__dict__, "key": "final", "reuse": True})
            # The final test's own picks were replaced by the helper's.
            for label in [k for k in c.features if k.startswith("final.") and k != "final.reuses_helper"]:
                del c.features[label]
        regions["final"] = final
    c.features["regions"] = "+".join(regions)
    loader_names = {}
    for key, region in regions.items():
        if key == "final":
            loader_names[key] = names.styled(EVAL_TEST_LOADER_NAMES, NEUTRAL_TEST_LOADER_NAMES)
        elif "val" not in loader_names:
            loader_names["val"] = names.styled(EVAL_LOADER_NAMES, NEUTRAL_LOADER_NAMES)
        if region.placement == "helper" and not region.reuse:
            region.helper = names.styled(EVAL_FINAL_NAMES if key == "final" else EVAL_HELPER_NAMES,
                                         NEUTRAL_FINAL_NAMES if key == "final" else NEUTRAL_HELPER_NAMES)
    if "final" in regions and regions["final"].reuse:
        regions["final"].helper = next(r.helper for r in regions.values() if r.placement == "helper" and not r.reuse)

    roles: dict[str, str] = {"train": "train"}
    module = Code()
    module.add(0, "import torch")
    module.add(0, "import torch.nn as nn")
    if train_style == "F.cross_entropy":
        module.add(0, "import torch.nn.functional as F")
    module.add(0, "")
    module.add(0, "")
    uses_class = build not in ("nn.Sequential(...)", "nn.Sequential(...).to(device)")
    mode_matters = layer_kind != "no_mode_layer"
    if uses_class:
        module.extend(net_class(class_name, layer_kind))
        module.add(0, "")
        module.add(0, "")
    factory = None
    if build.startswith("factory"):
        factory = names.plain(FACTORY_NAMES)
        module.add(0, f"def {factory}():")
        module.add(1, f"return {class_name}()")
        module.add(0, "")
        module.add(0, "")

    # Helpers: each evaluation helper once, its effects reused at every call.
    helper_effects: dict[str, list] = {}
    for key, region in regions.items():
        if region.placement == "helper" and not region.reuse:
            param = c.pick(f"{key}.param", PARAM_NAMES)
            code, effects = helper_def(region, param)
            module.extend(code)
            module.add(0, "")
            module.add(0, "")
            helper_effects[region.helper] = effects
            roles[f"helper:{region.helper}"] = "eval"
        elif region.placement == "inline":
            roles[key] = "eval"

    def region_code(key: str, model_ref: str, indent: int, loader: str | None = None) -> tuple[Code, list]:
        region = regions[key]
        loader = loader or loader_names["final" if key == "final" else "val"]
        if region.placement == "inline":
            return inline_region(region, model_ref, loader, indent, "criterion")
        return helper_call(region, helper_effects[region.helper], model_ref, loader, indent)

    loss_helper = None
    if train_style == "loss helper":
        loss_helper = names.plain(LOSS_HELPER_NAMES)
        param = c.pick("loss_helper.param", PARAM_NAMES)
        module.add(0, f"def {loss_helper}({param}, x, y, criterion):")
        module.add(1, f"return criterion({param}(x), y)", "train")
        module.add(0, "")
        module.add(0, "")

    def batch_loop(model_ref: str, loader: str, indent: int, val_loader_ref: str | None) -> tuple[Code, list]:
        code = Code()
        code.add(indent, f"for step, (x, y) in enumerate({loader}):")
        inner = indent + 1
        code.add(inner, "optimizer.zero_grad()")
        if train_style in ("out then loss", "epoch helper"):
            code.add(inner, f"out = {model_ref}(x)", "train")
            code.add(inner, "loss = criterion(out, y)")
        elif train_style == "loss of forward":
            code.add(inner, f"loss = criterion({model_ref}(x), y)", "train")
        elif train_style == "F.cross_entropy":
            code.add(inner, f"loss = F.cross_entropy({model_ref}(x), y)", "train")
        else:
            code.add(inner, f"loss = {loss_helper}({model_ref}, x, y, criterion)")
        code.add(inner, "loss.backward()")
        code.add(inner, "optimizer.step()")
        body: list = [Forward("train")]
        if "step" in regions:
            code.add(inner, f"if step % {EVERY_N} == {EVERY_N - 1}:")
            step_code, step_effects = region_code("step", model_ref, inner + 1, val_loader_ref)
            code.extend(step_code)
            body.append(EveryN("step", EVERY_N, tuple(step_effects)))
        return code, [Loop("step", TRAIN_BATCHES, tuple(body))]

    epoch_helper_effects: list = []
    epoch_helper = None
    if train_style == "epoch helper":
        epoch_helper = names.plain(TRAIN_HELPER_NAMES)
        param = c.pick("epoch_helper.param", PARAM_NAMES)
        params = [param, "loader", "optimizer", "criterion", "history"]
        if "step" in regions:
            params.append("held_out")
        module.add(0, f"def {epoch_helper}({', '.join(params)}):")
        if train_at == "epoch helper start":
            module.add(1, f"{param}.train()")
            epoch_helper_effects.append(Mode("train"))
        loop_code, loop_effects = batch_loop(param, "loader", 1, "held_out" if "step" in regions else None)
        module.extend(loop_code)
        epoch_helper_effects += loop_effects
        module.add(0, "")
        module.add(0, "")

    # The script body.
    body = Code()
    indent = 0 if top_level else 1
    body.add(indent, "torch.manual_seed(0)")
    body.add(indent, 'device = torch.device("cpu")')
    batches = "[(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range({})]"
    body.add(indent, f"{train_loader} = {batches.format(TRAIN_BATCHES)}")
    for key in ("val", "final"):
        if key in loader_names:
            body.add(indent, f"{loader_names[key]} = {batches.format(EVAL_BATCHES)}")
    effects: list = []
    cls = class_name
    build_lines = {
        "Class()": [f"{model} = {cls}()"],
        "Class().to(device)": [f"{model} = {cls}().to(device)"],
        "Class().float()": [f"{model} = {cls}().float()"],
        "Class().to(device).float()": [f"{model} = {cls}().to(device).float()"],
        "Class().train()": [f"{model} = {cls}().train()"],
        "then model.to(device)": [f"{model} = {cls}()", f"{model}.to(device)"],
        "then model = model.to(device)": [f"{model} = {cls}()", f"{model} = {model}.to(device)"],
        "factory()": [f"{model} = {factory}()"],
        "factory().to(device)": [f"{model} = {factory}().to(device)"],
        "nn.Sequential(...)": [f"{model} = {sequential_expr(layer_kind)}"],
        "nn.Sequential(...).to(device)": [f"{model} = {sequential_expr(layer_kind)}.to(device)"],
        "nn.DataParallel(Class())": [f"{model} = nn.DataParallel({cls}())"],
        "nn.DataParallel(Class().to(device))": [f"{model} = nn.DataParallel({cls}().to(device))"],
    }[build]
    for line in build_lines:
        body.add(indent, line)
    body.add(indent, f"optimizer = torch.optim.{c.pick('optimizer', ['SGD', 'Adam'])}({model}.parameters(), lr=0.01)")
    body.add(indent, "criterion = nn.CrossEntropyLoss()")
    body.add(indent, "history = []")
    if train_at == "before loop":
        body.add(indent, f"{model}.train()")
        effects.append(Mode("train"))
    body.add(indent, f"for epoch in range({EPOCHS}):")
    epoch_body: list = []
    inner = indent + 1
    if train_at == "epoch top":
        body.add(inner, f"{model}.train()")
        epoch_body.append(Mode("train"))
    if epoch_helper is not None:
        args = [model, train_loader, "optimizer", "criterion", "history"]
        if "step" in regions:
            args.append(loader_names["val"])
        body.add(inner, f"{epoch_helper}({', '.join(args)})")
        epoch_body += epoch_helper_effects
    else:
        loop_code, loop_effects = batch_loop(model, train_loader, inner, None)
        body.extend(loop_code)
        epoch_body += loop_effects
    if "epoch" in regions:
        code, region_effects = region_code("epoch", model, inner)
        body.extend(code)
        epoch_body += region_effects
    effects.append(Loop("epoch", EPOCHS, tuple(epoch_body)))
    if "final" in regions:
        code, region_effects = region_code("final", model, indent)
        body.extend(code)
        effects += region_effects

    if top_level:
        module.extend(body)
    else:
        module.add(0, "def main():")
        module.extend(body)
        module.add(0, "")
        module.add(0, "")
        module.add(0, 'if __name__ == "__main__":')
        module.add(1, "main()")

    text_lines = []
    site_lines: dict[str, int] = {}
    for row, (level, text, site) in enumerate(module.lines, start=1):
        text_lines.append(("    " * level + text) if text else "")
        if site is not None:
            site_lines[site] = row
    source = "\n".join(text_lines) + "\n"

    start = frozenset({("train", True, None)})
    abstract_seen: dict = {}
    run_abstract(effects, start, abstract_seen)
    concrete_seen: dict = {}
    run_concrete(effects, ("train", True, None), {}, concrete_seen)
    abstract = findings_from(abstract_seen, roles, mode_matters)
    concrete = findings_from(concrete_seen, roles, mode_matters)
    if set(concrete_seen) != set(roles) or abstract != concrete:
        return None
    truth = frozenset((code, site_lines[site]) for code, site in abstract)
    features = dict(c.features)
    features["truth"] = ",".join(sorted({code for code, _ in truth})) or "clean"
    kinds = {"train": f"training forward ({train_style})"}
    for key, region in regions.items():
        if region.placement == "inline":
            kinds[key] = f"eval forward inline ({key})"
        else:
            users = "+".join(k for k, r in regions.items() if r.helper == region.helper)
            kinds[f"helper:{region.helper}"] = f"eval forward in helper ({users})"
    return Program(source, truth, features, site_lines, roles, kinds)


# ---- running evallint on a program ------------------------------------------------------------------


def write_program(program: Program, directory: str, name: str = "train.py") -> str:
    import os

    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(program.source)
    return path


def lint_program(program: Program, directory: str) -> set[tuple[str, int]]:
    """(code, line) of every finding evallint reports on the program, linted alone as a project."""
    from evallint.config import Settings
    from evallint.engine import lint_paths

    path = write_program(program, directory)
    diagnostics = lint_paths([path], Settings(project_root=directory), jobs=1)
    return {(d.code, d.location.row) for d in diagnostics}


def truth_diagnostics(program: Program, path: str, extra: set[tuple[str, int]] = frozenset()) -> list:
    """The truth (and ``extra`` findings) as diagnostics on the forward lines, for ``verify`` to judge."""
    from evallint.types import Diagnostic, Location

    lines = program.source.splitlines()
    diagnostics = []
    for code, row in sorted(set(program.truth) | set(extra)):
        text = lines[row - 1]
        column = len(text) - len(text.lstrip()) + 1
        diagnostics.append(Diagnostic(code, f"{code} expected here", path, Location(row, column),
                                      Location(row, len(text) + 1)))
    return diagnostics


def site_kind(program: Program, row: int) -> str:
    """A short name for where a line sits, to group findings: which forward, or what else is on it."""
    for site, line in program.sites.items():
        if line == row:
            return program.site_kinds[site]
    text = program.source.splitlines()[row - 1]
    for needle, kind in ((".eval()", "an eval() call"), (".train(", "a train() call"),
                         ("optimizer.step", "optimizer.step()"), ("backward", "backward()"),
                         ("criterion", "a loss line"), ("cross_entropy", "a loss line")):
        if needle in text:
            return kind
    return "another line"
