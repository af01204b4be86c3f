"""bilens: read a bilinear network's whole computation from its weights.

A thin Python layer over the bilens Rust library (the extension module ``bilens._bilens``):
models and their interaction tensors, the embedded digits and other data, decompositions
into readable components with their metrics and figures, and the commands that write study
folders. See ``python/README.md`` for a tour; every name below has a docstring.
"""

from ._bilens import (
    BilensError,
    Data,
    Decomposition,
    Interaction,
    Model,
    __version__,
    compare,
    decompose,
    load_data,
    load_model,
    mnist,
    preset,
    presets,
    report,
    study,
    train,
)
from ._sweeps import sweep

__all__ = [
    "BilensError",
    "Data",
    "Decomposition",
    "Interaction",
    "Model",
    "__version__",
    "compare",
    "decompose",
    "load_data",
    "load_model",
    "mnist",
    "preset",
    "presets",
    "report",
    "study",
    "sweep",
    "train",
]
