"""A function handed to a library as a callback has callers evallint cannot see: it is not judged."""
from export_tools import run_export_check


def verify_export(model, images):
    def inference_func(model, image):
        return model(image)

    return run_export_check(model, images, inference_func)
