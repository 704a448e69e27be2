"""`evallint server`: a real LSP session against the server process, driven by pygls' client.

initialize, didOpen (the buffer's text, not the disk's, with the project around it), didChange,
didSave, didClose,
code actions (each fix with its safety label), hover (the rule's docs), shutdown and exit.
"""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from .conftest import REPO

HELPERS = textwrap.dedent(
    """
    def prepare(model):
        model.eval()
    """
).lstrip()

# On disk the file is clean; the editor's buffer is not.
ON_DISK = "x = 1\n"
BUFFER = textwrap.dedent(
    """
    import torch
    from pkg.helpers import prepare


    def validate(model, loader):
        prepare(model)
        with torch.no_grad():
            for x in loader:
                model(x)


    def check(model, loader):
        model.eval
        with torch.no_grad():
            for x in loader:
                model(x)
    """
).lstrip()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.evallint]\n")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helpers.py").write_text(HELPERS)
    (package / "train.py").write_text(ON_DISK)
    return tmp_path


async def session(project: Path) -> dict:
    client = LanguageClient("evallint-test", "1")
    published: list[types.PublishDiagnosticsParams] = []
    arrived = asyncio.Condition()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    async def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        async with arrived:
            published.append(params)
            arrived.notify_all()

    async def next_diagnostics(version: int | None) -> list[types.Diagnostic]:
        """The diagnostics of the next publication, which must be of ``version``."""
        seen_before = len(published)
        async with arrived:
            await asyncio.wait_for(arrived.wait_for(lambda: len(published) > seen_before), timeout=60)
        assert published[seen_before].version == version
        return published[seen_before].diagnostics

    env = {**os.environ, "PYTHONPATH": str(REPO), "EVALLINT_STRICT": "1", "XDG_CACHE_HOME": str(project / ".xdg")}
    await client.start_io(sys.executable, "-m", "evallint", "server", cwd=str(project), env=env)
    seen: dict = {}
    try:
        uri = (project / "pkg" / "train.py").as_uri()
        result = await client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(), root_uri=project.as_uri(), process_id=os.getpid()
            )
        )
        seen["capabilities"] = result.capabilities
        client.initialized(types.InitializedParams())
        opened = asyncio.ensure_future(next_diagnostics(1))
        await asyncio.sleep(0)
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id="python", version=1, text=BUFFER))
        )
        seen["opened"] = await opened
        row_of_bare_eval = BUFFER.splitlines().index("    model.eval")
        seen["actions"] = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri),
                range=types.Range(types.Position(row_of_bare_eval, 4), types.Position(row_of_bare_eval, 14)),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        seen["hover"] = await client.text_document_hover_async(
            types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(row_of_bare_eval, 6))
        )
        # Deleting the `prepare(model)` call: validate() no longer sets eval mode.
        row_of_prepare = BUFFER.splitlines().index("    prepare(model)")
        changed = asyncio.ensure_future(next_diagnostics(2))
        await asyncio.sleep(0)
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(types.Position(row_of_prepare, 0), types.Position(row_of_prepare + 1, 0)),
                        text="",
                    )
                ],
            )
        )
        seen["changed"] = await changed
        forward = BUFFER.splitlines().index("            model(x)") - 1
        seen["actions_after_change"] = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri),
                range=types.Range(types.Position(forward, 0), types.Position(forward, 20)),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        saved = asyncio.ensure_future(next_diagnostics(2))
        await asyncio.sleep(0)
        client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
        seen["saved"] = await saved
        closed = asyncio.ensure_future(next_diagnostics(None))
        await asyncio.sleep(0)
        client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
        seen["closed"] = await closed
        await client.shutdown_async(None)
        client.exit(None)
        seen["exit_code"] = await asyncio.wait_for(client._server.wait(), timeout=30)
    finally:
        if client._server is not None and client._server.returncode is None:
            client._server.kill()
        await client.stop()
    return seen


def test_lsp_session(project: Path):
    seen = asyncio.run(asyncio.wait_for(session(project), timeout=240))
    capabilities = seen["capabilities"]
    assert capabilities.hover_provider and capabilities.code_action_provider

    # The buffer is linted, not the clean file on disk, and with the project: prepare() in
    # pkg/helpers.py sets eval mode, so validate() has no finding; check() has its EVL104.
    opened = {(d.code, d.range.start.line) for d in seen["opened"]}
    lines = BUFFER.splitlines()
    assert opened == {("EVL104", lines.index("    model.eval"))}
    bare_eval = next(d for d in seen["opened"] if d.code == "EVL104")
    assert (bare_eval.range.start.character, bare_eval.range.end.character) == (4, 14)
    assert bare_eval.source == "evallint" and bare_eval.code_description.href.endswith("docs/rules/EVL104.md")

    titles = [action.title for action in seen["actions"]]
    fix = next(action for action in seen["actions"] if action.title.startswith("EVL104"))
    assert "(safe fix)" in fix.title and fix.is_preferred
    (edits,) = fix.edit.changes.values()
    (edit,) = edits
    row = edit.range.start.line
    line = lines[row]
    assert edit.range.end.line == row
    fixed = line[: edit.range.start.character] + edit.new_text + line[edit.range.end.character :]
    assert fixed == "    model.eval()"
    assert any(title.startswith("Suppress EVL104") for title in titles)

    assert "# EVL104 mode-method-not-called" in seen["hover"].contents.value
    assert "## What it does" in seen["hover"].contents.value

    # After the change the buffer's validate() has lost prepare(model): EVL101 there, with its unsafe fix.
    changed = {(d.code, d.range.start.line) for d in seen["changed"]}
    forward_in_validate = lines.index("            model(x)") - 1
    assert ("EVL101", forward_in_validate) in changed
    unsafe = [a for a in seen["actions_after_change"] if a.title.startswith("EVL101")]
    assert unsafe and all("(unsafe fix)" in a.title and not a.is_preferred for a in unsafe)
    assert all(a.edit.changes for a in unsafe)
    assert {(d.code, d.range.start.line) for d in seen["saved"]} == changed
    assert not seen["closed"]  # closing the buffer clears its diagnostics
    assert seen["exit_code"] == 0
