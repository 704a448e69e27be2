"""What a lint run imports: never torch (it costs over a second; only `evallint verify` needs it),
and libcst only when a fix is built or planned, and then on the whole file only to build edits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import FIXTURES, REPO


def _modules_loaded_by_a_run(path: Path, *options: str) -> set[str]:
    """The modules a clean process holds after `evallint PATH OPTIONS` (which must exit 0)."""
    code = (
        "import sys\n"
        "from evallint.cli import main\n"
        f"sys.argv = ['evallint', {str(path)!r}, '--no-cache', '-q', *{list(options)!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "print('MODULES:', ' '.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("MODULES: "))
    return set(line.split()[1:])


def test_linting_the_fixtures_does_not_import_torch():
    loaded = _modules_loaded_by_a_run(FIXTURES, "--exit-zero")
    assert "evallint.analysis.driver" in loaded
    assert not {name for name in loaded if name == "torch" or name.startswith("torch.")}


def test_a_run_without_fixes_to_build_does_not_import_libcst(tmp_path):
    # libcst takes a tenth of a second to import; only fixes need it. A clean project has none.
    (tmp_path / "train.py").write_text(
        "import torch\n\n\ndef evaluate(model, loader):\n    model.eval()\n    with torch.no_grad():\n"
        "        return [model(x) for x in loader]\n",
        encoding="utf-8",
    )
    loaded = _modules_loaded_by_a_run(tmp_path)
    assert "evallint.analysis.driver" in loaded
    assert "libcst" not in loaded


def _sources_parsed_with_libcst(path: Path, *options: str, quiet: bool = True) -> list[int]:
    """The length of each text `evallint PATH OPTIONS` parses with libcst (which must exit 0)."""
    code = (
        "import sys\n"
        "import evallint.parsing.python as python\n"
        "parsed = []\n"
        "original = python.parse_python\n"
        "python.parse_python = lambda text: (parsed.append(len(text)), original(text))[1]\n"
        "from evallint.cli import main\n"
        f"sys.argv = ['evallint', {str(path)!r}, '--no-cache', *{['-q'] if quiet else []!r}, *{list(options)!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "print('PARSED:', *parsed)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("PARSED:"))
    return [int(n) for n in line.split()[1:]]


def test_only_the_formats_that_write_fix_edits_build_unsafe_fixes(tmp_path):
    # An unsafe fix's edits need libcst's parse of the whole file and a rewrite of it per fix: the
    # formats that only name the fix or count it (the default, full, GitHub annotations, JUnit)
    # plan it instead, on the top-level statement around its finding (libcst parses that alone);
    # the default without its summary (`-q`) shows nothing of it, and neither builds nor plans it.
    source = (
        "import torch\n\nSIZES = [1, 2, 3]\n\n\ndef evaluate(model, loader):\n    model.eval()\n"
        "    return [model(x) for x in loader]\n"
    )
    (tmp_path / "evaluate.py").write_text(source, encoding="utf-8")
    statement = len("def evaluate(model, loader):\n    model.eval()\n    return [model(x) for x in loader]\n")
    assert _sources_parsed_with_libcst(tmp_path, "--exit-zero", quiet=False) == [statement]
    assert _sources_parsed_with_libcst(tmp_path, "--exit-zero") == []
    for output_format in ("full", "github", "junit"):
        parsed = _sources_parsed_with_libcst(tmp_path, "--exit-zero", "--output-format", output_format)
        assert parsed == [statement], output_format
    for output_format in ("json", "json-lines", "sarif"):
        parsed = _sources_parsed_with_libcst(tmp_path, "--exit-zero", "--output-format", output_format)
        assert parsed == [len(source)], output_format
