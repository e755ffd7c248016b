"""Errors a user can fix. The runner prints them as one sentence and exits with status 2."""


class UserError(Exception):
    """A mistake in what the user asked for, not a bug: no traceback, exit status 2."""


class ConfigError(UserError):
    """An unknown setting, a value of the wrong type, or an unknown recipe."""


class DataError(UserError):
    """A dataset that is neither prepared locally nor downloadable."""


class DeviceError(UserError):
    """A device that was asked for but is not there."""
