"""Exceptions that the CLI turns into a one-line message and exit code 2 (user errors)
or a clear report that keeps earlier results (solver failures)."""


class _Missing:
    """The value of a key that is missing (one object, also across processes)."""

    def __repr__(self):
        return "missing"

    def __reduce__(self):
        return "MISSING"


MISSING = _Missing()


def _rebuild(cls, args, state):
    """Unpickle a femsim error without calling its ``__init__`` (see FemsimError.__reduce__)."""
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


def printable(text) -> str:
    """``text`` with control characters (terminal escapes, NUL, newlines) shown as escapes:
    messages quote case titles, names and paths, which must not drive the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class FemsimError(Exception):
    """Base class of femsim's own errors.

    Picklable whatever a subclass's ``__init__`` takes: an error raised in a worker
    process (a parallel sweep) must reach the parent intact. The default pickling calls
    ``cls(*self.args)``, i.e. ``CaseError(message)``, which fails and breaks the process
    pool; here the message and the attributes are restored directly.
    """

    def __reduce__(self):
        return _rebuild, (type(self), self.args, dict(self.__dict__))


class CaseError(FemsimError):
    """A case file (or a file it references) is malformed.

    ``path`` is the dotted key path ("lumped.hA"), ``value`` what was given and
    ``expected`` what was expected; ``str()`` is the one-line message.
    """

    MISSING = MISSING

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
