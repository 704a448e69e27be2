"""Entry point of the child process: install the probes, then run the script as ``python SCRIPT ARGS`` would.

Invoked by the harness as ``python -m evallint.runtime.bootstrap SCRIPT [ARGS...]``
with ``EVALLINT_VERIFY_RECORDS`` naming the record file. ``SIGUSR1`` from the
harness asks for a clean stop (the step budget is spent, or the timeout is
near): it raises ``BudgetStop`` in the main thread, which ``except Exception``
in the script does not catch, so pending BatchNorm passes are measured and the
``end`` record is written before the process exits.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import traceback

RECORDS_ENV = "EVALLINT_VERIFY_RECORDS"
PATH_ENV = "EVALLINT_VERIFY_PATH_ENTRY"
STOP_SIGNAL = signal.SIGUSR1
MAX_ERROR_FRAMES = 12


class BudgetStop(BaseException):
    """Raised inside the script when the harness asks it to stop."""


def _request_stop(signum, frame):
    raise BudgetStop()


def _error_record(exc: BaseException) -> dict:
    frames = [
        [os.path.realpath(f.filename) if not f.filename.startswith("<") else f.filename,
         f.lineno, f.name, (f.line or "").strip()]
        for f in traceback.extract_tb(exc.__traceback__)
    ]
    # Drop the frames of this bootstrap and of runpy: the user's script starts after them.
    for index, frame in enumerate(frames):
        if frame[2] == "<module>" and not frame[0].startswith("<") and "runpy" not in frame[0]:
            frames = frames[index:]
            break
    else:
        frames = []
    if isinstance(exc, SyntaxError) and exc.filename:
        frames.append([os.path.realpath(exc.filename), exc.lineno or 0, "<module>",
                       (exc.text or "").strip()])
    return {
        "t": "error",
        "type": type(exc).__name__,
        "message": str(exc)[:2000],
        "frames": frames[-MAX_ERROR_FRAMES:],
    }


def main() -> int:
    if len(sys.argv) < 2 or RECORDS_ENV not in os.environ:
        print("evallint.runtime.bootstrap is started by `evallint verify`", file=sys.stderr)
        return 2
    script = sys.argv[1]
    fd = os.open(os.environ[RECORDS_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    # The harness put evallint on the path for this import only; the script
    # must see the sys.path that `python SCRIPT` would give it.
    from evallint.runtime.hooks import Probes, RecordWriter

    added = os.environ.pop(PATH_ENV, None)
    if added:
        while added in sys.path:
            sys.path.remove(added)
        parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != added]
        if parts:
            os.environ["PYTHONPATH"] = os.pathsep.join(parts)
        else:
            os.environ.pop("PYTHONPATH", None)
    sys.path[0] = os.path.dirname(os.path.realpath(script))
    sys.argv = sys.argv[1:]

    writer = RecordWriter(fd)
    import torch

    probes = Probes(writer)
    probes.install()
    cuda = torch.cuda.is_available()
    writer.write(
        {
            "t": "start",
            "pid": os.getpid(),
            "device": "cuda" if cuda else "cpu",
            "device_name": torch.cuda.get_device_name(0) if cuda else None,
            "torch": torch.__version__,
        }
    )
    signal.signal(STOP_SIGNAL, _request_stop)

    how, code = "exit", 0
    try:
        runpy.run_path(script, run_name="__main__")
    except BudgetStop:
        how = "budget"
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException as exc:
        how, code = "error", 1
        try:
            writer.write(_error_record(exc))
        except Exception:
            pass
        traceback.print_exc()
    # A second stop request during the shutdown must not abort the flush.
    signal.signal(STOP_SIGNAL, signal.SIG_IGN)
    probes.close_open_passes()
    writer.write({"t": "end", "how": how, "code": code, "steps": probes.step_count,
                  "backwards": probes.backward_count})
    sys.stdout.flush()
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
