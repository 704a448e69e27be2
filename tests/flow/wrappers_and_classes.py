import contextlib

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP


def wrappers():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    model_without_ddp = model
    model = DDP(model)
    model.module.eval()
    reveal_state(model_without_ddp)  # revealed: mode=eval grad=on
    model_without_ddp.train()
    reveal_state(model)  # revealed: mode=train grad=on


def pretrained():
    from transformers import AutoModel

    model = AutoModel.from_pretrained("x")
    reveal_state(model)  # revealed: mode=eval grad=on


@contextlib.contextmanager
def eval_mode(model):
    model.eval()
    try:
        yield
    finally:
        model.train()


def uses_context_manager(model):
    with eval_mode(model):
        reveal_state(model)  # revealed: mode=eval grad=on
    reveal_state(model)  # revealed: mode=train grad=on


def unresolved_call_lowers_knowledge(model):
    model.eval()
    some_library.prepare_for_eval(model)
    reveal_state(model)  # revealed: mode=unknown grad=on


class Trainer:
    def __init__(self, model):
        self.model = model

    def evaluate(self):
        self.model.eval()

    def fit(self):
        self.evaluate()
        reveal_state(self.model)  # revealed: mode=eval grad=on
        self.model.train()
        reveal_state(self.model)  # revealed: mode=train grad=on


def submodule_switch(model):
    model.train()
    model.backbone.eval()
    reveal_state(model)  # revealed: mode=train grad=on
    reveal_state(model.backbone)  # revealed: mode=eval grad=on
    model.train()
    reveal_state(model.backbone)  # revealed: mode=train grad=on


def entries_of_a_dict(models, other):
    # An entry is part of its container; a loop that switches every entry switches the container.
    for name in models.keys():
        models[name].eval()
    reveal_state(models["gen"])  # revealed: mode=eval grad=on
    models["gen"].train()
    reveal_state(models["gen"])  # revealed: mode=train grad=on
    reveal_state(models["disc"])  # revealed: mode=eval grad=on
    for index in range(len(other)):
        other[index].eval()
    reveal_state(other[0])  # revealed: mode=eval grad=on
    for name in models:
        models[name].train()
    reveal_state(models["disc"])  # revealed: mode=train grad=on
