"""What a call does to the state, as an ordered list of handlers.

``handle_call`` offers a call to each handler of ``HANDLERS`` that is for it (by its method or
its callee's name), in turn; the first that returns a state has handled it, and the rest never
see it. The order matters where two handlers could
claim the same call: a grad context before anything that resolves names, a model's own methods
before the project's functions, the project's functions before what is known of torch's, and
an unresolved call, which lowers what is known of the models it receives, last. What the call
evaluates to is recorded in ``interp.results`` as a typed record (``records``).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from evallint.analysis import ir, roles, torch_api
from evallint.analysis.bodies import const
from evallint.analysis.callgraph import ONE_OF_CLASSES, classes_of_choice, function_of_value
from evallint.analysis.names import key_of_chain
from evallint.analysis.lattice import (
    CONSTRUCTED,
    CONTEXT,
    EVAL,
    GRAD_ON,
    LOADED,
    PRETRAINED,
    SET_BY_CALL,
    TRAIN,
    UNKNOWN,
    UNRESOLVED,
    Poss,
    State,
    join_all,
)
from evallint.analysis.records import (
    NOT_MODEL,
    UNTRACKED,
    Alias,
    AttributeOfModel,
    ContextManager,
    ExitContextManager,
    Fresh,
    GradContext,
    Instance,
    RestoreGrad,
    Unpacked,
    known,
)
from evallint.analysis.roles import constructs_module

if TYPE_CHECKING:
    from evallint.analysis.interpreter import Interpreter


class CallSite:
    """A call with what every handler asks of it, each computed once."""

    __slots__ = ("call", "qualified", "method", "receiver_key", "_interp", "_state", "_target")

    def __init__(self, interp: "Interpreter", call: ir.Call, state: State) -> None:
        self.call = call
        # The callee's dotted name, imports resolved; the receiver's canonical key for `x.method()`.
        self.qualified = interp.project.qualified_callee(interp.file, call)
        self.method = call.method
        self.receiver_key = state.canonical(call.receiver.key) if isinstance(call.receiver, ir.RefValue) else None
        self._interp = interp
        self._state = state
        self._target: object = _UNRESOLVED

    @property
    def target(self) -> str | None:
        """The project function or class the call reaches, through the walk's known types too."""
        if self._target is _UNRESOLVED:
            interp, call, state = self._interp, self.call, self._state
            target = interp.project.resolve(interp.fn, call.func, state.types) if call.func else None
            if target is None and self.receiver_key is not None and self.receiver_key in state.types and self.method:
                target = interp.project.method_of(state.types[self.receiver_key], self.method)
            if target is None and call.func:
                # `self.encoder(x)` where `self.encoder` holds a project function or bound method.
                target = function_of_value(state.types.get(state.canonical(call.func)))
            self._target = target
        return self._target  # type: ignore[return-value]


_UNRESOLVED = object()  # a CallSite's target, not looked up yet


Handler = Callable[["Interpreter", CallSite, State], "State | None"]


@dataclass(frozen=True, slots=True)
class CallHandler:
    """A handler, and the method or callee names it is for (None: any call). The names let a
    call skip the handlers that are not for it without calling each."""

    handle: Handler
    methods: frozenset[str] | None = None  # `x.method(...)`
    names: frozenset[str] | None = None  # the callee's qualified name
    # A test of the method and qualified name that holds for every call the handler acts on.
    when: Callable[[str | None, str | None], bool] | None = None


def handle_call(interp: "Interpreter", site: CallSite, state: State) -> State:
    for handle in _handlers_for(site.method, site.qualified):
        handled = handle(interp, site, state)
        if handled is not None:
            return handled
    return state


@functools.lru_cache(maxsize=8192)
def _handlers_for(method: str | None, qualified: str | None) -> tuple[Handler, ...]:
    """The handlers, in order, that are for a call with this method and callee name."""
    return tuple(
        handler.handle for handler in HANDLERS
        if (handler.methods is None or method in handler.methods) and (handler.names is None or qualified in handler.names)
        and (handler.when is None or handler.when(method, qualified))
    )


# -- grad contexts entered by hand ---------------------------------------------------------------------


def enter_called_context(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """``torch.no_grad().__enter__()``: grad stays off until the matching ``__exit__``."""
    call = site.call
    if not isinstance(call.receiver, ir.CallValue):
        return None
    entered = interp.results.get(call.receiver.node)
    if isinstance(entered, GradContext):
        state.grad = entered.grad
    return state


def enter_on_exit_stack(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """``stack.enter_context(cm)``: entered now, exited with the ``with ExitStack()`` block."""
    call = site.call
    if not call.args or not isinstance(call.args[0], ir.CallValue):
        return None
    entered = interp.results.get(call.args[0].node)
    if isinstance(entered, GradContext):
        interp.exit_stack.append(RestoreGrad(state.grad))
        state.grad = entered.grad
    elif isinstance(entered, ContextManager):
        interp.map_back(entered.summary.yielded, entered.mapping, state)
        interp.exit_stack.append(ExitContextManager(entered.summary, entered.mapping))
    return state


def call_on_a_call(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """A method called on what a call returned: ``getattr(model, "eval")()``, ``Net().to(device)``."""
    call = site.call
    if call.func is not None or not isinstance(call.receiver, ir.CallValue):
        return None
    computed = interp.results.get(call.receiver.node)
    if isinstance(computed, AttributeOfModel):
        if computed.attr in torch_api.MODE_METHODS:
            switch = ir.Call(call.node, None, None, computed.attr, call.args, call.kwargs)
            interp.switch_mode(computed.key, switch, state)
        else:
            state.set_mode(computed.key, frozenset({Poss(UNKNOWN, interp.origin(UNRESOLVED, call.node, "getattr"))}))
        return state
    if isinstance(computed, Instance) and _method_of_new_object(interp, call, computed, state):
        return state
    if call.method not in torch_api.SELF_RETURNING_METHODS:
        return state
    return None  # `Net().to(device)`, `Net().cuda().train()`: the chain returns the new module


def _method_of_new_object(interp: "Interpreter", call: ir.Call, instance: Instance, state: State) -> bool:
    """``Predictor(net).predict(x)``, walked as ``p = Predictor(net); p.predict(x)`` would be, so
    that the method sees what ``__init__`` stored. The object is named after its construction
    (``Predictor()``), which no code can rebind. (A module built and run in one expression is
    not walked so: untrained, it is no evaluation.)"""
    if call.method is None or interp.evidence.is_module_class(instance.class_id):
        return False
    target = interp.project.method_of(instance.class_id, call.method)
    if target not in interp.project.functions or interp.project.functions[target].info.is_generator:
        return False
    name = instance.class_id.rsplit(".", 1)[-1] + "()"
    interp.bind(name, call.receiver, state)
    interp.call_function(target, call, state, receiver=name)
    return True


def attribute_of_model(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    call = site.call
    if len(call.args) < 2 or not isinstance(call.args[0], ir.RefValue):
        return None
    key = state.canonical(call.args[0].key)
    if interp.is_model(key, state):
        name = const(call.args[1])
        interp.results[call.node] = AttributeOfModel(key, name if isinstance(name, str) else None)
    return state


def set_grad_enabled(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    call = site.call
    grad = interp.grad_switch(site.qualified, call)
    if grad is not None and call.statement:
        # `torch.set_grad_enabled(True)` as a statement restores the global default; only a
        # block or decorator that turns grad on around some code is a choice (EVL201 keeps quiet).
        state.grad = frozenset(
            Poss(p.value, dataclasses.replace(p.origin, kind=SET_BY_CALL), p.guard, p.carried)
            if p.value == GRAD_ON and p.origin.kind == CONTEXT
            else p
            for p in grad
        )
    elif grad is not None:
        interp.results[call.node] = GradContext(grad)
    return state


def grad_context_built(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """``torch.no_grad()`` built here, entered later by ``with`` or ``enter_context``."""
    grad = interp.grad_switch(site.qualified, site.call)
    if grad is not None:
        interp.results[site.call.node] = GradContext(grad)
    return state


# -- models and their modes -----------------------------------------------------------------------------


def network_method(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """``model.forward(x)``, ``self.forward(x)`` in a model's own ``predict()``,
    ``model.encode_image(x)``: the module runs, as it does for ``model(x)``."""
    method, key = site.method, site.receiver_key
    if method is None or key is None or not _runs_the_network(method):
        return None
    if key != "self" and interp.inside_module_class and key.startswith("self."):
        return None
    if key != "self" and key + "." + method in state.types:
        return None  # `model.decoder(z)` runs a submodule, judged as itself
    if not interp.is_model(key, state) or interp.turns_grad_off(site.target):
        return None
    interp.model_forward(key, site.call, state)
    return state


def mode_method(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """``model.eval()``, ``model.train(flag)``, and the same on a module just built."""
    call = site.call
    if site.target is not None and not (
        site.target in interp.project.functions and interp.evidence.delegates_mode_switch(site.target)
    ):
        return None
    if site.receiver_key is not None:
        interp.switch_mode(site.receiver_key, call, state)
        interp.results[call.node] = Alias(site.receiver_key)
        return state
    if not isinstance(call.receiver, ir.CallValue):
        return None
    previous = interp.results.get(call.receiver.node)
    role = interp.value_role(call.receiver, state)
    if known(previous) is not None and role == roles.NOT_MODEL:
        interp.results[call.node] = previous
    elif isinstance(previous, (Fresh, Instance)):
        # `LLM(name).eval()` is still an `LLM`: its methods resolve.
        type_id = previous.class_id if isinstance(previous, Instance) else previous.type_id
        interp.results[call.node] = Fresh(interp.mode_facts(call, state), _mode_free_or_none(role), type_id)
    return state


def requires_grad(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    call, key = site.call, site.receiver_key
    if key is None or site.target is not None:
        return None
    flag = const(call.args[0]) if call.args else const(dict(call.kwargs).get("requires_grad", ir.ConstValue(True)))
    state.frozen = state.frozen | {key} if flag is False else state.frozen - {key}
    interp.results[call.node] = Alias(key)
    return state


def from_pretrained(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """Hugging Face's ``from_pretrained`` returns the model in eval mode. A project's own
    ``from_pretrained`` is analysed like any other function (``project_function``)."""
    call = site.call
    if site.target is not None:
        return None
    owner = call.receiver.key.rpartition(".")[2] if isinstance(call.receiver, ir.RefValue) else ""
    if owner.endswith(torch_api.NOT_MODEL_PRETRAINED_ENDINGS):
        interp.results[call.node] = NOT_MODEL
        return state
    origin = interp.origin(PRETRAINED, call.node, call.func or site.method or "")
    runs_without_grad = roles.RUNS_WITHOUT_GRAD if owner.endswith(torch_api.GRAD_OFF_PIPELINE_ENDINGS) else None
    interp.results[call.node] = Fresh(frozenset({Poss(EVAL, origin)}), type_id=runs_without_grad)
    return state


def training_call(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    kind = interp.evidence.is_training_call(interp.fn, site.call)
    if kind is None:
        return None
    interp.training_step(site.call, state, kind)
    if kind == "step":
        state.pending = {}
    return state


# -- the project's code -----------------------------------------------------------------------------------


def project_function(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    target, call = site.target, site.call
    if target is None or target not in interp.project.functions:
        return None
    if interp.project.functions[target].info.is_generator:
        # A context manager built here and entered later (`stack.enter_context(cm(model))`).
        entry, mapping = interp.callee_entry(target, call, state, None)
        summary = interp.analyzer.analyze(target, entry, interp.context(), interp.here(call))
        if summary is not None and summary.yielded is not None:
            interp.results[call.node] = ContextManager(summary, tuple(mapping))
        return state
    overrides = interp.evidence.dispatch_overrides(interp.fn, call, state.types.get("self"))
    if not overrides:
        interp.call_function(target, call, state)
        return state
    # The base method or any subclass override may run: walk each, join what they leave.
    outcomes = []
    for candidate in [target, *overrides]:
        branch = state.copy()
        interp.call_function(candidate, call, branch)
        outcomes.append(branch)
    return join_all(outcomes)


def one_of_classes(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """``agent.train(env)`` where ``agent`` is a ``Dreamer`` on one path and a ``Plan2Explore`` on
    another: each class's own method is walked from a copy of the state in which ``agent`` is
    that class alone (so its ``self.hook()`` calls stay in that class); their exits are joined."""
    call, method = site.call, site.method
    if call.func is None or method is None or site.receiver_key is None:
        return None
    choice = state.types.get(site.receiver_key)
    if choice is None or not choice.startswith(ONE_OF_CLASSES):
        return None
    targets = [(class_id, interp.project.method_of(class_id, method)) for class_id in classes_of_choice(choice)]
    if any(target not in interp.project.functions or interp.project.functions[target].info.is_generator for _, target in targets):
        return None
    outcomes = []
    for class_id, target in targets:
        branch = state.copy()
        branch.types[site.receiver_key] = class_id
        interp.call_function(target, call, branch)
        outcomes.append(branch)
    return join_all(outcomes)


def project_class(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """An instance of a project class: its ``__init__`` runs once the instance is bound."""
    if site.target is None or site.target not in interp.project.classes:
        return None
    interp.results[site.call.node] = Instance(site.target, site.call)
    return state


def model_called(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """``model(x)``, ``model.forward(x)``, ``model.generate(...)``."""
    call, method = site.call, site.method
    forward_key = None
    if call.func is not None and (method is None or method not in ("forward", "generate")):
        candidate = state.canonical(key_of_chain(call.func))
        if interp.is_model(candidate, state):
            forward_key = candidate
    if forward_key is None and method in ("forward", "generate") and site.receiver_key is not None:
        if interp.is_model(site.receiver_key, state):
            forward_key = site.receiver_key
    if forward_key is None:
        return None
    interp.model_forward(forward_key, call, state)
    return state


# -- what torch and the libraries build ------------------------------------------------------------------


def module_constructed(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    qualified, call = site.qualified, site.call
    if qualified is None or not constructs_module(qualified):
        return None
    role = interp.constructed_role(qualified, call, state)
    if role == roles.NOT_MODEL:
        interp.results[call.node] = NOT_MODEL
    else:
        handed = None
        if roles.constructor_role(qualified, call) == roles.CONTAINER:
            handed = interp.handed_in_modes(call.arguments, state)
        facts = handed or frozenset({Poss(TRAIN, interp.origin(CONSTRUCTED, call.node))})
        interp.results[call.node] = Fresh(facts, _mode_free_or_none(role))
    return state


def module_wrapped(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """``torch.compile(Net())``, ``DataParallel(Net().cuda())``: the wrapped module itself."""
    call = site.call
    if call.func is None or call.func.rpartition(".")[2] not in torch_api.WRAPPER_CALL_NAMES:
        return None
    if not call.args or not isinstance(call.args[0], ir.CallValue) or call.args[0].node not in interp.results:
        return None
    interp.results[call.node] = interp.results[call.args[0].node]
    return state


def library_model(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    role = roles.library_role(site.qualified, site.call) if site.qualified is not None else None
    if role is None:
        return None
    facts = frozenset({Poss(TRAIN, interp.origin(CONSTRUCTED, site.call.node))})
    interp.results[site.call.node] = Fresh(facts, _mode_free_or_none(role))
    return state


def non_model_library(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """``tiktoken.Encoding(...)``, ``np.array(...)``: a library that builds no torch module."""
    if site.qualified is None or not site.qualified.startswith(torch_api.NON_MODEL_LIBRARY_PREFIXES):
        return None
    interp.results[site.call.node] = NOT_MODEL
    return state


def whole_model_loaded(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """``torch.load`` of a whole model: in the mode it was saved in."""
    qualified, call = site.qualified, site.call
    detail = qualified.partition("torch.")[2] and qualified
    saved = None
    if qualified == "torch.load" and call.args and isinstance(call.args[0], ir.ConstValue):
        saved = interp.evidence.saved_model_role(interp.file, call.args[0].value)
    interp.results[call.node] = Fresh(frozenset({Poss(TRAIN, interp.origin(LOADED, call.node, detail))}),
                                      _mode_free_or_none(saved))
    return state


def model_copied(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """``copy.deepcopy(model)``: a new module in the mode of the original."""
    call = site.call
    if not call.args or not isinstance(call.args[0], ir.RefValue):
        return None
    source = state.canonical(call.args[0].key)
    if interp.is_model(source, state):
        interp.results[call.node] = Fresh(state.mode_of(source))
    return state


def self_returning(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """``model.to(device)``, ``model.cuda()``: the module it was called on."""
    call = site.call
    if site.receiver_key is not None:
        interp.results[call.node] = Alias(site.receiver_key)
    elif isinstance(call.receiver, ir.CallValue) and call.receiver.node in interp.results:
        interp.results[call.node] = interp.results[call.receiver.node]
    return state


def prepared(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """``accelerator.prepare(model, optimizer)``: what it was given, in order."""
    call = site.call
    if not call.args:
        return None
    keys = tuple(ir.RefValue(state.canonical(a.key)) if isinstance(a, ir.RefValue) else ir.OTHER for a in call.args)
    if len(keys) > 1:
        interp.results[call.node] = Unpacked(keys)
    else:
        interp.results[call.node] = Alias(keys[0].key) if isinstance(keys[0], ir.RefValue) else UNTRACKED
    return state


def unresolved(interp: "Interpreter", site: CallSite, state: State) -> State:
    interp.lower_unresolved(site.call, state)
    return state


def item_list(interp: "Interpreter", site: CallSite, state: State) -> State | None:
    """``list()``, ``models.append(m)``, a list of modules handed to a call (``item_lists``)."""
    return interp.item_list_call(site, state)


HANDLERS: tuple[CallHandler, ...] = (
    CallHandler(item_list),
    CallHandler(enter_called_context, methods=frozenset({"__enter__"})),
    CallHandler(enter_on_exit_stack, methods=frozenset({"enter_context"})),
    CallHandler(call_on_a_call, when=lambda method, qualified: qualified is None or qualified.endswith(".*")),
    CallHandler(attribute_of_model, names=frozenset({"getattr"})),
    CallHandler(set_grad_enabled, names=torch_api.SET_GRAD_ENABLED),
    CallHandler(grad_context_built, names=torch_api.GRAD_CONTEXT_FACTORIES),
    # Before the torch methods: `agent.train(env)` is each class's own `train`, no mode switch.
    CallHandler(one_of_classes, when=lambda method, qualified: method is not None),
    CallHandler(network_method, when=lambda method, qualified: method is not None and _runs_the_network(method)),
    CallHandler(mode_method, methods=torch_api.MODE_METHODS),
    CallHandler(requires_grad, methods=frozenset({"requires_grad_"})),
    CallHandler(from_pretrained, methods=torch_api.PRETRAINED_METHODS),
    CallHandler(training_call),
    CallHandler(project_function),
    CallHandler(project_class),
    CallHandler(model_called),
    CallHandler(module_constructed, when=lambda method, qualified: qualified is not None and constructs_module(qualified)),
    CallHandler(module_wrapped),
    CallHandler(library_model, when=lambda method, qualified: roles.may_be_library_layer(qualified)),
    CallHandler(non_model_library, when=lambda method, qualified: qualified is not None and qualified.startswith(torch_api.NON_MODEL_LIBRARY_PREFIXES)),
    CallHandler(whole_model_loaded, names=torch_api.WHOLE_MODEL_LOADERS),
    CallHandler(model_copied, names=torch_api.COPY_FUNCTIONS),
    CallHandler(self_returning, methods=torch_api.SELF_RETURNING_METHODS),
    CallHandler(prepared, methods=frozenset({"prepare"})),
    CallHandler(unresolved),
)


def _mode_free_or_none(role: str | None) -> str | None:
    return roles.MODE_FREE if role == roles.MODE_FREE else None


@functools.lru_cache(maxsize=4096)
def _runs_the_network(method: str) -> bool:
    """Methods that run a module's network: `forward`, `forward_features`, `encode_image`, `infer`."""
    return method in ("__call__", "infer", "inference") or method.startswith(torch_api.NETWORK_METHOD_PREFIXES)
