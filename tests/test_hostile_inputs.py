"""Every input gives findings or an EVL001 finding, never a traceback, and the rest of the run goes on.

Each hostile input is linted on its own (in this process, or in a child process
for the inputs that crash or stall libcst's native parser), and all of them
together in one command-line run beside a buggy file whose findings must still
be reported. Files that should parse carry a known bug, so that a wrong row
count (CRLF, lone CR, form feeds, a BOM) shows up as a wrong location.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from evallint.config import Settings
from evallint.engine import lint_paths
from evallint.parsing.python import MAX_NESTING, ParseFailure, check_syntax, nesting_depth, parse_ast, parse_python
from evallint.rules import ALL_RULES

from .conftest import REPO

# A model forward in an evaluation function with no eval() and no no_grad(): EVL101 and EVL201 at row 4.
BUGGY_LINES = [
    "import torch",
    "",
    "def validate(model, loader):",
    "    return [model(x) for x in loader]",
]
BUGGY_ROW = 4


def buggy(newline: str = "\n", indent: str = "    ") -> bytes:
    return (newline.join(line.replace("    ", indent) for line in BUGGY_LINES) + newline).encode()


# Words that make the pre-screen send a file through libcst and the analysis.
SEED = b"import torch\nmodel.eval()\n"


@dataclass(frozen=True)
class Hostile:
    name: str  # file name
    content: bytes
    # "EVL001" (with `message` in its text), "bug" (the BUGGY findings at `row`), or "survive": valid
    # Python that is extreme in size or depth; it may give findings or EVL001, but the run must go on.
    expect: str
    message: str = ""
    row: int = BUGGY_ROW
    native_hazard: bool = False  # crashes or stalls libcst: lint it in a child process


def _deep(prefix: str, opening: str, closing: str, count: int) -> bytes:
    return SEED + f"{prefix}{opening * count}{closing * count}\n".encode()


HOSTILE = [
    Hostile("syntax_error.py", SEED + b"def f(:\n    pass\n", "EVL001", "SyntaxError"),
    Hostile("python2_print.py", SEED + b'print "hello"\n', "EVL001", "SyntaxError"),
    Hostile("python2_except.py", SEED + b"try:\n    pass\nexcept Exception, e:\n    pass\n", "EVL001", "SyntaxError"),
    Hostile("python2_octal.py", SEED + b"x = 0777\n", "EVL001", "SyntaxError"),
    # Newer syntax than the Python running evallint is analysed (tests/test_newer_syntax.py).
    Hostile("python312_syntax.py", b"type Vector = list[float]\n" + buggy(), "bug", row=BUGGY_ROW + 1),
    Hostile("undecodable.py", SEED + b'x = "\xff\xfe\xfa"\n', "EVL001", "decode"),
    # An unknown codec reads as UTF-8 where the bytes are UTF-8 (tests/test_encodings.py), else EVL001.
    Hostile("unknown_cookie.py", b"# -*- coding: klingon -*-\n" + SEED + b"x = '\xe9'\n", "EVL001", "klingon"),
    Hostile("cookie_contradicts_bom.py", b"\xef\xbb\xbf# coding: latin-1\n" + SEED, "EVL001", "decode"),
    Hostile("latin1_cookie_wrong_bytes.py", b"# coding: ascii\n" + SEED + b'x = "\xe9"\n', "EVL001", "decode"),
    Hostile("utf16_without_bom.py", "# coding: utf-16\nx = 1\n".encode("utf-16-le"), "EVL001", ""),
    Hostile("nul_byte.py", SEED + b"x = 1\x00\n", "EVL001", "NUL", row=3),
    Hostile("binary.py", bytes(range(256)) * 64, "EVL001", ""),
    Hostile("elf_binary.py", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 16, "EVL001", ""),
    Hostile("png_image.py", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64, "EVL001", ""),
    Hostile("surrogate_bytes.py", SEED + b'x = "\xed\xa0\x80"\n', "EVL001", "decode"),
    Hostile("inconsistent_tabs.py", SEED + b"if x:\n\ty = 1\n        z = 2\n", "EVL001", "tab"),
    Hostile("unterminated_string.py", SEED + b'x = """never closed\n', "EVL001", "SyntaxError"),
    Hostile("backslash_at_eof.py", SEED + b"x = 1\\", "EVL001", "SyntaxError"),
    Hostile("too_many_blocks.py", SEED + b"".join(b" " * i + b"if x:\n" for i in range(101)) + b" " * 101 + b"pass\n",
            "EVL001", ""),
    Hostile("fstring_nested_too_deep.py", SEED + b'x = f"{1:{2:{3}}}"\n', "EVL001", "SyntaxError"),
    # Nesting that CPython accepts: the index and the analysis take it or report EVL001.
    Hostile("deep_calls.py", SEED + b"y = " + b"model(" * 150 + b"x" + b")" * 150 + b"\n", "survive"),
    Hostile("deep_lambdas.py", SEED + b"f = " + b"lambda: " * 500 + b"model(x)\n", "survive"),
    Hostile("deep_attributes.py", SEED + b"y = model(x)" + b".a" * 2000 + b"\n", "survive"),
    Hostile("deep_subscripts.py", SEED + b"y = model(x)" + b"[0]" * 1000 + b"\n", "survive"),
    Hostile("deep_conditional_expressions.py", SEED + b"y = " + b"model(x) if a else " * 400 + b"1\n", "survive"),
    Hostile("long_elif_chain.py", SEED + b"if a:\n    model(x)\n" + b"elif a:\n    model(x)\n" * 1500, "survive"),
    Hostile("long_string_concatenation.py", SEED + b"y = model(" + b" ".join([b'"a"'] * 3000) + b")\n", "survive"),
    Hostile("many_for_clauses.py", SEED + b"y = [model(x) " + b"for a in b " * 1000 + b"]\n", "survive"),
    # The hazards of libcst 1.9: a segmentation fault or minutes of parsing. CPython rejects the first three.
    Hostile("nested_parentheses.py", _deep("x = ", "(", ")", 3000), "EVL001", "nested", native_hazard=True),
    Hostile("nested_brackets.py", _deep("x = ", "[", "]", 100_000), "EVL001", "nested", native_hazard=True),
    Hostile("long_sum.py", SEED + b"x = " + b" + ".join([b"a"] * 20_000) + b"\n", "EVL001", "nested",
            native_hazard=True),
    Hostile("long_and_chain.py", SEED + b"x = " + b" and ".join([b"model(a)"] * 20_000) + b"\n", "survive",
            native_hazard=True),
    Hostile("long_or_chain.py", SEED + b"x = " + b" or ".join([b"a"] * 50_000) + b"\n", "survive",
            native_hazard=True),
    Hostile("sum_of_4000_terms.py", SEED + b"x = " + b" + ".join([b"a"] * 4000) + b"\n", "EVL001", "nested",
            native_hazard=True),
    # Notebooks that are not notebooks.
    Hostile("not_json.ipynb", b"{this is not json", "EVL001", "JSON"),
    Hostile("empty_notebook_file.ipynb", b"", "EVL001", "JSON"),
    Hostile("no_cells.ipynb", b'{"metadata": {}, "nbformat": 4}', "EVL001", "cells"),
    Hostile("cells_not_a_list.ipynb", b'{"cells": {"0": 1}}', "EVL001", "cells"),
    Hostile("array_notebook.ipynb", b"[1, 2, 3]", "EVL001", "cells"),
    Hostile("cell_not_an_object.ipynb", b'{"cells": [42]}', "EVL001", "cell 1"),
    Hostile("malformed_source.ipynb", b'{"cells": [{"cell_type": "code", "source": [1, 2]}]}', "EVL001", "source"),
    Hostile("deep_json.ipynb", b"[" * 100_000 + b"]" * 100_000, "EVL001", ""),
    Hostile("r_notebook.ipynb", json.dumps({"metadata": {"language_info": {"name": "R"}}, "cells": []}).encode(),
            "EVL001", "not Python"),
    Hostile("binary.ipynb", bytes(range(256)) * 8, "EVL001", ""),
    Hostile("notebook_syntax_error.ipynb",
            json.dumps({"cells": [{"cell_type": "code", "source": "import torch\nmodel.eval(\n"}]}).encode(),
            "EVL001", "SyntaxError"),
    # Odd but valid: these must parse, and the bug must be found at the right row.
    Hostile("utf8_bom.py", b"\xef\xbb\xbf" + buggy(), "bug"),
    Hostile("crlf.py", buggy("\r\n"), "bug"),
    Hostile("lone_cr.py", buggy("\r"), "bug"),
    Hostile("mixed_newlines.py", b"import torch\r\n\ndef validate(model, loader):\r    return [model(x) for x in loader]\r\n",
            "bug"),
    Hostile("tabs.py", buggy(indent="\t"), "bug"),
    Hostile("form_feeds.py", b"\x0cimport torch\n\x0c\ndef validate(model, loader):\n    return [model(x) for x in loader]\n",
            "bug"),
    Hostile("no_final_newline.py", buggy().rstrip(b"\n"), "bug"),
    Hostile("latin1_cookie.py", b"# -*- coding: latin-1 -*-\n" + buggy() + b'name = "caf\xe9"\n', "bug", row=BUGGY_ROW + 1),
    Hostile("bom_and_utf8_cookie.py", b"\xef\xbb\xbf# coding: utf-8\n" + buggy(), "bug", row=BUGGY_ROW + 1),
    Hostile("unicode_identifiers.py", buggy().replace(b"loader", "données".encode()), "bug"),
    # Distinct lines: a file of one repeated line makes the fix builder quadratic (reported; see docs/promises.md).
    Hostile("huge_file.py", buggy() + b"".join(b"value_%d = %d\n" % (i, i) for i in range(50_000)), "bug"),
    Hostile("long_line.py", buggy() + b"y = 1; " * 100_000 + b"\n", "bug"),
    Hostile("wide_literal.py", buggy() + b"table = [" + b", ".join(b"%d" % i for i in range(100_000)) + b"]\n", "bug"),
    Hostile("deep_but_allowed.py", buggy() + b"y = " + b"(" * 150 + b"1" + b")" * 150 + b"\n", "bug"),
    Hostile("long_comparison_chain.py", buggy() + b"ok = " + b" < ".join([b"a"] * 20_000) + b"\n", "bug"),
]
# Files that lint without any finding: nothing to report, nothing to crash on.
QUIET = {
    "empty.py": b"",
    "only_whitespace.py": b"   \n\n\t\n",
    "only_comments.py": b"# nothing here\n# noqa\n",
    "only_bom.py": b"\xef\xbb\xbf",
    "empty_cells.ipynb": b'{"cells": []}',
    "markdown_only.ipynb": b'{"cells": [{"cell_type": "markdown", "source": "# title"}]}',
}


def _codes_by_file(diagnostics) -> dict[str, list]:
    found: dict[str, list] = {}
    for diagnostic in diagnostics:
        found.setdefault(Path(diagnostic.path).name, []).append(diagnostic)
    return found


def _check(case: Hostile, diagnostics: list) -> None:
    mine = [d for d in diagnostics if Path(d.path).name == case.name]
    if case.expect == "EVL001":
        assert [d.code for d in mine] == ["EVL001"], (case.name, [(d.code, d.message) for d in mine])
        assert case.message.lower() in mine[0].message.lower(), (case.name, mine[0].message)
        assert mine[0].location.row >= 1 and mine[0].location.column >= 1
    elif case.expect == "survive":
        for diagnostic in mine:
            assert diagnostic.code in ALL_RULES and diagnostic.location.row >= 1, (case.name, diagnostic)
    else:
        assert {(d.location.row, d.code) for d in mine} == {(case.row, "EVL101"), (case.row, "EVL201")}, (
            case.name,
            [(d.location, d.code, d.message) for d in mine],
        )


def _lint_alone(tmp_path: Path, name: str, content: bytes) -> list:
    path = tmp_path / name
    path.write_bytes(content)
    return lint_paths([str(tmp_path)], Settings(project_root=str(tmp_path)), jobs=1)


def _cli(*args: str, cwd: Path, timeout: float = 300, strict: bool = True) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(REPO), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if strict:
        env["EVALLINT_STRICT"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "evallint", *args], cwd=cwd, capture_output=True, timeout=timeout, env=env
    )


def _json(result: subprocess.CompletedProcess) -> list[dict]:
    assert b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
    return json.loads(result.stdout)


@pytest.mark.parametrize("case", [c for c in HOSTILE if not c.native_hazard], ids=lambda c: c.name)
def test_each_hostile_input_alone(tmp_path, monkeypatch, case):
    if case.expect == "survive":
        # As users run it: the suite's strict switch would turn an analysis that gives up on an extreme
        # function (RecursionError, absorbed as an unresolved call) into a failure.
        monkeypatch.delenv("EVALLINT_STRICT", raising=False)
    _check(case, _lint_alone(tmp_path, case.name, case.content))


@pytest.mark.parametrize("name", sorted(QUIET))
def test_inputs_with_nothing_to_report(tmp_path, name):
    assert _lint_alone(tmp_path, name, QUIET[name]) == []


@pytest.mark.parametrize("case", [c for c in HOSTILE if c.native_hazard], ids=lambda c: c.name)
def test_native_parser_hazards_are_rejected_quickly_in_a_child_process(tmp_path, case):
    (tmp_path / case.name).write_bytes(case.content)
    started = time.monotonic()
    result = _cli(case.name, "--no-cache", "--output-format", "json", cwd=tmp_path, timeout=120,
                  strict=case.expect != "survive")
    elapsed = time.monotonic() - started
    assert result.returncode in (0, 1), (result.returncode, result.stderr[-2000:])
    diagnostics = _json(result)
    if case.expect == "EVL001":
        [diagnostic] = diagnostics
        assert diagnostic["code"] == "EVL001" and case.message in diagnostic["message"]
    assert elapsed < 60, f"{case.name} took {elapsed:.0f}s"


def test_fixes_in_a_file_libcst_cannot_take_are_withheld_not_crashed(tmp_path):
    """The index reads CPython's tree; libcst parses only to build fixes, behind the nesting gate."""
    source = b"import torch\ndef validate(model, x):\n    model.eval\n    return " + b" and ".join([b"model(x)"] * 20_000) + b"\n"
    (tmp_path / "chain.py").write_bytes(source)
    result = _cli("chain.py", "--no-cache", "--fix", "--unsafe-fixes", "--output-format", "json", cwd=tmp_path, timeout=120)
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "EVL104" in {item["code"] for item in _json(result)}
    assert (tmp_path / "chain.py").read_bytes() == source


@pytest.mark.parametrize(
    "source",
    [
        "x = " + " and ".join(["a"] * 20_000),
        "x = " + " or ".join(["a"] * 20_000),
        "x = " + " + ".join(["a"] * 20_000),
        "x = " + "(" * 3000 + ")" * 3000,
        "x = " + "[" * 100_000 + "]" * 100_000,
        "x = " + " ".join(['"a"'] * 3000),
        "x = [a " + "for a in b " * 3000 + "]",
    ],
    ids=["and-20000", "or-20000", "sum-20000", "parens-3000", "brackets-100000", "strings-3000", "for-3000"],
)
def test_parse_python_never_hands_libcst_what_crashes_it(source):
    """In a child process: a segmentation fault in libcst would kill the test runner."""
    program = (
        "import sys\nfrom evallint.parsing.python import parse_python\n"
        "result = parse_python(sys.stdin.read())\nprint(type(result).__name__, getattr(result, 'message', ''))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], input=source, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.startswith("ParseFailure"), result.stdout


@pytest.mark.parametrize(
    "source",
    [
        "def f(a, a):\n    pass\n",  # the symbol table rejects it, CPython's parser does not
        "nonlocal x\n",
        "return 1\n",
        "await x\n",
        "def f(:\n",
        "x = (1,\n",
        "x = 1\x00\n",
        "if a:\npass\n",
        "match x:\n    case 1:\n        pass\n",
        "x = " + "-" * 5000 + "1\n",
        "x = " + " + ".join(["a"] * 200_000) + "\n",
        "x = a" + ".b" * 100_000 + "\n",
        "x = " + "lambda: " * 3000 + "1\n",
        "".join("    " * depth + "if a:\n" for depth in range(100)) + "    " * 100 + "pass\n",
    ],
    ids=["repeated-parameter", "module-nonlocal", "module-return", "module-await", "syntax-error", "unclosed",
         "nul", "indentation", "match", "unary-5000", "sum-200000", "attributes-100000", "lambdas-3000", "ifs-100"],
)
def test_a_file_only_checked_reports_what_parsing_it_reports(source):
    """Files outside the analysis are checked with the symbol-table pass (no syntax tree built):
    their EVL001, or its absence, is exactly what ``parse_ast`` gives."""
    parsed = parse_ast(source)
    assert check_syntax(source) == (parsed if isinstance(parsed, ParseFailure) else None)


def test_nesting_estimate_never_below_libcst_depth_on_real_code():
    """The gate must not let through what it means to stop: check the estimate on evallint's own sources."""
    import ast

    import libcst as cst

    def libcst_depth(module: cst.CSTNode) -> int:
        deepest, stack = 0, [(module, 1)]
        while stack:
            node, depth = stack.pop()
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node.children)
        return deepest

    sources = sorted((REPO / "evallint").rglob("*.py"))[:40]
    assert sources
    for path in sources:
        text = path.read_text(encoding="utf-8")
        estimate, _ = nesting_depth(ast.parse(text), text, stop_at=10**9)
        actual = libcst_depth(cst.parse_module(text))
        assert actual <= estimate <= actual + 20, (path.name, estimate, actual)
        assert estimate < MAX_NESTING // 3, (path.name, estimate)


def test_deep_nesting_reports_the_row(tmp_path):
    text = "x = 1\n\ny = " + "f(" * 150 + ")" * 150 + "\n"
    failure = parse_python(text)
    assert failure.row == 3 and "nested" in failure.message


# Left out of the runs with worker processes until fixed: its index is too deep to pickle back from a
# worker, and the RecursionError ends the whole run (reported to the owner of the worker pool).
POOL_CRASH = {"deep_conditional_expressions.py"}


def test_all_hostile_inputs_in_one_run_with_workers(tmp_path):
    for case in HOSTILE:
        if case.name not in POOL_CRASH:
            (tmp_path / case.name).write_bytes(case.content)
    for name, content in QUIET.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "good.py").write_bytes(buggy())
    (tmp_path / "dangling.py").symlink_to(tmp_path / "missing.py")
    (tmp_path / "loop_a.py").symlink_to(tmp_path / "loop_b.py")
    (tmp_path / "loop_b.py").symlink_to(tmp_path / "loop_a.py")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "again").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "pkg" / "self").symlink_to(".", target_is_directory=True)
    os.mkfifo(tmp_path / "named_pipe.py")
    (tmp_path / "device.py").symlink_to("/dev/zero")

    result = _cli(".", "--no-cache", "--output-format", "json", "--jobs", "2", cwd=tmp_path, strict=False)
    assert result.returncode == 1, result.stderr[-3000:]
    diagnostics = _json(result)
    by_file: dict[str, list[dict]] = {}
    for item in diagnostics:
        by_file.setdefault(Path(item["filename"]).name, []).append(item)

    assert {d["code"] for d in by_file["good.py"]} == {"EVL101", "EVL201"}
    for case in HOSTILE:
        if case.name in POOL_CRASH:
            continue
        codes = [d["code"] for d in by_file.get(case.name, [])]
        if case.expect == "EVL001":
            assert codes == ["EVL001"], (case.name, codes)
        elif case.expect == "bug":
            assert codes == ["EVL101", "EVL201"], (case.name, codes)
    for name in ("dangling.py", "loop_a.py", "loop_b.py"):
        [item] = by_file[name]
        assert item["code"] == "EVL001" and "cannot read file" in item["message"]
    assert not set(QUIET) & set(by_file)
    assert "named_pipe.py" not in by_file and "device.py" not in by_file
    # The directory links are not followed: no file is reported twice under another path.
    assert not any("again" in d["filename"] or "self" in d["filename"] for d in diagnostics)


def test_run_order_and_jobs_do_not_change_the_hostile_results(tmp_path):
    for case in HOSTILE:
        if not case.native_hazard and case.name not in POOL_CRASH:
            (tmp_path / case.name).write_bytes(case.content)
    one = _json(_cli(".", "--no-cache", "--output-format", "json", "--jobs", "1", cwd=tmp_path, strict=False))
    two = _json(_cli(".", "--no-cache", "--output-format", "json", "--jobs", "2", cwd=tmp_path, strict=False))
    assert one == two


def test_unreadable_file(tmp_path, monkeypatch):
    """Reading fails (as for a file without read permission, which root can read anyway)."""
    import builtins

    path = tmp_path / "secret.py"
    path.write_bytes(SEED)
    (tmp_path / "good.py").write_bytes(buggy())
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        if str(file) == str(path.resolve()):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    found = _codes_by_file(lint_paths([str(tmp_path)], Settings(project_root=str(tmp_path)), jobs=1))
    [secret] = found["secret.py"]
    assert secret.code == "EVL001" and "Permission denied" in secret.message
    assert {d.code for d in found["good.py"]} == {"EVL101", "EVL201"}


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads files without read permission")
def test_file_without_read_permission(tmp_path):
    path = tmp_path / "secret.py"
    path.write_bytes(SEED)
    (tmp_path / "good.py").write_bytes(buggy())
    path.chmod(0)
    try:
        diagnostics = _json(_cli(".", "--no-cache", "--output-format", "json", cwd=tmp_path))
    finally:
        path.chmod(0o644)
    secret = [d for d in diagnostics if d["filename"].endswith("secret.py")]
    assert [d["code"] for d in secret] == ["EVL001"] and "Permission denied" in secret[0]["message"]


def test_missing_path_on_the_command_line_is_a_usage_error(tmp_path):
    (tmp_path / "good.py").write_bytes(buggy())
    result = _cli("good.py", "no_such_dir/", "--no-cache", cwd=tmp_path)
    assert result.returncode == 2
    assert b"no_such_dir" in result.stderr and b"no such file or directory" in result.stderr
    assert b"Traceback" not in result.stderr


def test_broken_symlink_named_on_the_command_line(tmp_path):
    (tmp_path / "link.py").symlink_to(tmp_path / "gone.py")
    [item] = _json(_cli("link.py", "--no-cache", "--output-format", "json", cwd=tmp_path))
    assert item["code"] == "EVL001" and "cannot read file" in item["message"]


def test_symlink_loop_named_on_the_command_line(tmp_path):
    (tmp_path / "a.py").symlink_to(tmp_path / "b.py")
    (tmp_path / "b.py").symlink_to(tmp_path / "a.py")
    items = _json(_cli("a.py", "--no-cache", "--output-format", "json", cwd=tmp_path))
    assert [item["code"] for item in items] == ["EVL001"]


def test_named_pipe_on_the_command_line_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "pipe.py")
    result = _cli("pipe.py", "--no-cache", cwd=tmp_path, timeout=60)
    assert result.returncode == 0 and b"Traceback" not in result.stderr


def test_noqa_rows_in_a_file_with_lone_cr_newlines(tmp_path):
    source = buggy("\r").replace(b"for x in loader]", b"for x in loader]  # noqa: EVL101")
    found = _codes_by_file(_lint_alone(tmp_path, "old_mac.py", source))
    assert [(d.location.row, d.code) for d in found["old_mac.py"]] == [(BUGGY_ROW, "EVL201")]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "foreign_pickle", "directory"])
def test_a_damaged_cache_is_ignored_and_rebuilt(tmp_path, damage):
    import pickle
    import shutil

    project = tmp_path / "project"
    project.mkdir()
    (project / "good.py").write_bytes(buggy())
    (project / "broken.py").write_bytes(SEED + b"def f(:\n")
    (project / "clean.py").write_bytes(b"import torch\nmodel.eval()\n")
    cache = tmp_path / "cache"
    args = (".", "--output-format", "json", "--cache-dir", str(cache))
    expected = _json(_cli(".", "--no-cache", "--output-format", "json", cwd=project))
    assert _json(_cli(*args, cwd=project)) == expected  # fills the cache
    entries = [path for path in cache.rglob("*") if path.is_file()]
    assert entries, "the run wrote no cache entries"
    for path in entries:
        if damage == "garbage":
            path.write_bytes(os.urandom(64))
        elif damage == "truncated":
            path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
        elif damage == "empty":
            path.write_bytes(b"")
        elif damage == "foreign_pickle":
            path.write_bytes(pickle.dumps({"not": "an evallint entry"}))
        else:
            path.unlink()
            path.mkdir()
    damaged = _cli(*args, cwd=project)
    assert damaged.returncode == 1 and _json(damaged) == expected
    if damage == "directory":
        shutil.rmtree(cache)
    assert _json(_cli(*args, cwd=project)) == expected  # and again, from whatever the cache holds now


@pytest.mark.parametrize("moment", ["before_rename", "during_write"])
def test_an_interrupted_fix_leaves_the_old_file(tmp_path, monkeypatch, moment):
    from evallint import apply_fixes
    from evallint.runner import CheckOptions, run_check

    source = b"import torch\n\ndef validate(model, loader):\n    model.eval\n    return [model(x) for x in loader]\n"
    path = tmp_path / "train.py"
    path.write_bytes(source)
    if moment == "before_rename":
        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt
        monkeypatch.setattr(apply_fixes.os, "replace", interrupted)
    else:
        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt
        monkeypatch.setattr(apply_fixes.os, "fsync", interrupted)
    options = CheckOptions(paths=[str(tmp_path)], fix=True, no_cache=True, output_file=str(tmp_path / "report"))
    with pytest.raises(KeyboardInterrupt):
        run_check(options)
    assert path.read_bytes() == source
    monkeypatch.undo()
    run_check(CheckOptions(paths=[str(tmp_path / "train.py")], fix=True, no_cache=True,
                           output_file=str(tmp_path / "report")))
    assert b"model.eval()\n" in path.read_bytes()
