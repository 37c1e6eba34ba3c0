"""The exceptions rnncli raises on purpose.

Only `cli/` turns them into a one-line message and an exit code; everything below it
raises. Exit codes: 2 for bad input or usage (data, config, checkpoint), 1 for other
failures, 3 for a `--fail-under` gate that was not met, 128+N for a signal.
"""

from __future__ import annotations

from pathlib import Path


class RnncliError(Exception):
    """Base of every error rnncli reports to its user as one line."""

    exit_code = 1


class UsageError(RnncliError):
    """Options that contradict each other or make no sense together."""

    exit_code = 2


class DataError(RnncliError):
    """Bad input data. Build it with `DataError.at(path, line, msg)` to name the place."""

    exit_code = 2

    @classmethod
    def at(cls, path: str | Path, line: int | None, message: str) -> "DataError":
        where = f"{path}:{line}" if line is not None else f"{path}"
        return cls(f"{where}: {message}")


class ConfigError(RnncliError):
    """An invalid configuration value or config file."""

    exit_code = 2


class CheckpointError(RnncliError):
    """A checkpoint directory that is missing, corrupt, truncated or hostile."""

    exit_code = 2


class TrainingError(RnncliError):
    """Training could not go on (for example too many non-finite steps in a row)."""

    exit_code = 1


class ThresholdError(RnncliError):
    """A `--fail-under METRIC=VALUE` gate was not met."""

    exit_code = 3


class Interrupted(RnncliError):
    """Training stopped on SIGINT/SIGTERM after saving; exit code 128 + signal number."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum
