"""Exceptions that the CLI turns into a one-line message and exit code 2 (user errors)
or a clear report that keeps earlier results (solver failures)."""


def printable(text) -> str:
    """``text`` with control characters (terminal escapes, NUL, newlines) shown as escapes:
    messages quote case titles, names and paths, which must not drive the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class FemsimError(Exception):
    """Base class of femsim's own errors."""


class CaseError(FemsimError):
    """A case file (or a file it references) is malformed.

    ``path`` is the dotted key path ("lumped.hA"), ``value`` what was given and
    ``expected`` what was expected; ``str()`` is the one-line message.
    """

    MISSING = object()

    def __init__(self, path: str, value, expected: str, source: str | None = None):
        self.path, self.value, self.expected, self.source = path, value, expected, source
        where = f"{source}: " if source else ""
        got = "missing" if value is CaseError.MISSING else f"got {value!r}"
        super().__init__(f"{where}{path}: {got}; expected {expected}")


class ConvergenceError(FemsimError):
    """A nonlinear solve did not converge; carries where and the residual history."""

    def __init__(self, message: str, bias=None, history=None):
        self.bias, self.history = bias, list(history or [])
        super().__init__(message)


class OutOfRangeError(FemsimError, ValueError):
    """A temperature (or other argument) left the range of a tabulated property."""
