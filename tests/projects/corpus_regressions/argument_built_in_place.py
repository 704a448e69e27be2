"""Arguments that are not plain references: a copy of a model of unknown mode stays unknown, and
an argument evallint cannot follow gives the parameter an unknown mode, not a train-mode guess
(the grad mode is still known: evaluation without no_grad is reported)."""
import copy

import torch


def run_and_compare(model_zoo, inference_func, image, device):
    model = model_zoo.get("retinanet", trained=True)
    with torch.no_grad():
        return inference_func(copy.deepcopy(model).to(device), image)


def check_export(model_zoo, image, device):
    def inference_func(model, image):
        return model.forward([{"image": image}])

    return run_and_compare(model_zoo, inference_func, image, device)


def evaluate_loaded(loader, checkpoints):
    return [score_batches(checkpoints.load("best"), loader)]


def score_batches(model, loader):
    return [model(x) for x in loader]  # EVL201
