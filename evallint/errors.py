"""Errors a user can act on. The CLI prints their message and exits with status 2."""


class UsageError(Exception):
    """A bad option, path, or configuration value."""


class ConfigError(UsageError):
    """A bad `[tool.evallint]` table."""
