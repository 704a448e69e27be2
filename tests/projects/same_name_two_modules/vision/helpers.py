def prepare(model):
    model.eval()
