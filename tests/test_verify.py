"""`evallint verify`: every fixture is run under the probes on CPU and judged.

The static findings for the fixtures are taken from their inline markers
(`model(x)  # EVL101, EVL201`), so these tests check the runtime half on its
own: every marked finding of a buggy fixture must be confirmed, a correct
fixture must get no confirmed finding and no runtime finding. Runtime-only
expectations use `# runtime-only: <rule name>` (no code, so the static fixture
test does not read them as static expectations).

The fixtures run in parallel child processes (each pays torch's import once).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from evallint.types import Diagnostic, Location

torch = pytest.importorskip("torch")

from evallint.runtime.command import build_report, report_to_text, verify  # noqa: E402
from evallint.runtime.harness import VerifyError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
MARKER = re.compile(r"#\s*(EVL\d{3}(?:\s*,\s*EVL\d{3})*)\s*$")
RUNTIME_MARKER = re.compile(r"#\s*runtime-only:\s*([a-z-]+(?:\s*,\s*[a-z-]+)*)\s*$")
RULE_NAMES = {
    "eval-in-train-mode": "EVL101",
    "train-in-eval-mode": "EVL102",
    "eval-call-in-train-step": "EVL103",
    "mode-method-not-called": "EVL104",
    "eval-with-grad": "EVL201",
    "grad-context-not-entered": "EVL202",
}
# Per-fixture run settings; everything else runs to its end with the defaults.
RUN_OPTIONS = {
    "runtime_endless_training.py": {"max_steps": 20, "timeout": 60},
}
FIXTURE_TIMEOUT = 90


def marked_findings(path: Path) -> list[Diagnostic]:
    diagnostics = []
    for row, line in enumerate(path.read_text().splitlines(), 1):
        match = MARKER.search(line)
        if match:
            column = len(line) - len(line.lstrip()) + 1
            for code in re.findall(r"EVL\d{3}", match.group(1)):
                diagnostics.append(Diagnostic(code, f"{code} expected here", str(path),
                                              Location(row, column), Location(row, len(line) + 1)))
    return diagnostics


def runtime_markers(path: Path) -> set[tuple[str, int]]:
    expected = set()
    for row, line in enumerate(path.read_text().splitlines(), 1):
        match = RUNTIME_MARKER.search(line)
        if match:
            for name in re.split(r"\s*,\s*", match.group(1)):
                expected.add((RULE_NAMES[name], row))
    return expected


ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.py"))


@pytest.fixture(scope="module")
def reports():
    def run(name):
        path = FIXTURES / name
        options = {"timeout": FIXTURE_TIMEOUT, **RUN_OPTIONS.get(name, {})}
        return name, build_report(str(path), diagnostics=marked_findings(path), device="cpu",
                                  **options)

    workers = max(2, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(run, ALL_FIXTURES))


def _describe(report) -> str:
    return report_to_text(report)


@pytest.mark.parametrize("name", [n for n in ALL_FIXTURES if n.startswith("bug_")])
def test_buggy_fixture_findings_are_confirmed(reports, name):
    report = reports[name]
    assert report.verdicts, f"{name} has no inline markers"
    assert report.script_error is None or name == "bug_no_grad_without_call.py", _describe(report)
    unconfirmed = [v for v in report.verdicts if v.verdict != "confirmed"]
    assert not unconfirmed, _describe(report)
    assert all(v.evidence for v in report.verdicts)
    assert report.exit_code == 1


@pytest.mark.parametrize("name", [n for n in ALL_FIXTURES if n.startswith("ok_")])
def test_correct_fixture_has_nothing_confirmed(reports, name):
    report = reports[name]
    assert report.stopped_by == "exit" and report.exit_status == 0, _describe(report)
    assert not [v for v in report.verdicts if v.verdict == "confirmed"], _describe(report)
    assert not report.runtime_findings, _describe(report)
    assert report.exit_code == 0


@pytest.mark.parametrize("name", [n for n in ALL_FIXTURES if n.startswith("runtime_")])
def test_runtime_only_markers_are_found(reports, name):
    report = reports[name]
    path = FIXTURES / name
    found = {(f.diagnostic.code, f.diagnostic.location.row) for f in report.runtime_findings}
    assert found == runtime_markers(path), _describe(report)
    for finding in report.runtime_findings:
        assert os.path.realpath(finding.diagnostic.path) == str(path.resolve())


def test_crash_midway_reports_the_error_and_earlier_verdicts(reports):
    report = reports["runtime_crash_midway.py"]
    assert report.stopped_by == "error"
    assert report.exit_status == 1
    error = report.script_error
    assert error["type"] == "RuntimeError" and "NaN" in error["message"]
    assert [f["function"] for f in error["frames"]][-2:] == ["main", "check_loss"]
    assert [v.verdict for v in report.verdicts] == ["confirmed"]
    assert "Dropout(p=0.5) active" in report.verdicts[0].evidence


def test_endless_training_is_stopped_by_the_step_budget(reports):
    report = reports["runtime_endless_training.py"]
    assert report.stopped_by == "budget", _describe(report)
    assert report.training_steps == 20
    assert report.seconds < 30
    assert [v.verdict for v in report.verdicts] == ["confirmed"]


def test_bug_behind_a_branch_not_taken_is_not_reached(reports):
    report = reports["runtime_branch_not_taken.py"]
    assert report.stopped_by == "exit"
    assert {v.verdict for v in report.verdicts} == {"not-reached"}
    assert report.exit_code == 0


def test_script_arguments_reach_the_script():
    # The same fixture with the flag that takes the branch: now the bug runs.
    path = FIXTURES / "runtime_branch_not_taken.py"
    report = build_report(str(path), ["--debug-eval", "--epochs", "1"],
                          diagnostics=marked_findings(path), device="cpu", timeout=FIXTURE_TIMEOUT)
    assert {v.verdict for v in report.verdicts} == {"confirmed"}, report_to_text(report)
    assert report.training_steps == 4


def test_dynamic_mode_switch_names_the_switch(reports):
    report = reports["runtime_dynamic_mode_switch.py"]
    (finding,) = report.runtime_findings
    assert "switched to eval mode by switch()" in finding.evidence
    assert "on_epoch_end()" in finding.evidence
    assert report.exit_code == 1


# ---- the child process: how it runs, how it ends ----------------------------------


def needs_cuda(test):
    return pytest.mark.cuda(pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")(test))


def _script(tmp_path: Path, body: str, name: str = "script.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


MODEL = """
import os, sys, time
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

def train_steps(n):
    for _ in range(n):
        loss = model(torch.randn(8, 4)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

def evaluate():
    with torch.no_grad():
        return model(torch.randn(8, 4))  # EVL101
"""



def test_runs_like_python_script_args(tmp_path):
    out = tmp_path / "seen.json"
    path = _script(tmp_path, f"""
        import json, os, sys
        import torch
        json.dump({{
            "argv": sys.argv,
            "name": __name__,
            "cwd": os.getcwd(),
            "path0": sys.path[0],
            "cuda_visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "cuda": torch.cuda.is_available(),
            "pythonpath": os.environ.get("PYTHONPATH"),
        }}, open({str(out)!r}, "w"))
    """)
    work = tmp_path / "work"
    work.mkdir()
    old = os.getcwd()
    os.chdir(work)
    try:
        report = build_report(str(path), ["--lr", "3", "x y"], diagnostics=[], device="cpu",
                              timeout=60)
    finally:
        os.chdir(old)
    seen = json.loads(out.read_text())
    assert report.stopped_by == "exit" and report.exit_status == 0, report_to_text(report)
    assert seen["argv"] == [str(path), "--lr", "3", "x y"]
    assert seen["name"] == "__main__"
    assert seen["cwd"] == str(work)
    assert seen["path0"] == str(tmp_path.resolve())
    assert seen["cuda_visible"] == "" and seen["cuda"] is False
    assert report.device == "cpu"
    assert seen["pythonpath"] == os.environ.get("PYTHONPATH")


def test_a_pythonpath_naming_the_checkout_reaches_the_script_unchanged(tmp_path, monkeypatch):
    # A user who works from a checkout has it on PYTHONPATH; the harness adds
    # the same folder for its own import and must take away only its own entry.
    out = tmp_path / "seen.json"
    path = _script(tmp_path, f"""
        import json, os, sys
        json.dump({{"pythonpath": os.environ.get("PYTHONPATH"), "path": sys.path}},
                  open({str(out)!r}, "w"))
    """)
    user_path = os.pathsep.join([str(tmp_path / "lib"), str(ROOT)])
    monkeypatch.setenv("PYTHONPATH", user_path)
    report = build_report(str(path), diagnostics=[], device="cpu", timeout=60)
    seen = json.loads(out.read_text())
    assert report.stopped_by == "exit", report_to_text(report)
    assert seen["pythonpath"] == user_path
    assert seen["path"][:3] == [str(tmp_path.resolve()), str(tmp_path / "lib"), str(ROOT)]


def test_without_a_pythonpath_the_script_gets_none(tmp_path, monkeypatch):
    out = tmp_path / "seen.json"
    path = _script(tmp_path, f"""
        import json, os, sys
        json.dump({{"pythonpath": os.environ.get("PYTHONPATH"), "path": sys.path}},
                  open({str(out)!r}, "w"))
    """)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    report = build_report(str(path), diagnostics=[], device="cpu", timeout=60)
    seen = json.loads(out.read_text())
    assert report.stopped_by == "exit", report_to_text(report)
    assert seen["pythonpath"] is None
    assert seen["path"][0] == str(tmp_path.resolve())
    assert str(ROOT) not in seen["path"][1:]


def test_an_installed_evallint_leaves_site_packages_on_the_scripts_path():
    # Installed normally, evallint's parent folder is site-packages itself:
    # taking that entry out would leave the script unable to import torch.
    from evallint.runtime.bootstrap import script_search_path

    site_dir = "/venv/lib/python3.11/site-packages"
    path = [site_dir, "/usr/lib/python311.zip", "/usr/lib/python3.11"]
    assert script_search_path(path, site_dir, None, [site_dir]) == path
    checkout = "/home/me/evallint"
    with_checkout = [checkout, *path]
    assert script_search_path(with_checkout, checkout, None, [site_dir]) == path
    assert script_search_path(with_checkout, checkout, checkout, [site_dir]) == with_checkout


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_timeout_kills_the_whole_process_tree(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    path = _script(tmp_path, MODEL + f"""
import subprocess, threading
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open({str(pid_file)!r}, "w").write(str(child.pid))
train_steps(2)
evaluate()
lock = threading.Lock()
lock.acquire()
lock.acquire()  # deadlock
""")
    started = time.monotonic()
    # The limit leaves room for torch's import on a cold, busy machine (it took
    # over 6 s on a 16-core GPU host) so that the script reaches its deadlock.
    report = build_report(str(path), diagnostics=marked_findings(path), device="cpu", timeout=20,
                          max_steps=10**6)
    assert time.monotonic() - started < 40
    assert report.stopped_by == "timeout", report_to_text(report)
    assert [v.verdict for v in report.verdicts] == ["confirmed"]
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(grandchild)


def test_os_exit_still_yields_the_evidence(tmp_path):
    path = _script(tmp_path, MODEL + """
train_steps(3)
evaluate()
sys.stdout.flush()
os._exit(3)
""")
    report = build_report(str(path), diagnostics=marked_findings(path), device="cpu", timeout=60)
    assert report.stopped_by == "exit" and report.exit_status == 3
    assert report.script_error is None
    assert [v.verdict for v in report.verdicts] == ["confirmed"]
    assert report.training_steps == 3


def test_killed_script_still_yields_the_evidence(tmp_path):
    # SIGKILL is what the kernel's OOM killer sends.
    path = _script(tmp_path, MODEL + """
import signal
train_steps(2)
evaluate()
os.kill(os.getpid(), signal.SIGKILL)
""")
    report = build_report(str(path), diagnostics=marked_findings(path), device="cpu", timeout=60)
    assert report.stopped_by == "error"
    assert report.script_error["type"] == "Killed"
    assert "SIGKILL" in report.script_error["message"]
    assert [v.verdict for v in report.verdicts] == ["confirmed"]


def test_forked_process_does_not_break_the_report(tmp_path):
    # Trained first: a forward of a model that was never trained is not an evaluation.
    path = _script(tmp_path, MODEL + """
train_steps(2)
pid = os.fork()
if pid == 0:
    evaluate()
    os._exit(0)
os.waitpid(pid, 0)
""")
    report = build_report(str(path), diagnostics=marked_findings(path), device="cpu", timeout=60)
    assert report.stopped_by == "exit" and report.exit_status == 0, report_to_text(report)
    assert report.training_steps == 2
    assert [v.verdict for v in report.verdicts] == ["confirmed"]


def test_huge_output_is_bounded(tmp_path):
    path = _script(tmp_path, """
import sys
line = "x" * 1023 + "\\n"
for _ in range(20 * 1024):
    sys.stdout.write(line)
print("the last line", file=sys.stderr)
raise SystemExit(4)
""")
    from evallint.runtime.harness import run_script

    result = run_script(str(path), device="cpu", timeout=60)
    assert result.stopped_by == "exit" and result.exit_status == 4
    assert result.stdout.total == 20 * 1024 * 1024
    assert len(result.stdout.text()) < 64 * 1024
    assert result.stderr.last_lines(1) == ["the last line"]


def test_text_output_puts_the_verdict_first(reports):
    text = report_to_text(reports["bug_validate_no_eval_no_grad.py"])
    blocks = text.split("\n\n")
    assert blocks[0].startswith("CONFIRMED: ")
    assert "evidence: validate() ran" in blocks[0]
    assert "BatchNorm1d running_mean moved by" in blocks[0]
    assert blocks[-1].startswith(str(FIXTURES / "bug_validate_no_eval_no_grad.py") + " ran on cpu")


def test_json_output_shape(reports):
    from evallint.runtime.command import report_to_json

    data = report_to_json(reports["runtime_dynamic_mode_switch.py"])
    assert set(data) == {"script", "device", "exit_status", "stopped_by", "training_steps",
                         "seconds", "script_ran", "failure", "stderr_tail", "script_error",
                         "findings", "runtime_findings"}
    assert data["stopped_by"] == "exit" and data["device"] == "cpu"
    (item,) = data["runtime_findings"]
    assert item["code"] == "EVL102" and item["evidence"]
    assert {"code", "message", "filename", "location", "end_location", "fix", "cell", "url"} <= set(item)
    data = report_to_json(reports["runtime_crash_midway.py"])
    assert data["findings"][0]["verdict"] == "confirmed"
    assert data["script_error"]["type"] == "RuntimeError"
    json.dumps(data)


# ---- the command ---------------------------------------------------------------------


def test_command_module_does_not_import_torch():
    code = ("import sys, evallint.runtime.command, evallint.runtime.matcher, evallint.runtime.verdicts; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_device_cuda_without_a_gpu_is_a_one_sentence_usage_error(tmp_path):
    from click.testing import CliRunner

    path = _script(tmp_path, "print('never runs')\n")
    result = CliRunner().invoke(verify, [str(path), "--device", "cuda"])
    assert result.exit_code == 2
    message = result.output.strip()
    assert message.count(".") == 1 and "CUDA" in message and "\n" not in message
    with pytest.raises(VerifyError):
        build_report(str(path), diagnostics=[], device="cuda")


def test_command_end_to_end_with_the_linter():
    engine = pytest.importorskip("evallint.engine")
    from click.testing import CliRunner

    assert hasattr(engine, "lint_paths")
    path = FIXTURES / "bug_validate_no_eval_no_grad.py"
    result = CliRunner().invoke(verify, [str(path), "--device", "cpu", "--output-format", "json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)  # (the script's own output, warnings included, goes to stderr)
    verdicts = {(f["code"], f["location"]["row"]): f["verdict"] for f in data["findings"]}
    assert verdicts == {(d.code, d.location.row): "confirmed" for d in marked_findings(path)}


def test_usage_errors_exit_2(tmp_path):
    from click.testing import CliRunner

    runner = CliRunner()
    assert runner.invoke(verify, [str(tmp_path / "missing.py")]).exit_code == 2
    path = _script(tmp_path, "pass\n")
    assert runner.invoke(verify, [str(path), "--device", "tpu"]).exit_code == 2
    assert runner.invoke(verify, [str(path), "--max-steps", "-1"]).exit_code == 2
    zero = runner.invoke(verify, [str(path), "--max-steps", "0"])  # no step to observe
    assert zero.exit_code == 2 and "0 is not in the range x>=1" in zero.output


@needs_cuda
def test_cuda_evidence_includes_graph_memory(tmp_path):
    path = _script(tmp_path, """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(256, 1024), nn.BatchNorm1d(1024), nn.Dropout(0.3),
                      nn.Linear(1024, 10)).cuda()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(4):
    loss = model(torch.randn(64, 256, device="cuda")).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

def validate():
    for _ in range(3):
        model(torch.randn(512, 256, device="cuda"))  # EVL101, EVL201

validate()
""")
    report = build_report(str(path), diagnostics=marked_findings(path), device="cuda", timeout=120)
    assert report.device == "cuda"
    assert {v.verdict for v in report.verdicts} == {"confirmed"}, report_to_text(report)
    grad = next(v for v in report.verdicts if v.diagnostic.code == "EVL201")
    assert "MiB of GPU memory" in grad.evidence


SMALL_CUDA_MODEL = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(32, 64), nn.BatchNorm1d(64), nn.Dropout(0.2),
                      nn.Linear(64, 1)).cuda()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
"""


@needs_cuda
def test_cuda_training_left_in_eval_mode_is_confirmed(tmp_path):
    path = _script(tmp_path, SMALL_CUDA_MODEL + """
def validate():
    model.eval()
    with torch.no_grad():
        model(torch.randn(16, 32, device="cuda"))

validate()
for _ in range(5):
    loss = model(torch.randn(16, 32, device="cuda")).pow(2).mean()  # EVL102
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
""")
    report = build_report(str(path), diagnostics=marked_findings(path), device="cuda", timeout=120)
    assert report.device == "cuda" and report.training_steps == 5, report_to_text(report)
    assert [v.verdict for v in report.verdicts] == ["confirmed"], report_to_text(report)
    assert "eval mode" in report.verdicts[0].evidence


@needs_cuda
def test_cuda_correct_loop_has_nothing_confirmed(tmp_path):
    path = _script(tmp_path, SMALL_CUDA_MODEL + """for _ in range(2):
    model.train()
    for _ in range(3):
        loss = model(torch.randn(16, 32, device="cuda")).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        model(torch.randn(16, 32, device="cuda"))
""")
    report = build_report(str(path), diagnostics=[], device="cuda", timeout=120)
    assert report.stopped_by == "exit" and report.exit_status == 0, report_to_text(report)
    assert report.training_steps == 6 and not report.runtime_findings, report_to_text(report)
    assert report.exit_code == 0


def test_the_console_script_delivers_the_whole_report_and_leaves_no_scratch_files(tmp_path):
    """`evallint verify` ends, like every command, with a hard exit after flushing: the report
    must be complete and the scratch directory of the run already removed by then."""
    import os

    path = FIXTURES / "bug_validate_no_eval_no_grad.py"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "evallint", "verify", str(path), "--device", "cpu", "--output-format", "json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    verdicts = {(f["code"], f["location"]["row"]): f["verdict"] for f in data["findings"]}
    assert verdicts == {(d.code, d.location.row): "confirmed" for d in marked_findings(path)}
    # torch itself may leave its compile cache there; evallint's own scratch must be gone.
    assert [entry.name for entry in scratch.iterdir() if entry.name.startswith("evallint")] == []


# ---- a script that did not run fails the command (exit 2) --------------------------


def _invoke(args):
    from click.testing import CliRunner

    return CliRunner().invoke(verify, [str(a) for a in args])


ARGPARSE_SCRIPT = MODEL + """
import argparse
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
args = parser.parse_args()
print("parsed the arguments")
train_steps(args.epochs)
evaluate()
"""


def test_a_misspelt_script_option_is_a_run_that_did_not_happen(tmp_path):
    path = _script(tmp_path, ARGPARSE_SCRIPT)
    result = _invoke([path, "--device", "cpu", "--", "--epohcs", "1"])
    assert result.exit_code == 2, result.output
    assert ("the script did not run: it exited with status 2 before its first training step"
            in result.output)
    # argparse's own message, from the script's stderr, is in the report.
    assert "  | script.py: error: unrecognized arguments: --epohcs 1" in result.output
    # The same script with the right option runs and confirms its finding.
    result = _invoke([path, "--device", "cpu", "--", "--epochs", "1"])
    assert result.exit_code == 1, result.output
    assert "CONFIRMED" in result.output and "did not run" not in result.output


def test_a_missing_data_file_fails_the_run_with_fields_in_json(tmp_path):
    path = _script(tmp_path, MODEL + """
rows = open("data/train.csv").read()
train_steps(2)
evaluate()
""")
    result = _invoke([path, "--device", "cpu", "--output-format", "json", "--quiet"])
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    assert data["script_ran"] is False
    assert data["failure"].startswith("the script did not run: it failed before its first "
                                      "training step: FileNotFoundError:")
    assert "data/train.csv" in data["failure"]
    assert data["stderr_tail"][-1].startswith("FileNotFoundError: [Errno 2] No such file")
    # The traceback the user sees is the script's, as `python script.py` prints it (after
    # whatever the script wrote before failing: torch warns at import when NumPy is missing).
    start = data["stderr_tail"].index("Traceback (most recent call last):")
    assert data["stderr_tail"][start + 1] == f'  File "{path}", line 20, in <module>'
    assert data["training_steps"] == 0
    assert [f["verdict"] for f in data["findings"]] == ["not-reached"]


def test_a_finding_whose_forward_raised_is_inconclusive_and_the_run_did_not_happen(tmp_path):
    """A forward that raised in train mode shows nothing about evaluation: neither confirmed
    (its output never existed) nor refuted. With nothing decided, the failed script fails the
    command."""
    path = _script(tmp_path, MODEL + """
def predict():
    with torch.no_grad():
        return model(torch.randn(8, 5))  # EVL101

train_steps(2)
predict()
""")
    result = _invoke([path, "--device", "cpu", "--quiet"])
    assert result.exit_code == 2, result.output
    assert "INCONCLUSIVE: " in result.output and "cannot tell whether they were evaluation" in result.output
    assert "the script did not run: it failed after 2 training steps, before any finding was confirmed or refuted" \
        in result.output


def test_a_failed_import_fails_the_run_and_quiet_hides_only_the_live_output(tmp_path):
    path = _script(tmp_path, """
import torch
print("before the import")
from missing_package_of_the_user import Net
""")
    quiet = _invoke([path, "--device", "cpu", "--quiet"])
    assert quiet.exit_code == 2, quiet.output
    assert ("the script did not run: it failed before its first training step: "
            "ModuleNotFoundError: No module named 'missing_package_of_the_user'") in quiet.output
    assert "  | ModuleNotFoundError: No module named 'missing_package_of_the_user'" in quiet.output
    assert "before the import" not in quiet.output
    loud = _invoke([path, "--device", "cpu"])
    assert loud.exit_code == 2
    assert "before the import" in loud.output


def test_the_scripts_output_is_shown_as_it_runs(tmp_path):
    path = _script(tmp_path, ARGPARSE_SCRIPT + """
import sys
print("a warning of the script", file=sys.stderr)
""")
    result = _invoke([path, "--device", "cpu"])
    assert result.exit_code == 1, result.output
    output = result.output
    assert output.index("parsed the arguments") < output.index("CONFIRMED")
    assert "a warning of the script" in output


def test_a_script_that_fails_after_its_findings_got_verdicts_keeps_its_verdicts(reports):
    report = reports["runtime_crash_midway.py"]
    assert report.failure is None
    assert report.exit_code == 1


# ---- suppressions -----------------------------------------------------------------

MC_DROPOUT = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

def train_steps(n):
    for _ in range(n):
        loss = model(torch.randn(8, 4)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

def mc_predict(x):
    # Dropout stays active on purpose: Monte Carlo dropout.
    with torch.no_grad():
        return torch.stack([model(x) for _ in range(4)]){noqa}

def predict_with_grad():
    model.eval()
    out = model(torch.randn(8, 4)){noqa_grad}
    model.train()
    return out

train_steps(2)
mc_predict(torch.randn(8, 4))
predict_with_grad()
"""


def _verify_json(path, *options):
    result = _invoke([path, "--device", "cpu", "--output-format", "json", "--quiet", *options])
    assert result.exit_code in (0, 1), result.output
    data = json.loads(result.stdout)
    reported = sorted((f["code"], f["location"]["row"]) for f in data["findings"] + data["runtime_findings"])
    return result.exit_code, reported


def test_without_suppressions_the_runtime_sees_both_bugs(tmp_path):
    path = _script(tmp_path, MC_DROPOUT.format(noqa="", noqa_grad=""))
    code, reported = _verify_json(path)
    assert code == 1
    assert {c for c, _ in reported} == {"EVL101", "EVL201"}, reported


@pytest.mark.parametrize("case", ["noqa-code", "noqa-bare", "file-noqa", "config-ignore",
                                  "option-ignore", "option-select"])
def test_a_suppressed_finding_never_comes_back_at_runtime(tmp_path, case):
    noqa = {"noqa-code": "  # noqa: EVL101", "noqa-bare": "  # noqa"}.get(case, "")
    body = MC_DROPOUT.format(noqa=noqa, noqa_grad="  # noqa: EVL201" if noqa else "")
    if case == "file-noqa":
        body = "# evallint: noqa\n" + body
    if case == "config-ignore":
        (tmp_path / "pyproject.toml").write_text('[tool.evallint]\nignore = ["EVL101", "EVL201"]\n')
    path = _script(tmp_path, body)
    options = {"option-ignore": ["--ignore", "EVL101,EVL201"],
               "option-select": ["--select", "EVL102"]}.get(case, [])
    code, reported = _verify_json(path, *options)
    assert reported == [] and code == 0


@pytest.mark.parametrize("line", ["forward", "caller"])
def test_noqa_anywhere_on_the_call_stack_silences_a_runtime_only_finding(tmp_path, line):
    # The fixture's bug is seen only at runtime (EVL102 at the training forward).
    source = (FIXTURES / "runtime_dynamic_mode_switch.py").read_text()
    target = {"forward": "# runtime-only: train-in-eval-mode", "caller": "    main()"}[line]
    assert source.count(target) == 1
    path = _script(tmp_path, source.replace(target, target + "  # noqa: EVL102"))
    code, reported = _verify_json(path)
    assert reported == [] and code == 0
    # A noqa for another code silences nothing.
    path.write_text(source.replace(target, target + "  # noqa: EVL101"))
    code, reported = _verify_json(path)
    assert [c for c, _ in reported] == ["EVL102"] and code == 1


def test_select_of_verify_is_validated(tmp_path):
    path = _script(tmp_path, "pass\n")
    result = _invoke([path, "--select", "EVL8"])  # no rule's code starts so (EVL9 is EVL901's prefix)
    assert result.exit_code == 2 and "EVL8" in result.output


# ---- notebooks ------------------------------------------------------------------------


def _notebook(tmp_path: Path, cells: list[tuple[str, str]], name: str = "nb.ipynb") -> Path:
    document = {
        "cells": [
            {"cell_type": kind, "metadata": {}, "source": textwrap.dedent(source).lstrip("\n"),
             **({"execution_count": None, "outputs": []} if kind == "code" else {})}
            for kind, source in cells
        ],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


NOTEBOOK_CELLS = [
    ("markdown", "# Training\n"),
    ("code", """
        %matplotlib inline
        import torch
        import torch.nn as nn
        model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    """),
    ("code", """
        !nvidia-smi
        for _ in range(3):
            loss = model(torch.randn(8, 4)).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    """),
    ("code", """
        def evaluate():
            with torch.no_grad():
                return model(torch.randn(8, 4))

        evaluate()
    """),
    ("code", """
        def switch(name):
            getattr(model, name)()

        switch("eval")
        for _ in range(2):
            loss = model(torch.randn(8, 4)).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    """),
]


def test_a_notebook_runs_its_code_cells_in_order_and_reports_by_cell(tmp_path):
    path = _notebook(tmp_path, NOTEBOOK_CELLS)
    result = _invoke([path, "--device", "cpu", "--output-format", "json", "--quiet"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["stopped_by"] == "exit" and data["exit_status"] == 0, data
    assert data["training_steps"] == 5
    static = [(f["cell"], f["location"]["row"], f["code"], f["verdict"]) for f in data["findings"]]
    assert ("4", 3, "EVL101", "confirmed") in [(str(c), r, k, v) for c, r, k, v in static], static
    # Training after a switch no static pass can follow: seen at runtime, in cell 5.
    runtime = [(f["cell"], f["location"]["row"], f["code"]) for f in data["runtime_findings"]]
    assert runtime == [(5, 6, "EVL102")], runtime
    assert "switch() at nb.ipynb:cell 5:2" in data["runtime_findings"][0]["evidence"]


def test_a_notebook_cell_that_fails_stops_the_notebook_with_its_cell_in_the_traceback(tmp_path):
    cells = NOTEBOOK_CELLS[:2] + [("code", "import os\nos.listdir('/no/such/folder')\n")] + NOTEBOOK_CELLS[2:]
    path = _notebook(tmp_path, cells)
    result = _invoke([path, "--device", "cpu", "--quiet"])
    assert result.exit_code == 2, result.output
    assert "FileNotFoundError" in result.output
    assert f'  |   File "{path.resolve()}:cell 3", line 2, in <module>' in result.output
    assert "  |     os.listdir('/no/such/folder')" in result.output


def test_noqa_in_a_notebook_cell_silences_the_runtime_finding(tmp_path):
    cells = list(NOTEBOOK_CELLS)
    kind, source = cells[4]
    cells[4] = (kind, source.replace("loss = model(torch.randn(8, 4)).pow(2).mean()",
                                     "loss = model(torch.randn(8, 4)).pow(2).mean()  # noqa: EVL102"))
    path = _notebook(tmp_path, cells)
    result = _invoke([path, "--device", "cpu", "--output-format", "json", "--quiet"])
    data = json.loads(result.stdout)
    assert data["runtime_findings"] == [], data["runtime_findings"]


def test_a_file_that_is_not_a_notebook_is_a_usage_error(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{not json")
    result = _invoke([path, "--device", "cpu"])
    assert result.exit_code == 2
    assert "broken.ipynb" in result.output and "not valid JSON" in result.output


# ---- evidence, crashes, the step limit --------------------------------------------------


def test_evidence_names_the_function_around_a_comprehension(tmp_path):
    path = _script(tmp_path, MODEL + """
def validate(batches):
    with torch.no_grad():
        return sum(model(x).sum() for x in batches)  # EVL101

def predict(batches):
    with torch.no_grad():
        return [model(x) for x in batches]  # EVL101

train_steps(2)
validate([torch.randn(2, 4)] * 3)
predict([torch.randn(2, 4)] * 3)
""")
    report = build_report(str(path), diagnostics=marked_findings(path)[1:], device="cpu", timeout=60)
    evidence = [v.evidence for v in report.verdicts]
    assert evidence == [
        "validate() ran 3 forwards of Sequential in train mode with Dropout(p=0.5) active",
        "predict() ran 3 forwards of Sequential in train mode with Dropout(p=0.5) active",
    ], report_to_text(report)


def test_a_finding_whose_line_ran_before_the_crash_is_not_not_reached(tmp_path):
    path = _script(tmp_path, MODEL + """
def load(i):
    raise KeyError(f"sample {i}")

def predict():
    with torch.no_grad():
        return model(load(3))  # EVL101

def evaluate_lazily(batches):
    model.eval  # EVL104
    total = 0
    for x in batches:
        total += x.sum()
    raise RuntimeError("a bad batch")

train_steps(2)
if len(sys.argv) > 1:
    evaluate_lazily([torch.randn(2, 4)])
predict()
""")
    diagnostics = marked_findings(path)[1:]
    report = build_report(str(path), diagnostics=diagnostics, device="cpu", timeout=60)
    (verdict,) = [v for v in report.verdicts if v.diagnostic.code == "EVL101"]
    assert verdict.verdict == "inconclusive", report_to_text(report)
    assert verdict.evidence.startswith("line 25 ran and raised KeyError: 'sample 3' before it called a model")
    assert "INCONCLUSIVE: " in report_to_text(report)
    report = build_report(str(path), ["lazy"], diagnostics=diagnostics, device="cpu", timeout=60)
    (verdict,) = [v for v in report.verdicts if v.diagnostic.code == "EVL104"]
    assert verdict.verdict == "not-reproduced", report_to_text(report)
    assert verdict.evidence.startswith("nothing called a model after line 28 in evaluate_lazily()")


def test_max_steps_stops_after_exactly_that_many_optimizer_steps():
    path = FIXTURES / "runtime_endless_training.py"
    report = build_report(str(path), diagnostics=marked_findings(path), device="cpu",
                          max_steps=10, timeout=FIXTURE_TIMEOUT)
    assert report.stopped_by == "budget", report_to_text(report)
    assert report.training_steps == 10
    assert [v.verdict for v in report.verdicts] == ["confirmed"]
    assert "was stopped by --max-steps after 10 training steps" in report_to_text(report)


def test_without_max_steps_a_script_stops_once_every_finding_has_a_verdict():
    from evallint.runtime.command import SETTLE_STEPS

    path = FIXTURES / "runtime_endless_training.py"
    report = build_report(str(path), diagnostics=marked_findings(path), device="cpu",
                          timeout=FIXTURE_TIMEOUT)
    # Stopped because the evidence was complete (an endless script otherwise runs to its timeout),
    # and not before the settling steps. How many steps run between the check that settles it and
    # the stop depends on the machine's speed, so it is not pinned.
    assert report.stopped_by == "settled", report_to_text(report)
    assert report.training_steps >= SETTLE_STEPS
    assert [v.verdict for v in report.verdicts] == ["confirmed"]


def test_a_forward_cut_short_by_the_stop_leaves_the_verdict_as_it_was(tmp_path):
    # The stop that settles a run may land inside a validation forward. That call never
    # returned, so it must not turn the confirmed evaluations at its line into unknowns.
    path = _script(tmp_path, """
import os, signal
import torch
import torch.nn as nn
import torch.nn.functional as F

stopping = False


class StopInside(nn.Module):
    def forward(self, x):
        if stopping:
            os.kill(os.getpid(), signal.SIGUSR1)  # the verifier's stop signal
        return x


model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.2), StopInside(), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
held_out = torch.randn(16, 4)


def validate():
    with torch.no_grad():
        return F.mse_loss(model(held_out), held_out.sum(1, keepdim=True)).item()  # EVL101


for epoch in range(3):
    for _ in range(5):
        x = torch.randn(8, 4)
        loss = F.mse_loss(model(x), x.sum(1, keepdim=True))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    stopping = epoch == 2
    validate()
raise AssertionError("the stop did not stop the script")
""")
    report = build_report(str(path), diagnostics=marked_findings(path), device="cpu", timeout=60)
    assert report.training_steps == 15, report_to_text(report)
    (verdict,) = report.verdicts
    assert verdict.verdict == "confirmed", report_to_text(report)
    assert verdict.evidence.startswith("validate() ran 2 forwards of Sequential in train mode")


def test_max_steps_counts_backward_calls_in_a_script_without_an_optimizer(tmp_path):
    path = _script(tmp_path, """
import torch
weight = torch.zeros(4, requires_grad=True)
calls = 0
while True:
    loss = (torch.randn(8, 4) @ weight - 1).pow(2).mean()
    loss.backward()
    calls += 1
    with torch.no_grad():
        weight -= 0.1 * weight.grad
        weight.grad = None
""")
    report = build_report(str(path), diagnostics=[], device="cpu", max_steps=10, timeout=60)
    assert report.stopped_by == "budget" and report.training_steps == 10, report_to_text(report)


def test_json_reports_the_training_steps_and_the_duration(tmp_path):
    path = _script(tmp_path, MODEL + "\ntrain_steps(3)\n")
    started = time.monotonic()
    result = _invoke([path, "--device", "cpu", "--output-format", "json", "--quiet"])
    elapsed = time.monotonic() - started
    data = json.loads(result.stdout)
    assert data["training_steps"] == 3
    assert 0 < data["seconds"] <= elapsed
    assert data["script_ran"] is True and data["failure"] is None


def test_a_script_that_changes_directory_still_finds_its_lines(tmp_path):
    path = _script(tmp_path, MODEL + f"""
os.chdir({str(tmp_path.parent)!r})
train_steps(1)
evaluate()
""")
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        report = build_report("script.py", diagnostics=marked_findings(path), device="cpu", timeout=60)
    finally:
        os.chdir(old)
    assert [v.verdict for v in report.verdicts] == ["confirmed"], report_to_text(report)
