"""An exporter that runs the model in the mode its caller asked for: train mode is deliberate."""
import torch


def export_for_inference(model, example, training=False):
    if training:
        model.train()
    else:
        model.eval()
    with torch.inference_mode():
        reference = model(example)
    return reference
