"""Join what the probes saw to the static findings: verdicts, evidence, runtime-only findings.

``Observations`` folds the record stream into per-signature aggregates as it
arrives (the harness feeds it while the script runs, so the step budget can be
checked, and memory stays bounded by the number of distinct call sites, not
the number of calls). ``judge`` reads the aggregates once per finding.

Which forwards are evaluation and which modules have a mode that matters is
decided by ``roles``, with the static analysis's definitions.

How a finding is joined to what ran, by code:

* EVL101 / EVL201 / EVL102 sit on a model call (or, for EVL102, an optimizer
  step or backward): the outermost forwards whose user stack passes through
  that file and line.
* EVL103 sits on the ``.eval()`` call: the mode switches made from that line,
  and the training steps that followed while the model stayed in eval mode.
* EVL104 / EVL202 sit on an expression that does nothing at runtime, so there
  is no event at the line itself: the evidence is the forwards that ran after
  it in the same function (their mode or grad state is what the missing call
  should have changed); a ``with torch.no_grad:`` raises, and the script's
  traceback through the line confirms it.
"""

from __future__ import annotations

import ast
import linecache
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable

from evallint.runtime import roles
from evallint.types import Diagnostic, Location

CONFIRMED = "confirmed"
NOT_REPRODUCED = "not-reproduced"
NOT_REACHED = "not-reached"

# Forwards whose outputs may still be backpropagated are kept by sequence
# number; older ones are settled for all practical purposes.
MAX_OPEN_FORWARDS = 65536


@dataclass
class ForwardStats:
    sig: dict
    calls: int = 0
    graphs: int = 0
    trained: int = 0
    fed: int = 0
    opaque: int = 0
    mem_max: int | None = None
    first_index: int = 0
    # Calls in train mode right after the calling function's own train(), with no training step
    # since: Monte-Carlo dropout, or a flag choosing the mode (EVL101's "deliberate" train mode).
    chosen: int = 0


@dataclass
class ModeStats:
    sig: dict
    calls: int = 0
    steps_after: int = 0
    backprops_after: int = 0


@dataclass
class BatchNormStats:
    passes: int = 0
    calls: int = 0
    drift: float = 0.0
    layer: str = ""


@dataclass
class Observations:
    """Aggregates of one run's records, built incrementally by ``feed``."""

    sigs: dict = field(default_factory=dict)
    forwards: dict = field(default_factory=dict)
    steps: dict = field(default_factory=dict)
    backwards: dict = field(default_factory=dict)
    modes: dict = field(default_factory=dict)
    batchnorm: dict = field(default_factory=dict)
    sites: dict = field(default_factory=dict)
    optimized_modules: set = field(default_factory=set)
    pending_eval: dict = field(default_factory=dict)
    last_eval_switch: dict = field(default_factory=dict)
    # (pid, module serial) -> (frame of the train() call, record index), until eval() again.
    train_switch: dict = field(default_factory=dict)
    open_forwards: OrderedDict = field(default_factory=OrderedDict)
    unfed_forwards: OrderedDict = field(default_factory=OrderedDict)
    step_count: int = 0
    backward_count: int = 0
    last_training_index: int = -1
    index: int = 0
    start: dict | None = None
    end: dict | None = None
    error: dict | None = None
    internal_errors: list = field(default_factory=list)
    # What was running when a record arrived (a pytest test id), and for each
    # signature the labels under which it was seen: which tests gave the evidence.
    label: str | None = None
    labels: dict = field(default_factory=dict)

    @property
    def training_steps(self) -> int:
        """Optimizer steps, or backward calls in a script that updates weights by hand."""
        return self.step_count or self.backward_count

    def feed_many(self, records: Iterable[dict]) -> None:
        for record in records:
            self.feed(record)

    def feed(self, record: dict) -> None:
        self.index += 1
        kind = record.get("t")
        pid = record.get("p")
        if self.label is not None and "s" in record:
            self.labels.setdefault((pid, record["s"]), set()).add(self.label)
        if kind == "sig":
            self._add_sig(pid, record)
        elif kind == "f":
            stats = self.forwards.get((pid, record["s"]))
            if stats is None:
                return
            stats.calls += 1
            if stats.sig["training"] and self._train_chosen_here(pid, stats.sig):
                stats.chosen += 1
            if record.get("o"):
                stats.opaque += 1
            self.unfed_forwards[(pid, record["q"])] = stats
            if len(self.unfed_forwards) > MAX_OPEN_FORWARDS:
                self.unfed_forwards.popitem(last=False)
            if record.get("g"):
                stats.graphs += 1
                self.open_forwards[(pid, record["q"])] = stats
                if len(self.open_forwards) > MAX_OPEN_FORWARDS:
                    self.open_forwards.popitem(last=False)
                if record.get("mem") is not None:
                    stats.mem_max = max(stats.mem_max or 0, record["mem"])
        elif kind == "bp":
            stats = self.open_forwards.pop((pid, record["q"]), None)
            if stats is not None:
                stats.trained += 1
                self.last_training_index = self.index
                if not stats.sig["training"]:
                    self._training_in_eval((pid, stats.sig["m"]), backprop=True)
        elif kind == "fd":
            stats = self.unfed_forwards.pop((pid, record["q"]), None)
            if stats is not None:
                stats.fed += 1
        elif kind == "b":
            self.backward_count += 1
            self.last_training_index = self.index
            key = (pid, record["s"])
            self.backwards[key] = self.backwards.get(key, 0) + 1
        elif kind == "st":
            self.step_count += 1
            self.last_training_index = self.index
            key = (pid, record["s"])
            self.steps[key] = self.steps.get(key, 0) + 1
            sig = self.sigs.get(key)
            if sig is not None:
                for trained in sig["trained"]:
                    if not trained["training"]:
                        self._training_in_eval((pid, trained["m"]), backprop=False)
        elif kind == "mo":
            key = (pid, record["s"])
            stats = self.modes.get(key)
            if stats is None:
                return
            stats.calls += 1
            for serial in stats.sig["affects"]:
                if stats.sig["mode"]:
                    self.pending_eval.pop((pid, serial), None)
                    if stats.sig["frames"]:
                        self.train_switch[(pid, serial)] = (stats.sig["frames"][0], self.index)
                else:
                    self.train_switch.pop((pid, serial), None)
                    self.pending_eval[(pid, serial)] = key
                    self.last_eval_switch[(pid, serial)] = key
        elif kind == "bn":
            key = (pid, record["s"])
            stats = self.batchnorm.setdefault(key, BatchNormStats())
            stats.passes += 1
            stats.calls += record.get("calls", 0)
            if record.get("drift", 0.0) >= stats.drift:
                stats.drift = record["drift"]
                stats.layer = record.get("layer", "")
        elif kind == "start" and pid is None:
            self.start = record
        elif kind == "end" and pid is None:
            self.end = record
        elif kind == "error" and pid is None:
            self.error = record
        elif kind == "internal":
            self.internal_errors.append(record.get("error", ""))

    def _train_chosen_here(self, pid, sig: dict) -> bool:
        switch = self.train_switch.get((pid, sig["m"]))
        if switch is None or not sig["frames"] or switch[1] < self.last_training_index:
            return False
        frame, caller = switch[0], sig["frames"][0]
        return frame[0] == caller[0] and frame[2] == caller[2]

    def _add_sig(self, pid, record: dict) -> None:
        key = (pid, record["id"])
        record["frames"] = [tuple(f) for f in record.get("frames", [])]
        self.sigs[key] = record
        kind = record["kind"]
        if kind == "forward":
            self.forwards[key] = ForwardStats(record, first_index=self.index)
        elif kind == "mode":
            self.modes[key] = ModeStats(record)
        elif kind == "step":
            for trained in record["trained"]:
                self.optimized_modules.add((pid, trained["m"]))
        # A comprehension's frame and its function's frame can share a line: one entry per line.
        for site in dict.fromkeys((frame[0], frame[1]) for frame in record["frames"]):
            self.sites.setdefault(site, []).append((kind, key))

    def _training_in_eval(self, module_key, backprop: bool) -> None:
        switch = self.pending_eval.get(module_key)
        if switch is not None:
            stats = self.modes[switch]
            if backprop:
                stats.backprops_after += 1
            else:
                stats.steps_after += 1

    # ---- queries -----------------------------------------------------------

    def at(self, path: str, line: int, kind: str) -> list:
        return [key for k, key in self.sites.get((path, line), ()) if k == kind]

    def labels_at(self, path: str, line: int) -> set:
        """The labels under which anything ran through ``path:line``."""
        found: set = set()
        for _, key in self.sites.get((path, line), ()):
            found |= self.labels.get(key, set())
        return found

    def bn_for(self, keys: Iterable) -> BatchNormStats | None:
        found = [self.batchnorm[k] for k in keys if k in self.batchnorm]
        if not found:
            return None
        best = max(found, key=lambda s: s.drift)
        return BatchNormStats(
            passes=sum(s.passes for s in found),
            calls=sum(s.calls for s in found),
            drift=best.drift,
            layer=best.layer,
        )


@dataclass(frozen=True)
class Verdict:
    diagnostic: Diagnostic
    verdict: str
    evidence: str


@dataclass(frozen=True)
class RuntimeFinding:
    diagnostic: Diagnostic
    evidence: str


# ---- source helpers ------------------------------------------------------------


@lru_cache(maxsize=256)
def _parsed(path: str) -> ast.Module | None:
    try:
        with open(path, "rb") as handle:
            source = handle.read()
    except OSError:
        # Code that is not a file of its own (a notebook's cell) is in linecache.
        source = "".join(linecache.getlines(path))
        if not source:
            return None
    try:
        return ast.parse(source, filename=path)
    except (SyntaxError, ValueError):
        return None


def _scope(path: str, line: int) -> tuple[str, int, int]:
    """(function name, first line, last line) of the innermost def around ``line``; the module otherwise."""
    tree = _parsed(path)
    best = ("<module>", 1, 1 << 30)
    if tree is None:
        return best
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            end = node.end_lineno or node.lineno
            if start <= line <= end and (end - start) < (best[2] - best[1]):
                best = (node.name, start, end)
    return best


def _attribute_at(path: str, line: int, names: set[str]) -> str | None:
    """The attribute name among ``names`` referenced on ``line`` (``model.eval`` → ``eval``)."""
    tree = _parsed(path)
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in names and node.lineno == line:
            return node.attr
    return None


def _in_scope_after(frame: tuple, path: str, line: int, scope: tuple[str, int, int]) -> bool:
    name, start, end = scope
    if frame[0] != path or frame[1] <= line or not (start <= frame[1] <= end):
        return False
    return frame[2] == name or frame[2].startswith("<") and name != "<module>"


# ---- wording -----------------------------------------------------------------


def _layers(items: list) -> str:
    return ", ".join(f"{n}× {d}" if n > 1 else d for d, n in items)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _mib(nbytes: int) -> str:
    return f"{nbytes / (1 << 20):.1f} MiB"


def _where(frame: tuple, relative_to: str | None = None) -> str:
    path = frame[0]
    if relative_to:
        try:
            path = os.path.relpath(path, relative_to)
        except ValueError:
            pass
    return f"{frame[2]}() at {path}:{frame[1]}" if frame[2] != "<module>" else f"{path}:{frame[1]}"


def _frame_at(sig: dict, path: str, line: int) -> tuple | None:
    for frame in sig["frames"]:
        if frame[0] == path and frame[1] == line:
            return frame
    return None


def _caller(stats_list: list, path: str, line: int) -> str:
    frame = _frame_at(stats_list[0].sig, path, line)
    if frame is None or frame[2] == "<module>":
        return f"line {line}"
    return f"{frame[2]}()"


def _modules(stats_list: list) -> str:
    names = sorted({s.sig["module"] for s in stats_list})
    return "/".join(names)


def _union(stats_list: list, field_name: str) -> list:
    merged: dict[str, int] = {}
    for stats in stats_list:
        for desc, n in stats.sig[field_name]:
            merged[desc] = max(merged.get(desc, 0), n)
    return sorted(merged.items())


def _bn_phrase(obs: Observations, keys: list) -> str:
    bn = obs.bn_for(keys)
    if bn is None or bn.drift <= 0.0:
        return ""
    return f"; {bn.layer} running_mean moved by {bn.drift:.3g}"


# ---- verdicts ------------------------------------------------------------------


def _forward_keys(obs: Observations, path: str, line: int) -> list:
    return obs.at(path, line, "forward")


def _not_an_evaluation(stats: list, calls: int, line: int, who: str) -> tuple[list, str]:
    """(the evaluation forwards among ``stats``, why there are none when the list is empty)."""
    training = [s for s in stats if roles.is_training_forward(s)]
    if len(training) == len(stats):
        if any(s.trained for s in training):
            return [], (f"the {_plural(calls, 'forward')} of {_modules(stats)} at line {line} were "
                        "backpropagated: this is a training step, not an evaluation pass")
        return [], (f"the outputs of the {_plural(calls, 'forward')} of {_modules(stats)} at line "
                    f"{line} fed a loss that was backpropagated (pseudo-labels or targets of a "
                    "training step): this is training, not an evaluation pass")
    evaluation = [s for s in stats if roles.is_evaluation_forward(s)]
    if evaluation:
        return evaluation, ""
    rest = [s for s in stats if not roles.is_training_forward(s)]
    n = sum(s.calls for s in rest)
    if any(s.opaque for s in rest):
        return [], (f"{who} ran {_plural(n, 'forward')} of {_modules(rest)} whose output holds no "
                    "tensor the verifier can follow: it cannot tell whether they were evaluation")
    return [], (f"{who} ran {_plural(n, 'forward')} of {_modules(rest)} before it was trained or "
                "its weights were loaded: a forward of an untrained model is not an evaluation")


def _no_mode_layers(stats: list) -> str:
    """Evidence when no module at the line has a mode-dependent layer; empty otherwise."""
    if any(roles.has_mode_dependent_layers(s.sig) for s in stats):
        return ""
    return f"{_modules(stats)} {roles.NO_MODE_LAYER_REASON}"


def _judge_eval_mode(diag, obs, path, line) -> tuple[str, str]:
    keys = _forward_keys(obs, path, line)
    if not keys:
        return NOT_REACHED, f"line {line} never called a model"
    stats = [obs.forwards[k] for k in keys]
    reason = _no_mode_layers(stats)
    if reason:
        return NOT_REPRODUCED, reason
    stats = [s for s in stats if roles.has_mode_dependent_layers(s.sig)]
    calls = sum(s.calls for s in stats)
    who = _caller(stats, path, line)
    evaluation, reason = _not_an_evaluation(stats, calls, line, who)
    if not evaluation:
        return NOT_REPRODUCED, reason
    who = _caller(evaluation, path, line)
    in_train = [s for s in evaluation if s.sig["training"]]
    if not in_train:
        n = sum(s.calls for s in evaluation)
        return NOT_REPRODUCED, (
            f"{who} ran {_plural(n, 'forward')} of {_modules(evaluation)}, all in eval mode"
        )
    n = sum(s.calls for s in in_train)
    active = _union(in_train, "active")
    if not active:
        return NOT_REPRODUCED, (
            f"{who} ran {_plural(n, 'forward')} of {_modules(in_train)} in train mode, but its "
            f"{_layers(_union(in_train, 'inactive'))} were in eval mode"
        )
    text = (f"{who} ran {_plural(n, 'forward')} of {_modules(in_train)} in train mode "
            f"with {_layers(active)} active")
    return CONFIRMED, text + _bn_phrase(obs, [k for k in keys if obs.forwards[k] in in_train])


def _judge_eval_grad(diag, obs, path, line) -> tuple[str, str]:
    keys = _forward_keys(obs, path, line)
    if not keys:
        return NOT_REACHED, f"line {line} never called a model"
    stats = [obs.forwards[k] for k in keys]
    if not any(s.sig.get("params", True) for s in stats):
        return NOT_REPRODUCED, (
            f"{_modules(stats)} has no parameters: a graph through it belongs to the model "
            "call whose output it was given"
        )
    stats = [s for s in stats if s.sig.get("params", True)]
    calls = sum(s.calls for s in stats)
    evaluation, reason = _not_an_evaluation(stats, calls, line, _caller(stats, path, line))
    if not evaluation:
        return NOT_REPRODUCED, reason
    who = _caller(evaluation, path, line)
    with_grad = [s for s in evaluation if s.sig["grad"] and not s.sig["inference"]]
    n_eval = sum(s.calls for s in evaluation)
    if not with_grad:
        return NOT_REPRODUCED, (
            f"{who} ran {_plural(n_eval, 'forward')} of {_modules(evaluation)}, "
            "all with autograd disabled"
        )
    n = sum(s.calls for s in with_grad)
    graphs = sum(s.graphs for s in with_grad)
    if graphs == 0:
        return NOT_REPRODUCED, (
            f"{who} ran {_plural(n, 'forward')} with autograd enabled, but none built a graph "
            "(nothing they use requires grad)"
        )
    text = (f"{who} ran {_plural(n, 'forward')} of {_modules(with_grad)} with autograd enabled; "
            f"{graphs} built autograd graphs that were never used")
    mem = [s.mem_max for s in with_grad if s.mem_max]
    if mem:
        text += f", each holding up to {_mib(max(mem))} of GPU memory"
    return CONFIRMED, text


def _eval_mode_training(obs, keys: list) -> list:
    return [obs.forwards[k] for k in keys
            if obs.forwards[k].trained and not obs.forwards[k].sig["training"]]


def _judge_train_in_eval(diag, obs, path, line) -> tuple[str, str]:
    keys = _forward_keys(obs, path, line)
    step_keys = obs.at(path, line, "step")
    backward_keys = obs.at(path, line, "backward")
    if not keys and not step_keys and not backward_keys:
        return NOT_REACHED, f"line {line} never ran a model, backward() or an optimizer step"
    parts = []
    bad_forwards = _eval_mode_training(obs, keys)
    if backward_keys and not keys:
        # The finding sits on loss.backward(): the forwards it trained ran in the same function.
        scope = _scope(path, line)
        related = [
            k for k, s in obs.forwards.items()
            if s.trained and any(f[0] == path and scope[1] <= f[1] <= scope[2]
                                 for f in s.sig["frames"])
        ]
        bad_forwards = _eval_mode_training(obs, related)
    # Eval mode changes nothing in a module without mode-dependent layers.
    unaffected = {s.sig["module"] for s in bad_forwards
                  if not roles.has_mode_dependent_layers(s.sig)}
    bad_forwards = [s for s in bad_forwards if roles.has_mode_dependent_layers(s.sig)]
    if bad_forwards:
        n = sum(s.trained for s in bad_forwards)
        inactive = _union(bad_forwards, "inactive")
        layers = f" with {_layers(inactive)} in eval mode" if inactive else ""
        parts.append(f"{_plural(n, 'training forward')} of {_modules(bad_forwards)} ran in "
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
            bad_steps += obs.steps[key]
            step_modules.add(trained["module"])
    if bad_steps:
        parts.append(f"optimizer.step() updated {'/'.join(sorted(step_modules))} "
                     f"{_plural(bad_steps, 'time')} while it was in eval mode")
    if parts:
        return CONFIRMED, "; ".join(parts)
    if unaffected:
        return NOT_REPRODUCED, (f"{'/'.join(sorted(unaffected))} was trained in eval mode, but "
                                f"{roles.NO_MODE_LAYER_REASON}")
    trained_here = [obs.forwards[k] for k in keys if obs.forwards[k].trained]
    if keys and not trained_here and not step_keys and not backward_keys:
        calls = sum(obs.forwards[k].calls for k in keys)
        return NOT_REPRODUCED, (f"the {_plural(calls, 'forward')} at line {line} were never "
                                "backpropagated, so none was a training step")
    return NOT_REPRODUCED, f"every training step at line {line} ran with the model in train mode"


def _judge_eval_call_in_step(diag, obs, path, line) -> tuple[str, str]:
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
            parts.append(f"{_plural(backprops, 'backpropagated forward')}")
        if steps:
            parts.append(f"{_plural(steps, 'optimizer step')}")
        return CONFIRMED, (f"{module}.eval() ran {_plural(calls, 'time')} at line {line}; "
                           f"{' and '.join(parts)} followed while {module} was still in eval mode")
    return NOT_REPRODUCED, (f"{module}.eval() ran {_plural(calls, 'time')} at line {line}, but "
                            f"{module} was back in train mode before every training step")


def _later_forwards(obs, path, line) -> tuple[tuple, list]:
    scope = _scope(path, line)
    found = [k for k, s in obs.forwards.items()
             if any(_in_scope_after(f, path, line, scope) for f in s.sig["frames"])]
    return scope, found


def _scope_ran_after(obs, path, line, scope) -> bool:
    if obs.error and any(_in_scope_after(tuple(frame), path, line, scope)
                         for frame in obs.error.get("frames", [])):
        return True  # the script failed further down in the same function
    return any(_in_scope_after(frame, path, line, scope) for key in obs.sigs
               for frame in obs.sigs[key]["frames"])


def _scope_name(scope) -> str:
    return "the module body" if scope[0] == "<module>" else f"{scope[0]}()"


def _judge_uncalled_mode(diag, obs, path, line) -> tuple[str, str]:
    attribute = _attribute_at(path, line, {"eval", "train"}) or "eval"
    scope, keys = _later_forwards(obs, path, line)
    where = _scope_name(scope)
    if not keys:
        if _scope_ran_after(obs, path, line, scope):
            return NOT_REPRODUCED, f"nothing called a model after line {line} in {where}"
        return NOT_REACHED, f"no model ran after line {line} in {where}"
    stats = [obs.forwards[k] for k in keys]
    want_training = attribute == "train"
    wrong = [s for s in stats if s.sig["training"] != want_training]
    n = sum(s.calls for s in stats)
    if not wrong:
        return NOT_REPRODUCED, (f"the {_plural(n, 'forward')} after line {line} in {where} "
                                f"already ran in {attribute} mode")
    n_wrong = sum(s.calls for s in wrong)
    mode = "eval" if want_training else "train"
    layers_field = "inactive" if want_training else "active"
    layers = _union(wrong, layers_field)
    state = "in eval mode" if want_training else "active"
    detail = f" with {_layers(layers)} {state}" if layers else ""
    return CONFIRMED, (f"`.{attribute}` without () at line {line} did nothing: "
                       f"{_plural(n_wrong, 'forward')} of {_modules(wrong)} after it in {where} "
                       f"ran in {mode} mode{detail}"
                       + _bn_phrase(obs, [k for k in keys if obs.forwards[k] in wrong]))


def _judge_grad_context(diag, obs, path, line) -> tuple[str, str]:
    error = obs.error
    if error and any(f[0] == path and f[1] == line for f in error.get("frames", [])):
        return CONFIRMED, (f"line {line} raised {error['type']}: {error['message']} "
                           "when it first ran")
    attribute = _attribute_at(path, line, {"no_grad", "inference_mode", "enable_grad"})
    want_grad = attribute == "enable_grad"
    scope, keys = _later_forwards(obs, path, line)
    where = _scope_name(scope)
    if not keys:
        if _scope_ran_after(obs, path, line, scope):
            return NOT_REPRODUCED, f"nothing called a model after line {line} in {where}"
        return NOT_REACHED, f"no model ran after line {line} in {where}"
    stats = [obs.forwards[k] for k in keys]
    wrong = [s for s in stats
             if (s.sig["grad"] and not s.sig["inference"]) != want_grad]
    context = f"torch.{attribute or 'no_grad'}()"
    if not wrong:
        return NOT_REPRODUCED, (f"the forwards after line {line} in {where} ran with autograd "
                                f"{'enabled' if want_grad else 'disabled'} anyway")
    n = sum(s.calls for s in wrong)
    graphs = sum(s.graphs for s in wrong)
    text = (f"{context} at line {line} did nothing: {_plural(n, 'forward')} of {_modules(wrong)} "
            f"after it in {where} ran with autograd {'disabled' if want_grad else 'enabled'}")
    if not want_grad:
        text += f" ({graphs} built autograd graphs)"
    return CONFIRMED, text


def _judge_parse_error(diag, obs, path, line) -> tuple[str, str]:
    error = obs.error
    if error and error.get("type") in ("SyntaxError", "IndentationError", "TabError") and any(
        f[0] == path for f in error.get("frames", [])
    ):
        return CONFIRMED, f"Python could not run it either: {error['type']}: {error['message']}"
    return NOT_REACHED, "nothing in this file ran"


JUDGES = {
    "EVL001": _judge_parse_error,
    "EVL101": _judge_eval_mode,
    "EVL102": _judge_train_in_eval,
    "EVL103": _judge_eval_call_in_step,
    "EVL104": _judge_uncalled_mode,
    "EVL201": _judge_eval_grad,
    "EVL202": _judge_grad_context,
}


def judge_finding(diagnostic: Diagnostic, obs: Observations) -> Verdict:
    judge = JUDGES.get(diagnostic.code)
    if judge is None:
        return Verdict(diagnostic, NOT_REACHED,
                       f"the runtime verifier has no check for {diagnostic.code}")
    path = os.path.realpath(diagnostic.path)
    verdict, evidence = judge(diagnostic, obs, path, diagnostic.location.row)
    return Verdict(diagnostic, verdict, evidence)


def evidence_labels(diagnostic: Diagnostic, obs: Observations) -> set:
    """The labels (test ids) of the runs that the verdict on ``diagnostic`` rests on."""
    path, line = os.path.realpath(diagnostic.path), diagnostic.location.row
    found = obs.labels_at(path, line)
    if diagnostic.code in ("EVL104", "EVL202"):
        # A no-op statement leaves no event of its own: the forwards after it are the evidence.
        for key in _later_forwards(obs, path, line)[1]:
            found |= obs.labels.get(key, set())
    return found


def judge_all(diagnostics: Iterable[Diagnostic], obs: Observations) -> list[Verdict]:
    return [judge_finding(d, obs) for d in diagnostics]


def all_settled(diagnostics: Iterable[Diagnostic], obs: Observations) -> bool:
    """True once every finding has a verdict the rest of the run is unlikely to change.

    A confirmed finding is final. A reached one that is not reproduced yet may
    still be confirmed later (the first epoch trains in train mode; the bug
    appears after the first validation), which is what the step budget is for.
    """
    return all(v.verdict != NOT_REACHED for v in judge_all(diagnostics, obs))


# ---- runtime-only findings ------------------------------------------------------


def _location_frame(sig: dict, project_root: str | None) -> tuple:
    frames = sig["frames"]
    if project_root:
        prefix = os.path.realpath(project_root) + os.sep
        for frame in frames:
            if frame[0].startswith(prefix):
                return frame
    return frames[0]


def _diagnostic_at(code: str, message: str, frame: tuple) -> Diagnostic:
    path, row, _, col, end_row, end_col = (list(frame) + [None] * 6)[:6]
    location = Location(row, col or 1)
    end = Location(end_row or row, end_col or (col or 1))
    return Diagnostic(code, message, path, location, end)


def _statically_found(sig: dict, found: set, code: str, suppressed=None) -> bool:
    if any((code, f[0], f[1]) in found for f in sig["frames"]):
        return True
    return suppressed is not None and any(suppressed(code, f[0], f[1]) for f in sig["frames"])


def _modules_explained(diagnostics: list, obs: Observations) -> set:
    explained = set()
    for d in diagnostics:
        path, row = os.path.realpath(d.path), d.location.row
        if d.code == "EVL102":
            for key in obs.at(path, row, "forward"):
                explained.add((key[0], obs.sigs[key]["m"]))
            for key in obs.at(path, row, "step"):
                explained.update((key[0], t["m"]) for t in obs.sigs[key]["trained"])
        elif d.code == "EVL103":
            for key in obs.at(path, row, "mode"):
                explained.update((key[0], serial) for serial in obs.sigs[key]["affects"])
    return explained


def _switch_phrase(obs, pid, serial, relative_to) -> str:
    switch = obs.last_eval_switch.get((pid, serial))
    if switch is None:
        return ""
    frames = obs.sigs[switch]["frames"]
    if not frames:
        return ""
    text = f"; it was switched to eval mode by {_where(frames[0], relative_to)}"
    if len(frames) > 1:
        text += f", called from {_where(frames[1], relative_to)}"
    return text


def runtime_findings(
    diagnostics: Iterable[Diagnostic],
    obs: Observations,
    *,
    finished: bool,
    project_root: str | None = None,
    suppressed: Callable[[str, str, int], bool] | None = None,
    harness_functions: frozenset = frozenset(),
) -> list[RuntimeFinding]:
    """What the probes saw that no static finding covers.

    ``finished`` says the script ran to its end, so a forward that was never
    backpropagated is final; otherwise only forwards older than the last
    training step count (the newest one may have been cut before its backward).
    ``suppressed(code, path, line)`` says a finding of ``code`` at that line
    was silenced (`# noqa`): like a static finding, it covers every runtime
    finding whose call stack passes through the line.
    ``harness_functions`` holds the (path, name) of a pytest session's test
    functions: a model they call themselves is the test's own check (a shape
    or smoke test after training), not the project's evaluation code.
    """
    diagnostics = list(diagnostics)
    found = {(d.code, os.path.realpath(d.path), d.location.row) for d in diagnostics}
    results: list[RuntimeFinding] = []
    # Modules whose training in eval mode a static finding already explains
    # (EVL102 on one of its calls, EVL103 on the eval() that caused it): the
    # same bug seen at its other call sites is not news.
    trained_by_forward = _modules_explained(diagnostics, obs)

    def settled(stats: ForwardStats) -> bool:
        return finished or stats.first_index < obs.last_training_index

    for key, stats in obs.forwards.items():
        sig = stats.sig
        pid = key[0]
        module_key = (pid, sig["m"])
        if not sig["frames"]:
            continue
        frame = _location_frame(sig, project_root)
        # Trained in eval mode: backpropagated while its top module was in eval
        # mode, and an optimizer updates it (a frozen feature extractor kept in
        # eval on purpose, e.g. a perceptual-loss network, is not optimized).
        if (stats.trained and not sig["training"] and sig["inactive"]
                and module_key in obs.optimized_modules):
            if module_key not in trained_by_forward and not _statically_found(sig, found, "EVL102", suppressed):
                # One finding per module: its other training call sites share the cause.
                trained_by_forward.add(module_key)
                results.append(RuntimeFinding(
                    _diagnostic_at(
                        "EVL102",
                        f"{sig['module']} was trained in eval mode: "
                        f"{_layers(sig['inactive'])} in eval mode during training steps",
                        frame,
                    ),
                    f"{_plural(stats.trained, 'training forward')} of {sig['module']} ran in "
                    f"eval mode and were backpropagated"
                    + _switch_phrase(obs, pid, sig["m"], project_root),
                ))
            elif _statically_found(sig, set(), "EVL102", suppressed):
                # Silenced at this forward: the optimizer steps that trained it are the same finding.
                trained_by_forward.add(module_key)
            continue
        # An evaluation forward (``roles``): a trained model's forward whose
        # output reached no backward, whatever the function or loader is called.
        if not roles.is_evaluation_forward(stats) or not settled(stats):
            continue
        if (sig["frames"][0][0], sig["frames"][0][2]) in harness_functions:
            continue
        grad_on = sig["grad"] and not sig["inference"]
        if sig["training"] and sig["active"] and stats.chosen < stats.calls:
            if not _statically_found(sig, found, "EVL101", suppressed):
                results.append(RuntimeFinding(
                    _diagnostic_at(
                        "EVL101",
                        f"{sig['module']} ran an evaluation forward in train mode: "
                        f"{_layers(sig['active'])} active",
                        frame,
                    ),
                    f"{_where(frame, project_root)} ran {_plural(stats.calls, 'forward')} of "
                    f"{sig['module']} in train mode that were never backpropagated"
                    + _bn_phrase(obs, [key]),
                ))
        if grad_on and stats.graphs and sig.get("params", True):
            if not _statically_found(sig, found, "EVL201", suppressed):
                mem = f", each holding up to {_mib(stats.mem_max)}" if stats.mem_max else ""
                results.append(RuntimeFinding(
                    _diagnostic_at(
                        "EVL201",
                        f"{sig['module']} ran an evaluation forward with autograd enabled",
                        frame,
                    ),
                    f"{_where(frame, project_root)} built {_plural(stats.graphs, 'autograd graph')}"
                    f"{mem} that were never backpropagated",
                ))

    for key, count in obs.steps.items():
        sig = obs.sigs[key]
        pid = key[0]
        for trained in sig["trained"]:
            module_key = (pid, trained["m"])
            if trained["training"] or not trained["inactive"] or module_key in trained_by_forward:
                continue
            if not sig["frames"] or _statically_found(sig, found, "EVL102", suppressed):
                continue
            frame = _location_frame(sig, project_root)
            results.append(RuntimeFinding(
                _diagnostic_at(
                    "EVL102",
                    f"optimizer.step() updated {trained['module']} while it was in eval mode: "
                    f"{_layers(trained['inactive'])} in eval mode",
                    frame,
                ),
                f"{_plural(count, 'optimizer step')} at {_where(frame, project_root)} updated "
                f"{trained['module']} in eval mode"
                + _switch_phrase(obs, pid, trained["m"], project_root),
            ))

    merged: dict[tuple, RuntimeFinding] = {}
    for finding in results:
        d = finding.diagnostic
        merged.setdefault((d.code, d.path, d.location.row), finding)
    return sorted(merged.values(), key=lambda f: f.diagnostic.sort_key())
