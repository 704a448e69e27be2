"""Each static finding's verdict: its rule's judge reads what ran."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

from evallint.rules import ALL_RULES
from evallint.runtime.judging import NOT_REACHED, later_forwards
from evallint.runtime.observations import Observations
from evallint.types import Diagnostic


@dataclass(frozen=True)
class Verdict:
    diagnostic: Diagnostic
    verdict: str
    evidence: str


def judge_finding(diagnostic: Diagnostic, obs: Observations) -> Verdict:
    rule = ALL_RULES.get(diagnostic.code)
    if rule is None or rule.judge is None:
        return Verdict(diagnostic, NOT_REACHED,
                       f"the runtime verifier has no check for {diagnostic.code}")
    path = os.path.realpath(diagnostic.path)
    verdict, evidence = rule.judge.verdict(obs, path, diagnostic.location.row)
    return Verdict(diagnostic, verdict, evidence)


def evidence_labels(diagnostic: Diagnostic, obs: Observations) -> set:
    """The labels (test ids) of the runs that the verdict on ``diagnostic`` rests on."""
    path, line = os.path.realpath(diagnostic.path), diagnostic.location.row
    found = obs.labels_at(path, line)
    rule = ALL_RULES.get(diagnostic.code)
    if rule is not None and rule.judge is not None and rule.judge.reads_later_forwards:
        for key in later_forwards(obs, path, line)[1]:
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
