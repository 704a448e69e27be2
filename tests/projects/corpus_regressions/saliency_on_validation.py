"""Gradients over validation data for attribution: backward without an optimizer step is still
evaluation, and the model is in eval mode on purpose."""
def validate_with_saliency(model, val_loader):
    model.eval()
    maps = []
    for x, y in val_loader:
        x.requires_grad_(True)
        loss = model(x).gather(1, y[:, None]).sum()
        loss.backward()
        maps.append(x.grad.abs())
    return maps
