"""Whole-project analysis: walk every function in the states its callers give it.

Functions are analysed on demand and memoised by their entry state: when the
walk of a caller reaches a call to a project function, the caller's state is
mapped onto the callee's parameters (and ``self``, closures and module
globals), the callee is walked from that entry (or the memo answers), and its
exit state is mapped back. So ``validate(model)`` that calls ``model.eval()``
leaves the caller's ``model`` in eval, and a helper reached in train mode from
one caller and in eval mode from another is judged once per state, never in
a mix of the two. Functions nobody in the project calls are roots, analysed
from a default entry (a model nothing has switched is in train mode, grad on).

Anything the analysis cannot resolve lowers what is known (an ``unknown``
possibility) rather than guessing; rules stay silent on unknown.

``Analyzer`` is the driver: it picks the roots, builds their entry states, and
memoises the walks (``WalkMemo``) within the limits below. The roots, in path
order, are cut into two fixed parts (``root_parts``), each walked in order with
a memo of its own: two processes can walk them side by side, and the results
still depend on the project alone (not on --jobs, nor on which process walked
what). What it asks about the code regardless of state comes from ``Evidence``,
built once per run; the transfer functions of one walk are ``Interpreter``'s.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from evallint.analysis import ir, roles, torch_api
from evallint.analysis.callgraph import FunctionRef, ProjectIndex
from evallint.analysis.evidence import Evidence, is_plain_base
from evallint.analysis.facts import CallerInfo, ContextInfo, ProjectFacts
from evallint.analysis.interpreter import Interpreter
from evallint.analysis.lattice import (
    CONTEXT,
    DEFAULT,
    GRAD_OFF,
    GRAD_ON,
    TRAIN,
    UNKNOWN,
    UNRESOLVED,
    Origin,
    Poss,
    State,
)
from evallint.analysis.records import Summary
from evallint.analysis.syntactic import syntactic_facts
from evallint.internal_errors import InternalError, describe
from evallint.strict import strict

# The limits count over one part of the roots (``Analyzer.root_parts``); the parts are fixed by
# the project, whatever --jobs says, so what the limits cut off depends on the project alone.
ROOT_PARTS = 2
MAX_CONTEXTS_PER_FUNCTION = 8
MAX_ANALYSES = 100000
MAX_CALL_DEPTH = 40  # deeper call chains are treated as unresolved calls
NEUTRAL_CONTEXT = ContextInfo("neutral", "")
_GRAD_ON_BY_DEFAULT = frozenset({Poss(GRAD_ON, Origin(DEFAULT))})


@dataclass
class WalkMemo:
    """Everything an analyzer learns from walking, which depends on the states it met: a new
    analyzer starts with an empty one, and shares nothing else it could forget to reset."""

    summaries: dict[tuple, Summary | None] = field(default_factory=dict)  # (function, entry, context kind)
    contexts: dict[str, int] = field(default_factory=dict)  # entry contexts walked, per function
    stack: list[str] = field(default_factory=list)
    reads_grad: list[bool] = field(default_factory=list)  # per walk on the stack: has it read the grad mode
    # (function, entry without its grad mode, context kind) -> summary of a walk that never read the
    # grad mode and left it as it found it, for reuse under any other.
    grad_blind: dict[tuple, Summary] = field(default_factory=dict)
    analyses: int = 0
    init_exits: dict[str, State | None] = field(default_factory=dict)  # per class: `self` after __init__
    facts: ProjectFacts = field(default_factory=ProjectFacts)


class Analyzer:
    """Runs the interprocedural analysis over a project and collects facts."""

    def __init__(self, project: ProjectIndex, settings=None, evidence: Evidence | None = None) -> None:
        self.project = project
        self.settings = settings
        self.evidence = evidence if evidence is not None else Evidence(project, settings)
        self.walks = WalkMemo()
        self._module_grad_off: dict[str, bool] = {}  # per file: the code alone decides it

    @property
    def facts(self) -> ProjectFacts:
        return self.walks.facts

    # -- driver ------------------------------------------------------------------------------------

    def run(self, reported_files: frozenset[str] | None = None, in_two_steps=None) -> ProjectFacts:
        """Scan every call, walk every root (``roots``) and collect the syntactic facts;
        ``in_two_steps`` may run the halves of the scan and the parts of the walk apart
        (``project_walk``), with the same facts."""
        from evallint.analysis.project_walk import walk_project

        return walk_project(self, reported_files, in_two_steps)

    def scan(self):
        """The scan of every call and reference (``relevance.CallScan``), made on first use."""
        return self.evidence.scan()

    def adopt_scan(self, scan) -> None:
        """Use a scan made elsewhere: the merged halves that two processes scanned."""
        self.evidence.adopt_scan(scan)

    def file_halves(self) -> list[list[str]]:
        """The project's files in two runs of consecutive paths, cut where the first holds half of
        the functions: each of two processes scans the calls of one, then walks the part of the
        roots (``root_parts``) cut near the same place, whose walks go mostly through the files
        it scanned, so the caches its scan warmed serve its walk."""
        files = sorted(self.project.files)
        sizes = Counter(fref.file.path for fref in self.project.functions.values())
        half, before = sum(sizes.values()) / 2, 0
        for cut, path in enumerate(files):
            if before >= half:
                return [files[:cut], files[cut:]]
            before += sizes[path]
        return [files[:-1], files[-1:]]

    def scan_halves(self) -> list[list[str]]:
        """The functions of each of the ``file_halves``."""
        half_of = {path: number for number, half in enumerate(self.file_halves()) for path in half}
        halves: list[list[str]] = [[], []]
        for fid, fref in self.project.functions.items():
            halves[half_of[fref.file.path]].append(fid)
        return halves

    def roots(self, reported_files: frozenset[str] | None = None) -> list[str]:
        """The functions nobody in the project calls that may reach a finding, in the order the
        walk takes them: sorted by id, so by path, then by name.

        With ``reported_files`` (pre-commit passes a few files of a large project), only the
        roots that may reach a function of those files are kept: every fact a finding comes
        from is recorded in a function the walk reached.
        """
        from evallint.analysis.relevance import reaching, relevant_functions

        scan = self.scan()
        relevant = relevant_functions(scan)
        roots = [fid for fid in sorted(self.project.functions) if fid not in scan.called and fid in relevant]
        if reported_files is not None:
            targets = {fid for fid, fref in self.project.functions.items() if fref.file.path in reported_files}
            reach = reaching(scan, targets)
            roots = [fid for fid in roots if fid in reach]
        return roots

    def root_parts(self, roots: list[str]) -> list[list[str]]:
        """``roots`` in ``ROOT_PARTS`` runs of consecutive roots, each walked with a memo of its
        own (``walk_part``). The runs are cut between files so that each part's files hold about
        the same number of statements of the functions a walk may go through
        (``relevant_functions``): a part's walk spends its time in them, mostly near its roots.
        (By statements, not by functions: a model zoo's many small functions would weigh as much
        as a trainer's few long ones.) The parts depend on the code alone, so they are the same
        whether they are walked in turn or by two processes side by side."""
        from evallint.analysis.relevance import relevant_functions

        relevant: Counter[str] = Counter()
        for fid in relevant_functions(self.scan()):
            fref = self.project.functions[fid]
            relevant[fref.file.path] += len(self.evidence.statements(fref))
        share, before, part_of = sum(relevant.values()) / ROOT_PARTS, 0, {}
        for path in sorted(relevant):
            part_of[path] = min(int(before / share), ROOT_PARTS - 1)
            before += relevant[path]
        parts: list[list[str]] = [[] for _ in range(ROOT_PARTS)]
        for fid in roots:
            parts[part_of[self.project.functions[fid].file.path]].append(fid)
        return parts

    def walk_part(self, roots: list[str]) -> ProjectFacts:
        """Walk ``roots`` in order, from their default entries, in a new memo: the limits below
        count over the part, and a memo entry is walked once per part, labelled by the first
        caller that reached it in this order."""
        self.walks = WalkMemo()
        for fid in roots:
            fref = self.project.functions[fid]
            # A base-class method whose `self.hook()` calls differ by subclass is walked once per
            # class that may run it: each walk takes one class's overrides, all the way down.
            for self_type in self.evidence.self_variants(fid) or (None,):
                self.analyze(fid, self.root_entry(fref, self_type), NEUTRAL_CONTEXT, None)
        return self.facts

    def syntactic_facts(self, paths: list[str] | None = None) -> ProjectFacts:
        """The facts read from the code alone (see ``syntactic.syntactic_facts``)."""
        return syntactic_facts(self.evidence, paths)

    # -- entry states --------------------------------------------------------------------------------

    def root_entry(self, fref: FunctionRef, self_type: str | None = None) -> State:
        """The entry of a root: what nothing has switched. ``self_type``: the class whose instance
        ``self`` is in this walk (``Evidence.self_variants``), else the method's own class, unnamed."""
        entry = State(entry=self.evidence.entry_origin(fref))
        # Grad is on by default; one shared origin keeps callees' memo entries from splitting per caller.
        entry.grad = _GRAD_ON_BY_DEFAULT
        if fref.info.qualname != "<module>" and self.module_grad_off(fref.file):
            # (The module's own code meets the switch where it stands, in its walk.)
            entry.grad = frozenset({Poss(GRAD_OFF, Origin(CONTEXT, fref.file.path, -1, "<module>"))})
        unseen_callers = fref.id in self.evidence.referenced or self.overrides_framework_method(fref)
        if unseen_callers:
            entry.unknown_roots = frozenset({"*"})
            entry.grad = frozenset({Poss(UNKNOWN, Origin(UNRESOLVED, fref.file.path, fref.info.node, fref.info.qualname))})
        elif self.registered_callback(fref):
            # `@app.route("/")`: a server runs it after the module's code has set up the models it
            # reads (`model.eval()`, dropout kept on for MC sampling), so their modes are unknown
            # here. Grad is on: the server disables nothing.
            entry.unknown_roots = frozenset({"*"})
        class_id = self.project.class_of_method(fref)
        if class_id is not None and fref.info.name != "__init__" and fref.info.params:
            region = self.evidence.function_region(fref)
            own_evaluation = region is not None and region.kind == "eval" and self.evidence.is_module_class(class_id)
            if not unseen_callers and not own_evaluation:
                entry.unknown_roots = frozenset({fref.info.params[0]})
            if self_type is not None:
                entry.types[fref.info.params[0]] = self_type
            if own_evaluation:
                entry.types[fref.info.params[0]] = self_type or class_id
                if unseen_callers:
                    # (Overriding the project's own interface, `LanguageModel.predict`, changes
                    # nothing: whoever calls it, the model's own evaluation sets its mode.)
                    entry.modes[fref.info.params[0]] = frozenset({Poss(TRAIN, entry.entry)})
            # A model's own `predict()` runs in whatever mode training left it: it must set eval()
            # itself, so its `self` starts as any new module does, in train mode.
            init_state = self.init_exit(self_type or class_id)
            if init_state is not None:
                for key, facts in init_state.modes.items():
                    if key.startswith("self."):
                        entry.modes[key] = facts
                # `self.model = model; self.model.eval()`: the switch reached the parameter it aliases.
                for key, target in init_state.aliases.items():
                    if key.startswith("self.") and key not in entry.modes and init_state.has_mode(target):
                        entry.modes[key] = init_state.mode_of(target)
                entry.frozen = frozenset(k for k in init_state.frozen if k.startswith("self."))
                for key, type_id in init_state.types.items():
                    if type_id in roles.MARKERS and key.startswith("self."):
                        entry.types[key] = type_id
        return entry

    def registered_callback(self, fref: FunctionRef) -> bool:
        """A module-level function that a decorator registers with an object of its module
        (`@app.route(...)`, `@router.get(...)`): called by that object, not by the project."""
        if fref.info.class_name is not None or fref.info.parent is not None:
            return False
        for decorator in fref.info.decorators:
            chain = decorator.chain or ""
            root = chain.partition(".")[0]
            if "." in chain and not self.project.is_imported_or_defined(fref.file.path, root):
                return True
        return False

    def overrides_framework_method(self, fref: FunctionRef) -> bool:
        """A method nobody in the project calls that overrides a base-class method is a hook some
        framework calls (fairseq's `valid_step`, a trainer's `evaluate`): its callers are unseen."""
        class_id = self.project.class_of_method(fref)
        name = fref.info.name
        if class_id is None or name.startswith("__"):
            return False
        if any(self.project.method_of(base, name) for base in self.project.base_ids(class_id)):
            return True
        if name.startswith("_"):
            return False
        return any(not is_plain_base(base) for base in self.project.qualified_bases(class_id))

    def init_exit(self, class_id: str) -> State | None:
        if class_id in self.walks.init_exits:
            return self.walks.init_exits[class_id]
        self.walks.init_exits[class_id] = None
        init = self.project.method_of(class_id, "__init__")
        result = None
        if init is not None:
            fref = self.project.functions[init]
            entry = State(entry=self.evidence.entry_origin(fref))
            entry.grad = _GRAD_ON_BY_DEFAULT
            if self.evidence.self_variants(init):
                # `self.build()` in a base `__init__` is this class's `build`, not a sibling's.
                entry.types["self"] = class_id
            summary = self.analyze(init, entry, NEUTRAL_CONTEXT, None)
            result = summary.exit if summary is not None else None
        self.walks.init_exits[class_id] = result
        return result

    def module_grad_off(self, f: ir.FileIndex) -> bool:
        found = self._module_grad_off.get(f.path)
        if found is None:
            found = self._module_grad_off[f.path] = self._sets_grad_off_at_module_level(f)
        return found

    def _sets_grad_off_at_module_level(self, f: ir.FileIndex) -> bool:
        module = next((fn for fn in f.functions if fn.qualname == "<module>"), None)
        if module is None:
            return False
        for stmt in module.body:
            if isinstance(stmt, ir.Call) and stmt.func is not None:
                if self.project.qualify(f.path, stmt.func) in torch_api.SET_GRAD_ENABLED:
                    if stmt.args and isinstance(stmt.args[0], ir.ConstValue) and stmt.args[0].value is False:
                        return True
        return False

    # -- memoised walks -----------------------------------------------------------------------------

    def analyze(self, fid: str, entry: State, ctx: ContextInfo, caller: CallerInfo | None) -> Summary | None:
        # The context's kind decides facts; its label only words messages (the first caller's is kept).
        fingerprint = _fingerprint(entry)
        key = (fid, fingerprint, ctx.kind)
        if key in self.walks.summaries:
            return self._returned(self.walks.summaries[key])
        blind_key = (fid, fingerprint[:1] + fingerprint[2:], ctx.kind)
        reused = self._grad_blind(blind_key, entry)
        if reused is not None:
            self.walks.summaries[key] = reused
            return reused
        if fid in self.walks.stack or self.walks.analyses >= MAX_ANALYSES or len(self.walks.stack) >= MAX_CALL_DEPTH:
            return None
        count = self.walks.contexts.get(fid, 0)
        if count >= MAX_CONTEXTS_PER_FUNCTION:
            return None
        self.walks.contexts[fid] = count + 1
        self.walks.analyses += 1
        self.walks.stack.append(fid)
        self.walks.reads_grad.append(False)
        try:
            summary = Interpreter(self, self.project.functions[fid], ctx, caller).run(entry)
        except Exception as error:
            # A construct the analysis mishandles lowers what is known about this one function
            # (its callers see an unresolved call); it never takes the run down, and is reported.
            if strict():
                raise
            fref = self.project.functions[fid]
            self.facts.internal_errors.append(
                InternalError("analysing", fref.file.path, fref.info.qualname, describe(error))
            )
            summary = None
        finally:
            self.walks.stack.pop()
            reads_grad = self.walks.reads_grad.pop()
        if summary is not None:
            summary.reads_grad = reads_grad
            if not reads_grad and _leaves_grad(summary, entry.grad):
                self.walks.grad_blind[blind_key] = summary
        self.walks.summaries[key] = summary
        return self._returned(summary)

    def read_grad(self) -> None:
        """The walk now running read the grad mode (a forward's fact, a pending forward)."""
        self.walks.reads_grad[-1] = True

    def _returned(self, summary: Summary | None) -> Summary | None:
        # A callee that read the grad mode read the caller's: the caller's walk depends on it too.
        if summary is not None and summary.reads_grad and self.walks.reads_grad:
            self.walks.reads_grad[-1] = True
        return summary

    def _grad_blind(self, blind_key: tuple, entry: State) -> Summary | None:
        """The summary of a walk from the same entry under another grad mode, if that walk never
        read the grad mode and left it as it found it: this walk would be the same, with this grad
        mode passed through."""
        summary = self.walks.grad_blind.get(blind_key)
        if summary is None:
            return None
        exit_state = summary.exit.copy()
        if not exit_state.dead:
            exit_state.grad = entry.grad
        yielded = None
        if summary.yielded is not None:
            yielded = summary.yielded.copy()
            yielded.grad = entry.grad
        return replace(summary, exit=exit_state, yielded=yielded)


def _leaves_grad(summary: Summary, grad) -> bool:
    """Whether the walk left the grad mode as it found it, at its exit and where it yields."""
    if not summary.exit.dead and summary.exit.grad != grad:
        return False
    return summary.yielded is None or summary.yielded.grad == grad


def _fingerprint(state: State) -> tuple:
    return (
        tuple(sorted(state.modes.items())),
        state.grad,
        state.frozen,
        tuple(sorted((k, p.node, p.modes, p.grad) for k, p in state.pending.items())),
        tuple(sorted(state.types.items())),
        state.entry,
        state.unknown_roots,
        state.partly_frozen,
    )

