"""svdiag's exceptions and warnings.

Every error svdiag raises is a :class:`SvdiagError`, and each kind also derives from the builtin an
idiomatic ``except`` clause expects (a missing checkpoint is a ``FileNotFoundError``, a bad option a
``ValueError``, ...). Messages are the command line's, word for word.

A run that analyzes some matrices but not others does not raise: the failures are in the report
(``Report.failed``) and announced by a :class:`FailedTensorsWarning`. A run that analyzes nothing
raises :class:`NothingToAnalyzeError`.
"""

__all__ = [
    "SvdiagError",
    "CheckpointNotFoundError",
    "CheckpointReadError",
    "InvalidCheckpointError",
    "UnsafePickleError",
    "UnsupportedFormatError",
    "InvalidTensorError",
    "FilterMatchesNothingError",
    "InvalidOptionError",
    "NonFiniteError",
    "UnsupportedDtypeError",
    "SvdiagMemoryError",
    "ConvergenceError",
    "NothingToAnalyzeError",
    "NotARunError",
    "SvdiagWarning",
    "FailedTensorsWarning",
]


class SvdiagError(Exception):
    """Base class of every error svdiag raises."""


class CheckpointNotFoundError(SvdiagError, FileNotFoundError):
    """A path does not exist, or a directory holds no checkpoint."""


class CheckpointReadError(SvdiagError, OSError):
    """A checkpoint exists but cannot be read (permissions, I/O)."""


class InvalidCheckpointError(SvdiagError, ValueError):
    """A file is not a valid checkpoint of its format (truncated, lying header, refused pickle global)."""


class UnsafePickleError(InvalidCheckpointError):
    """A PyTorch checkpoint's pickle calls a global svdiag does not read (nothing was called).

    Attributes:
        global_name: the global, as ``module.name``.
        executes_code: True for globals whose only use is to run code or reach the system (do not
            ``torch.load`` such a file); otherwise it may be plain data beside the weights, which
            ``allow_globals=[global_name]`` reads as an opaque value.
    """

    def __init__(self, message: str, global_name: str = "", executes_code: bool = False) -> None:
        super().__init__(message)
        self.global_name = global_name
        self.executes_code = executes_code


class UnsupportedFormatError(SvdiagError, ValueError):
    """A recognised format svdiag does not read yet."""


class InvalidTensorError(SvdiagError, ValueError):
    """A tensor's data does not match its dtype and shape."""


class FilterMatchesNothingError(SvdiagError, ValueError):
    """``filter`` selects no tensor."""


class InvalidOptionError(SvdiagError, ValueError):
    """An option has an invalid value (the message names the command line's flag)."""


class NonFiniteError(SvdiagError, ValueError):
    """A matrix holds NaN or ±Inf (the message names the first such element)."""


class UnsupportedDtypeError(SvdiagError, TypeError):
    """An array's dtype holds no real numbers svdiag analyzes, or its data do not fit its shape."""


class SvdiagMemoryError(SvdiagError, MemoryError):
    """The workspace of a decomposition could not be allocated."""


class ConvergenceError(SvdiagError, ArithmeticError):
    """An iterative decomposition did not converge (never observed on finite input)."""


class NothingToAnalyzeError(SvdiagError, ValueError):
    """No matrix was analyzed: every tensor was skipped (their reasons are in the message) or failed."""


class NotARunError(SvdiagError, ValueError):
    """A directory given as a training run holds no checkpoints named with a step."""


class SvdiagWarning(UserWarning):
    """Base class of svdiag's warnings."""


class FailedTensorsWarning(SvdiagWarning):
    """Some matrices could not be analyzed; the others were (see ``Report.failed``)."""
