"""The pytest plugin's work: observe every test, then judge the code the tests ran.

Installed at ``pytest_configure`` (so models built while collecting are seen
too), each test's setup, call and teardown run under its node id as the label.
At the end of the session the files that the observed calls ran through (the
project's own: under the rootdir, outside site-packages) are linted, every
finding gets verify's verdict, and verify's runtime findings are added; the
test ids under which the evidence was recorded come with each.
"""

from __future__ import annotations

import inspect
import json
import os
import sysconfig
from dataclasses import dataclass

import pytest

from evallint.runtime.command import (
    VERDICT_LABELS, runtime_finding_to_json, runtime_finding_to_text, verdict_to_json,
    verdict_to_text,
)
from evallint.runtime.live import LiveSession
from evallint.runtime.judging import CONFIRMED
from evallint.runtime.matcher import runtime_findings
from evallint.runtime.verdicts import evidence_labels, judge_all

# Test ids listed per finding in the text report; the JSON report has all.
SHOWN_TESTS = 3


@dataclass
class SessionReport:
    device: str
    tests: int
    verdicts: list  # verdicts.Verdict
    verdict_tests: list  # sorted test ids, one list per verdict
    runtime_findings: list  # matcher.RuntimeFinding
    runtime_tests: list
    notes: list

    @property
    def failing(self) -> bool:
        return bool(self.runtime_findings) or any(v.verdict == CONFIRMED for v in self.verdicts)


def _check_device(device: str) -> None:
    import importlib.util
    import sys

    if importlib.util.find_spec("torch") is None:
        raise pytest.UsageError("--evallint runs the tests under PyTorch's hooks, and PyTorch is "
                                "not installed in this environment.")
    torch = sys.modules.get("torch")
    if device == "cpu":
        if torch is not None and torch.cuda.is_initialized():
            raise pytest.UsageError("--evallint-device cpu cannot hide the GPU: CUDA was already "
                                    "initialised before the plugin started.")
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        os.environ["HIP_VISIBLE_DEVICES"] = ""
    elif device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise pytest.UsageError("--evallint-device cuda needs a CUDA GPU, and PyTorch sees "
                                    "none on this machine.")


def _site_prefixes() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple({os.path.realpath(paths[k]) + os.sep for k in ("purelib", "platlib", "stdlib")
                  if k in paths})


def _test_function(item) -> tuple[str, str] | None:
    function = getattr(item, "obj", None)
    if function is None:
        return None
    try:
        code = inspect.unwrap(getattr(function, "__func__", function)).__code__
    except (AttributeError, ValueError):
        return None
    return os.path.realpath(code.co_filename), code.co_name


class EvallintSession:
    def __init__(self, config, *, device: str, strict: bool, report_path: str | None) -> None:
        _check_device(device)
        self.config = config
        self.strict = strict
        self.report_path = report_path
        self.root = os.path.realpath(str(config.rootpath))
        self.notes: list[str] = []
        self.live = LiveSession(on_blind_spot=self._note)
        self.live.start()
        self.harness_functions: set = set()
        self.tests_run = 0
        self.report: SessionReport | None = None

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # ---- observing -------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items) -> None:
        for item in items:
            function = _test_function(item)
            if function is not None:
                self.harness_functions.add(function)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.tests_run += 1
        with self.live.labelled(item.nodeid):
            yield

    # ---- judging ----------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus) -> None:
        self.live.stop()
        self.report = self._build_report()
        if self.report_path:
            self._write_json(self.report)
        if self.strict and self.report.failing and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _project_files(self) -> list[str]:
        observations = self.live.observations
        prefix = self.root + os.sep
        excluded = _site_prefixes()
        files = {path for path, _ in observations.sites
                 if path.startswith(prefix) and not path.startswith(excluded)
                 and path.endswith((".py", ".ipynb")) and os.path.isfile(path)}
        return sorted(os.path.relpath(path) if _below_cwd(path) else path for path in files)

    def _build_report(self) -> SessionReport:
        from evallint.config import Settings, load_settings
        from evallint.engine import lint_paths
        from evallint.errors import UsageError
        from evallint.runtime.suppressions import RuntimeSuppressions

        observations = self.live.observations
        files = self._project_files()
        diagnostics: list = []
        try:
            settings = load_settings(None, files or [self.root])
            if files:
                diagnostics = lint_paths(files, settings)
        except UsageError as exc:
            settings = Settings(project_root=self.root)
            self._note(f"the static pass failed ({exc}), so only runtime findings are shown")
        verdicts = judge_all(diagnostics, observations)
        # The lint's selection and `# noqa` apply to what the probes saw, as in verify.
        suppressions = RuntimeSuppressions(settings)
        harness = frozenset(self.harness_functions)
        extra = runtime_findings(diagnostics, observations, finished=True,
                                 project_root=self.root, suppressed=suppressions.silenced_at,
                                 harness_functions=harness)
        extra = [f for f in extra if suppressions.reported(_relative(f.diagnostic))]
        runtime_tests = [sorted(observations.labels_at(os.path.realpath(f.diagnostic.path),
                                                        f.diagnostic.location.row))
                         for f in extra]
        extra = [type(f)(_relative(f.diagnostic), f.evidence) for f in extra]
        if observations.internal_errors:
            self._note(f"a probe failed ({observations.internal_errors[0]}), so some evidence "
                       "may be missing")
        return SessionReport(
            device=self.live.device,
            tests=self.tests_run,
            verdicts=verdicts,
            verdict_tests=[sorted(evidence_labels(v.diagnostic, observations)) for v in verdicts],
            runtime_findings=extra,
            runtime_tests=runtime_tests,
            notes=self.notes,
        )

    # ---- reporting --------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter) -> None:
        report = self.report
        if report is None:
            return
        terminalreporter.write_sep("=", "evallint")
        terminalreporter.write_line(report_to_text(report))
        if self.strict and report.failing:
            terminalreporter.write_line(
                "evallint: --evallint-strict fails the session: a bug was confirmed or found at "
                "runtime.", red=True, bold=True)

    def _write_json(self, report: SessionReport) -> None:
        try:
            with open(self.report_path, "w", encoding="utf-8") as handle:
                json.dump(report_to_json(report, strict=self.strict), handle, indent=2)
                handle.write("\n")
        except OSError as exc:
            self._note(f"could not write the report to {self.report_path}: {exc.strerror}")


def _below_cwd(path: str) -> bool:
    try:
        return not os.path.relpath(path).startswith("..")
    except ValueError:
        return False


def _relative(diagnostic):
    from dataclasses import replace

    path = diagnostic.path
    return replace(diagnostic, path=os.path.relpath(path)) if _below_cwd(path) else diagnostic


def _tests_line(tests: list[str]) -> str:
    if not tests:
        return "    tests: none ran this line"
    shown = ", ".join(tests[:SHOWN_TESTS])
    more = len(tests) - SHOWN_TESTS
    return f"    tests: {shown}" + (f" and {more} more" if more > 0 else "")


def report_to_text(report: SessionReport) -> str:
    blocks = [verdict_to_text(v) + "\n" + _tests_line(t)
              for v, t in zip(report.verdicts, report.verdict_tests)]
    blocks += [runtime_finding_to_text(f) + "\n" + _tests_line(t)
               for f, t in zip(report.runtime_findings, report.runtime_tests)]
    for note in report.notes:
        blocks.append(f"Note: {note}")
    counts = {key: sum(1 for v in report.verdicts if v.verdict == key) for key in VERDICT_LABELS}
    blocks.append(
        f"{report.tests} test{'' if report.tests == 1 else 's'} ran on {report.device}: "
        f"{counts['confirmed']} confirmed, {counts['not-reproduced']} not reproduced, "
        f"{counts['inconclusive']} inconclusive, {counts['not-reached']} not reached, "
        f"{len(report.runtime_findings)} found at runtime."
    )
    return "\n\n".join(blocks)


def report_to_json(report: SessionReport, *, strict: bool) -> dict:
    findings = []
    for verdict, tests in zip(report.verdicts, report.verdict_tests):
        item = verdict_to_json(verdict)
        item["tests"] = tests
        findings.append(item)
    extra = []
    for finding, tests in zip(report.runtime_findings, report.runtime_tests):
        item = runtime_finding_to_json(finding)
        item["tests"] = tests
        extra.append(item)
    return {
        "device": report.device,
        "tests": report.tests,
        "strict": strict,
        "failed": strict and report.failing,
        "findings": findings,
        "runtime_findings": extra,
        "notes": report.notes,
    }
