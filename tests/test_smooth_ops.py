"""Behaviour of the smooth activations (elu, selu, celu, softplus, silu, gelu) and their
backwards, in every backend: signatures and parameter checks, ``out=``, dtypes, layouts,
automatic dispatch, special values, NaN, floating-point warnings and value properties.
Accuracy against mpmath is in test_smooth_accuracy.py.

Contract (PyTorch's definitions):

* elu(x, alpha=1.0) = x if x > 0 else alpha (exp(x) - 1); selu(x) = scale elu(x, alpha)
  with SELU's constants; celu(x, alpha=1.0) = max(0, x) + min(0, alpha (exp(x / alpha) - 1))
  (alpha = 0 is a ValueError); softplus(x, beta=1.0, threshold=20.0) =
  log(1 + exp(beta x)) / beta, and x where beta x > threshold (beta = 0 is a ValueError);
  silu(x) = x sigmoid(x); gelu(x, approximate="none"|"tanh") (anything else: ValueError).
* elu/selu/celu/softplus_backward(grad, y, ...) take the forward's OUTPUT; a negative alpha
  in elu_backward/celu_backward is a ValueError. silu/gelu_backward(grad, x, ...) take the
  INPUT.
* out=None allocates, out=x is in place; a bad out (shape, dtype, read-only, not an
  ndarray) raises before anything is written; integer input is a TypeError; float16 is
  computed by the NumPy reference; NaN propagates; any layout, 0-d and empty arrays.

Where the result depends on which kernel computes it (the backends round differently), the
layout tests compare with the same kernel on a contiguous copy: forcing ``numba`` on a
layout Numba does not take runs the Cython strided driver (``relukit.explain`` says so).
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, note, settings
from numpy.testing import assert_allclose
from hypothesis import strategies as st

import relukit
from relukit import reference
from conftest import (SENTINEL, bad_outs, BACKENDS, COMPILED_DTYPES, LOW_THRESHOLDS, assert_same,
                      lower_thresholds_to, make_nan, random_floats, special_values)
import mp_reference as mr

MAX_ULP = 4
FLOATS = (np.float16, np.float32, np.float64)
SELU_NEGCOEF = 1.7580993408473768          # alpha * scale, correctly rounded to double

# variant id -> (op name, keyword parameters)
VARIANTS = {
    "elu": ("elu", {}),
    "elu(alpha=0.5)": ("elu", {"alpha": 0.5}),
    "selu": ("selu", {}),
    "celu": ("celu", {}),
    "celu(alpha=2)": ("celu", {"alpha": 2.0}),
    "softplus": ("softplus", {}),
    "softplus(beta=2,threshold=5)": ("softplus", {"beta": 2.0, "threshold": 5.0}),
    "silu": ("silu", {}),
    "gelu": ("gelu", {}),
    "gelu(tanh)": ("gelu", {"approximate": "tanh"}),
}
NAMES = ("elu", "selu", "celu", "softplus", "silu", "gelu")


def op_of(vid):
    return relukit.OPS[VARIANTS[vid][0]]


def quiet(fn, *a, **k):
    with np.errstate(all="ignore"):
        return fn(*a, **k)


def fwd(vid, x, **kw):
    name, params = VARIANTS[vid]
    return relukit.OPS[name].forward(x, **params, **kw)


def ref_fwd(vid, x):
    name, params = VARIANTS[vid]
    return quiet(relukit.OPS[name].ref_forward, x, **params)


def saved_for(vid, x):
    """What the backward takes: the forward's output (computed by the reference, any
    values do) or its input."""
    return ref_fwd(vid, x) if op_of(vid).backward_needs == "output" else np.array(x, copy=True)


def bwd(vid, grad, saved, **kw):
    name, params = VARIANTS[vid]
    return relukit.OPS[name].backward(grad, saved, **params, **kw)


def values(dtype, n=300, seed=0):
    """Special values (NaNs with payloads, infinities, signed zeros, subnormals, extremes)
    and random normal numbers of every magnitude."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([special_values(dtype), random_floats(rng, n, dtype, 0.0),
                        np.linspace(-30, 30, 61).astype(dtype)])
    return x


def is_flat(*arrays):
    """Whether the dispatcher hands these arrays to Numba (same contiguous order, aligned)."""
    arrays = [np.asarray(a) for a in arrays]
    aligned = all(a.flags.aligned for a in arrays)
    return aligned and (all(a.flags.c_contiguous for a in arrays)
                        or all(a.flags.f_contiguous for a in arrays))


def effective_backend(backend, *arrays):
    """The backend that computes a call forced to ``backend`` (float32/float64 native)."""
    if any(not a.dtype.isnative or a.dtype.kind != "f" or a.dtype.itemsize == 2
           for a in map(np.asarray, arrays)):
        return "numpy"
    if backend == "numba" and not is_flat(*arrays):
        return "cython"
    return backend


def contiguous_result(backend, fn, *arrays):
    """``fn`` on C-contiguous native copies, computed by ``backend``."""
    copies = [np.ascontiguousarray(a, dtype=np.asarray(a).dtype.newbyteorder("="))
              for a in arrays]
    with relukit.use_backend(backend):
        return fn(*copies)


# --------------------------------------------------------------------------------------
# signatures and parameters
# --------------------------------------------------------------------------------------
def test_op_table_parameters_match_the_contract():
    expected = {"elu": {"alpha": 1.0}, "selu": {}, "celu": {"alpha": 1.0},
                "softplus": {"beta": 1.0, "threshold": 20.0}, "silu": {},
                "gelu": {"approximate": "none"}}
    assert set(relukit.SMOOTH) == set(NAMES)
    for name, params in expected.items():
        op = relukit.OPS[name]
        assert op.params == params, name
        assert op.max_ulp == MAX_ULP, name
        assert op.backward_needs == ("input" if name in ("silu", "gelu") else "output"), name
        assert op.forward is getattr(relukit, name)
        assert op.backward is getattr(relukit, name + "_backward")


@pytest.mark.parametrize("dtype", FLOATS)
def test_defaults_and_keywords(backend, dtype):
    """Defaults are PyTorch's; every parameter and out can be given by keyword."""
    x = np.linspace(-6, 25, 64).astype(dtype)
    g = np.linspace(-1, 2, 64).astype(dtype)
    y = quiet(reference.elu, x)
    assert_same(relukit.elu(x), relukit.elu(x, alpha=1.0, out=None))
    assert_same(relukit.elu_backward(g, y), relukit.elu_backward(g, y, alpha=1.0, out=None))
    assert_same(relukit.celu(x), relukit.celu(x, alpha=1.0, out=None))
    assert_same(relukit.celu_backward(g, y), relukit.celu_backward(g, y, alpha=1.0, out=None))
    assert_same(relukit.selu(x), relukit.selu(x, out=None))
    ys = quiet(reference.selu, x)
    assert_same(relukit.selu_backward(g, ys), relukit.selu_backward(g, ys, out=None))
    assert_same(relukit.softplus(x), relukit.softplus(x, beta=1.0, threshold=20.0, out=None))
    yp = quiet(reference.softplus, x)
    assert_same(relukit.softplus_backward(g, yp),
                relukit.softplus_backward(g, yp, beta=1.0, threshold=20.0, out=None))
    assert_same(relukit.silu(x), relukit.silu(x, out=None))
    assert_same(relukit.silu_backward(g, x), relukit.silu_backward(g, x, out=None))
    assert_same(relukit.gelu(x), relukit.gelu(x, approximate="none", out=None))
    assert_same(relukit.gelu_backward(g, x), relukit.gelu_backward(g, x, approximate="none"))
    assert_same(relukit.gelu(x, "tanh"), relukit.gelu(x, approximate="tanh"))


def _bad_param_calls(x, g, y):
    return [
        ("celu alpha=0", lambda **k: relukit.celu(x, 0.0, **k)),
        ("celu alpha=-0.0", lambda **k: relukit.celu(x, alpha=-0.0, **k)),
        ("celu_backward alpha=0", lambda **k: relukit.celu_backward(g, y, 0.0, **k)),
        ("celu_backward alpha<0", lambda **k: relukit.celu_backward(g, y, alpha=-1.0, **k)),
        ("elu_backward alpha<0", lambda **k: relukit.elu_backward(g, y, alpha=-0.5, **k)),
        ("elu_backward alpha=-inf", lambda **k: relukit.elu_backward(g, y, -np.inf, **k)),
        ("softplus beta=0", lambda **k: relukit.softplus(x, 0.0, **k)),
        ("softplus beta=-0.0", lambda **k: relukit.softplus(x, beta=-0.0, **k)),
        ("softplus_backward beta=0", lambda **k: relukit.softplus_backward(g, y, beta=0.0, **k)),
        ("gelu approximate='exact'", lambda **k: relukit.gelu(x, "exact", **k)),
        ("gelu approximate='TANH'", lambda **k: relukit.gelu(x, approximate="TANH", **k)),
        ("gelu approximate=None", lambda **k: relukit.gelu(x, approximate=None, **k)),
        ("gelu approximate=''", lambda **k: relukit.gelu(x, approximate="", **k)),
        ("gelu_backward approximate='erf'",
         lambda **k: relukit.gelu_backward(g, x, approximate="erf", **k)),
        ("gelu_backward approximate=0", lambda **k: relukit.gelu_backward(g, x, 0, **k)),
    ]


@pytest.mark.parametrize("dtype", FLOATS)
def test_bad_parameters_are_value_errors_nothing_written(backend, dtype):
    x = np.linspace(-4, 4, 40).astype(dtype)
    g = np.ones_like(x)
    y = quiet(reference.elu, x)
    snapshots = [a.copy() for a in (x, g, y)]
    for what, call in _bad_param_calls(x, g, y):
        out = np.full_like(x, SENTINEL)
        with pytest.raises(ValueError):
            call()
        with pytest.raises(ValueError):
            call(out=out)
        assert np.all(out == SENTINEL), f"{what}: out written before the error"
    for a, s in zip((x, g, y), snapshots):
        assert_same(a, s, "inputs untouched")


def test_bad_parameters_in_place_nothing_written(backend):
    x = np.linspace(-4, 4, 40)
    x0 = x.copy()
    with pytest.raises(ValueError):
        relukit.celu(x, 0.0, out=x)
    with pytest.raises(ValueError):
        relukit.softplus(x, beta=0.0, out=x)
    with pytest.raises(ValueError):
        relukit.gelu(x, "sigmoid", out=x)
    g = np.ones_like(x)
    with pytest.raises(ValueError):
        relukit.elu_backward(g, x, -1.0, out=g)
    assert_same(x, x0)
    assert np.all(g == 1)


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_negative_alpha_forward_follows_the_formula(backend, dtype):
    """A negative alpha is allowed in the forwards (only the backwards need alpha >= 0):
    elu = alpha * expm1(x) for x <= 0; celu = max(0, x) + min(0, alpha expm1(x / alpha))."""
    x = np.linspace(-5, 5, 41).astype(dtype)
    for alpha in (-0.5, -2.0):
        for name, fn in (("elu", mr.elu), ("celu", mr.celu)):
            got = getattr(relukit, name)(x, alpha)
            err = mr.exact(fn, x, dtype, alpha).ulp_errors(got)
            assert err.max() <= MAX_ULP, (name, alpha, x[np.argmax(err)], err.max())


# --------------------------------------------------------------------------------------
# out=
# --------------------------------------------------------------------------------------
# The Numba kernels walk the array in rows of 4096 elements and take an output that is
# an input through that input's one view (_numba_backend._same): MANY_ROWS covers several
# rows and a short last one.
MANY_ROWS = 3 * 4096 + 37


@pytest.mark.parametrize("n", [300, MANY_ROWS])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("vid", list(VARIANTS))
def test_forward_out_forms(backend, vid, dtype, n):
    """out=None allocates (x untouched); out=x is in place and returns x; out=other returns
    other; all three give the same bits. x is read-only where it is not the output."""
    x = values(dtype, n)
    x0 = x.copy()
    x.flags.writeable = False
    y = quiet(fwd, vid, x)
    assert y is not x and y.dtype == x.dtype and y.shape == x.shape
    assert_same(x, x0, "x untouched by out=None")
    other = np.full_like(x, SENTINEL)
    r = quiet(fwd, vid, x, out=other)
    assert r is other
    assert_same(other, y, "out=other")
    assert_same(x, x0, "x untouched by out=other")
    xi = x.copy()
    r = quiet(fwd, vid, xi, out=xi)
    assert r is xi
    assert_same(xi, y, "out=x")


@pytest.mark.parametrize("n", [300, MANY_ROWS])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("vid", list(VARIANTS))
def test_backward_out_forms(backend, vid, dtype, n):
    """out=None, out=grad (in place), out=saved (the y or x array) and a separate out; the
    inputs are read-only where they are not the output."""
    x = values(dtype, n, seed=1)
    s = saved_for(vid, x)
    g = random_floats(np.random.default_rng(2), x.size, dtype, 0.0)
    g0, s0 = g.copy(), s.copy()
    g.flags.writeable = False
    s.flags.writeable = False
    r = quiet(bwd, vid, g, s)
    assert r is not g and r is not s and r.dtype == g.dtype and r.shape == g.shape
    assert_same(g, g0)
    assert_same(s, s0)
    other = np.full_like(g, SENTINEL)
    assert quiet(bwd, vid, g, s, out=other) is other
    assert_same(other, r, "out=other")
    gi = g.copy()
    assert quiet(bwd, vid, gi, s, out=gi) is gi
    assert_same(gi, r, "out=grad")
    si = s.copy()
    assert quiet(bwd, vid, g, si, out=si) is si
    assert_same(si, r, "out=saved")


@pytest.mark.parametrize("vid", list(VARIANTS))
def test_partially_overlapping_out(backend, vid):
    """An out that partially overlaps the input gives what NumPy would (the input read
    before anything is written)."""
    buf = np.linspace(-10, 10, 101)
    x, out = buf[:-1], buf[1:]
    expected = quiet(fwd, vid, x.copy())
    quiet(fwd, vid, x, out=out)
    assert_same(out, expected)
    buf = np.linspace(-10, 10, 101)
    g = np.linspace(0.5, 1.5, 100)
    s, out = buf[1:], buf[:-1]
    s_in = saved_for(vid, s.copy()) if op_of(vid).backward_needs == "output" else s.copy()
    s[...] = s_in
    expected = quiet(bwd, vid, g, s.copy())
    quiet(bwd, vid, g, s, out=out)
    assert_same(out, expected)




@pytest.mark.parametrize("case", list(bad_outs(np.zeros(4))))
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
@pytest.mark.parametrize("vid", list(VARIANTS))
def test_bad_out_raises_before_writing(backend, vid, dtype, case):
    x = np.linspace(-8, 8, 100).astype(dtype)
    s = saved_for(vid, x)
    g = np.ones_like(x)
    x0, s0 = x.copy(), s.copy()
    exc, out = bad_outs(x)[case]
    snapshot = out.copy()
    with pytest.raises(exc, match=r"\bout\b"):
        fwd(vid, x, out=out)
    assert_same(out, snapshot, "out untouched by the forward")
    with pytest.raises(exc, match=r"\bout\b"):
        bwd(vid, g, s, out=out)
    assert_same(out, snapshot, "out untouched by the backward")
    assert_same(x, x0)
    assert_same(s, s0)
    assert np.all(g == 1)


@pytest.mark.parametrize("vid", list(VARIANTS))
def test_out_not_an_array_and_read_only_in_place(backend, vid):
    x = np.linspace(-8, 8, 50)
    with pytest.raises(TypeError, match=r"\bout\b"):
        fwd(vid, x, out=[0.0] * 50)
    with pytest.raises(TypeError, match=r"\bout\b"):
        bwd(vid, np.ones_like(x), saved_for(vid, x), out=[0.0] * 50)
    lst = list(x)
    with pytest.raises(TypeError):
        fwd(vid, lst, out=lst)                         # out=x needs an ndarray x
    ro = x.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fwd(vid, ro, out=ro)
    with pytest.raises(ValueError, match="read-only"):
        bwd(vid, ro, saved_for(vid, x), out=ro)
    assert_same(ro, x)


@pytest.mark.parametrize("vid", list(VARIANTS))
def test_backward_argument_mismatch(backend, vid):
    g = np.ones(10)
    s = saved_for(vid, np.linspace(-2, 2, 10))
    with pytest.raises(ValueError):
        bwd(vid, g, s[:9])
    with pytest.raises(ValueError):
        bwd(vid, g, s.reshape(2, 5))
    with pytest.raises(TypeError):
        bwd(vid, g.astype(np.float32), s)
    with pytest.raises(TypeError):
        bwd(vid, g, s.astype(np.float32))


# --------------------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint64, bool,
                                   np.complex128])
@pytest.mark.parametrize("vid", list(VARIANTS))
def test_non_float_input_is_type_error_nothing_written(backend, vid, dtype):
    x = np.array([0, 1, 1, 0], dtype) if dtype in (bool, np.uint8, np.uint64) \
        else np.array([-3, 0, 5, 9], dtype)
    x0 = x.copy()
    with pytest.raises(TypeError):
        fwd(vid, x)
    with pytest.raises(TypeError):
        fwd(vid, x, out=x)
    out = np.full(x.shape, SENTINEL)
    with pytest.raises(TypeError):
        fwd(vid, x, out=out)
    assert np.all(out == SENTINEL)
    with pytest.raises(TypeError):
        bwd(vid, x, x)
    with pytest.raises(TypeError):
        bwd(vid, x, x, out=x)
    np.testing.assert_array_equal(x, x0)
    if dtype is np.int64:
        with pytest.raises(TypeError):
            fwd(vid, [1, -2, 3])                       # a list of ints, too


@pytest.mark.parametrize("vid", list(VARIANTS))
def test_float16_is_the_reference(backend, vid):
    """float16 is computed by the NumPy reference (in float64, rounded once) in every
    backend: same bits as relukit.reference, dtype float16."""
    name, params = VARIANTS[vid]
    op = relukit.OPS[name]
    x = values(np.float16)
    y = quiet(op.forward, x, **params)
    assert y.dtype == np.float16
    assert_same(y, quiet(op.ref_forward, x, **params))
    s = saved_for(vid, x)
    g = random_floats(np.random.default_rng(3), x.size, np.float16, 0.0)
    gb = quiet(op.backward, g, s, **params)
    assert gb.dtype == np.float16
    assert_same(gb, quiet(op.ref_backward, g, s, **params))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("vid", list(VARIANTS))
def test_python_scalars_lists_and_0d(backend, vid, dtype):
    """0-d arrays, numpy scalars, Python floats and lists are accepted; a 0-d input gives a
    0-d array equal to the 1-element computation."""
    one = np.array([-0.75], dtype)
    expected = fwd(vid, one)
    for arg in (np.array(-0.75, dtype), dtype(-0.75)):
        got = fwd(vid, arg)
        assert isinstance(got, np.ndarray) and got.shape == () and got.dtype == dtype
        assert_same(got.reshape(1), expected)
    if dtype is np.float64:
        got = fwd(vid, -0.75)
        assert got.shape == () and got.dtype == np.float64
        assert_same(got.reshape(1), expected)
        assert_same(fwd(vid, [-0.75]), expected)
    s = saved_for(vid, one)
    g = np.array([1.5], dtype)
    bexp = bwd(vid, g, s)
    got = bwd(vid, g.reshape(()), s.reshape(()))
    assert got.shape == () and got.dtype == dtype
    assert_same(got.reshape(1), bexp)


# --------------------------------------------------------------------------------------
# layouts and dispatch
# --------------------------------------------------------------------------------------
def _layouts(base):
    """(name, array) pairs holding ``base`` (a 1-d array of 240 values) logically reshaped
    to (12, 20) or as 1-d, in various memory layouts."""
    n = base.size
    m = base.reshape(12, 20)
    step = np.empty(3 * n, base.dtype)
    step[::3] = base
    rev = base[::-1].copy()[::-1]
    raw = np.zeros(n * base.itemsize + 1, np.uint8)
    unaligned = raw[1:].view(base.dtype)
    unaligned[...] = base
    t = np.ascontiguousarray(m.T).T
    cube = np.ascontiguousarray(base.reshape(4, 6, 10).transpose(2, 0, 1)).transpose(1, 2, 0)
    swapped = base.astype(base.dtype.newbyteorder())
    return [("C", base.copy()), ("F-2d", np.asfortranarray(m)), ("transposed", t),
            ("step3", step[::3]), ("reversed", rev), ("unaligned", unaligned),
            ("permuted-3d", cube), ("columns-step2", np.repeat(m, 2, axis=1)[:, ::2]),
            ("byteswapped", swapped)]


LAYOUTS = [name for name, _ in _layouts(np.zeros(240))]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
@pytest.mark.parametrize("vid", list(VARIANTS))
def test_forward_any_layout(backend, vid, dtype, layout):
    """Any layout gives, element for element, what the kernel that computes it gives on a
    contiguous copy; out= in place and into an array of another layout, too."""
    base = values(dtype, n=240 - special_values(dtype).size - 61, seed=4)
    assert base.size == 240
    x = dict(_layouts(base))[layout]
    eff = effective_backend(backend, x)
    expected = contiguous_result(eff, lambda a: quiet(fwd, vid, a), x)
    got = quiet(fwd, vid, x)
    assert got.shape == x.shape
    assert_same(np.ascontiguousarray(got, got.dtype.newbyteorder("=")), expected,
                f"{layout} ({eff})")
    xi = dict(_layouts(base))[layout]                 # a fresh array of the same layout
    assert quiet(fwd, vid, xi, out=xi) is xi
    assert_same(np.ascontiguousarray(xi, xi.dtype.newbyteorder("=")), expected, "in place")
    if not x.dtype.isnative:
        return
    out = np.full(x.shape, SENTINEL, dtype, order="F" if x.ndim > 1 else "C")
    quiet(fwd, vid, x, out=out)
    eff_o = effective_backend(backend, x, out)
    assert_same(np.ascontiguousarray(out),
                contiguous_result(eff_o, lambda a: quiet(fwd, vid, a), x), "out of another layout")


@pytest.mark.parametrize("layout", ["F-2d", "transposed", "step3", "reversed", "unaligned",
                                    "byteswapped"])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
@pytest.mark.parametrize("vid", list(VARIANTS))
def test_backward_any_layout(backend, vid, dtype, layout):
    """grad in ``layout``, the saved array C-ordered (and the other way round)."""
    base = values(dtype, n=240 - special_values(dtype).size - 61, seed=5)
    s_base = saved_for(vid, base)
    g_base = random_floats(np.random.default_rng(6), base.size, dtype, 0.05)
    lay = dict(_layouts(g_base))[layout]
    lay_s = dict(_layouts(s_base))[layout]
    shape = lay.shape
    fn = lambda g, s: quiet(bwd, vid, g, s)          # noqa: E731
    for g, s in ((lay, s_base.reshape(shape)), (g_base.reshape(shape), lay_s), (lay, lay_s)):
        if not (g.dtype.isnative and s.dtype.isnative) and g.dtype != s.dtype:
            with pytest.raises(TypeError):
                fn(g, s)                            # grad and saved dtypes must match
            continue
        eff = effective_backend(backend, g, s)
        got = fn(g, s)
        assert got.shape == shape
        assert_same(np.ascontiguousarray(got, got.dtype.newbyteorder("=")),
                    contiguous_result(eff, fn, g, s), f"{layout} ({eff})")


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4, 2)])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("vid", list(VARIANTS))
def test_empty(backend, vid, dtype, shape):
    x = np.empty(shape, dtype)
    y = fwd(vid, x)
    assert y.shape == shape and y.dtype == dtype
    assert fwd(vid, x, out=x) is x
    g = bwd(vid, x, x)
    assert g.shape == shape and g.dtype == dtype
    xf = np.asfortranarray(np.empty(shape, dtype))
    assert fwd(vid, xf).shape == shape


@pytest.mark.parametrize("n", [1, 7, 39, 40, 41, 95, 96, 97, 257, 1025])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
@pytest.mark.parametrize("vid", list(VARIANTS))
def test_automatic_dispatch_around_thresholds(low_thresholds, vid, dtype, n):
    """Automatic dispatch with lowered thresholds: Cython below them, Numba at and above
    (both forward and backward); each result is the chosen kernel's."""
    x = values(dtype, n=max(n, 200), seed=n)[:n].copy()
    s = saved_for(vid, x)
    g = random_floats(np.random.default_rng(n), n, dtype, 0.05)
    thr = LOW_THRESHOLDS[np.dtype(dtype).name]
    chosen = "numba" if n >= thr and "numba" in BACKENDS else "cython"
    assert f"backend {chosen}" in relukit.explain(VARIANTS[vid][0], x)
    assert_same(quiet(fwd, vid, x), contiguous_result(chosen, lambda a: quiet(fwd, vid, a), x))
    assert_same(quiet(bwd, vid, g, s),
                contiguous_result(chosen, lambda a, b: quiet(bwd, vid, a, b), g, s))


# --------------------------------------------------------------------------------------
# special values
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
def test_signed_zeros(backend, dtype):
    """f(+-0) = +-0 for elu, selu, celu, silu and gelu (the x <= 0 branch keeps -0.0, as in
    PyTorch); softplus(+-0) = log(2)."""
    dt = np.dtype(dtype)
    z = np.array([0.0, -0.0], dt)
    for vid in VARIANTS:
        got = fwd(vid, z)
        if VARIANTS[vid][0] == "softplus":
            b = VARIANTS[vid][1].get("beta", 1.0)
            exact = np.log(2) / b                # log(2) / beta within 4 ulp
            assert np.all(np.abs(got.astype(np.float64) - exact)
                          <= MAX_ULP * np.spacing(dt.type(exact)).astype(np.float64)), (vid, got)
        else:
            assert_same(got, z, vid)


@pytest.mark.parametrize("dtype", FLOATS)
def test_infinities(backend, dtype):
    """elu/celu(-inf) = -alpha, selu(-inf) = -alpha * scale (within the bound), softplus(-inf)
    = +0.0, and f(+inf) = +inf for every op (PyTorch's values)."""
    dt = np.dtype(dtype)
    x = np.array([np.inf, -np.inf], dt)
    for vid, (name, params) in VARIANTS.items():
        got = fwd(vid, x)
        assert got[0] == np.inf, f"{vid}(+inf) = {got[0]}"
    for alpha in (1.0, 0.5, 2.0):
        assert relukit.elu(x, alpha)[1] == dt.type(-alpha)
        assert relukit.celu(x, alpha)[1] == dt.type(-alpha)
    s = float(relukit.selu(x)[1])
    assert abs(s + SELU_NEGCOEF) <= MAX_ULP * float(np.spacing(dt.type(SELU_NEGCOEF))), s
    for beta in (1.0, 2.0, 0.5):
        got = relukit.softplus(x, beta)[1]
        assert got == 0 and not np.signbit(got), f"softplus(-inf, beta={beta}) = {got}"


@pytest.mark.parametrize("dtype", FLOATS)
def test_softplus_beta_x_overflowing_to_minus_inf(backend, dtype):
    """softplus(x, beta) where beta * x overflows to -inf is exp(beta x) / beta underflowed:
    +0.0."""
    dt = np.dtype(dtype)
    x = np.array([np.finfo(dt).min, np.finfo(dt).min / 2], dt)
    got = quiet(relukit.softplus, x, 4.0)
    assert_same(got, np.zeros(2, dt))


def test_silu_gelu_at_minus_inf_agree_across_backends():
    """silu(-inf) and gelu(-inf) are -inf * 0 in PyTorch's formulas (NaN there) while the
    limit is -0.0: either is accepted, but every backend must give the same."""
    for dtype in FLOATS:
        x = np.array([-np.inf], dtype)
        for vid in ("silu", "gelu", "gelu(tanh)"):
            results = {}
            for b in BACKENDS:
                with relukit.use_backend(b):
                    results[b] = quiet(fwd, vid, x)[0]
            for b, v in results.items():
                assert np.isnan(v) or (v == 0 and np.signbit(v)), (vid, b, v)
            assert len({("nan" if np.isnan(v) else float(v)) for v in results.values()}) == 1, \
                (vid, np.dtype(dtype).name, results)


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_silu_value_does_not_depend_on_its_neighbours(backend, dtype):
    """silu takes a fast form in blocks (1024 elements in Cython, 4096 in Numba) with no x
    below -86 (float32) / -700 (float64) and the wide form elsewhere: each element's result
    must not depend on which block it falls in. Values below the bound (down to -inf, where
    the fast form would be wrong), NaN and the rest, scattered across block boundaries,
    against silu of each element alone, out of place and in place, and within the accuracy
    bound."""
    rng = np.random.default_rng(7)
    n = 3 * 4096 + 5
    x = rng.uniform(-12, 12, n).astype(dtype)
    if np.dtype(dtype) == np.float32:
        low = np.array([-86.0, -86.5, -87.5, -90, -100, -103.9, -104.5, -200, -np.inf], dtype)
    else:
        low = np.array([-700.0, -700.5, -709, -720, -745, -750, -770, -1e4, -np.inf], dtype)
    where = np.array([5, 1023, 1024, 2047, 4095, 4096, 9000, 3 * 4096 + 4, 6000])
    x[where] = low
    x[[100, 5000]] = np.nan
    x[2 * 4096: 3 * 4096] = rng.uniform(-12, 12, 4096)   # a block with no low value
    got = quiet(relukit.silu, x)
    alone = np.concatenate([quiet(relukit.silu, x[i:i + 1]) for i in range(n)])
    assert_same(got, alone)
    inplace = x.copy()
    quiet(relukit.silu, inplace, out=inplace)
    assert_same(inplace, got)
    finite = np.isfinite(x)
    err = mr.exact(mr.silu, x[finite], dtype).ulp_errors(got[finite])
    assert err.max() <= MAX_ULP, (x[finite][np.argmax(err)], err.max())


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_gelu_tanh_value_does_not_depend_on_its_neighbours(backend, dtype):
    """gelu(tanh) takes a form without the rescaling where no x is NaN or below -9.8
    (float32) / -20 (float64) (Cython: per block of 1024; Numba: per row of 4096): each
    element's result against gelu of it alone, with values below the bound (down to -inf;
    beyond -10.2 / -21.2 the fast form would give -0.0 for a subnormal result), NaN and
    the rest scattered across block boundaries, out of place and in place, and within the
    accuracy bound. Numba's second row has none of them, its third only a NaN."""
    rng = np.random.default_rng(8)
    n = 3 * 4096 + 5
    if np.dtype(dtype) == np.float32:
        span, subnormal = 10.0, [-10.3, -10.5]
        low = np.array([-9.85, -10.0] + subnormal + [-10.9, -12.0, -1e30, -np.inf], dtype)
    else:
        span, subnormal = 20.0, [-21.2, -21.3]
        low = np.array([-20.5] + subnormal + [-21.5, -22.0, -25.0, -1e300, -np.inf])
    x = rng.uniform(-span, span, n).astype(dtype)
    where = np.array([5, 1023, 1024, 2047, 2100, 3 * 4096 + 4, 600, 700])
    x[where] = low
    x[[100, 9000]] = np.nan
    x[2 * 1024 + 1: 3 * 1024] = rng.uniform(-span, span, 1023)   # a block with no low value
    got = quiet(relukit.gelu, x, approximate="tanh")
    alone = np.concatenate([quiet(relukit.gelu, x[i:i + 1], approximate="tanh")
                            for i in range(n)])
    assert_same(got, alone)
    inplace = x.copy()
    quiet(relukit.gelu, inplace, approximate="tanh", out=inplace)
    assert_same(inplace, got)
    tiny = np.flatnonzero(np.isin(x, np.array(subnormal, dtype)))
    assert tiny.size == len(subnormal)
    for i in tiny:
        assert got[i] != 0 and abs(got[i]) < np.finfo(dtype).tiny, (x[i], got[i])
    finite = np.isfinite(x)
    err = mr.exact(mr.gelu, x[finite], dtype, "tanh").ulp_errors(got[finite])
    assert err.max() <= MAX_ULP, (x[finite][np.argmax(err)], err.max())


@pytest.mark.parametrize("op, bound, far", [
    ("silu", 600.0, [600.5, -650.0, -700.0, -720.0, -745.0, -760.0, 800.0, 1e300]),
    ("gelu_tanh", 19.0, [19.5, -19.5, -20.5, -21.2, -22.0, -30.0, 25.0, 1e300])])
def test_float64_gradient_value_does_not_depend_on_its_neighbours(compiled_backend, op, bound,
                                                                 far):
    """float64 silu' and gelu(tanh)' take a form without clamps and final scaling where no
    |x| is above 600 / 19 and none is NaN (Cython: per block of 1024; Numba: per row of
    4096 for gelu(tanh)', per call for silu'): each gradient against the gradient of it
    alone, with values beyond the bound (where that form would be wrong or lose bits),
    infinities and NaN across block boundaries, out of place and in place, and within the
    accuracy bound. A NaN x comes back as it is, whatever its position in the vectorised
    loop. Numba's second row has none of them, its third only a NaN."""
    fn = relukit.silu_backward if op == "silu" else relukit.gelu_backward
    kw = {} if op == "silu" else {"approximate": "tanh"}
    rng = np.random.default_rng(13)
    n = 3 * 4096 + 7
    x = rng.uniform(-12, 12, n)
    g = rng.uniform(0.5, 2, n)
    where = np.array([3, 1023, 1024, 2047, 2048, 2500, 700, 800, 900, 1000])
    x[where] = far + [np.inf, -np.inf]
    x[[50, 9000]] = np.nan
    x[2 * 1024 + 1: 3 * 1024] = rng.uniform(-bound, bound, 1023)   # a block within the bound
    got = quiet(fn, g, x, **kw)
    alone = np.concatenate([quiet(fn, g[i:i + 1], x[i:i + 1], **kw) for i in range(n)])
    assert_same(got, alone)
    inplace = g.copy()
    quiet(fn, inplace, x, out=inplace, **kw)
    assert_same(inplace, got)
    finite = np.isfinite(x) & (np.abs(x) <= (780 if op == "silu" else 25))   # the clamps
    # and the documented float64 exception (README, test_smooth_accuracy.ROOT_EXCLUSION):
    # within 2^-7 of the derivative's root the cancellation amplifies the exponential's
    # own error beyond 4 ulp (7.2 ulp at 2^-12.5 from silu's root at the baseline level)
    root = mr.derivative_root("silu") if op == "silu" else mr.derivative_root("gelu", "tanh")
    finite &= np.abs(x - root) >= 2.0 ** -7
    ex = mr.exact_product(mr.silu_grad if op == "silu" else mr.gelu_grad, g[finite],
                          x[finite], np.float64, *(() if op == "silu" else ("tanh",)))
    err = ex.ulp_errors(got[finite])
    assert err.max() <= MAX_ULP, (x[finite][np.argmax(err)], err.max())


def test_silu_backward_value_does_not_depend_on_its_neighbours(backend):
    """float32 silu_backward takes a form without clamps in blocks with no |x| above 170
    and no NaN (Cython: blocks of 1024; Numba: rows of 4096): each element's gradient
    against the gradient of it alone, with values beyond 170 (where that form would be
    wrong), infinities and NaN across block boundaries. Numba's second row has none of
    them, its third only a NaN."""
    rng = np.random.default_rng(11)
    n = 3 * 4096 + 7
    x = rng.uniform(-12, 12, n).astype(np.float32)
    g = rng.uniform(0.5, 2, n).astype(np.float32)
    far = np.array([170.5, -170.5, 200, -200, 1e30, -1e30, np.inf, -np.inf], np.float32)
    where = [3, 1023, 1024, 2047, 2048, 2500, 3 * 4096 + 6, 700]
    x[where] = far
    x[[50, 9000]] = np.nan
    got = quiet(relukit.silu_backward, g, x)
    inplace = g.copy()
    quiet(relukit.silu_backward, inplace, x, out=inplace)
    assert_same(inplace, got)
    alone = np.concatenate([quiet(relukit.silu_backward, g[i:i + 1], x[i:i + 1])
                            for i in range(n)])
    assert_same(got, alone)
    # beyond 170: silu' rounds to 1 (x > 0) or to -0.0 (x < 0); silu'(+inf) is NaN as the
    # formula's 1 + inf * 0, and x = -inf gives g * -0.0 (the kernels' documented choices)
    gw = g[where]
    expected = np.array([gw[0], gw[1] * -0.0, gw[2], gw[3] * -0.0, gw[4], gw[5] * -0.0,
                         np.nan, gw[7] * -0.0], np.float32)
    assert_same(got[where], expected)


@pytest.mark.parametrize("dtype, beta", [(np.float64, 1.0), (np.float64, 2.5),
                                         (np.float64, -1.5), (np.float32, 0.1)])
def test_softplus_backward_value_does_not_depend_on_its_neighbours(backend, dtype, beta):
    """softplus_backward's float64 kernels (float32 arrays take them too where beta is not a
    float32) use expm1 for arguments <= 0 only in blocks where beta > 0 and no y is negative
    or NaN (the forward's outputs): each element's gradient against the gradient of it
    alone and against the formula, with negative y (where that form would be wrong), NaN
    and infinities across the blocks of both backends, out of place and in place."""
    rng = np.random.default_rng(12)
    n = 3 * 4096 + 9
    y = reference.softplus(rng.uniform(-12, 12, n), beta=abs(beta)).astype(dtype)
    g = rng.uniform(0.5, 2, n).astype(dtype)
    odd = np.array([-0.5, -3.0, -40.0, -1e-30, np.nan, np.inf, -np.inf, -0.0], dtype)
    where = [3, 1023, 1024, 4095, 4096, 9000, n - 1, 700]
    y[where] = odd
    got = quiet(relukit.softplus_backward, g, y, beta=beta)
    alone = np.concatenate([quiet(relukit.softplus_backward, g[i:i + 1], y[i:i + 1],
                                  beta=beta) for i in range(n)])
    assert_same(got, alone)
    # in place on either input (the Numba backend has a kernel for each)
    g_in, y_in = g.copy(), y.copy()
    quiet(relukit.softplus_backward, g_in, y, beta=beta, out=g_in)
    quiet(relukit.softplus_backward, g, y_in, beta=beta, out=y_in)
    assert_same(g_in, got)
    assert_same(y_in, got)
    z = beta * y.astype(np.float64)
    with np.errstate(all="ignore"):
        expected = np.where(z > 20.0, g, g * -np.expm1(-z))
    rtol = 1e-14 if dtype == np.float64 else 1e-6
    assert_allclose(got, expected, rtol=rtol, atol=0, equal_nan=True)


@pytest.mark.parametrize("threshold", [20.0, 1.0])
def test_softplus_backward_float32_unit_beta_same_bits_as_general_form(compiled_backend,
                                                                       threshold):
    """float32 softplus' with beta = 1 and a float threshold takes a loop without the
    product beta y and its error term (smooth.pxi rk_softplus_grad_onef with unit, Numba
    softplus_grad_unit_f32): the same bits as the general float form with beta = 1.0 passed
    as a value. That form runs in Cython for a threshold that float32 cannot hold (no float
    y lies between t and t + 1e-9 here); Numba takes double there, so its float kernel is
    called directly. Forward outputs, values at and around the threshold (at t = 1 the two
    sides differ: g against g (1 - e^-1)), negatives, subnormals, infinities and NaN, with
    grad of both signs, infinite, zero and NaN."""
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.uniform(-30, 30, 3000), rng.standard_normal(3000) * 3])
    y = relukit.softplus(x.astype(np.float32))
    t = np.float32(threshold)
    extra = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, t, np.nextafter(t, t + 1),
                      np.nextafter(t, t - 1), 1e-45, -1e-45, -1.0, -1e30, 88.0, 1e30],
                     np.float32)
    y = np.concatenate([y, extra, rng.uniform(-5, 25, 1000).astype(np.float32)])
    g = rng.uniform(-2, 2, y.size).astype(np.float32)
    g[:6] = [np.inf, -np.inf, 0.0, -0.0, np.nan, 1e-40]
    unit = quiet(relukit.softplus_backward, g, y, threshold=threshold)
    if compiled_backend == "cython":
        general = quiet(relukit.softplus_backward, g, y, threshold=threshold + 1e-9)
    else:
        from relukit import _numba_backend
        general = np.empty_like(g)
        with np.errstate(all="ignore"):
            _numba_backend.softplus_grad_f32(g, y, general, 1.0, threshold)
    assert_same(unit, general)
    inplace = g.copy()
    quiet(relukit.softplus_backward, inplace, y, threshold=threshold, out=inplace)
    assert_same(inplace, unit)


@pytest.mark.parametrize("dtype", FLOATS)
def test_backward_special_values(backend, dtype):
    """Gradients at the points where the contract fixes them: y > 0 (or +inf) passes
    grad * (1, scale); y <= 0 takes the exponential branch, y = 0 included (PyTorch's
    ``y <= 0`` test: elu'(0) = alpha, selu'(0) = alpha * scale, celu'(0) = 1); a saturated
    output y = -alpha gives 0; softplus'(y = 0) = 0 and 1 past the threshold;
    silu'(+-0) = gelu'(+-0) = 1/2."""
    dt = np.dtype(dtype)
    g = np.array([3.0], dt)

    def one(fn, *args, **kw):
        return fn(g, np.array([args[0]], dt), *args[1:], **kw)[0]

    assert one(relukit.elu_backward, np.inf) == 3
    assert one(relukit.elu_backward, 2.5, 0.5) == 3
    assert one(relukit.elu_backward, 0.0, 0.5) == dt.type(1.5)
    assert one(relukit.elu_backward, -0.0) == 3
    assert one(relukit.elu_backward, -1.0) == 0
    assert one(relukit.elu_backward, -0.5, 0.5) == 0
    assert one(relukit.selu_backward, 1.0) == dt.type(3 * 1.0507009873554805)
    assert abs(float(one(relukit.selu_backward, 0.0)) - 3 * SELU_NEGCOEF) <= \
        MAX_ULP * float(np.spacing(dt.type(3 * SELU_NEGCOEF)))
    assert one(relukit.celu_backward, 0.0, 2.0) == 3
    assert one(relukit.celu_backward, -2.0, 2.0) == 0
    assert one(relukit.celu_backward, -1.0, 2.0) == dt.type(1.5)
    assert one(relukit.softplus_backward, 0.0) == 0
    assert one(relukit.softplus_backward, np.inf) == 3
    assert one(relukit.softplus_backward, 25.0) == 3
    assert one(relukit.softplus_backward, 6.0, 1.0, 5.0) == 3
    for z in (0.0, -0.0):
        assert one(relukit.silu_backward, z) == dt.type(1.5)
        assert one(relukit.gelu_backward, z) == dt.type(1.5)
        assert one(relukit.gelu_backward, z, "tanh") == dt.type(1.5)


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_backward_finite_for_huge_finite_x(backend, dtype, approximate):
    """gelu'(x) -> 1 for x -> +inf and -> 0 (from below) for x -> -inf; a finite x whose
    square or cube overflows in the intermediate arithmetic must still give those, not NaN."""
    dt = np.dtype(dtype)
    big = np.array([1e18, 1e30, np.finfo(dt).max / 2, np.finfo(dt).max], dt)
    g = np.ones(4, dt)
    got_pos = relukit.gelu_backward(g, big, approximate)
    got_neg = relukit.gelu_backward(g, -big, approximate)
    np.testing.assert_array_equal(got_pos, np.ones(4, dt), err_msg=f"x = {big}")
    np.testing.assert_array_equal(got_neg, np.zeros(4, dt), err_msg=f"x = {-big}")


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_silu_backward_huge_finite_x(backend, dtype):
    dt = np.dtype(dtype)
    big = np.array([1e18, 1e30, np.finfo(dt).max], dt)
    g = np.ones(3, dt)
    np.testing.assert_array_equal(relukit.silu_backward(g, big), np.ones(3, dt))
    np.testing.assert_array_equal(relukit.silu_backward(g, -big), np.zeros(3, dt))


# --------------------------------------------------------------------------------------
# NaN
# --------------------------------------------------------------------------------------
def _nans(dtype):
    dt = np.dtype(dtype)
    bits = {2: [0x7E00, 0xFE00, 0x7D01, 0x7C01], 4: [0x7FC00000, 0xFFC00000, 0x7FA00001,
            0xFFC00123, 0x7F800001], 8: [0x7FF8000000000000, 0xFFF8000000000000,
            0x7FF4000000000001, 0xFFF8000000000123, 0x7FF0000000000001]}[dt.itemsize]
    return np.array([make_nan(dt, b) for b in bits], dt)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("vid", list(VARIANTS))
def test_nan_propagates(backend, vid, dtype):
    """A NaN input (quiet or signalling, any sign and payload) gives a NaN output; a NaN
    grad gives a NaN gradient; a NaN x gives a NaN gradient for silu/gelu, a NaN y for
    softplus. The elu family's backward tests ``y <= 0`` (PyTorch): a NaN y takes the
    positive branch, ``grad * (1 or scale)``, as relu_backward passes grad where x is NaN."""
    dt = np.dtype(dtype)
    nans = _nans(dt)
    mixed = np.concatenate([nans, np.array([-1.0, 0.5], dt)])
    y = quiet(fwd, vid, mixed)
    assert np.all(np.isnan(y[:nans.size])), f"{vid}: {y}"
    assert not np.any(np.isnan(y[nans.size:]))
    ones = np.ones_like(nans)
    s = saved_for(vid, np.full(nans.size, 0.5, dt))
    assert np.all(np.isnan(quiet(bwd, vid, nans, s))), "NaN grad"
    name = VARIANTS[vid][0]
    gb = quiet(bwd, vid, ones, nans)
    if name in ("silu", "gelu", "softplus"):
        assert np.all(np.isnan(gb)), f"{vid}_backward with NaN saved: {gb}"
    else:
        pos = 1.0507009873554805 if name == "selu" else 1.0
        np.testing.assert_array_equal(gb, np.full(nans.size, pos, dt))


# --------------------------------------------------------------------------------------
# floating-point warnings
# --------------------------------------------------------------------------------------
def _stress(dtype):
    dt = np.dtype(dtype)
    fi = np.finfo(dt)
    return np.concatenate([
        special_values(dt),
        np.array([fi.max, fi.min, fi.max / 3, fi.min / 3, 1e4, -1e4, 800, -800, 750, -750,
                  709.8, -709.8, 88.8, -88.8, 104, -104, 40, -40, 20, -20, 19.99, 20.01,
                  -37.7, -38.5, -27, -1.2785, -0.7518], dt)])


def _all_calls(x):
    """Every forward and backward on x (backwards with grad = 1 and grad = x)."""
    for vid, (name, params) in VARIANTS.items():
        op = relukit.OPS[name]
        y = op.forward(x, **params)
        s = y if op.backward_needs == "output" else x
        op.backward(np.ones_like(x), s, **params)
        op.backward(x, s, **params)
        op.forward(x.copy(), out=np.empty_like(x), **params)
    relukit.softplus(x, 3.0, 15.0)
    relukit.softplus(x, -1.0)
    relukit.elu(x, -2.0)
    relukit.celu(x, 0.3)
    relukit.celu(x, -0.3)


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_compiled_kernels_raise_no_floating_point_warnings(compiled_backend, dtype):
    """inf, NaN (signalling too), huge, tiny: no FloatingPointError under
    ``np.errstate(all="raise")`` and no RuntimeWarning (warnings as errors)."""
    x = _stress(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            _all_calls(x)


REFERENCE_PATHS = [("numpy", d) for d in FLOATS] + [(b, np.float16) for b in BACKENDS
                                                      if b != "numpy"]


@pytest.mark.parametrize("backend_name,dtype", REFERENCE_PATHS,
                         ids=[f"{b}-{np.dtype(d).name}" for b, d in REFERENCE_PATHS])
def test_reference_paths_are_as_quiet_as_the_kernels(backend_name, dtype):
    """The NumPy reference (the numpy backend, and float16 in every backend) states that it
    matches the kernels' silence. Under NumPy's default error state (overflow and invalid
    warn, underflow ignored) no RuntimeWarning may escape, e.g. from widening a signalling
    NaN or rounding an overflowing float64 result back to the input dtype."""
    x = _stress(dtype)
    with relukit.use_backend(backend_name), warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="warn", under="ignore"):
            _all_calls(x)


# --------------------------------------------------------------------------------------
# properties (Hypothesis), every backend and automatic dispatch
# --------------------------------------------------------------------------------------
MODES = BACKENDS + [None]
PROP_SETTINGS = settings(max_examples=60, deadline=None)


def _floats(dtype, **kw):
    width = {np.float32: 32, np.float64: 64}[dtype]
    return st.floats(width=width, allow_nan=False, allow_infinity=False, **kw)


def _run(mode, fn, *a, **k):
    if mode is None:
        lower_thresholds_to(1, 1)
        return quiet(fn, *a, **k)
    with relukit.use_backend(mode):
        return quiet(fn, *a, **k)


@given(data=st.data())
@PROP_SETTINGS
def test_property_value_bounds_and_signs(data):
    """Bounds that hold exactly for every float x, whatever the rounding:
    elu/celu: x itself for x > 0, >= -alpha, sign of x (zeros included);
    selu: scale * x within an ulp for x > 0, >= -alpha * scale;
    softplus: >= max(x, 0), == x where beta * x > threshold;
    silu, gelu: sign of x (zeros included), |f(x)| <= |x|, and above their minima
    (-0.27846, -0.16997 and, tanh form, -0.17004)."""
    dtype = data.draw(st.sampled_from(COMPILED_DTYPES), label="dtype")
    dt = np.dtype(dtype)
    x = np.array(data.draw(st.lists(_floats(dtype), min_size=1, max_size=64), label="x"), dt)
    mode = data.draw(st.sampled_from(MODES), label="mode")
    alpha = data.draw(st.sampled_from([1.0, 0.5, 2.0, 1.7]), label="alpha")
    note(f"{dt.name} mode={mode}")
    pos = x > 0

    e = _run(mode, relukit.elu, x, alpha)
    c = _run(mode, relukit.celu, x, alpha)
    for what, v in (("elu", e), ("celu", c)):
        np.testing.assert_array_equal(v[pos], x[pos], err_msg=what)
        assert np.all(v >= dt.type(-alpha)), what
        assert np.array_equal(np.signbit(v), np.signbit(x)), what

    s = _run(mode, relukit.selu, x)
    with np.errstate(all="ignore"):
        exp_pos = (np.float64(1.0507009873554805) * x[pos].astype(np.float64)).astype(dt)
        close = (np.abs(s[pos] - exp_pos) <= np.spacing(np.abs(exp_pos))) | (s[pos] == exp_pos)
    assert np.all(close), (x[pos][~close], s[pos][~close])
    assert np.all(s >= np.nextafter(dt.type(-SELU_NEGCOEF), dt.type(-np.inf)))

    beta = data.draw(st.sampled_from([1.0, 2.0, 0.5]), label="beta")
    thr = data.draw(st.sampled_from([20.0, 5.0]), label="threshold")
    sp = _run(mode, relukit.softplus, x, beta, thr)
    assert np.all(sp >= np.maximum(x, 0)), (x[sp < np.maximum(x, 0)], sp[sp < np.maximum(x, 0)])
    with np.errstate(over="ignore"):
        above = beta * x.astype(np.float64) > thr
    np.testing.assert_array_equal(sp[above], x[above])

    # the minima (-0.2784645427610738, -0.1699712074799037, -0.1700407505712541) less 1e-12
    for what, fn, lo in (("silu", lambda v: relukit.silu(v), -0.278464542762),
                         ("gelu", lambda v: relukit.gelu(v), -0.169971207481),
                         ("gelu(tanh)", lambda v: relukit.gelu(v, "tanh"), -0.170040750572)):
        v = _run(mode, fn, x)
        assert np.array_equal(np.signbit(v), np.signbit(x)), (what, x[np.signbit(v) != np.signbit(x)])
        assert np.all(np.abs(v) <= np.abs(x)), what
        assert np.all(v >= dt.type(lo)), what


@given(data=st.data())
@PROP_SETTINGS
def test_property_gradient_bounds(data):
    """For |x| <= 2**100: every gradient is finite; elu'/celu' in [0, 1], selu' in
    [0, alpha * scale], softplus' in [0, 1] (grad = 1), and the backward is linear in grad
    (its sign flips with grad's: an odd function of grad)."""
    dtype = data.draw(st.sampled_from(COMPILED_DTYPES), label="dtype")
    dt = np.dtype(dtype)
    big = 2.0 ** 100                                   # ~1.27e30, exact in both widths
    x = np.array(data.draw(st.lists(_floats(dtype, min_value=-big, max_value=big),
                                    min_size=1, max_size=64), label="x"), dt)
    mode = data.draw(st.sampled_from(MODES), label="mode")
    note(f"{dt.name} mode={mode}")
    ones = np.ones_like(x)
    for vid, (name, params) in VARIANTS.items():
        op = relukit.OPS[name]
        s = _run(mode, op.forward, x, **params) if op.backward_needs == "output" else x
        d = _run(mode, op.backward, ones, s, **params)
        assert np.all(np.isfinite(d)), (vid, x[~np.isfinite(d)])
        hi = {"elu": 1.0, "celu": 1.0, "softplus": 1.0, "selu": SELU_NEGCOEF}.get(name)
        if hi is not None:
            top = max(hi, params.get("alpha", 1.0)) if name == "elu" else hi
            assert np.all((d >= 0) & (d <= dt.type(top) * (1 + 4 * np.finfo(dt).eps))), \
                (vid, x[(d < 0) | (d > top * 1.0001)], d[(d < 0) | (d > top * 1.0001)])
        neg = _run(mode, op.backward, -ones, s, **params)
        np.testing.assert_array_equal(neg, -d, err_msg=vid)
