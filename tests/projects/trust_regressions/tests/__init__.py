"""The project's own tests (a package, as in many projects)."""
