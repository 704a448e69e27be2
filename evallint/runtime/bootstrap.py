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
ORIGINAL_PYTHONPATH_ENV = "EVALLINT_VERIFY_ORIGINAL_PYTHONPATH"
STOP_SIGNAL = signal.SIGUSR1
MAX_ERROR_FRAMES = 12


class BudgetStop(BaseException):
    """Raised inside the script when the harness asks it to stop."""


def script_search_path(path: list[str], added: str, original_pythonpath: str | None,
                       site_dirs: list[str]) -> list[str]:
    """The search path without the one entry the harness appended for its own import.

    The same folder stays when the user's PYTHONPATH names it (a checkout on the
    path) or when it is a site directory (evallint installed normally, next to
    torch: Python keeps one copy of a duplicate entry, so removing it would take
    site-packages away from the script).
    """
    user_entries = original_pythonpath.split(os.pathsep) if original_pythonpath else []
    if added in user_entries or added in site_dirs or added not in path:
        return list(path)
    kept = list(path)
    kept.remove(added)
    return kept


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
    original = os.environ.pop(ORIGINAL_PYTHONPATH_ENV, None)
    if added:
        import site

        site_dirs = [*site.getsitepackages(), site.getusersitepackages()]
        sys.path[1:] = script_search_path(sys.path[1:], added, original, site_dirs)
        if original is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = original
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
