"""pytest plugin: ``pytest --evallint`` runs the suite under the probes and judge of ``evallint verify``.

Registered through the ``pytest11`` entry point, so every pytest run in an
environment with evallint installed loads this module: it only adds options,
and without ``--evallint`` it does nothing else and imports neither torch nor
the runtime (``evallint.runtime.pytest_session`` does the work).
"""

from __future__ import annotations

import pytest

DEVICES = ("cpu", "cuda", "auto")


def pytest_addoption(parser) -> None:
    group = parser.getgroup("evallint", "evallint: train/eval-mode and autograd-mode bugs, "
                                        "judged while the tests run")
    group.addoption("--evallint", action="store_true", default=False,
                    help="Run the tests under evallint's runtime probes and print, at the end, "
                         "every static finding of the code they ran with its verdict, and the "
                         "bugs seen only at runtime.")
    group.addoption("--evallint-device", choices=DEVICES, default=None,
                    help="cpu hides GPUs from the tests; cuda requires one; auto (the default) "
                         "uses what is there.")
    group.addoption("--evallint-strict", action="store_true", default=False,
                    help="Fail the session when a finding is confirmed or a bug is found at "
                         "runtime.")
    group.addoption("--evallint-report", metavar="FILE", default=None,
                    help="Also write the report as JSON to FILE.")


def pytest_configure(config) -> None:
    enabled = config.getoption("evallint")
    device = config.getoption("evallint_device")
    strict = config.getoption("evallint_strict")
    report = config.getoption("evallint_report")
    if not enabled:
        given = [name for name, value in (("--evallint-device", device),
                                          ("--evallint-strict", strict),
                                          ("--evallint-report", report)) if value]
        if given:
            raise pytest.UsageError(f"{', '.join(given)} needs --evallint.")
        return
    if getattr(config, "workerinput", None) is not None:
        # A pytest-xdist worker: what it observes could never reach the report.
        return
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("--evallint observes the tests in the pytest process itself; "
                                "run it without pytest-xdist's -n.")
    from evallint.runtime.pytest_session import EvallintSession

    config.pluginmanager.register(
        EvallintSession(config, device=device or "auto", strict=strict, report_path=report),
        "evallint-session",
    )
