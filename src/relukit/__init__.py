"""relukit: compiled CPU kernels for the ReLU family of activations.

Forward ops work in place (``out=x``) and can return a bit-packed mask (1 bit per element)
that is all their backward needs. Three backends compute them: hand-written loops in Cython
(single thread, lowest call overhead), parallel Numba kernels (large arrays), and a plain
NumPy reference (``relukit.reference``), chosen per call by a compiled dispatcher
(``relukit.explain`` says how; ``use_backend``/``set_backend``/``RELUKIT_BACKEND`` override).

Importing relukit compiles nothing and does not import numba.
"""
import sys as _sys

from ._isa import core as _core     # the build for this CPU's instruction set (relukit._isa)

_sys.modules[__name__ + "._core"] = _core    # `import relukit._core` names the chosen build
from . import reference  # noqa: E402
from ._core import (  # noqa: E402
    celu,
    celu_backward,
    elu,
    elu_backward,
    gelu,
    gelu_backward,
    selu,
    selu_backward,
    silu,
    silu_backward,
    softplus,
    softplus_backward,
    brelu,
    brelu_backward,
    crelu,
    crelu_backward,
    prelu,
    prelu_backward,
    leaky_relu,
    leaky_relu_backward,
    relu,
    relu6,
    relu6_backward,
    relu_backward,
)
from .dispatch import (  # noqa: E402
    backends,
    explain,
    get_backend,
    get_num_threads,
    set_backend,
    set_num_threads,
    set_threshold,
    show_config,
    thresholds,
    use_backend,
)
from .ops import ELEMENTWISE, MASKED, OPS, SMOOTH  # noqa: E402

__version__ = "0.1.0"

_core._reference = reference
from .dispatch import _configure_from_environment  # noqa: E402

_configure_from_environment()
del _configure_from_environment

__all__ = [
    "relu", "relu_backward", "relu6", "relu6_backward", "leaky_relu", "leaky_relu_backward",
    "prelu", "prelu_backward", "crelu", "crelu_backward", "brelu", "brelu_backward",
    "elu", "elu_backward", "selu", "selu_backward", "celu", "celu_backward", "softplus",
    "softplus_backward", "silu", "silu_backward", "gelu", "gelu_backward",
    "backends", "explain", "get_backend", "get_num_threads",
    "set_backend", "set_num_threads", "set_threshold", "show_config", "thresholds", "use_backend", "OPS", "ELEMENTWISE", "MASKED", "SMOOTH",
    "reference",
]
