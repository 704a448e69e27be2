"""Entry point of the child process: install the probes, then run the script as ``python SCRIPT ARGS`` would.

Invoked by the harness as ``python -m evallint.runtime.bootstrap SCRIPT [ARGS...]``
with ``EVALLINT_VERIFY_RECORDS`` naming the record file. ``SIGUSR1`` from the
harness asks for a clean stop (every finding has a verdict, or the timeout is
near): it raises ``BudgetStop`` in the main thread, which ``except Exception``
in the script does not catch, so pending BatchNorm passes are measured and the
``end`` record is written before the process exits. ``EVALLINT_VERIFY_MAX_STEPS``
stops the script the same way, from inside, exactly when it would start one
training step more than allowed. A notebook runs its code cells in order, in
one namespace, as "Run All" does.
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
MAX_STEPS_ENV = "EVALLINT_VERIFY_MAX_STEPS"
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


class StepLimit:
    """Raises ``BudgetStop`` where the script would begin training step ``limit + 1``.

    A training step is an optimizer step; in a script that makes no optimizer
    (weights updated by hand) it is a ``backward()`` call, as in the report.
    Both checks run before the probes see the call, so the step that is
    refused is neither recorded nor counted: ``install_before_probes`` goes
    first, ``install_after_probes`` wraps the probes' ``backward``.
    """

    def __init__(self, probes, limit: int) -> None:
        self.probes = probes
        self.limit = limit
        self.made_optimizer = False

    def install_before_probes(self) -> None:
        import torch
        from torch.optim.optimizer import register_optimizer_step_pre_hook

        original_init = torch.optim.Optimizer.__init__
        limit = self

        def init(optimizer, *args, **kwargs):
            limit.made_optimizer = True
            return original_init(optimizer, *args, **kwargs)

        torch.optim.Optimizer.__init__ = init
        # Global step hooks run in the order they were registered.
        register_optimizer_step_pre_hook(self._before_step)

    def install_after_probes(self) -> None:
        import torch

        inner_backward = torch.autograd.backward
        limit = self

        def backward(*args, **kwargs):
            if not limit.made_optimizer and limit.probes.backward_count >= limit.limit:
                raise BudgetStop()
            return inner_backward(*args, **kwargs)

        backward.__wrapped__ = inner_backward  # type: ignore[attr-defined]
        torch.autograd.backward = backward

    def _before_step(self, optimizer, args, kwargs):
        if self.probes.step_count >= self.limit:
            raise BudgetStop()
        return None


def run_notebook(path: str) -> None:
    """Run the notebook's code cells in order, each compiled under its own cell name."""
    import builtins
    import linecache
    import types

    from evallint.runtime.cells import cell_filename, code_cells

    with open(path, "rb") as handle:
        cells = code_cells(handle.read())
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    for number, source in cells:
        filename = cell_filename(path, number)
        # Tracebacks quote the cell's lines, as IPython's do.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(source, filename, "exec"), module.__dict__)


def _script_traceback(tb):
    """The traceback from the script's first frame on, as ``python SCRIPT`` prints it."""
    import runpy

    # runpy's frames are named by its code objects ("<frozen runpy>" when it is frozen).
    own = {main.__code__.co_filename, runpy.run_path.__code__.co_filename}
    first = tb
    while first is not None and first.tb_frame.f_code.co_filename in own:
        first = first.tb_next
    return first


def main() -> int:
    if len(sys.argv) < 2 or RECORDS_ENV not in os.environ:
        print("evallint.runtime.bootstrap is started by `evallint verify`", file=sys.stderr)
        return 2
    # `python SCRIPT` runs the script under its absolute path: a script that
    # changes directory still finds its own frames.
    script = os.path.abspath(sys.argv[1])
    fd = os.open(os.environ[RECORDS_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    # The harness put evallint on the path for this import only; the script
    # must see the sys.path that `python SCRIPT` would give it.
    from evallint.runtime.hooks import Probes
    from evallint.runtime.writer import RecordWriter

    notebook = script.endswith(".ipynb")
    if notebook:
        import evallint.parsing.notebook  # noqa: F401  (imported while evallint is on the path)
        import evallint.runtime.cells  # noqa: F401

    added = os.environ.pop(PATH_ENV, None)
    original = os.environ.pop(ORIGINAL_PYTHONPATH_ENV, None)
    max_steps = os.environ.pop(MAX_STEPS_ENV, None)
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
    step_limit = StepLimit(probes, int(max_steps)) if max_steps is not None else None
    if step_limit is not None:
        step_limit.install_before_probes()
    probes.install()
    if step_limit is not None:
        step_limit.install_after_probes()
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
        if notebook:
            run_notebook(script)
        else:
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
        traceback.print_exception(type(exc), exc, _script_traceback(exc.__traceback__))
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
