"""A function handed to a helper as a callback has callers evallint cannot see: it is not judged."""
def run_export_check(model, images, check):
    model.eval()
    return check(model, images)


def verify_export(model, images):
    def inference_func(model, image):
        return model(image)

    return run_export_check(model, images, inference_func)
