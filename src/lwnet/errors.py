"""Exceptions raised for problems the user can fix (bad input, existing output, bad config),
and the warning for input that is read but probably not as meant.

The CLI turns any :class:`LWNetError` into a one-line message and a non-zero exit status, and
an :class:`InputWarning` into a ``warning:`` line; anything else is a bug and keeps its
traceback.
"""


class LWNetError(Exception):
    """Base class of all user-facing errors."""


class InputError(LWNetError):
    """An input file or folder is missing, unreadable or inconsistent."""


class InputWarning(UserWarning):
    """An input is read by the rules, but the result is probably not what its maker meant
    (12-bit data in a 16-bit file reads dark, say); the message names the file and the fix."""


class OutputExistsError(LWNetError):
    """An output already exists and overwriting was not requested."""


class ConfigError(LWNetError):
    """A configuration key is unknown or a value is out of range."""


class WeightsError(LWNetError):
    """A weights file cannot be loaded safely or does not fit the architecture."""


def require_counts(**counts: int) -> None:
    """Raise :class:`ConfigError` naming the first of ``counts`` (jobs, batch sizes, ...) below
    one, before the work they would size starts."""
    for key, value in counts.items():
        if value < 1:
            raise ConfigError(f"{key} must be at least 1, not {value}")
