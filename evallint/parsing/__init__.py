"""Reading source files: Python modules and Jupyter notebooks, errors as values."""
