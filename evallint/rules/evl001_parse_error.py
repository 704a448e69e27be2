"""EVL001 parse-error: a file that cannot be read or parsed."""

from evallint.rules.base import Rule

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
)
