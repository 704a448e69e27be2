"""Inference over a model built from a config by OpenMMLab's builder, wrapped in mmcv's
MMDataParallel: a freshly built module is in train mode, and the wrapper is the same module.
The second function calls eval() first and stays quiet."""
import torch
from mmcv.parallel import MMDataParallel
from mmcv.runner import load_checkpoint
from mmdet.models import build_detector


def infer(cfg, data_loader):
    model = build_detector(cfg.model)
    load_checkpoint(model, cfg.load_from, map_location="cpu")
    model = MMDataParallel(model, device_ids=[0])
    results = []
    for data in data_loader:
        with torch.no_grad():
            results.extend(model(return_loss=False, **data))  # EVL101
    return results


def infer_in_eval_mode(cfg, data_loader):
    model = build_detector(cfg.model)
    load_checkpoint(model, cfg.load_from, map_location="cpu")
    wrapped = MMDataParallel(model.cuda(0), device_ids=[0])
    wrapped.eval()
    results = []
    for data in data_loader:
        with torch.no_grad():
            results.extend(wrapped(return_loss=False, **data))
    return results


def infer_wrapped_later(cfg, data_loader):
    model = build_detector(cfg.model)
    load_checkpoint(model, cfg.load_from, map_location="cpu")
    wrapped = MMDataParallel(model.cuda(0), device_ids=[0])
    results = []
    for data in data_loader:
        with torch.no_grad():
            results.extend(wrapped(return_loss=False, **data))  # EVL101
    return results
