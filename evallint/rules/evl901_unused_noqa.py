"""EVL901 unused-noqa: a `# noqa` code that suppresses nothing, or names no rule (off by default).

It reads the suppressions and what they hid, not the analysis' facts: the report stage
(``evallint.reporting``) calls ``unused_noqa`` once a file's findings are known.
"""

from __future__ import annotations

from evallint.rules.base import Rule
from evallint.suppression import NoqaComment, Suppressions
from evallint.types import Diagnostic, Edit, Fix, Location

CODE = "EVL901"


def unused_noqa(
    path: str,
    lines: list[str],
    suppressions: Suppressions,
    used: set[tuple[int, str]],
    enabled: frozenset[str],
    known: frozenset[str],
    locate=None,
) -> list[Diagnostic]:
    """One diagnostic per `# noqa: ...` with evallint codes that hid nothing. ``used``: (row, code)
    of the findings the line directives hid; ``locate``: a notebook's joined row -> (cell, row)."""
    diagnostics = []
    for comment in suppressions.comments:
        if comment.codes is None:
            continue  # a blanket `# noqa` may be for other tools: left alone
        ours = [code for code in comment.codes if code.startswith("EVL")]
        unknown = [code for code in ours if code not in known]
        disabled = [code for code in ours if code in known and code not in enabled]
        unused = [code for code in ours if code in enabled and (comment.row, code) not in used]
        if not (unknown or disabled or unused):
            continue
        parts = []
        if unused:
            parts.append("unused: " + ", ".join(f"`{c}`" for c in unused))
        if unknown:
            parts.append("unknown: " + ", ".join(f"`{c}`" for c in unknown))
        if disabled:
            parts.append("non-enabled: " + ", ".join(f"`{c}`" for c in disabled))
        line = lines[comment.row - 1] if comment.row - 1 < len(lines) else ""
        edit = _removal(line, comment, {*unknown, *disabled, *unused}, comment.row)
        cell, row = (None, comment.row)
        if locate is not None:
            cell, row = locate(comment.row)
            edit = Edit(edit.content, Location(row, edit.location.column), Location(row, edit.end_location.column))
        fix = Fix("safe", "Remove the unused codes" if len(ours) > len(unknown + disabled + unused) else
                  "Remove the `noqa` directive", (edit,))
        start, end = Location(row, comment.start + 1), Location(row, comment.end + 1)
        message = f"Unused `noqa` directive ({'; '.join(parts)})"
        diagnostics.append(Diagnostic(CODE, message, path, start, end, fix, cell))
    return diagnostics


def _removal(line: str, comment: NoqaComment, dropped: set[str], row: int) -> Edit:
    kept = [code for code in comment.codes or () if code not in dropped]
    if kept:
        return Edit(f"# noqa: {', '.join(kept)}", Location(row, comment.start + 1), Location(row, comment.end + 1))
    # The whole directive goes, with the spaces before it.
    start = len(line[: comment.start].rstrip(" \t"))
    return Edit("", Location(row, start + 1), Location(row, comment.end + 1))


RULE = Rule(
    code=CODE,
    name="unused-noqa",
    summary="A `# noqa` code that suppresses nothing on its line, or that names no evallint rule.",
    fix_safety="safe",
    doc='''
## What it does
Reports the evallint codes of a `# noqa: ...` directive that hide no finding on their line: the
finding was fixed or moved, the code is not a rule (`EVL1` is not a code: `noqa` takes whole
codes, as ruff's does), or the rule is not selected. Off by default: enable it with
`--extend-select EVL901` (or `extend-select = ["EVL901"]`).

## Why is this bad?
A stale `noqa` hides the next real finding on that line, and a misspelled code hides nothing
while the reader believes it does.

## Example
```python
def train_step(model, batch):
    return model(batch)  # noqa: EVL101
```

## Use instead
```python
def train_step(model, batch):
    return model(batch)
```

## Fix safety
The fix is safe: it removes only the codes that suppress nothing (the whole directive when none
is left), and keeps the codes of other tools (`# noqa: E501`) and blanket `# noqa` comments.

## Known problems
A code of a rule that is not selected in this run is reported as non-enabled, even when another
run (with other settings) needs it. File-level `# evallint: noqa: ...` directives are not checked.
''',
    valid=(
        '''
        def validate(model, loader):
            for x in loader:
                model(x)  # noqa: EVL101, EVL201
        ''',
        '''
        value = compute()  # noqa: E501
        ''',
    ),
    invalid=(
        '''
        def train_step(model, batch):
            return model(batch)  # noqa: EVL101  # EVL901
        ''',
        '''
        def validate(model, loader):
            for x in loader:
                model(x)  # noqa: EVL101, EVL201, EVL1  # EVL901
        ''',
    ),
    check=lambda facts: (),
    default_enabled=False,
)
