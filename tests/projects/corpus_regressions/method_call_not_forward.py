"""`base.get_classifier()` and `base.reset_classifier(0)` are methods of the model, not submodule forwards."""
def apply_test_time_pool(base, pool_size):
    classifier = base.get_classifier()
    base.reset_classifier(0)
    return classifier, pool_size
