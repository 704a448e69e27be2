"""What every runtime judge shares: the verdicts, reading the script's source, and wording.

A rule's judge (``Rule.judge``) decides one finding from ``Observations``: it returns a verdict
(``CONFIRMED``, ``NOT_REPRODUCED``, ``INCONCLUSIVE``, ``NOT_REACHED``) and the evidence in words.
Inconclusive: the line ran, but what the finding is about could not be seen (it raised first, or
the forward's output holds nothing the verifier can follow). Judges read
dictionaries of plain data, so nothing here imports torch and the rules can declare their judge
on the lint path.
"""

from __future__ import annotations

import ast
import linecache
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Iterable

from evallint.runtime import roles

if TYPE_CHECKING:
    from evallint.runtime.observations import Observations

CONFIRMED = "confirmed"
NOT_REPRODUCED = "not-reproduced"
NOT_REACHED = "not-reached"
INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Judge:
    """How ``evallint verify`` decides a rule's finding from what ran."""

    # (observations, real path, line of the finding) -> (verdict, evidence)
    verdict: Callable[["Observations", str, int], tuple[str, str]]
    # A no-op statement leaves no event of its own: the forwards after it in its function are
    # the evidence, and the runs they came from are the ones a verdict rests on.
    reads_later_forwards: bool = False
    # (observations, real path, line) -> the (pid, module serial) pairs whose training in eval mode
    # the finding explains: the runtime-only findings of the same bug elsewhere are not news.
    explains: Callable[["Observations", str, int], Iterable[tuple]] | None = None


# ---- the script's source -------------------------------------------------------


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


def scope_of(path: str, line: int) -> tuple[str, int, int]:
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


def attribute_at(path: str, line: int, names: frozenset[str]) -> str | None:
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


# ---- wording -------------------------------------------------------------------


def layer_counts(items: list) -> str:
    return ", ".join(f"{n}× {d}" if n > 1 else d for d, n in items)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def mib(nbytes: int) -> str:
    return f"{nbytes / (1 << 20):.1f} MiB"


def _frame_at(sig: dict, path: str, line: int) -> tuple | None:
    for frame in sig["frames"]:
        if frame[0] == path and frame[1] == line:
            return frame
    return None


def caller(stats_list: list, path: str, line: int) -> str:
    frame = _frame_at(stats_list[0].sig, path, line)
    if frame is None or frame[2] == "<module>":
        return f"line {line}"
    return f"{frame[2]}()"


def module_names(stats_list: list) -> str:
    names = sorted({s.sig["module"] for s in stats_list})
    return "/".join(names)


def union(stats_list: list, field_name: str) -> list:
    return merge_counts(stats.sig[field_name] for stats in stats_list)


def merge_counts(count_lists) -> list:
    """(description, count) lists of several forwards as one: each description at its largest count."""
    merged: dict[str, int] = {}
    for counts in count_lists:
        for desc, n in counts:
            merged[desc] = max(merged.get(desc, 0), n)
    return sorted(merged.items())


def bn_phrase(obs: Observations, keys: list) -> str:
    bn = obs.bn_for(keys)
    if bn is None or bn.drift <= 0.0:
        return ""
    return f"; {bn.layer} running_mean moved by {bn.drift:.3g}"


# ---- evidence that several judges read ------------------------------------------


def forward_keys(obs: Observations, path: str, line: int) -> list:
    return obs.at(path, line, "forward")


def not_an_evaluation(stats: list, calls: int, line: int, who: str) -> tuple[list, tuple[str, str]]:
    """(the evaluation forwards among ``stats``, and when there are none the verdict and why)."""
    training = [s for s in stats if roles.is_training_forward(s)]
    if len(training) == len(stats):
        if any(s.trained for s in training):
            return [], (NOT_REPRODUCED, f"the {plural(calls, 'forward')} of {module_names(stats)} at line "
                                        f"{line} were backpropagated: this is a training step, not an "
                                        "evaluation pass")
        return [], (NOT_REPRODUCED, f"the outputs of the {plural(calls, 'forward')} of {module_names(stats)} "
                                    f"at line {line} fed a loss that was backpropagated (pseudo-labels or "
                                    "targets of a training step): this is training, not an evaluation pass")
    evaluation = [s for s in stats if roles.is_evaluation_forward(s)]
    if evaluation:
        return evaluation, ("", "")
    rest = [s for s in stats if not roles.is_training_forward(s)]
    n = sum(s.calls for s in rest)
    if any(s.opaque for s in rest):
        # A forward that raised returns nothing either.
        return [], (INCONCLUSIVE, f"{who} ran {plural(n, 'forward')} of {module_names(rest)} whose output "
                                  "holds no tensor the verifier can follow (or that raised): it cannot "
                                  "tell whether they were evaluation")
    return [], (NOT_REPRODUCED, f"{who} ran {plural(n, 'forward')} of {module_names(rest)} before it was "
                                "trained or its weights were loaded: a forward of an untrained model is "
                                "not an evaluation")


def looked_through(obs, keys: list) -> list:
    """The forwards among ``keys`` that were backpropagated while no optimizer ever updated their
    module, in a run whose optimizers did step: an input optimised through the model (class
    visualisation), an evaluation that takes gradients on purpose."""
    if not obs.step_count:
        return []
    return [obs.forwards[k] for k in keys
            if obs.forwards[k].trained and (k[0], obs.forwards[k].sig["m"]) not in obs.optimized_modules]


def no_mode_layers(stats: list) -> str:
    """Evidence when no module at the line has a mode-dependent layer; empty otherwise."""
    if any(roles.has_mode_dependent_layers(s.sig) for s in stats):
        return ""
    return f"{module_names(stats)} {roles.NO_MODE_LAYER_REASON}"


def later_forwards(obs, path, line) -> tuple[tuple, list]:
    scope = scope_of(path, line)
    found = [k for k, s in obs.forwards.items()
             if any(_in_scope_after(f, path, line, scope) for f in s.sig["frames"])]
    return scope, found


def forwards_after(obs, path, line) -> tuple[list, list, str, tuple[str, str] | None]:
    """The forwards after a line that does nothing at runtime (a bare `model.eval`, an unentered
    `torch.no_grad()`), in its function: (keys, their stats, the function's name, None), or the
    verdict when none ran after it."""
    scope, keys = later_forwards(obs, path, line)
    where = scope_name(scope)
    if keys:
        return keys, [obs.forwards[k] for k in keys], where, None
    if scope_ran_after(obs, path, line, scope):
        return [], [], where, (NOT_REPRODUCED, f"nothing called a model after line {line} in {where}")
    return [], [], where, (NOT_REACHED, f"no model ran after line {line} in {where}")


def scope_ran_after(obs, path, line, scope) -> bool:
    if obs.error and any(_in_scope_after(tuple(frame), path, line, scope)
                         for frame in obs.error.get("frames", [])):
        return True  # the script failed further down in the same function
    return any(_in_scope_after(frame, path, line, scope) for key in obs.sigs
               for frame in obs.sigs[key]["frames"])


def scope_name(scope) -> str:
    return "the module body" if scope[0] == "<module>" else f"{scope[0]}()"
