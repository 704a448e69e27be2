"""The lint path never imports torch (it costs over a second); only `evallint verify` does."""

from __future__ import annotations

import subprocess
import sys

from .conftest import FIXTURES, REPO


def test_linting_the_fixtures_does_not_import_torch():
    code = (
        "import sys\n"
        "from evallint.cli import main\n"
        f"sys.argv = ['evallint', {str(FIXTURES)!r}, '--exit-zero', '--no-cache', '-q']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "print('TORCH:', loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "TORCH: []" in result.stdout


def test_a_run_without_fixes_to_build_does_not_import_libcst(tmp_path):
    # libcst takes a tenth of a second to import; only fixes need it. A clean project has none.
    (tmp_path / "train.py").write_text(
        "import torch\n\n\ndef evaluate(model, loader):\n    model.eval()\n    with torch.no_grad():\n"
        "        return [model(x) for x in loader]\n",
        encoding="utf-8",
    )
    code = (
        "import sys\n"
        "from evallint.cli import main\n"
        f"sys.argv = ['evallint', {str(tmp_path)!r}, '--no-cache', '-q']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0, exit.code\n"
        "print('LIBCST:', 'libcst' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "LIBCST: False" in result.stdout
