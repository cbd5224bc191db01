"""Shared fixtures and helpers for the relukit test suite.

Fixtures
--------
backend          parametrises a test over ``relukit.backends()`` and runs its body inside
                 ``relukit.use_backend(name)``.
low_thresholds   lowers every dispatch threshold so the automatic path reaches the parallel
                 Numba kernels on small (fast) arrays; restored after the test.
(autouse)        every test starts and ends with automatic dispatch, the thresholds and the
                 thread setting it found, so no test leaks state into another.

Helpers (import with ``from conftest import ...``)
-------
bits, assert_same, expected_relu, expected_mask, expected_backward, run_python
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

# Thresholds tuned on this machine (`python -m relukit tune`) must not change what the tests
# see: point the dispatcher at a file that does not exist, here and in every subprocess.
NO_TUNED_CONFIG = os.path.join(os.path.dirname(__file__), "no-such-relukit-config.json")
os.environ["RELUKIT_CONFIG"] = NO_TUNED_CONFIG

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import relukit
from relukit import _core

# tests/test_isa_levels.py runs the kernel tests once per instruction-set level by setting
# RELUKIT_ISA; a level that silently fell back to another would test the wrong build.
_FORCED_ISA = os.environ.get("RELUKIT_ISA", "").strip().lower()
if _FORCED_ISA and relukit._isa.LEVEL != _FORCED_ISA:
    raise pytest.UsageError(f"RELUKIT_ISA={_FORCED_ISA} but relukit loaded the "
                            f"{relukit._isa.LEVEL} build")

BACKENDS = relukit.backends()
COMPILED_DTYPES = (np.float32, np.float64)

# Odd sizes around every vector width (SSE .. AVX-512 for both float widths), the mask
# byte (8), the strided driver's block (1024), the Numba mask chunk (4096) and the size at
# which the Cython kernels release the GIL (8192).
ODD_SIZES = (0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129,
             255, 256, 257, 1023, 1024, 1025, 2047, 2049, 4095, 4096, 4097, 8191, 8192, 8193)

# Values every float test should meet: NaN (quiet, negative, with payloads, signalling),
# infinities, signed zeros, subnormals, the extremes of the format and ordinary numbers.
def special_values(dtype):
    dt = np.dtype(dtype)
    fi = np.finfo(dt)
    uint = {2: np.uint16, 4: np.uint32, 8: np.uint64}[dt.itemsize]
    if dt.itemsize == 2:
        nans = np.array([0x7E00, 0xFE00, 0x7D01, 0xFE23, 0x7C01], uint).view(dt)
    elif dt.itemsize == 4:
        nans = np.array([0x7FC00000, 0xFFC00000, 0x7FA00001, 0xFFC00123, 0x7F800001],
                        uint).view(dt)
    else:
        nans = np.array([0x7FF8000000000000, 0xFFF8000000000000, 0x7FF4000000000001,
                         0xFFF8000000000123, 0x7FF0000000000001], uint).view(dt)
    vals = [np.inf, -np.inf, 0.0, -0.0, fi.smallest_subnormal, -fi.smallest_subnormal,
            fi.smallest_subnormal * 3, -fi.smallest_subnormal * 5,
            fi.tiny, -fi.tiny, fi.max, fi.min, fi.eps, -fi.eps, 1.0, -1.0, 0.5, -2.5]
    return np.concatenate([nans, np.array(vals, dt)])


hypothesis_profile = settings(max_examples=120, deadline=None, derandomize=False,
                              suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])
settings.register_profile("relukit", hypothesis_profile)
settings.load_profile("relukit")


# --------------------------------------------------------------------------------------
# comparison helpers
# --------------------------------------------------------------------------------------
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def bits(a):
    """The raw bit patterns of a float array (native byte order), for bit-exact checks."""
    a = np.asarray(a)
    if a.dtype.kind == "f" and a.dtype.itemsize in _UINT:
        native = a.astype(a.dtype.newbyteorder("="), copy=True)
        return native.view(_UINT[a.dtype.itemsize])
    return a


def assert_same(got, expected, what="result"):
    """Same shape, same dtype, same bits (NaN payloads and signs of zero included)."""
    got = np.asarray(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    if got.dtype.kind == "f" and got.dtype.itemsize in _UINT:
        gb, eb = bits(got), bits(expected)
        if not np.array_equal(gb, eb):
            bad = np.flatnonzero((gb != eb).ravel())
            i = bad[0]
            raise AssertionError(
                f"{what}: {bad.size} element(s) differ bitwise; first at flat index {i}: "
                f"got {got.ravel()[i]!r} (0x{int(gb.ravel()[i]):x}), expected "
                f"{expected.ravel()[i]!r} (0x{int(eb.ravel()[i]):x})")
    else:
        np.testing.assert_array_equal(got, expected, err_msg=what)
        if got.dtype.kind == "f":
            np.testing.assert_array_equal(np.signbit(got), np.signbit(expected), err_msg=what)


# Independent oracles, written from the contract rather than taken from relukit.reference
def expected_relu(x):
    x = np.asarray(x)
    y = np.array(x, copy=True)
    y[x <= 0] = 0                                   # +0.0 for floats; NaN is kept
    return y


def expected_mask(x):
    x = np.asarray(x)
    return np.packbits((~(x <= 0)).ravel(order="C"), bitorder="little")


def expected_backward(grad, mask):
    grad = np.asarray(grad)
    keep = np.unpackbits(mask, count=grad.size, bitorder="little").astype(bool)
    y = np.array(grad, copy=True)
    y[~keep.reshape(grad.shape)] = 0
    return y


def random_floats(rng, n, dtype, special_fraction=0.1):
    """Normal numbers with a sprinkling of special values."""
    x = (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 4, n)).astype(dtype)
    if n:
        sp = special_values(dtype)
        k = rng.random(n) < special_fraction
        x[k] = sp[rng.integers(0, sp.size, k.sum())]
    return x


# --------------------------------------------------------------------------------------
# subprocess helper
# --------------------------------------------------------------------------------------
SRC = str(Path(relukit.__file__).resolve().parent.parent)


def run_python(code, env=None, timeout=180, pythonpath=SRC):
    """Run ``code`` in a fresh interpreter with relukit importable; returns CompletedProcess."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("RELUKIT_", "NUMBA_"))}
    full_env["PYTHONPATH"] = pythonpath
    full_env["RELUKIT_CONFIG"] = NO_TUNED_CONFIG
    full_env["RELUKIT_BUSY_CHECK"] = "0"
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env,
                          capture_output=True, text=True, timeout=timeout)


# --------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------
# The dispatcher avoids the parallel backend while the machine is busy (load average);
# the tests decide that themselves, so a loaded test machine does not change what runs.
_core._set_busy_mode(0)


@pytest.fixture(autouse=True)
def _isolated_dispatch_state():
    saved_thr = relukit.thresholds()
    saved_override = _core._get_global_override()
    saved_threads = _core._get_num_threads_setting()
    assert relukit.get_backend() is None or saved_override[0] >= 0, \
        "a use_backend() context leaked out of a previous test"
    yield
    _core._set_global_override(*saved_override)
    _core._set_num_threads(saved_threads)
    for cls, per_dtype in saved_thr.items():
        for dt, n in per_dtype.items():
            relukit.set_threshold(cls, dt, n)


@pytest.fixture(params=BACKENDS)
def backend(request):
    with relukit.use_backend(request.param):
        yield request.param


@pytest.fixture(params=[b for b in BACKENDS if b != "numpy"])
def compiled_backend(request):
    """The compiled backends only: the NumPy reference is written for readability and
    allocates temporaries (documented), so memory guarantees are the compiled paths'."""
    with relukit.use_backend(request.param):
        yield request.param


LOW_THRESHOLDS = {"float32": 96, "float64": 40}


@pytest.fixture
def low_thresholds():
    """Every op class switches to Numba at 96 float32 / 40 float64 elements."""
    for cls in relukit.thresholds():
        for dt, n in LOW_THRESHOLDS.items():
            relukit.set_threshold(cls, dt, n)
    return relukit.thresholds()


@pytest.fixture(scope="session")
def numba_warm():
    """Compile the Numba kernels once (both dtypes, with and without mask)."""
    if "numba" not in BACKENDS:
        return False
    with relukit.use_backend("numba"):
        for dt in COMPILED_DTYPES:
            x = np.linspace(-1, 1, 64).astype(dt)
            y, m = relukit.relu(x, return_mask=True)
            relukit.relu(x, out=x)
            relukit.relu_backward(y, m, out=y)
    return True


# --------------------------------------------------------------------------------------
# helpers for the relu6 / leaky_relu / prelu / crelu / brelu tests
# (test_piecewise_ops.py, test_composite_ops.py, test_family_properties.py)
# --------------------------------------------------------------------------------------
def assert_same_nan_loose(got, expected, what="result"):
    """Like assert_same, but where both arrays hold a NaN the NaNs may differ in sign and
    payload (every other element, signed zeros included, must match bit for bit).

    Only for outputs where two NaN operands meet in one arithmetic operation (a NaN x times
    a NaN grad, a sum of several NaN grads) or a signalling NaN is passed through: there
    the backends are known to pick different NaNs, which dedicated tests report."""
    got = np.asarray(got)
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    gn, en = np.isnan(got), np.isnan(expected)
    np.testing.assert_array_equal(gn, en, err_msg=f"{what}: NaN positions differ")
    assert_same(np.where(gn, 0, got), np.where(en, 0, expected), what)


def make_nan(dtype, bits_value):
    """The float of ``dtype`` with the raw bit pattern ``bits_value`` (e.g. a signalling NaN)."""
    dt = np.dtype(dtype)
    return np.array([bits_value], _UINT[dt.itemsize]).view(dt)[0]


def lower_thresholds_to(n32=LOW_THRESHOLDS["float32"], n64=LOW_THRESHOLDS["float64"]):
    """Set every op class's threshold (for Hypothesis tests, which cannot take the
    function-scoped ``low_thresholds`` fixture; the autouse fixture restores them)."""
    for cls in relukit.thresholds():
        relukit.set_threshold(cls, "float32", n32)
        relukit.set_threshold(cls, "float64", n64)


class NumbaSpy:
    """Records which Numba kernels run (wraps the module-level kernels that
    ``_numba_backend``'s runners look up at call time). Use with ``monkeypatch``."""

    KERNELS = ("relu", "relu_mask", "relu6", "relu6_mask", "leaky_relu", "leaky_relu_mask",
               "mask_select", "mask_scale", "prelu", "prelu_mask", "prelu_short", "prelu_grad", "crelu",
               "crelu_grad", "brelu", "brelu_grad")

    def __init__(self, monkeypatch):
        from relukit import _numba_backend as nb
        self.calls = []
        for name in self.KERNELS:
            monkeypatch.setattr(nb, name, self._wrap(name, getattr(nb, name)))

    def _wrap(self, name, fn):
        def spy(*a, **k):
            self.calls.append(name)
            return fn(*a, **k)
        return spy

    def reset(self):
        self.calls.clear()


def traced_allocation(fn):
    """Peak bytes traced by tracemalloc during one call of ``fn`` (after an untraced warm-up
    call, which excludes compilation and lazy imports), and that call's result."""
    import tracemalloc
    fn()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base, result


SENTINEL = 12345.0

def bad_outs(x):
    """Outputs that must be refused, each with the error it must raise: wrong shape, dtype,
    byte order, read-only; filled with SENTINEL so a test can check nothing was written."""
    ro = np.full_like(x, SENTINEL)
    ro.flags.writeable = False
    other = np.float64 if x.dtype == np.float32 else np.float32
    return {
        "shape-short": (ValueError, np.full(x.size - 1, SENTINEL, x.dtype)),
        "shape-2d": (ValueError, np.full((1, x.size), SENTINEL, x.dtype)),
        "dtype": (TypeError, np.full_like(x, SENTINEL, dtype=other)),
        "dtype-f16": (TypeError, np.full_like(x, SENTINEL, dtype=np.float16)),
        "byteswapped": (TypeError, np.full_like(x, SENTINEL, dtype=x.dtype.newbyteorder())),
        "read-only": (ValueError, ro),
    }
