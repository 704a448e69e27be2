"""The pre-screen skips only files that cannot matter: results with it on and off are identical."""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evallint import prescreen
from evallint.analysis.names import identifier_words
from evallint.config import Settings
from evallint.engine import run
from evallint.indexing import index_files
from evallint.discovery import SourcePath, discover

from .conftest import FIXTURES, REPO

PROJECTS = sorted(p for p in (REPO / "tests" / "projects").iterdir() if p.is_dir())


def _diagnostics(path: Path, screen: bool):
    settings = Settings(project_root=str(path))
    return [(d.path, d.location, d.code, d.message) for d in run([str(path)], settings, jobs=1, prescreen=screen).diagnostics]


@pytest.mark.parametrize("path", [FIXTURES, *PROJECTS], ids=lambda p: p.name)
def test_results_are_identical_with_and_without_the_prescreen(path):
    assert _diagnostics(path, True) == _diagnostics(path, False)


def test_every_evidence_name_of_the_analysis_contains_a_seed_word():
    # A name the analysis treats as evidence must make its file a seed, or the screen could skip it.
    for name in prescreen.evidence_names():
        assert set(identifier_words(name)) & prescreen.SEED_WORDS, name


def _write(tmp_path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def _indexed(tmp_path: Path) -> dict[str, bool]:
    settings = Settings(project_root=str(tmp_path))
    sources = discover([str(tmp_path)], settings)
    return {Path(r.absolute).name: r.index is not None for r in index_files(sources, jobs=1, settings=settings)}


# A seed (train.py), a file it needs (helpers.py) and one nothing reaches (strings.py).
SCREENED_PROJECT = {
    "train.py": """
        from helpers import run_batch

        def fit(model, loader, opt):
            for x in loader:
                run_batch(model, x).backward()
                opt.step()
    """,
    "helpers.py": "def run_batch(net, x):\n    return net(x).sum()\n",
    "strings.py": "def shout(text):\n    return text.upper()\n",
}


def test_files_without_evidence_and_unreachable_are_not_parsed(tmp_path):
    _write(tmp_path, SCREENED_PROJECT)
    assert _indexed(tmp_path) == {"train.py": True, "helpers.py": True, "strings.py": False}


def test_a_caller_of_a_relevant_function_is_parsed(tmp_path):
    _write(
        tmp_path,
        {
            "loop.py": "def validate(model, data):\n    return [model(x) for x in data]\n",
            "main.py": "from loop import validate\n\ndef run(net, data):\n    return validate(net, data)\n",
        },
    )
    assert _indexed(tmp_path) == {"loop.py": True, "main.py": True}


def test_a_screened_file_with_a_syntax_error_still_reports_evl001(tmp_path):
    _write(tmp_path, {"broken.py": "def shout(text:\n    return text\n", "fine.py": "X = 1\n"})
    diagnostics = run([str(tmp_path)], Settings(project_root=str(tmp_path)), jobs=1).diagnostics
    assert [(Path(d.path).name, d.code) for d in diagnostics] == [("broken.py", "EVL001")]


def test_the_test_suite_is_parsed_for_evl001_and_never_indexed(tmp_path):
    # Tests that train and evaluate are seeds by their words, yet outside the analysis; a script
    # named like a test that defines no test is not.
    _write(tmp_path, SCREENED_PROJECT)
    (tmp_path / "tests").mkdir()
    _write(tmp_path, {
        "tests/test_fit.py": "from train import fit\n\ndef test_fit(model, loader, opt):\n    fit(model, loader, opt)\n",
        "tests/test_broken.py": "def test_eval(model:\n    model.eval()\n",
        "copy_test.py": "def main(model, loader):\n    model.eval()\n    return [model(x) for x in loader]\n",
    })
    assert _indexed(tmp_path) == {
        "train.py": True, "helpers.py": True, "strings.py": False,
        "test_fit.py": False, "test_broken.py": False, "copy_test.py": True,
    }
    diagnostics = run([str(tmp_path)], Settings(project_root=str(tmp_path)), jobs=1).diagnostics
    assert [(Path(d.path).name, d.code) for d in diagnostics if d.code == "EVL001"] == [("test_broken.py", "EVL001")]


def test_settings_with_evaluation_patterns_turn_the_screen_off():
    assert prescreen.extra_seed_words(Settings(eval_function_patterns=("check_*",))) is None
    assert prescreen.extra_seed_words(Settings(training_step_calls=("fabric.optimise",))) == {"fabric", "optimise"}


@given(st.text(alphabet=st.sampled_from(list("aZbY_09 .é\n#'\"(")), max_size=80))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_words_from_identifiers_are_the_words_of_the_text(text):
    # The screen reads a text's words off its distinct identifiers, not off every token.
    expected = frozenset(word.lower() for word in prescreen._WORD.findall(text))
    assert frozenset(prescreen.words_of(prescreen.identifiers_of(text))) == expected


SEED_TEST_NAMES = ["eval", "Eval", "model_eval", "steps", "step2", "no_grad", "retrain", "fabric", "useFabric", "x"]


@given(st.lists(st.sampled_from(SEED_TEST_NAMES), max_size=6), st.sets(st.sampled_from(["optimise", "fabric"])))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_a_seed_is_a_text_with_a_seed_word(names, extra_words):
    identifiers = frozenset(names)
    words = set(prescreen.words_of(identifiers))
    expected = bool(words & (prescreen.SEED_WORDS | extra_words))
    assert prescreen.is_seed(identifiers, frozenset(extra_words)) is expected


@given(st.text(alphabet=st.sampled_from(list("aZbY_09 .\n#'\"(:=")), max_size=80))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_an_ascii_text_keeps_every_name_code_can_refer_to(text):
    # ASCII texts are split at punctuation: a name that does not follow a digit is a token of its own.
    names = {match.group() for match in re.finditer(r"(?<![\w])[^\W\d]\w*", text)}
    assert names <= prescreen.identifiers_of(text)


TOPLEVEL_SHAPES = '''
import os

def plain():
    def nested():
        pass
    class Inner:
        def method(self):
            pass
    return nested

if os.environ.get("X"):
    def conditional():
        pass
else:
\tdef with_a_tab():
\t\tpass

try:
    from fast import speedy
except ImportError:
    async def speedy():
        """
def not_real():
        """
        pass

@decorator(
    arg,
)
class Outer:
    def method(self):
        def helper():
            pass

for _ in range(1):
    class InLoop:
        pass
'''


def test_screening_from_text_finds_every_top_level_definition():
    from evallint.indexing import _index_text

    sources = [("shapes.py", TOPLEVEL_SHAPES)]
    for path in [*FIXTURES.glob("*.py"), *(REPO / "tests" / "projects").rglob("*.py"), *(REPO / "evallint").rglob("*.py")]:
        sources.append((str(path), path.read_text(encoding="utf-8")))
    for name, text in sources:
        index = _index_text(SourcePath(name, name), text, None).index
        assert index is not None, name
        exact = prescreen.toplevel_from_index(index)
        assert exact <= prescreen.toplevel_from_text(text), name
    names = prescreen.toplevel_from_text(TOPLEVEL_SHAPES)
    assert {"plain", "conditional", "with_a_tab", "speedy", "Outer", "InLoop"} <= names
    assert not {"nested", "Inner", "method", "helper"} & names


def test_every_file_is_parsed_once(tmp_path, monkeypatch):
    from evallint import indexing

    _write(tmp_path, {**SCREENED_PROJECT, "broken.py": "def shout(text:\n    return text\n"})
    parsed: list[str] = []
    real_index, real_check = indexing._index_text, prescreen.syntax_ok
    monkeypatch.setattr(indexing, "_index_text", lambda source, *rest: parsed.append(Path(source.absolute).name) or real_index(source, *rest))
    monkeypatch.setattr(prescreen, "syntax_ok", lambda text: parsed.append(text.split("(")[0]) or real_check(text))
    diagnostics = run([str(tmp_path)], Settings(project_root=str(tmp_path)), jobs=1).diagnostics
    # train.py is a seed, helpers.py is needed by it, strings.py is only checked; broken.py fails
    # its check and is then indexed for the message of its EVL001.
    assert sorted(parsed) == sorted(["train.py", "helpers.py", "def shout", "def shout", "broken.py"])
    assert [(Path(d.path).name, d.code) for d in diagnostics] == [("broken.py", "EVL001")]


_NAMES = ["a", "b", "c", "d", "e", "f"]
_SCREENS = st.builds(
    prescreen.ScreenFacts,
    st.booleans(),
    st.frozensets(st.sampled_from(_NAMES), max_size=2),
    st.frozensets(st.sampled_from(_NAMES), max_size=4),
    st.sampled_from(_NAMES),
)


def _closure_by_definition(facts: dict[str, prescreen.ScreenFacts]) -> set[str]:
    """The least set holding every seed and every file that names a definition or the module of
    a file in it, or whose definitions or module a file in it names: added one file at a time."""
    relevant = {key for key, item in facts.items() if item.seed}
    while True:
        added = {
            key for key, item in facts.items() if key not in relevant and any(
                not item.identifiers.isdisjoint(facts[other].toplevel)
                or not facts[other].identifiers.isdisjoint(item.toplevel)
                or item.module_last in facts[other].identifiers
                for other in relevant
            )
        }
        if not added:
            return relevant
        relevant |= added


@given(st.dictionaries(st.sampled_from([f"f{i}" for i in range(12)]), _SCREENS, max_size=12))
@settings(max_examples=400, deadline=None, derandomize=True)
def test_the_closure_is_the_least_set_closed_under_its_relations(facts):
    expected = _closure_by_definition(facts)
    assert prescreen.relevant_files(facts) == expected
    # A run without a cache gives the seeds' identifiers as one union instead of file by file.
    stripped = {key: replace(item, identifiers=frozenset()) if item.seed else item for key, item in facts.items()}
    mentioned = frozenset().union(*(item.identifiers for item in facts.values() if item.seed))
    assert prescreen.relevant_files(stripped, mentioned) == expected
