"""When `evallint` exits, every process it started has exited, and none holds the caller's pipes.

Each run gets a unique marker in its environment; its workers inherit it, so scanning
/proc for the marker finds every process the run started, wherever it was re-parented.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from evallint.indexing import CRASH_HOOK_VARIABLE

REPO = Path(__file__).resolve().parent.parent
MARKER = "EVALLINT_TEST_RUN_MARKER"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _live_marked(marker: str) -> list[int]:
    """Processes alive (not zombies) whose environment carries this marker."""
    found = []
    needle = f"{MARKER}={marker}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
            with open(f"/proc/{entry}/stat", "rb") as handle:
                state = handle.read().rpartition(b")")[2].split()[0]
        except OSError:
            continue  # gone meanwhile, or not ours
        if needle in environ.split(b"\0") and state not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def _wait_until_gone(marker: str, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while True:
        alive = _live_marked(marker)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.02)


def _environment(marker: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, MARKER: marker, "PYTHONPATH": str(REPO), **extra}
    env.pop("EVALLINT_STRICT", None)  # the command as users run it
    return env


def _write_wide(root: Path, files: int = 8, functions: int = 190) -> Path:
    """Enough functions that phase 2 forks its worker, and files for the forked indexing share."""
    package = root / "wide" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for number in range(files):
        body = ["import torch", "from pkg import helpers_0" if number else ""]
        for index in range(functions):
            body += [f"def step_{index}(model, x):", "    model.eval()", "    return model(x)", ""]
        body += [
            "def train(model, optimizer, x):",
            "    model.train()",
            "    loss = model(x).sum()",
            "    loss.backward()",
            "    optimizer.step()",
            "    step_0(model, x)",
            "",
        ]
        (package / f"helpers_{number}.py").write_text("\n".join(body))
    return package.parent


def _write_small(root: Path) -> Path:
    project = root / "small"
    project.mkdir()
    for number in range(6):
        (project / f"m{number}.py").write_text(
            "import torch\n\n"
            "def validate(model, loader):\n"
            "    for x in loader:\n"
            "        model(x)\n"
        )
    return project


def _write_broken(root: Path) -> Path:
    """Files every kind of failure touches: syntax errors, bad bytes, a broken and a good notebook."""
    project = root / "broken"
    project.mkdir()
    (project / "syntax.py").write_text("def f(:\n")
    (project / "bytes.py").write_bytes(b"x = '\xff\xfe'\n")
    (project / "nul.py").write_bytes(b"x = 1\x00\n")
    (project / "bad.ipynb").write_text("{not json")
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": ["import torch\n", "with torch.no_grad:\n", "    pass\n"]}
    (project / "good.ipynb").write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    for number in range(8):
        (project / f"ok{number}.py").write_text("import torch\n\ndef evaluate(model, x):\n    return model(x)\n")
    return project


def _run_piped(args: list[str], cwd: Path, **extra_env: str) -> tuple[int, str, list[int]]:
    """One run with piped output: its status, its stdout, and what it left alive afterwards."""
    marker = uuid.uuid4().hex
    process = subprocess.Popen(
        [sys.executable, "-m", "evallint", *args], cwd=cwd, env=_environment(marker, **extra_env),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    try:
        # Reads to the end of both pipes: a process still holding them would make this time out.
        out, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        for pid in _live_marked(marker):
            os.kill(pid, signal.SIGKILL)
        process.communicate()
        return -1, "", ["hung"]  # type: ignore[list-item]
    return process.returncode, out.decode(), _wait_until_gone(marker, 0.5)


def test_fifty_piped_runs_all_end_and_leave_no_process(tmp_path):
    wide, small, broken = _write_wide(tmp_path), _write_small(tmp_path), _write_broken(tmp_path)
    cache = str(tmp_path / "cache")
    runs = (
        [(["--no-cache", "-j", "2", "."], wide, {})] * 8
        + [(["--output-format", "json", "--cache-dir", cache, "-j", "2", "."], wide, {})] * 2
        + [(["--no-cache", "-j", "3", "--statistics", "."], wide, {})] * 2
        + [(["--no-cache", "-j", "2", "--output-format", "json", "."], small, {})] * 16
        + [(["--no-cache", "-j", "2", "."], broken, {})] * 14
        # A worker that dies (as if the native parser crashed): the pools that retry its files.
        + [(["--no-cache", "-j", "2", "."], broken, {CRASH_HOOK_VARIABLE: "ok3.py"})] * 8
    )
    assert len(runs) == 50
    with ThreadPoolExecutor(max_workers=3) as runner:
        outcomes = list(runner.map(lambda run: (run, _run_piped(run[0], run[1], **run[2])), runs))
    hung = [run for run, (status, _, left) in outcomes if status == -1]
    leaked = [(run, left) for run, (status, _, left) in outcomes if status != -1 and left]
    assert not hung and not leaked
    for (args, project, env), (status, out, _) in outcomes:
        if project == broken:
            assert status == 1 and "EVL001" in out and "EVL202" in out
        else:
            assert status in (0, 1), (args, status)


def _start(project: Path, marker: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "evallint", "--no-cache", "-j", "2", "."], cwd=project, env=_environment(marker),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, **popen,
    )


def _wait_for_workers(process: subprocess.Popen, marker: str) -> bool:
    """True once the run has started a worker; False if it ended first."""
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        if any(pid != process.pid for pid in _live_marked(marker)):
            return True
        time.sleep(0.005)
    return False


@pytest.fixture(scope="module")
def big_project(tmp_path_factory) -> Path:
    """Large enough that a run is still going when the test interrupts it."""
    return _write_wide(tmp_path_factory.mktemp("big"), files=100, functions=40)


@pytest.mark.parametrize(
    "signum, whole_group, status",
    [(signal.SIGINT, False, 130), (signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)],
    ids=["sigint", "ctrl-c-to-the-group", "sigterm"],
)
def test_an_interrupted_run_stops_its_workers_and_leaves_nothing(big_project, signum, whole_group, status):
    marker = uuid.uuid4().hex
    process = _start(big_project, marker, start_new_session=True)
    try:
        assert _wait_for_workers(process, marker), "the run ended before it started a worker"
        if whole_group:
            os.killpg(process.pid, signum)  # what a terminal's Ctrl-C does
        else:
            process.send_signal(signum)
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == status, err.decode()
    assert b"Traceback" not in err
    assert _wait_until_gone(marker, 1.0) == []


def test_a_worker_whose_parent_is_killed_exits_within_a_second(big_project):
    marker = uuid.uuid4().hex
    process = _start(big_project, marker)
    try:
        assert _wait_for_workers(process, marker), "the run ended before it started a worker"
        process.kill()  # SIGKILL: the main process runs no cleanup at all
        process.wait()
        killed = time.monotonic()
        assert _wait_until_gone(marker, 1.0) == []
        # Nothing holds the output pipes any more: a reader sees their end at once.
        readers = [threading.Thread(target=pipe.read, daemon=True) for pipe in (process.stdout, process.stderr)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(timeout=max(0.0, killed + 1.5 - time.monotonic()))
        assert not any(reader.is_alive() for reader in readers)
    finally:
        for pid in _live_marked(marker):
            os.kill(pid, signal.SIGKILL)
        process.stdout.close()
        process.stderr.close()
