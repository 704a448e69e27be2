import torch


def fit(model, train_loader, val_loader, optimizer):
    for x, y in train_loader:
        model.train()
        loss = (model(x) - y).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    model.eval()
    # validation pass
    with torch.no_grad():
        for x, y in val_loader:
            error = (model(x) - y).abs().mean().item()
    return error
