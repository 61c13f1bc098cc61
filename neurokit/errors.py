"""Errors users see: one line naming the problem and the fix. The CLI prints them and exits nonzero."""


class NeurokitError(Exception):
    """Base class for every user-facing neurokit error."""


class UnsupportedModelError(NeurokitError):
    """The model or graph uses a layer or structure neurokit cannot convert or run."""


class InputShapeError(NeurokitError):
    """Data does not match the model's input shape."""


class BackendUnavailableError(NeurokitError):
    """A backend's dependency (Lava, lava-loihi, hardware) is missing."""


class FileFormatError(NeurokitError):
    """A file is missing, corrupt, or not the kind neurokit expected."""
