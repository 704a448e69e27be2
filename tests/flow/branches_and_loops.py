import torch


def straight(model):
    reveal_state(model)  # revealed: mode=train grad=on
    model.eval()
    reveal_state(model)  # revealed: mode=eval grad=on
    with torch.no_grad():
        reveal_state(model)  # revealed: mode=eval grad=off
    reveal_state(model)  # revealed: mode=eval grad=on
    model.train(False)
    reveal_state(model)  # revealed: mode=eval grad=on


def branches(model, flag):
    if flag:
        model.eval()
    reveal_state(model)  # revealed: mode=eval,train grad=on
    if flag:
        model.train()
    else:
        model.train()
    reveal_state(model)  # revealed: mode=train grad=on


def finally_runs_on_break(model, loader):
    for x in loader:
        try:
            model.eval()
            if x:
                break
        finally:
            model.train()
    reveal_state(model)  # revealed: mode=train grad=on


def finally_runs_on_continue(model, loader):
    for x in loader:
        try:
            model.eval()
            if x:
                continue
            reveal_state(model)  # revealed: mode=eval grad=on
        finally:
            model.train()
        reveal_state(model)  # revealed: mode=train grad=on
    reveal_state(model)  # revealed: mode=train grad=on


def correlated(model, phase):
    model.train(phase == "train")
    torch.set_grad_enabled(phase == "train")
    reveal_state(model)  # revealed: mode=eval,train grad=off,on
    if phase == "train":
        reveal_state(model)  # revealed: mode=train grad=on
    else:
        reveal_state(model)  # revealed: mode=eval grad=off


def loop_back_edge(model, loader):
    for epoch in range(3):
        reveal_state(model)  # revealed: mode=eval,train grad=on
        for x in loader:
            model(x)
        model.eval()
    reveal_state(model)  # revealed: mode=eval grad=on


def loop_that_may_not_run(model, loader, epochs):
    for epoch in range(epochs):
        model.eval()
    reveal_state(model)  # revealed: mode=eval,train grad=on


def early_exits(model, loader):
    for x in loader:
        model.eval()
        if x is None:
            break
        model.train()
    reveal_state(model)  # revealed: mode=eval,train grad=on


def restore_previous(model):
    was_training = model.training
    model.eval()
    reveal_state(model)  # revealed: mode=eval grad=on
    model.train(was_training)
    reveal_state(model)  # revealed: mode=train grad=on


def finally_restores(model):
    try:
        model.eval()
        reveal_state(model)  # revealed: mode=eval grad=on
    finally:
        model.train()
    reveal_state(model)  # revealed: mode=train grad=on


def while_true(model):
    while True:
        model.eval()
        break
    reveal_state(model)  # revealed: mode=eval grad=on


def decorated_caller(model):
    helper_sets_eval(model)
    reveal_state(model)  # revealed: mode=eval grad=on


def helper_sets_eval(model):
    model.eval()


@torch.no_grad()
def under_decorator(model):
    reveal_state(model)  # revealed: mode=train grad=off


@torch.inference_mode
def under_bare_decorator(model):
    reveal_state(model)  # revealed: mode=train grad=off
