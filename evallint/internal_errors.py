"""Internal errors: a bug of evallint's met while reading one file or analysing one function.

Such an error is contained where it happens: that file or function becomes unknown to the
analysis (as an unresolved call is), every other finding is still reported, the user gets
one line per error on stderr, and the run exits 2 (never 1, which means "findings").
In evallint's own tests (``evallint.strict``) the error is raised instead, so it gets fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

ISSUES_URL = "https://github.com/evallint/evallint/issues"


@dataclass(frozen=True)
class InternalError:
    step: str  # what evallint was doing: "reading", "analysing", "checking", ...
    file: str | None  # display path; None for a step over the whole project
    function: str | None  # qualified name within the file
    error: str  # the exception, as "TypeError: message"

    def line(self) -> str:
        where = self.file or "the project"
        if self.function is not None:
            where += f", function {self.function}"
        return (
            f"evallint: internal error while {self.step} {where}: {self.error}. "
            f"That part was skipped; everything else was checked. Please report this at {ISSUES_URL}"
        )


def describe(error: BaseException) -> str:
    text = str(error)
    if len(text) > 200:
        text = text[:200] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def unique(errors) -> list[InternalError]:
    """Each error once, in first-seen order (a function walked from two root groups fails twice)."""
    return list(dict.fromkeys(errors))
