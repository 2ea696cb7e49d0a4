"""Exceptions raised for problems the user can fix (bad input, existing output, bad config).

The CLI turns any :class:`LWNetError` into a one-line message and a non-zero exit status;
anything else is a bug and keeps its traceback.
"""


class LWNetError(Exception):
    """Base class of all user-facing errors."""


class InputError(LWNetError):
    """An input file or folder is missing, unreadable or inconsistent."""


class OutputExistsError(LWNetError):
    """An output already exists and overwriting was not requested."""


class ConfigError(LWNetError):
    """A configuration key is unknown or a value is out of range."""


class WeightsError(LWNetError):
    """A weights file cannot be loaded safely or does not fit the architecture."""
