"""`evallint server`: a Language Server on stdio (pygls), for findings as you type.

- Diagnostics on open, change and save, of the buffer's text (not the file on disk), with the
  whole project around the file as `evallint FILE` reads it, and the settings of the file's
  pyproject.toml. Other open buffers stand in for their files too. Per-file results of the
  project's unchanged files are kept between runs and read from the cache.
- A code action per fix, titled with its safety (safe / unsafe), and one that adds
  `# noqa: CODE` to the line.
- Hover on a finding: the rule's documentation.
Python files only: notebooks are linted by the CLI.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace.position_codec import ServerTextPosition

from evallint import __version__
from evallint.parsing.python import split_lines
from evallint.types import UNSAFE_EDITS, Diagnostic, Location

SOURCE = "evallint"
CHANGE_DELAY_S = 0.3  # a pause in typing this long lints the buffer


class EvallintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("evallint", __version__)
        from evallint.buffer_lint import BufferLinter

        self.linter = BufferLinter(use_cache=True)
        # uri -> (document version, diagnostics of that version), for code actions and hover
        self.findings: dict[str, tuple[int | None, list[Diagnostic]]] = {}


def path_of(uri: str) -> str | None:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return unquote(parsed.path)


def _lines(text: str) -> list[str]:
    return split_lines(text) or [""]


def _client_position(document, lines: list[str], location: Location) -> types.Position:
    """evallint's 1-based row and character column -> the client's 0-based position (UTF-16 by default)."""
    row = min(location.row - 1, len(lines))
    character = location.column - 1
    if row == len(lines):
        return types.Position(line=row, character=0)
    return document.position_codec.position_to_client_units(lines, ServerTextPosition(row, character))


def _client_range(document, lines, start: Location, end: Location) -> types.Range:
    return types.Range(start=_client_position(document, lines, start), end=_client_position(document, lines, end))


def _to_lsp(document, lines, diagnostic: Diagnostic) -> types.Diagnostic:
    from evallint.rules import ALL_RULES

    rule = ALL_RULES.get(diagnostic.code)
    fixable = diagnostic.fix is not None and diagnostic.fix.edits
    return types.Diagnostic(
        range=_client_range(document, lines, diagnostic.location, diagnostic.end_location),
        message=diagnostic.message + (" [fix available]" if fixable else ""),
        severity=types.DiagnosticSeverity.Error if diagnostic.code == "EVL001" else types.DiagnosticSeverity.Warning,
        code=diagnostic.code,
        code_description=types.CodeDescription(href=diagnostic.url) if rule is not None else None,
        source=SOURCE,
    )


def lint_document(server: EvallintServer, uri: str) -> None:
    """Lint an open document and publish its diagnostics (none for what evallint does not read)."""
    from evallint.config import load_settings
    from evallint.errors import UsageError

    path = path_of(uri)
    if path is None or not path.endswith(".py"):
        return
    document = server.workspace.get_text_document(uri)
    others = {}
    for other_uri, other in server.workspace.text_documents.items():
        other_path = path_of(other_uri)
        if other_uri != uri and other_path is not None and other_path.endswith(".py"):
            others[other_path] = other.source
    try:
        settings = load_settings(None, [path])
        report = server.linter.lint(path, document.source, settings, other_texts=others, unsafe_fixes=UNSAFE_EDITS)
    except UsageError as error:  # a bad [tool.evallint]: say so once per lint, publish nothing
        server.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"evallint: {error}"))
        return
    except Exception as error:  # an internal error must not take the editor's server down
        logging.getLogger(__name__).exception("evallint failed on %s", path)
        server.window_log_message(types.LogMessageParams(types.MessageType.Error, f"evallint failed on {path}: {error!r}"))
        return
    lines = _lines(document.source)
    server.findings[uri] = (document.version, report.diagnostics)
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(
            uri=uri, version=document.version,
            diagnostics=[_to_lsp(document, lines, d) for d in report.diagnostics],
        )
    )


def _overlaps(document, lines, diagnostic: Diagnostic, wanted: types.Range) -> bool:
    found = _client_range(document, lines, diagnostic.location, diagnostic.end_location)
    start = (found.start.line, found.start.character)
    end = (found.end.line, found.end.character)
    return start <= (wanted.end.line, wanted.end.character) and (wanted.start.line, wanted.start.character) <= end


def code_actions(server: EvallintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    stored = server.findings.get(uri)
    if stored is None:
        return []
    document = server.workspace.get_text_document(uri)
    if stored[0] != document.version:
        return []  # the buffer changed since the lint: its edits would land in the wrong places
    lines = _lines(document.source)
    actions = []
    noqa_rows: dict[int, list[Diagnostic]] = {}
    for diagnostic in stored[1]:
        if not _overlaps(document, lines, diagnostic, params.range):
            continue
        if diagnostic.code != "EVL001":
            noqa_rows.setdefault(diagnostic.location.row, []).append(diagnostic)
        fix = diagnostic.fix
        if fix is None or not fix.edits:
            continue
        edits = [types.TextEdit(_client_range(document, lines, e.location, e.end_location), e.content) for e in fix.edits]
        actions.append(
            types.CodeAction(
                title=f"{diagnostic.code}: {fix.message} ({fix.applicability} fix)",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[_to_lsp(document, lines, diagnostic)],
                is_preferred=fix.applicability == "safe",
                edit=types.WorkspaceEdit(changes={uri: edits}),
            )
        )
    from evallint.add_noqa import noqa_edit

    for row, diagnostics in sorted(noqa_rows.items()):
        codes = sorted({d.code for d in diagnostics})
        edit = noqa_edit(lines, row, codes)
        if edit is None:
            continue
        actions.append(
            types.CodeAction(
                title=f"Suppress {', '.join(codes)} on line {row} (# noqa)",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[_to_lsp(document, lines, d) for d in diagnostics],
                edit=types.WorkspaceEdit(
                    changes={uri: [types.TextEdit(_client_range(document, lines, edit.location, edit.end_location), edit.content)]}
                ),
            )
        )
    return actions


def hover(server: EvallintServer, params: types.HoverParams) -> types.Hover | None:
    from evallint.rules import ALL_RULES

    uri = params.text_document.uri
    stored = server.findings.get(uri)
    if stored is None:
        return None
    document = server.workspace.get_text_document(uri)
    lines = _lines(document.source)
    point = types.Range(start=params.position, end=params.position)
    docs = []
    for diagnostic in stored[1]:
        rule = ALL_RULES.get(diagnostic.code)
        if rule is not None and _overlaps(document, lines, diagnostic, point):
            text = f"{rule.render_doc()}\n[{diagnostic.code} documentation]({diagnostic.url})\n"
            if text not in docs:
                docs.append(text)
    if not docs:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n---\n\n".join(docs)))


def build_server() -> EvallintServer:
    server = EvallintServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: EvallintServer, params: types.DidOpenTextDocumentParams) -> None:
        lint_document(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: EvallintServer, params: types.DidChangeTextDocumentParams) -> None:
        # While the user types, lint once the edits pause: each lint reads the whole project.
        uri, version = params.text_document.uri, params.text_document.version
        await asyncio.sleep(CHANGE_DELAY_S)
        if ls.workspace.get_text_document(uri).version == version:
            lint_document(ls, uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: EvallintServer, params: types.DidSaveTextDocumentParams) -> None:
        lint_document(ls, params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: EvallintServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.findings.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    def code_action(ls: EvallintServer, params: types.CodeActionParams):
        return code_actions(ls, params)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: EvallintServer, params: types.HoverParams):
        return hover(ls, params)

    return server


def serve() -> None:
    build_server().start_io()
