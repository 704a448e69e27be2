"""Run a script in a child process under the probes, within a time and step budget.

The child runs in its own session, so one ``killpg`` reaches everything it
started (DataLoader workers, subprocesses, forks). Its records arrive through
a file that the harness tails while it runs: that is how the step budget is
checked, and why a child that dies abruptly (``os._exit``, SIGKILL, OOM) still
leaves its evidence behind. Its stdout and stderr are passed on as they arrive
(when the caller asks) and kept in bounded buffers, so a script that prints
gigabytes costs a few kilobytes here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Callable

from evallint.runtime.bootstrap import (
    MAX_STEPS_ENV, ORIGINAL_PYTHONPATH_ENV, PATH_ENV, RECORDS_ENV, STOP_SIGNAL,
)
from evallint.runtime.observations import Observations

DEVICES = ("cpu", "cuda", "auto")
POLL_SECONDS = 0.05
BUDGET_CHECK_SECONDS = 0.1
# Time the child gets to unwind after a stop request before its group is killed.
STOP_GRACE_SECONDS = 3.0
OUTPUT_HEAD_BYTES = 4 * 1024
OUTPUT_TAIL_BYTES = 16 * 1024


class VerifyError(Exception):
    """A problem the user must fix before verification can run (exit status 2)."""


class BoundedOutput:
    """Keeps the first and last few kilobytes of a stream and counts the rest."""

    def __init__(self, head: int = OUTPUT_HEAD_BYTES, tail: int = OUTPUT_TAIL_BYTES) -> None:
        self._head_limit = head
        self._tail_limit = tail
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self._head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self._tail_limit:
                del self.tail[: len(self.tail) - self._tail_limit]

    def text(self) -> str:
        omitted = self.total - len(self.head) - len(self.tail)
        middle = f"\n[... {omitted} bytes omitted ...]\n" if omitted > 0 else ""
        return (bytes(self.head).decode("utf-8", "replace") + middle
                + bytes(self.tail).decode("utf-8", "replace"))

    def last_lines(self, count: int) -> list[str]:
        source = self.tail if self.tail else self.head
        return bytes(source).decode("utf-8", "replace").splitlines()[-count:]


@dataclass
class RunResult:
    device: str
    exit_status: int | None
    stopped_by: str  # exit | error | timeout | budget (--max-steps) | settled (every finding judged)
    script_error: dict | None
    observations: Observations
    stdout: BoundedOutput
    stderr: BoundedOutput
    seconds: float


def _drain(stream, sink: BoundedOutput, echo=None) -> None:
    try:
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                break
            sink.add(chunk)
            if echo is not None:
                _echo(echo, chunk)
    except (OSError, ValueError):
        pass


def _echo(stream, chunk: bytes) -> None:
    try:
        stream.write(chunk)
        stream.flush()
    except (OSError, ValueError):
        pass  # the reader went away: the report still gets the copy


class RecordTail:
    """Reads the complete lines appended to the record file since the last call."""

    def __init__(self, path: str) -> None:
        self._handle = open(path, "rb")
        self._partial = b""

    def read(self) -> list[dict]:
        data = self._handle.read()
        if not data:
            return []
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                # A record torn by a kill mid-write; the rest are intact.
                continue
        return records

    def close(self) -> None:
        self._handle.close()


def child_environment(device: str, records_path: str, max_steps: int | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env[RECORDS_ENV] = records_path
    if max_steps is not None:
        env[MAX_STEPS_ENV] = str(max_steps)
    # evallint must be importable by the bootstrap even when it is run from a
    # checkout; the bootstrap takes the entry out again before the script runs.
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env[PATH_ENV] = package_parent
    existing = env.get("PYTHONPATH")
    if existing is not None:
        env[ORIGINAL_PYTHONPATH_ENV] = existing
    env["PYTHONPATH"] = f"{existing}{os.pathsep}{package_parent}" if existing else package_parent
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["HIP_VISIBLE_DEVICES"] = ""
    return env


def check_device(device: str) -> None:
    """Raise VerifyError, in one sentence, when the requested device cannot be used."""
    import importlib.util

    if device not in DEVICES:
        raise VerifyError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}.")
    if importlib.util.find_spec("torch") is None:
        raise VerifyError(
            "evallint verify runs the script under PyTorch, which is not installed "
            "in this environment (pip install 'evallint[verify]')."
        )
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise VerifyError("--device cuda needs a CUDA GPU, and PyTorch sees none on this machine.")


def _signal_child(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_script(
    script: str,
    args: list[str] | tuple[str, ...] = (),
    *,
    device: str = "auto",
    timeout: float = 300.0,
    should_stop: Callable[[Observations], bool] | None = None,
    max_steps: int | None = None,
    cwd: str | None = None,
    echo_stdout=None,
    echo_stderr=None,
) -> RunResult:
    """Run ``script`` as ``python script args`` would, under the probes.

    ``max_steps`` stops the script, from inside, after exactly that many
    training steps (``stopped_by`` is ``budget``). ``should_stop`` is asked a
    few times a second whether the evidence is complete; when it says so the
    child is asked to stop (``stopped_by`` is ``settled``). At ``timeout``
    seconds the child is asked to stop and its whole process group is killed a
    moment later. ``echo_stdout`` / ``echo_stderr`` (binary streams) receive
    the script's output as it writes it.
    """
    check_device(device)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="evallint-verify-") as scratch:
        records_path = os.path.join(scratch, "records.jsonl")
        open(records_path, "wb").close()
        process = subprocess.Popen(
            [sys.executable, "-m", "evallint.runtime.bootstrap", script, *args],
            cwd=cwd,
            env=child_environment(device, records_path, max_steps),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        stdout, stderr = BoundedOutput(), BoundedOutput()
        readers = [
            threading.Thread(target=_drain, args=(process.stdout, stdout, echo_stdout), daemon=True),
            threading.Thread(target=_drain, args=(process.stderr, stderr, echo_stderr), daemon=True),
        ]
        for reader in readers:
            reader.start()

        observations = Observations()
        tail = RecordTail(records_path)
        stop_reason: str | None = None
        stop_requested_at: float | None = None
        next_budget_check = 0.0
        try:
            while True:
                observations.feed_many(tail.read())
                if process.poll() is not None:
                    break
                now = time.monotonic()
                if stop_requested_at is not None:
                    if now - stop_requested_at > STOP_GRACE_SECONDS:
                        _kill_group(process.pid)
                elif now - started >= timeout:
                    stop_reason = "timeout"
                    stop_requested_at = now
                    _signal_child(process.pid, STOP_SIGNAL)
                elif should_stop is not None and now >= next_budget_check:
                    next_budget_check = now + BUDGET_CHECK_SECONDS
                    if should_stop(observations):
                        stop_reason = "settled"
                        stop_requested_at = now
                        _signal_child(process.pid, STOP_SIGNAL)
                time.sleep(POLL_SECONDS)
        finally:
            # Whatever the child left running (workers, forks) goes with it.
            _kill_group(process.pid)
            process.wait()
            observations.feed_many(tail.read())
            tail.close()
            for reader in readers:
                reader.join(timeout=2.0)

    exit_status = process.returncode
    end = observations.end
    error = observations.error
    if stop_reason is None:
        if end is not None and end.get("how") == "budget":
            stop_reason = "budget"
        elif error is not None or (end is None and exit_status < 0):
            stop_reason = "error"
        elif observations.start is None and exit_status != 0:
            stop_reason = "error"
        else:
            stop_reason = "exit"
    script_error = _script_error(observations, exit_status, stop_reason, stderr)
    reported_device = (observations.start or {}).get("device") or (
        "cpu" if device == "cpu" else device
    )
    return RunResult(
        device=reported_device,
        exit_status=exit_status,
        stopped_by=stop_reason,
        script_error=script_error,
        observations=observations,
        stdout=stdout,
        stderr=stderr,
        seconds=time.monotonic() - started,
    )


def _script_error(obs: Observations, exit_status: int, stopped_by: str,
                  stderr: BoundedOutput) -> dict | None:
    if obs.error is not None:
        return {
            "type": obs.error["type"],
            "message": obs.error["message"],
            "frames": [
                {"filename": f[0], "line": f[1], "function": f[2], "code": f[3]}
                for f in obs.error.get("frames", [])
            ],
        }
    if stopped_by == "error" and exit_status is not None and exit_status < 0:
        try:
            name = signal.Signals(-exit_status).name
        except ValueError:
            name = f"signal {-exit_status}"
        hint = " (the system may have run out of memory)" if name == "SIGKILL" else ""
        return {
            "type": "Killed",
            "message": f"the script was killed by {name}{hint}",
            "frames": [],
            "stderr_tail": stderr.last_lines(20),
        }
    if obs.start is None and stopped_by == "error":
        return {
            "type": "StartupError",
            "message": "the verifier could not start the script",
            "frames": [],
            "stderr_tail": stderr.last_lines(20),
        }
    return None
