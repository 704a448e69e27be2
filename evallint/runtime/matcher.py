"""What the probes saw that no static finding covers: the runtime-only findings.

Which forwards are evaluation and which modules have a mode that matters is
decided by ``roles``, with the static analysis's definitions. The verdicts on the
static findings themselves are each rule's judge (``verdicts``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterable

from evallint.runtime import roles
from evallint.runtime.judging import bn_phrase, layer_counts, mib, plural
from evallint.runtime.observations import ForwardStats, Observations
from evallint.types import Diagnostic, Location


@dataclass(frozen=True)
class RuntimeFinding:
    diagnostic: Diagnostic
    evidence: str


def _where(frame: tuple, relative_to: str | None = None) -> str:
    path = frame[0]
    if relative_to:
        try:
            path = os.path.relpath(path, relative_to)
        except ValueError:
            pass
    return f"{frame[2]}() at {path}:{frame[1]}" if frame[2] != "<module>" else f"{path}:{frame[1]}"


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
    explained: set = set()
    if not diagnostics:
        return explained
    # Only static findings need their rules; the guard, which has none, never loads them.
    from evallint.rules import ALL_RULES

    for d in diagnostics:
        rule = ALL_RULES.get(d.code)
        if rule is not None and rule.judge is not None and rule.judge.explains is not None:
            explained.update(rule.judge.explains(obs, os.path.realpath(d.path), d.location.row))
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
        if (stats.trained and not sig["training"] and roles.trained_in_eval_mode(sig)
                and module_key in obs.optimized_modules):
            if module_key not in trained_by_forward and not _statically_found(sig, found, "EVL102", suppressed):
                # One finding per module: its other training call sites share the cause.
                trained_by_forward.add(module_key)
                results.append(RuntimeFinding(
                    _diagnostic_at(
                        "EVL102",
                        f"{sig['module']} was trained in eval mode: "
                        f"{layer_counts(roles.trained_in_eval_mode(sig))} in eval mode during training steps",
                        frame,
                    ),
                    f"{plural(stats.trained, 'training forward')} of {sig['module']} ran in "
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
                        f"{layer_counts(sig['active'])} active",
                        frame,
                    ),
                    f"{_where(frame, project_root)} ran {plural(stats.calls, 'forward')} of "
                    f"{sig['module']} in train mode that were never backpropagated"
                    + bn_phrase(obs, [key]),
                ))
        if grad_on and stats.graphs and sig.get("params", True):
            if not _statically_found(sig, found, "EVL201", suppressed):
                mem = f", each holding up to {mib(stats.mem_max)}" if stats.mem_max else ""
                results.append(RuntimeFinding(
                    _diagnostic_at(
                        "EVL201",
                        f"{sig['module']} ran an evaluation forward with autograd enabled",
                        frame,
                    ),
                    f"{_where(frame, project_root)} built {plural(stats.graphs, 'autograd graph')}"
                    f"{mem} that were never backpropagated",
                ))

    for key, count in obs.steps.items():
        sig = obs.sigs[key]
        pid = key[0]
        for trained in sig["trained"]:
            module_key = (pid, trained["m"])
            if trained["training"] or not roles.trained_in_eval_mode(trained) or module_key in trained_by_forward:
                continue
            if not sig["frames"] or _statically_found(sig, found, "EVL102", suppressed):
                continue
            frame = _location_frame(sig, project_root)
            results.append(RuntimeFinding(
                _diagnostic_at(
                    "EVL102",
                    f"optimizer.step() updated {trained['module']} while it was in eval mode: "
                    f"{layer_counts(roles.trained_in_eval_mode(trained))} in eval mode",
                    frame,
                ),
                f"{plural(count, 'optimizer step')} at {_where(frame, project_root)} updated "
                f"{trained['module']} in eval mode"
                + _switch_phrase(obs, pid, trained["m"], project_root),
            ))

    merged: dict[tuple, RuntimeFinding] = {}
    for finding in results:
        d = finding.diagnostic
        merged.setdefault((d.code, d.path, d.location.row), finding)
    return sorted(merged.values(), key=lambda f: f.diagnostic.sort_key())
