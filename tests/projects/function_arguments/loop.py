import torch


def evaluate_fn(model, batch):
    return model(batch)  # EVL101


def careful_eval(model, batch):
    model.eval()
    return model(batch)


def run_validation(model, loader, step_fn):
    with torch.no_grad():
        return [step_fn(model, batch) for batch in loader]


def main(model, loader):
    model.train()
    run_validation(model, loader, evaluate_fn)
    run_validation(model, loader, step_fn=careful_eval)
