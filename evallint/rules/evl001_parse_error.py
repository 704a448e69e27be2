"""EVL001 parse-error: a file that cannot be read or parsed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evallint.rules.base import Rule
from evallint.runtime.judging import CONFIRMED, NOT_REACHED, Judge

if TYPE_CHECKING:
    from evallint.runtime.observations import Observations


def judge(obs: Observations, path: str, line: int) -> tuple[str, str]:
    """The file did not run either: Python raised a syntax error through it; otherwise nothing in it ran."""
    error = obs.error
    if error and error.get("type") in ("SyntaxError", "IndentationError", "TabError") and any(
        f[0] == path for f in error.get("frames", [])
    ):
        return CONFIRMED, f"Python could not run it either: {error['type']}: {error['message']}"
    return NOT_REACHED, "nothing in this file ran"


RULE = Rule(
    code="EVL001",
    name="parse-error",
    summary="A file that cannot be read or parsed is reported, not skipped.",
    fix_safety="none",
    doc='''
## What it does
Reports a file evallint could not read, decode or parse: a syntax error, undecodable bytes, a NUL
byte, a notebook that is not valid JSON, an unreadable path.

## Why is this bad?
A file evallint cannot parse is a file it cannot check. Reporting it keeps a broken or unsupported
file from silently passing the linter, and the rest of the run continues.

## Example
```python
def validate(model, loader)
    ...
```

## Use instead
```python
def validate(model, loader):
    ...
```

## Fix safety
There is no automatic fix.

## Known problems
evallint parses with the grammar of the Python it runs on: syntax newer than that interpreter is
reported as a parse error.
''',
    valid=("x = 1\n",),
    invalid=(),
    check=lambda facts: (),
    judge=Judge(judge),
)
