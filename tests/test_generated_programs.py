"""Generated training scripts of known truth (tests/generated_programs.py): evallint must report
exactly the bugs the generator put there, and `evallint verify` must confirm them when the
scripts run.

CI runs a derandomized budget; ``EVALLINT_FUZZ=long`` runs more random examples.
``benchmarks/generated_agreement.py`` runs 500 programs and prints the agreement per rule.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from .generated_programs import (
    BUILDS, GRAD_CONTEXTS, GRAD_DECORATORS, LAYER_KINDS, EveryN, Forward, GradScope, GradSet, Loop, Mode,
    Restore, Save, findings_from, generate, hypothesis_chooser, lint_program, random_chooser,
    run_abstract, run_concrete, truth_diagnostics, write_program,
)

LONG = os.environ.get("EVALLINT_FUZZ") == "long"
LINT_EXAMPLES = 2000 if LONG else 250
SURVEY_SEEDS = range(600)


@st.composite
def programs(draw):
    program = generate(hypothesis_chooser(draw))
    assume(program is not None)
    return program


def survey():
    return [p for p in (generate(random_chooser(seed)) for seed in SURVEY_SEEDS) if p is not None]


# ---- the truth model -----------------------------------------------------------------------------


def truth_of(effects, roles, mode_matters=True):
    abstract, concrete = {}, {}
    run_abstract(effects, frozenset({("train", True, None)}), abstract)
    run_concrete(effects, ("train", True, None), {}, concrete)
    return findings_from(abstract, roles, mode_matters), findings_from(concrete, roles, mode_matters)


ROLES = {"train": "train", "val": "eval", "final": "eval"}


def test_tutorial_loop_without_train_restore_trains_in_eval_mode():
    # for epoch: forward+backward; model.eval(); with no_grad: val forward  (no model.train())
    effects = [Loop("epoch", 2, (Forward("train"), Mode("eval"), GradScope((Forward("val"),))))]
    assert truth_of(effects, ROLES) == ({("EVL102", "train")}, {("EVL102", "train")})


def test_validation_without_eval_or_no_grad_is_both_rules_on_one_forward():
    effects = [Loop("epoch", 2, (Mode("train"), Forward("train"), Forward("val")))]
    both = {("EVL101", "val"), ("EVL201", "val")}
    assert truth_of(effects, ROLES) == (both, both)
    assert truth_of(effects, ROLES, mode_matters=False) == ({("EVL201", "val")}, {("EVL201", "val")})


def test_conditional_restore_keeps_the_mode_it_saved():
    # was_training = model.training; model.eval(); ...; if was_training: model.train()
    effects = [Loop("epoch", 2, (Forward("train"), Save(), Mode("eval"), GradScope((Forward("val"),)), Restore()))]
    assert truth_of(effects, ROLES) == (set(), set())


def test_every_n_validation_without_restore_reaches_the_next_step():
    effects = [Loop("epoch", 2, (Mode("train"), Loop("step", 4, (
        Forward("train"), EveryN("step", 2, (Mode("eval"), GradSet(False), Forward("val"), GradSet(True))))
    )))]
    assert truth_of(effects, ROLES) == ({("EVL102", "train")}, {("EVL102", "train")})


def test_final_test_after_a_loop_that_ends_in_eval_has_no_single_truth():
    # Every real run leaves the model in eval mode; a loop that never ran would leave it in train mode.
    effects = [Loop("epoch", 2, (Mode("train"), Forward("train"), Mode("eval"), GradScope((Forward("val"),)))),
               GradScope((Forward("final"),))]
    abstract, concrete = truth_of(effects, ROLES)
    assert ("EVL101", "final") in abstract and ("EVL101", "final") not in concrete


# ---- the generator -------------------------------------------------------------------------------


def test_generation_is_deterministic_per_seed():
    assert generate(random_chooser(7)) == generate(random_chooser(7))


def test_truth_sits_on_the_forward_lines():
    for program in survey():
        compile(program.source, "train.py", "exec")
        lines = program.source.splitlines()
        for code, row in program.truth:
            site = next(s for s, line in program.sites.items() if line == row)
            assert program.roles[site] == ("train" if code == "EVL102" else "eval")
            assert "(x" in lines[row - 1] or "(inputs)" in lines[row - 1] or "(vx)" in lines[row - 1]


def test_generator_covers_every_choice_the_issue_names():
    made = survey()
    assert len(made) > 0.9 * len(SURVEY_SEEDS), "too many programs without a single truth"
    seen = {(label, value) for p in made for label, value in p.features.items()}
    expected = [("build", b) for b in BUILDS] + [("layers", k) for k in LAYER_KINDS]
    expected += [("names", s) for s in ("evaluation-like", "neutral", "mixed")]
    expected += [(f"{key}.placement", where) for key in ("step", "epoch", "final") for where in ("inline", "helper")]
    expected += [(f"{key}.eval", e) for key in ("step", "epoch", "final") for e in ("none", "inside", "call_site")]
    expected += [("epoch.grad", g) for g in ("none", *GRAD_CONTEXTS, "set_grad_enabled_statement", *GRAD_DECORATORS)]
    expected += [("epoch.restore", r) for r in ("none", "train()", "train(was_training)", "if was_training")]
    expected += [("step.restore", r) for r in ("none", "train()", "train(was_training)", "if was_training")]
    steps = ("out then loss", "loss of forward", "F.cross_entropy", "loss helper", "epoch helper")
    expected += [("train_step", s) for s in steps]
    expected += [("final.reuses_helper", "True"), ("script", "module level"), ("script", "main()")]
    assert [e for e in expected if e not in seen] == []
    codes = {code for p in made for code, _ in p.truth}
    assert codes == {"EVL101", "EVL102", "EVL201"}
    assert sum(not p.truth for p in made) > 0.2 * len(made), "correct programs must be common"


# ---- evallint against the truth ------------------------------------------------------------------


@settings(max_examples=LINT_EXAMPLES, deadline=None, derandomize=not LONG, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(programs())
def test_linter_reports_exactly_the_generated_truth(program):
    with tempfile.TemporaryDirectory() as directory:
        reported = lint_program(program, directory)
    expected = set(program.truth)
    assert reported == expected, (
        f"missed {sorted(expected - reported)}, false alarms {sorted(reported - expected)}\n"
        + "\n".join(f"{row:3} {line}" for row, line in enumerate(program.source.splitlines(), 1))
    )


@settings(max_examples=100, deadline=None, derandomize=not LONG,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(programs())
def test_generated_programs_give_no_parse_or_no_op_findings(program):
    """The programs parse, call every mode method and enter every grad context: EVL001, EVL104 and
    EVL202 have nothing to find."""
    with tempfile.TemporaryDirectory() as directory:
        reported = lint_program(program, directory)
    assert {code for code, _ in reported} <= {"EVL101", "EVL102", "EVL103", "EVL201"}


# ---- verify against the truth --------------------------------------------------------------------

VERIFY_SAMPLE = 6


def verify_sample(size: int) -> list:
    """Programs of each rule and correct ones, in seed order, so the sample is the same in every run."""
    wanted = {"EVL101": 2, "EVL102": 2, "EVL201": 2, "clean": 2}
    chosen = []
    for seed in range(1000):
        program = generate(random_chooser(seed))
        if program is None:
            continue
        kinds = {code for code, _ in program.truth} or {"clean"}
        if any(wanted.get(kind, 0) > 0 for kind in kinds):
            for kind in kinds:
                wanted[kind] = wanted.get(kind, 0) - 1
            chosen.append((seed, program))
        if len(chosen) == size:
            break
    return chosen


SAMPLE = verify_sample(VERIFY_SAMPLE)


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    pytest.importorskip("torch")
    from evallint.runtime.command import build_report

    def run(item):
        seed, program = item
        directory = tmp_path_factory.mktemp(f"seed{seed}")
        path = write_program(program, str(directory))
        return seed, build_report(path, diagnostics=truth_diagnostics(program, path), device="cpu", timeout=120)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, SAMPLE))


def test_verify_sample_covers_each_rule_and_correct_code():
    kinds = {code for _, p in SAMPLE for code, _ in p.truth}
    assert kinds == {"EVL101", "EVL102", "EVL201"}
    assert any(not p.truth for _, p in SAMPLE)


@pytest.mark.parametrize("seed", [seed for seed, _ in SAMPLE])
def test_verify_confirms_the_truth_and_finds_nothing_else(verified, seed):
    from evallint.runtime.command import report_to_text

    report = verified[seed]
    program = dict(SAMPLE)[seed]
    assert report.stopped_by == "exit" and report.exit_status == 0, report_to_text(report)
    assert {(v.diagnostic.code, v.diagnostic.location.row) for v in report.verdicts} == set(program.truth)
    assert [v for v in report.verdicts if v.verdict != "confirmed"] == [], report_to_text(report)
    assert report.runtime_findings == [], report_to_text(report) + "\n\n" + program.source
