"""Files are decoded as Python decodes them; a cookie naming a codec that is not installed
(``future_fstrings``) reads as UTF-8 when the bytes are UTF-8, and is EVL001 only otherwise."""

from __future__ import annotations

from click.testing import CliRunner

from evallint.cli import main
from evallint.config import Settings
from evallint.engine import lint_paths

BUG = "def evaluate(model, loader):\n    for x in loader:\n        name = '{text}'; model(x)\n"


def _lint(tmp_path, data: bytes):
    path = tmp_path / "example.py"
    path.write_bytes(data)
    return [(d.code, d.location.row, d.location.column, d.message) for d in
            lint_paths([str(path)], Settings(project_root=str(tmp_path)), jobs=1)]


def _codes(found):
    return {(code, row, column) for code, row, column, _ in found}


# `model(x)` on row 4: after `name = '...'; ` (the column counts characters, not bytes).
EXPECTED = {("EVL101", 4, 25), ("EVL201", 4, 25)}


def test_an_unknown_codec_cookie_reads_utf8(tmp_path):
    source = "# -*- coding: future_fstrings -*-\n" + BUG.format(text="héllo")
    assert _codes(_lint(tmp_path, source.encode("utf-8"))) == EXPECTED


def test_an_unknown_codec_cookie_on_bytes_that_are_not_utf8_is_evl001(tmp_path):
    source = "# -*- coding: future_fstrings -*-\n" + BUG.format(text="héllo")
    [(code, row, _, message)] = _lint(tmp_path, source.encode("latin-1"))
    assert (code, row) == ("EVL001", 1)
    assert "unknown encoding" in message and "not UTF-8" in message


def test_a_utf8_bom_is_read(tmp_path):
    source = "# a comment\n" + BUG.format(text="héllo")
    assert _codes(_lint(tmp_path, b"\xef\xbb\xbf" + source.encode("utf-8"))) == EXPECTED


def test_a_bom_with_an_unknown_codec_cookie_reads_utf8(tmp_path):
    source = "# -*- coding: future_fstrings -*-\n" + BUG.format(text="héllo")
    assert _codes(_lint(tmp_path, b"\xef\xbb\xbf" + source.encode("utf-8"))) == EXPECTED


def test_a_latin1_cookie_is_read_as_latin1(tmp_path):
    source = "# -*- coding: latin-1 -*-\n" + BUG.format(text="héllo")
    assert _codes(_lint(tmp_path, source.encode("latin-1"))) == EXPECTED


def test_a_bom_with_a_latin1_cookie_is_evl001_as_python_says(tmp_path):
    source = "# -*- coding: latin-1 -*-\n" + BUG.format(text="hello")
    [(code, _, _, message)] = _lint(tmp_path, b"\xef\xbb\xbf" + source.encode("latin-1"))
    assert code == "EVL001" and "encoding problem" in message


def test_undecodable_bytes_without_a_cookie_are_evl001(tmp_path):
    [(code, _, _, message)] = _lint(tmp_path, BUG.format(text="h\xe9llo").encode("latin-1"))
    assert code == "EVL001" and "cannot decode" in message


def test_fix_writes_a_file_whose_codec_is_unknown_as_utf8(tmp_path, monkeypatch):
    path = tmp_path / "example.py"
    source = "# -*- coding: future_fstrings -*-\nimport torch\n\ndef evaluate(model, x):\n    model.eval\n    return f'{\"é\"}'\n"
    path.write_bytes(source.encode("utf-8"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["--no-cache", "--fix", "--select", "EVL104", "."])
    assert result.exit_code == 0, result.output
    assert path.read_bytes().decode("utf-8") == source.replace("model.eval\n", "model.eval()\n")
