import torch


def validate(model, loader):
    """Accuracy on the validation set."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            # forward only
            out = model(x)
            correct += (out.argmax(1) == y).sum().item()
    return correct


def train(model, loader, optimizer):
    model.train()
    for x, y in loader:
        loss = model(x).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    validate(model, loader)
