"""A model that comes out of a set-up helper returning a tuple: its mode is unknown, not "train"."""
import torch


def get_setup(accelerator):
    model = load_model_somehow()
    return {"ddp": model}, accelerator


def generate_predictions(model, dataloader):
    outputs = []
    for batch in dataloader:
        with torch.no_grad():
            outputs.append(model(batch))
    return outputs


def check_metrics(accelerator, dataloader):
    setup, accelerator = get_setup(accelerator)
    model = setup["ddp"]
    return generate_predictions(model, dataloader)
