"""The error family of pipeline-guard.

Expected failures are raised deep inside the code as a :class:`GuardError` subclass and turned
into one line for the user (and an exit code) once, at the CLI boundary, by
:mod:`pipeline_guard.cli.error_handler`. Anything that is not a ``GuardError`` is a bug and keeps
its traceback.
"""

from __future__ import annotations


class GuardError(Exception):
    """Base of every expected failure; ``exit_code`` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(GuardError):
    """The command line or an input file is wrong: the user must change what they ran."""

    exit_code = 2


class InputError(UsageError):
    """A log file given to the tool cannot be read as a log (missing, binary, empty, ...)."""


class ConfigError(UsageError):
    """A rule file, rule pack, model pack or configuration file is invalid."""


class RuleError(ConfigError):
    """One rule is invalid; the message names the file, the rule id and the field."""


class ModelError(ConfigError):
    """A model pack is corrupt, truncated or of an unsupported version."""


class ForgeError(GuardError):
    """The forge's API refused or failed a call; the message says what to do about it."""

    exit_code = 1


class PermissionMissing(ForgeError):
    """The token lacks a permission; ``permission`` names it in the forge's own words."""

    def __init__(self, message: str, permission: str) -> None:
        super().__init__(message)
        self.permission = permission


class TokenMissing(ForgeError):
    """No token was given, or the one given is rejected (401)."""


class FixError(GuardError):
    """A fixer could not make or verify its fix; the diagnosis and comment still go out."""


class FixUnavailable(FixError):
    """The fix cannot be made here (tool missing, unsafe to install, no checkout, ...);
    ``command`` is what a person can run instead, for the comment."""

    def __init__(self, message: str, command: str) -> None:
        super().__init__(message)
        self.command = command
