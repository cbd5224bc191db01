"""prelu, crelu and brelu (ops with extra array arguments or another output shape): values,
weight/axis/bias rules, errors, layouts, backwards, finite differences, thresholds and memory,
in every backend.

Expectations are written here from the definitions, not taken from ``relukit.reference``:

* prelu(x, w, axis) = x if x > 0 else w[c] * x (w rounded to x's dtype, product in the dtype);
  prelu_backward -> (grad if x > 0 else w[c] * grad, per channel sum of x * grad where
  not x > 0, accumulated in float64, rounded to the dtype, shaped like w).
* crelu(x, axis) = concatenate((relu(x), relu(-x)), axis); crelu_backward(grad, x) =
  (g1 where not x <= 0 else 0) - (g2 where not -x <= 0 else 0).
* brelu(x, b) = stack([relu(x - b_j) for j], axis=-1) (b_j rounded to the dtype, difference in
  the dtype); brelu_backward = sum over j, in order from +0.0, of grad[..., j] where
  not x - b_j <= 0.

The last section holds tests that currently FAIL: NaN results that differ bitwise between
the backends (see each docstring).
"""
import math

import numpy as np
import pytest

import relukit
from relukit import reference
from conftest import (BACKENDS, COMPILED_DTYPES, LOW_THRESHOLDS, NumbaSpy, assert_same,
                      assert_same_nan_loose, bits, expected_relu, make_nan, random_floats,
                      special_values, traced_allocation)

SENTINEL = 12345.0
FLOATS = (np.float16, np.float32, np.float64)


def quiet(fn, *a, **k):
    with np.errstate(all="ignore"):
        return fn(*a, **k)


# --------------------------------------------------------------------------------------
# independent oracles
# --------------------------------------------------------------------------------------
def pack(b):
    return np.packbits(np.asarray(b, bool).ravel(order="C"), bitorder="little")


def broadcast_weight(x, weight, axis):
    """The slope of every element of x (rounded to x's dtype)."""
    w = np.asarray(weight).astype(x.dtype).reshape(-1)
    if x.ndim < 2 and axis == 1:                       # no channel axis: one slope
        assert w.size == 1
        return np.broadcast_to(w[0], x.shape)
    ch = axis % x.ndim
    shape = [1] * x.ndim
    shape[ch] = x.shape[ch]
    return np.broadcast_to(np.broadcast_to(w, (x.shape[ch],)).reshape(shape), x.shape)


def exp_prelu(x, weight, axis=1):
    wb = broadcast_weight(x, weight, axis)
    with np.errstate(all="ignore"):
        return np.where(x > 0, x, x * wb)


def exp_prelu_grad_x(grad, x, weight, axis=1):
    wb = broadcast_weight(x, weight, axis)
    with np.errstate(all="ignore"):
        return np.where(x > 0, grad, grad * wb)


def exact_prelu_grad_weight(grad, x, weight, axis=1):
    """Per channel: math.fsum of the dtype products x * grad where not x > 0 (exact sum),
    plus the sum of their magnitudes (for the tolerance of a float64 accumulation)."""
    w = np.asarray(weight)
    with np.errstate(all="ignore"):
        term = np.where(x > 0, x.dtype.type(0), x * grad).astype(np.float64)
    if (x.ndim < 2 and axis == 1) or w.size == 1:
        groups = [term.ravel()]
    else:
        ch = axis % x.ndim
        groups = [np.take(term, c, axis=ch).ravel() for c in range(x.shape[ch])]
    with np.errstate(all="ignore"):
        sums = np.array([math.fsum(g) if np.all(np.isfinite(g)) else np.sum(g) for g in groups])
        mags = np.array([np.sum(np.abs(g)) for g in groups])
    return sums.reshape(w.shape), mags.reshape(w.shape), max(len(g) for g in groups)


def check_grad_weight(gw, grad, x, weight, axis=1):
    w = np.asarray(weight)
    assert gw.shape == w.shape, f"grad_weight shape {gw.shape}, weight shape {w.shape}"
    assert gw.dtype == x.dtype
    exact, mags, n = exact_prelu_grad_weight(grad, x, weight, axis)
    got = gw.astype(np.float64)
    rounded = quiet(exact.astype, x.dtype).astype(np.float64)     # overflow -> inf
    nan = np.isnan(rounded)
    np.testing.assert_array_equal(np.isnan(got), nan, "NaN channels")
    finite = np.isfinite(rounded)
    np.testing.assert_array_equal(got[~finite & ~nan], rounded[~finite & ~nan], "inf channels")
    ulp = np.spacing(np.abs(exact[finite]).astype(x.dtype)).astype(np.float64)
    tol = ulp + 4 * n * np.finfo(np.float64).eps * mags[finite]
    assert np.all(np.abs(got[finite] - exact[finite]) <= tol), (got, exact)


def exp_crelu(x, axis=-1):
    return np.concatenate((expected_relu(x), expected_relu(np.negative(x))), axis=axis)


def exp_crelu_backward(grad, x, axis=-1):
    g1, g2 = np.split(grad, 2, axis=axis)
    zero = x.dtype.type(0)
    with np.errstate(all="ignore"):
        return np.where(~(x <= 0), g1, zero) - np.where(~(-x <= 0), g2, zero)


def exp_brelu(x, biases):
    bs = np.asarray(biases).astype(x.dtype)
    with np.errstate(all="ignore"):
        parts = [expected_relu(x - b) for b in bs]
    return np.stack(parts, axis=-1) if parts else np.empty(x.shape + (0,), x.dtype)


def exp_brelu_backward(grad, x, biases):
    bs = np.asarray(biases).astype(x.dtype)
    total = np.full(x.shape, +0.0, x.dtype)
    with np.errstate(all="ignore"):
        for j, b in enumerate(bs):
            total = total + np.where(~(x - b <= 0), grad[..., j], x.dtype.type(0))
    return total


def floats(seed, shape, dtype, special=0.15):
    n = int(np.prod(shape))
    return random_floats(np.random.default_rng(seed), n, dtype, special).reshape(shape)


def no_signalling_nan(a):
    """a with every NaN replaced by the default quiet NaN (keeps their positions)."""
    a = np.array(a, copy=True)
    a[np.isnan(a)] = np.nan
    return a


# ======================================================================================
# prelu
# ======================================================================================
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_prelu_nchw_values_mask_out_in_place(backend, dtype):
    x = floats(1, (2, 3, 4, 5), dtype, 0.25)
    w = np.array([0.25, -0.5, 0.0])
    want = exp_prelu(x, w)
    y, m = relukit.prelu(x, w, return_mask=True)
    assert_same(y, want, "prelu")
    assert_same(m, pack(x > 0), "mask = x > 0")
    assert_same(relukit.prelu(x, w), want)
    assert_same(relukit.prelu(x, w, axis=1), want)
    assert_same(relukit.prelu(x, w, -3), want, "negative axis")
    out = np.full_like(x, SENTINEL)
    r, m = relukit.prelu(x, w, out=out, return_mask=True)
    assert r is out
    assert_same(out, want)
    assert_same(m, pack(x > 0))
    xi = x.copy()
    assert relukit.prelu(xi, w, out=xi) is xi
    assert_same(xi, want, "in place")
    xi = x.copy()
    r, m = relukit.prelu(xi, w, out=xi, return_mask=True)
    assert r is xi
    assert_same(xi, want, "in place with mask")
    assert_same(m, pack(x > 0))
    # signed zero: channel 0 has a positive slope, channel 1 a negative one
    z = np.full((1, 3, 1, 1), -0.0, dtype)
    yz = relukit.prelu(z, w)
    assert np.signbit(yz[0, 0, 0, 0]) and not np.signbit(yz[0, 1, 0, 0])


WEIGHT_CASES = {
    # name: (x shape, weight, axis or None for the default)
    "scalar-float": ((4, 3), 0.2, None),
    "scalar-0d": ((4, 3), np.float64(-0.3), None),
    "one-element-list": ((4, 3), [0.2], None),
    "one-element-array-axis0": ((4, 3), np.array([0.7]), 0),
    "per-channel-list": ((4, 3), [0.1, -0.2, 2.0], None),
    "per-channel-int": ((4, 3), np.array([1, 0, -2]), 1),
    "per-channel-float32": ((4, 3), np.array([0.1, 0.3, 0.7], np.float32), 1),
    "axis0": ((4, 3), [0.1, 0.2, 0.3, 0.4], 0),
    "axis-1": ((2, 3, 5), [0.5, -0.5, 0.0, 1.5, 0.1], -1),
    "axis-2": ((2, 3, 5), [0.5, -0.5, 0.3], -2),
    "axis2-of-4d": ((2, 2, 3, 2), [0.1, 0.2, 0.3], 2),
    "1d-default-axis-scalar": ((9,), 0.3, None),
    "1d-default-axis-list": ((9,), [0.3], None),
    "1d-axis0-per-element": ((6,), [0.1, 0.2, 0.3, -0.4, 0.5, 0.6], 0),
    "1d-axis-1-per-element": ((3,), [0.1, -0.2, 0.3], -1),
    "0d-default-axis": ((), [0.3], None),
    "0d-scalar": ((), -2.0, None),
    "empty-x": ((0, 3), [0.1, 0.2, 0.3], None),
}


@pytest.mark.parametrize("case", list(WEIGHT_CASES))
@pytest.mark.parametrize("dtype", FLOATS)
def test_prelu_weight_forms(backend, case, dtype):
    shape, w, axis = WEIGHT_CASES[case]
    x = floats(2, shape, dtype, 0.2)
    kw = {} if axis is None else {"axis": axis}
    ax = 1 if axis is None else axis
    want = exp_prelu(x, w, ax)
    y, m = relukit.prelu(x, w, return_mask=True, **kw)
    assert_same(y, want)
    assert_same(m, pack(x > 0))
    assert_same(y, quiet(reference.prelu, x, w, ax), "reference")
    g = floats(3, shape, dtype, 0.0)
    gx, gw = relukit.prelu_backward(g, x, w, **kw)
    assert_same(gx, exp_prelu_grad_x(g, x, w, ax), "grad_x")
    check_grad_weight(gw, g, x, w, ax)


@pytest.mark.parametrize("axis", [-4, -3, -2, -1, 0, 1, 2, 3])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_prelu_every_axis_with_weight_of_x_dtype(backend, axis, dtype):
    """A weight array already of x's dtype takes the compiled entry point's shortcut, which
    must turn a negative axis into its index itself: under C division -3 % 4 is -3, and that
    once ran the call as one channel (read from before the shape) whenever the memory there
    happened to hold the channel count."""
    shape = (2, 3, 4, 5)
    x = floats(4, shape, dtype, 0.2)
    w = np.linspace(-0.75, 0.5, shape[axis]).astype(dtype)
    want = exp_prelu(x, w, axis)
    assert_same(relukit.prelu(x, w, axis), want, f"axis={axis}")
    y, m = relukit.prelu(x, w, axis, return_mask=True)
    assert_same(y, want, f"axis={axis}, with mask")
    assert_same(m, pack(x > 0))
    xi = x.copy()
    relukit.prelu(xi, w, axis, out=xi)
    assert_same(xi, want, f"axis={axis}, in place")
    g = floats(5, shape, dtype, 0.0)
    gx, gw = relukit.prelu_backward(g, x, w, axis)
    assert_same(gx, exp_prelu_grad_x(g, x, w, axis), "grad_x")
    check_grad_weight(gw, g, x, w, axis)


@pytest.mark.parametrize("shape", [(3001, 3, 1), (700, 7, 1), (300, 7, 5), (200, 3, 7),
                                   (90, 5, 17), (50, 3, 31), (40, 2, 33)])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_prelu_short_rows_across_blocks(backend, shape, dtype):
    """Rows shorter than a vector (a (batch, features) input has rows of one element) take
    the kernels' per-element-slope blocks; rows, blocks (1,024 elements), Numba's chunks
    (4,096) and mask bytes then start and end at unrelated offsets."""
    x = floats(6, shape, dtype, 0.2)
    w = np.linspace(-0.75, 0.5, shape[1]).astype(dtype)
    want = exp_prelu(x, w, 1)
    assert_same(relukit.prelu(x, w), want, f"{shape}")
    y, m = relukit.prelu(x, w, return_mask=True)
    assert_same(y, want, f"{shape}, with mask")
    assert_same(m, pack(x > 0))
    xi = x.copy()
    assert relukit.prelu(xi, w, out=xi) is xi
    assert_same(xi, want, f"{shape}, in place")
    xi = x.copy()
    relukit.prelu(xi, w, out=xi, return_mask=True)
    assert_same(xi, want, f"{shape}, in place with mask")


@pytest.mark.parametrize("shape", [(0,), (4, 3, 0), (0, 3, 5), (2, 0, 4)])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_prelu_empty_rows_and_channels(backend, shape, dtype):
    """Empty arrays of every kind of dimension (rows of no element, no rows, no channels),
    forward and backward, in every backend: nothing to compute, zero sums, no division by
    a row length of 0."""
    x = np.zeros(shape, dtype)
    nchan = shape[1] if len(shape) > 1 else 1
    w = np.full(nchan, 0.25, dtype)
    assert_same(relukit.prelu(x, w), x.copy())
    y, m = relukit.prelu(x, w, return_mask=True)
    assert y.shape == shape and m.size == 0
    gx, gw = relukit.prelu_backward(x, x, w)
    assert gx.shape == shape
    assert_same(gw, np.zeros(nchan, dtype))


@pytest.mark.parametrize("inner", [2, 3, 4, 5, 8, 9, 15, 16])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_prelu_backward_short_rows_same_bits_as_reference(backend, inner, dtype):
    """Rows of 2-15 elements take the compiled kernels' short-row form, whose weight-gradient
    sums start their lane halving late (zero-padded lanes add nothing); the sums must keep
    the reference's bits exactly, -0.0 terms, NaN and huge terms included, across blocks."""
    shape = (41, 7, inner)                      # 287 rows: several blocks for every inner
    x = floats(7, shape, dtype, 0.0)            # finite: most channel sums stay finite,
    g = floats(8, shape, dtype, 0.0)            # so their rounding is compared
    x[3, 2] = -0.0                              # a whole row of -0.0 terms
    x[:, 2, 0] = -0.0                           # and one in every row of channel 2
    g[5, 4] = np.finfo(dtype).max               # terms that overflow in the dtype
    x[5, 4] = -np.finfo(dtype).max
    x[6, 5, 1] = np.nan                         # a NaN term in channel 5
    w = np.linspace(-0.75, 0.5, shape[1]).astype(dtype)
    gx, gw = relukit.prelu_backward(g, x, w)
    rgx, rgw = quiet(reference.prelu_backward, g, x, w)
    assert_same(gx, rgx, "grad_x")
    assert_same(gw, rgw, "grad_weight")
    check_grad_weight(gw, g, x, w, 1)


def test_prelu_scalar_weight_gives_0d_grad_weight(backend):
    x = np.array([[-1.0, 2.0], [-3.0, 4.0]])
    g = np.array([[1.0, 1.0], [2.0, 1.0]])
    gx, gw = relukit.prelu_backward(g, x, 0.5)
    assert gw.shape == () and gw.dtype == np.float64
    assert gw == -7.0                                    # -1*1 + -3*2
    assert_same(gx, np.array([[0.5, 1.0], [1.0, 1.0]]))
    _, gw = relukit.prelu_backward(g, x, [0.5])
    assert gw.shape == (1,) and gw[0] == -7.0
    _, gw = relukit.prelu_backward(g, x, [0.5, 0.25])
    assert_same(gw, np.array([-1.0, 0.0]) + np.array([-6.0, 0.0]))
    _, gw = relukit.prelu_backward(g.astype(np.float32), x.astype(np.float32), np.float64(0.5))
    assert gw.shape == () and gw.dtype == np.float32 and gw == -7.0


def test_prelu_weight_rounded_to_dtype(backend):
    """The slope is rounded to float32 first and the product taken in float32."""
    rng = np.random.default_rng(5)
    x = -np.abs(rng.standard_normal((4000, 2)) * 10).astype(np.float32)
    w = np.array([0.1, -1 / 3])
    in_dtype = x * w.astype(np.float32)
    once = (x.astype(np.float64) * w).astype(np.float32)
    assert (in_dtype != once).sum() > 10, "precondition: the roundings differ somewhere"
    assert_same(relukit.prelu(x, w), in_dtype)
    g = np.ones_like(x)
    assert_same(relukit.prelu_backward(g, x, w)[0], np.broadcast_to(w.astype(np.float32), x.shape))


# ---- errors -----------------------------------------------------------------------------
PRELU_BAD = {
    # name: (exception, x shape, weight, axis)
    "axis-too-big": (ValueError, (4, 3), [0.1, 0.2, 0.3], 2),
    "axis-too-negative": (ValueError, (4, 3), [0.1, 0.2, 0.3], -3),
    "1d-axis-2": (ValueError, (5,), [0.1], 2),
    "1d-axis--2": (ValueError, (5,), [0.1], -2),
    "0d-axis-0": (ValueError, (), [0.1], 0),
    "weight-too-short": (ValueError, (4, 3), [0.1, 0.2], 1),
    "weight-too-long": (ValueError, (4, 3), [0.1, 0.2, 0.3, 0.4], 1),
    "weight-empty": (ValueError, (4, 3), [], 1),
    "weight-axis0-length": (ValueError, (4, 3), [0.1, 0.2, 0.3], 0),
    "1d-default-axis-several": (ValueError, (5,), [0.1, 0.2], 1),
    "weight-2d": (ValueError, (4, 3), np.full((3, 1), 0.1), 1),
    "weight-2d-row": (ValueError, (4, 3), np.full((1, 3), 0.1), 1),
    "weight-2d-single": (ValueError, (4, 3), np.full((1, 1), 0.1), 1),
    "weight-complex": (TypeError, (4, 3), np.array([0.1j, 0.2, 0.3]), 1),
    "weight-complex-scalar": (TypeError, (4, 3), 0.5j, 1),
}


@pytest.mark.parametrize("case", list(PRELU_BAD))
def test_prelu_bad_weight_or_axis_nothing_written(backend, case):
    exc, shape, w, axis = PRELU_BAD[case]
    x = floats(4, shape, np.float32, 0.0)
    x0 = x.copy()
    out = np.full(shape, SENTINEL, np.float32)
    with pytest.raises(exc):
        relukit.prelu(x, w, axis)
    with pytest.raises(exc):
        relukit.prelu(x, w, axis, out=out, return_mask=True)
    assert np.all(out == SENTINEL), "out untouched"
    if x.ndim:
        with pytest.raises(exc):
            relukit.prelu(x, w, axis, out=x)
    assert_same(x, x0, "x untouched")
    with pytest.raises(exc):
        relukit.prelu_backward(np.ones_like(x), x, w, axis)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16, bool])
def test_prelu_integer_or_bool_x_is_type_error(backend, dtype):
    x = np.array([[1, 0], [1, 1]], dtype)
    x0 = x.copy()
    with pytest.raises(TypeError):
        relukit.prelu(x, 0.1)
    with pytest.raises(TypeError):
        relukit.prelu(x, 0.1, out=x)
    assert_same(x, x0)
    with pytest.raises(TypeError):
        relukit.prelu_backward(np.ones((2, 2)), x, 0.1)


def _bad_outs(x):
    ro = np.full_like(x, SENTINEL)
    ro.flags.writeable = False
    return {
        "shape": (ValueError, np.full(x.shape[::-1], SENTINEL, x.dtype)),
        "shape-flat": (ValueError, np.full(x.size, SENTINEL, x.dtype)),
        "dtype": (TypeError, np.full_like(x, SENTINEL, dtype=np.float64)),
        "dtype-f16": (TypeError, np.full_like(x, SENTINEL, dtype=np.float16)),
        "read-only": (ValueError, ro),
    }


@pytest.mark.parametrize("case", list(_bad_outs(np.zeros((2, 3), np.float32))))
@pytest.mark.parametrize("return_mask", [False, True])
def test_prelu_bad_out_nothing_written(backend, case, return_mask):
    x = floats(6, (5, 3), np.float32)
    x0 = x.copy()
    exc, out = _bad_outs(x)[case]
    snap = out.copy()
    with pytest.raises(exc, match=r"\bout\b"):
        relukit.prelu(x, [0.1, 0.2, 0.3], out=out, return_mask=return_mask)
    assert_same(out, snap)
    assert_same(x, x0)


def test_prelu_read_only_in_place(backend):
    x = floats(7, (5, 3), np.float64)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        relukit.prelu(x, 0.1, out=x)


def test_prelu_backward_bad_grad(backend):
    x = floats(8, (5, 3), np.float32)
    with pytest.raises(ValueError, match="grad"):
        relukit.prelu_backward(np.ones((3, 5), np.float32), x, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="grad"):
        relukit.prelu_backward(np.ones(15, np.float32), x, [0.1, 0.2, 0.3])
    with pytest.raises(TypeError, match="grad"):
        relukit.prelu_backward(np.ones((5, 3), np.float64), x, [0.1, 0.2, 0.3])
    with pytest.raises(TypeError):
        relukit.prelu_backward(np.ones((5, 3), np.int32), x, [0.1, 0.2, 0.3])


# ---- layouts: every backend bit-identical to each other, the reference and the oracle ----
def _layout(base, kind):
    """A view of ``base``'s values (shape (5, 6, 7)) in another memory layout."""
    if kind == "C":
        return base.copy()
    if kind == "F":
        return np.asfortranarray(base)
    if kind == "strided":
        buf = np.full((10, 6, 21), 99.0, base.dtype)
        v = buf[::2, :, ::3]
        v[...] = base
        return v
    if kind == "transposed":
        return np.ascontiguousarray(base.transpose(2, 0, 1)).transpose(1, 2, 0)
    if kind == "reversed":
        return np.ascontiguousarray(base[::-1, :, ::-1])[::-1, :, ::-1]
    raise AssertionError(kind)


LAYOUTS = ["C", "F", "strided", "transposed", "reversed"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_prelu_layouts_all_backends_identical(layout, axis, dtype):
    base = floats(9, (5, 6, 7), dtype, 0.2)
    rng = np.random.default_rng(10)
    w = rng.standard_normal(base.shape[axis]) * 0.5
    g = floats(11, (5, 6, 7), dtype, 0.0)
    want = exp_prelu(base, w, axis)
    want_m = pack(base > 0)
    results = {}
    for mode in BACKENDS:
        with relukit.use_backend(mode):
            x = _layout(base, layout)
            gl = _layout(g, layout)
            y, m = relukit.prelu(x, w, axis, return_mask=True)
            assert_same(y, want, f"{mode} {layout}")
            assert_same(m, want_m, f"{mode} {layout} mask")
            xi = _layout(base, layout)
            relukit.prelu(xi, w, axis, out=xi)
            assert_same(xi, want, f"{mode} {layout} in place")
            out = np.full(base.shape, SENTINEL, dtype, order="F" if layout == "C" else "C")
            relukit.prelu(x, w, axis, out=out)
            assert_same(out, want, f"{mode} {layout} out in the other order")
            gx, gw = relukit.prelu_backward(gl, x, w, axis)
            assert_same(gx, exp_prelu_grad_x(g, base, w, axis), f"{mode} {layout} grad_x")
            check_grad_weight(gw, g, base, w, axis)
            results[mode] = (gx, gw)
    rgx, rgw = quiet(reference.prelu_backward, g, base, w, axis)
    for mode, (gx, gw) in results.items():
        assert_same(gx, rgx, f"{mode} grad_x vs reference")
        assert_same(gw, rgw, f"{mode} grad_weight vs reference (bit for bit)")


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_prelu_backward_values_and_specials(backend, dtype):
    """NaN x contributes NaN to its channel's weight gradient (not x > 0), inf x an inf."""
    x = np.array([[1.0, -2.0, np.nan], [-0.0, 3.0, -np.inf], [-1.0, 0.0, 2.0]], dtype)
    g = np.array([[2.0, 1.0, 1.0], [5.0, 1.0, 1.0], [4.0, 7.0, 3.0]], dtype)
    w = np.array([0.5, -2.0, 0.25])
    gx, gw = relukit.prelu_backward(g, x, w, axis=1)
    assert_same(gx, np.array([[2.0, -2.0, 0.25], [2.5, 1.0, 0.25], [2.0, -14.0, 3.0]], dtype))
    assert gw.shape == (3,) and gw.dtype == dtype
    assert gw[0] == -4.0                                   # -0.0*5 + -1*4
    assert gw[1] == -2.0                                   # -2*1 + 0*7 (x = 0 is not > 0)
    assert np.isnan(gw[2])                                 # NaN x in channel 2
    gx, gw = relukit.prelu_backward(g, x, w, axis=0)       # channels are the rows now
    assert np.isnan(gw[0]) and gw[1] == -np.inf and gw[2] == -4.0


def ordered_prelu_grad_weight(grad, x, weight, axis=1):
    """The documented summation order of prelu's weight gradient, written plainly (Python
    loops): rows (outer, channel) of C-ordered x cut into segments of PRELU_SEG elements;
    PRELU_LANES float64 lanes per segment (element j to lane j % PRELU_LANES, from +0.0),
    lanes halved pairwise; segment sums added per channel in order, from +0.0."""
    lanes, seg = reference.PRELU_LANES, reference.PRELU_SEG
    w = np.asarray(weight)
    with np.errstate(all="ignore"):
        term = np.where(x > 0, 0.0, (x * grad).astype(np.float64))
    if (x.ndim < 2 and axis == 1) or w.size == 1:
        t = term.reshape(1, 1, -1)
    else:
        ch = axis % x.ndim
        t = term.reshape(int(np.prod(x.shape[:ch])), x.shape[ch], -1)
    totals = []
    with np.errstate(all="ignore"):
        for c in range(t.shape[1]):
            total = 0.0
            for o in range(t.shape[0]):
                row = t[o, c]
                for start in range(0, max(row.size, 1), seg):
                    acc = [0.0] * lanes
                    for j, v in enumerate(row[start:start + seg]):
                        acc[j % lanes] = float(np.float64(acc[j % lanes]) + v)
                    h = lanes // 2
                    while h:
                        acc = [float(np.float64(acc[k]) + acc[k + h]) for k in range(h)]
                        h //= 2
                    total = float(np.float64(total) + acc[0])
            totals.append(total)
    gw = np.array(totals)
    gw = np.where(np.isnan(gw), np.nan, gw)
    with np.errstate(all="ignore"):
        return gw.astype(x.dtype).reshape(w.shape)


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
@pytest.mark.parametrize("shape, weight, axis", [
    ((2, 3, 2 * 4096 + 37), [0.5, -1.0, 2.0], 1),     # three segments per row, a ragged tail
    ((9000,), 0.25, 1),                               # no channel axis: one long row
    ((3, 4096 * 2), [0.1, 0.2, 0.3], 0),             # rows of exactly two segments
    ((5, 7, 4), [0.5, -0.5, 0.1, 0.2], -1),           # one-element rows (channels last)
    ((4, 3, 17), [0.5], 1),                           # one weight: one sum over everything
])
def test_prelu_grad_weight_summation_order(backend, dtype, shape, weight, axis):
    """Every backend (and the reference) sums the weight gradient in the documented order,
    bit for bit, on terms whose magnitudes span 60 binades (where any other order rounds
    differently) and at sizes where the rows are cut into several segments."""
    rng = np.random.default_rng(17)
    x = (rng.standard_normal(shape) * np.exp2(rng.integers(-30, 30, shape))).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w = np.asarray(weight, dtype) if np.ndim(weight) else weight
    want = ordered_prelu_grad_weight(g, x, w, axis)
    _, gw = relukit.prelu_backward(g, x, w, axis)
    assert_same(gw, want, "grad_weight in the documented order")
    check_grad_weight(gw, g, x, w, axis)
    # another layout (the compiled backends sum C-ordered copies): the same order
    _, gw_f = relukit.prelu_backward(np.asfortranarray(g), np.asfortranarray(x), w, axis)
    assert_same(gw_f, want, "grad_weight from Fortran-ordered inputs")


@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce:RuntimeWarning")  # see test_prelu_backward_no_floating_point_warnings
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_prelu_backward_backends_bit_identical(dtype):
    """Finite grads (no NaN meets a NaN): grad_x and grad_weight agree bit for bit."""
    x = floats(12, (64, 9, 5), dtype, 0.1)
    g = floats(13, (64, 9, 5), dtype, 0.0)
    for w, axis in ((np.linspace(-1, 1, 9), 1), (np.linspace(-1, 1, 5), -1), (0.3, 1)):
        res = []
        for mode in BACKENDS:
            with relukit.use_backend(mode):
                res.append(relukit.prelu_backward(g, x, w, axis))
        for (gx, gw), mode in zip(res[1:], BACKENDS[1:]):
            assert_same(gx, res[0][0], f"{mode} grad_x")
            assert_same(gw, res[0][1], f"{mode} grad_weight")


def test_prelu_float16_via_reference(backend):
    x = floats(14, (6, 4), np.float16, 0.2)
    w = [0.1, -0.3, 2.0, 0.0]
    y, m = relukit.prelu(x, w, return_mask=True)
    assert_same(y, exp_prelu(x, w))
    assert_same(m, pack(x > 0))
    g = floats(15, (6, 4), np.float16, 0.0)
    gx, gw = relukit.prelu_backward(g, x, w)
    assert_same(gx, exp_prelu_grad_x(g, x, w))
    assert gw.dtype == np.float16
    check_grad_weight(gw, g, x, w)


def test_prelu_gradient_matches_finite_differences(backend):
    rng = np.random.default_rng(16)
    x = rng.uniform(-5, 5, (40, 4, 6))
    x[np.abs(x) < 0.05] = 0.5
    w = np.array([0.2, -0.7, 1.5, 0.0])
    G = rng.standard_normal(x.shape)
    h = 1e-6
    gx, gw = relukit.prelu_backward(G, x, w)
    fd_x = (relukit.prelu(x + h, w) - relukit.prelu(x - h, w)) / (2 * h)
    np.testing.assert_allclose(gx, G * fd_x, rtol=1e-7, atol=1e-8)
    for c in range(w.size):
        e = np.zeros_like(w)
        e[c] = h
        fd_w = (np.sum(G * relukit.prelu(x, w + e)) - np.sum(G * relukit.prelu(x, w - e))) / (2 * h)
        np.testing.assert_allclose(gw[c], fd_w, rtol=1e-6, atol=1e-6)
    # scalar weight: one slope for everything
    gx, gw = relukit.prelu_backward(G, x, 0.3)
    fd_w = (np.sum(G * relukit.prelu(x, 0.3 + h)) - np.sum(G * relukit.prelu(x, 0.3 - h))) / (2 * h)
    np.testing.assert_allclose(gw, fd_w, rtol=1e-6, atol=1e-6)


# ======================================================================================
# crelu
# ======================================================================================
CRELU_CASES = [((7,), -1), ((7,), 0), ((3, 5), -1), ((3, 5), 0), ((3, 5), 1), ((3, 5), -2),
               ((2, 3, 4), 1), ((2, 3, 4), -3), ((0, 4), 0), ((2, 0), 1), ((1,), 0)]


@pytest.mark.parametrize("shape,axis", CRELU_CASES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_crelu_values(backend, shape, axis, dtype):
    x = floats(20, shape, dtype, 0.3)
    y = relukit.crelu(x, axis)
    out_shape = list(shape)
    out_shape[axis] *= 2
    assert y.shape == tuple(out_shape)
    assert_same(y, exp_crelu(x, axis))
    if axis == -1:
        assert_same(relukit.crelu(x), y, "default axis is -1")
    g = floats(21, out_shape, dtype, 0.0)
    assert_same(relukit.crelu_backward(g, x, axis), exp_crelu_backward(g, x, axis))


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_crelu_specials(backend, dtype):
    x = special_values(dtype)
    y = relukit.crelu(x)
    n = x.size
    assert_same(y, exp_crelu(x))
    nan = np.isnan(x)
    # first half: the same NaN; second half: the NaN with its sign flipped (np.negative)
    assert np.array_equal(bits(y[:n][nan]), bits(x[nan]))
    sign = np.array(1, bits(x).dtype) << (8 * x.itemsize - 1)
    assert np.array_equal(bits(y[n:][nan]), bits(x[nan]) ^ sign)
    # signed zeros: relu(-0.0) = relu(-(+0.0)) = +0.0 in both halves
    zeros = x == 0
    assert not np.any(np.signbit(y[:n][zeros])) and not np.any(np.signbit(y[n:][zeros]))
    assert y[n:][x == -np.inf][0] == np.inf and y[:n][x == -np.inf][0] == 0


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_crelu_backward_values(backend, dtype):
    x = np.array([2.0, -3.0, 0.0, -0.0, np.nan, np.inf, -np.inf], dtype)
    g = np.array([1, 2, 3, 4, 5, 6, 7, 10, 20, 30, 40, 50, 60, 70], dtype)
    want = np.array([1, -20, 0, 0, 5 - 50, 6, -70], dtype)
    got = relukit.crelu_backward(g, x)
    assert_same(got, want)
    assert not np.any(np.signbit(got[2:4])), "+0.0 at both zeros"
    assert_same(got, exp_crelu_backward(g, x))
    x2 = x.reshape(7, 1)
    assert_same(relukit.crelu_backward(g.reshape(2, 7).T, x2, axis=1), want.reshape(7, 1))
    assert_same(relukit.crelu_backward(g.reshape(14, 1), x2, axis=0), want.reshape(7, 1))


def test_crelu_errors(backend):
    with pytest.raises(ValueError):
        relukit.crelu(np.float64(1.0))
    with pytest.raises(ValueError):
        relukit.crelu(np.array(1.0, np.float32))
    with pytest.raises(ValueError):
        relukit.crelu(2.0)
    for dt in (np.int32, np.int64, np.uint8, bool):
        with pytest.raises(TypeError):
            relukit.crelu(np.ones(3, dt))
    with pytest.raises(TypeError):
        relukit.crelu([1, 2, 3])
    for axis in (1, -2, 5):
        with pytest.raises(ValueError):
            relukit.crelu(np.ones(3), axis)
    x = np.ones((2, 3), np.float32)
    for axis in (2, -3):
        with pytest.raises(ValueError):
            relukit.crelu(x, axis)
    g = np.ones((2, 6), np.float32)
    relukit.crelu_backward(g, x)                                # fine
    for bad in (np.ones((2, 3), np.float32), np.ones((4, 3), np.float32),
                np.ones((2, 5), np.float32), np.ones(12, np.float32)):
        with pytest.raises(ValueError, match="grad"):
            relukit.crelu_backward(bad, x)
    with pytest.raises(ValueError):
        relukit.crelu_backward(np.ones((2, 6), np.float32), x, axis=0)   # shape for axis -1
    with pytest.raises(TypeError):
        relukit.crelu_backward(np.ones((2, 6), np.float64), x)
    with pytest.raises(TypeError):
        relukit.crelu_backward(np.ones((2, 6), np.float16), x)
    with pytest.raises(ValueError):
        relukit.crelu_backward(np.ones(2), np.array(1.0))
    with pytest.raises(TypeError):
        relukit.crelu_backward(np.ones(4, np.int64), np.ones(2, np.int64))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_crelu_layouts_all_backends_identical(layout, axis, dtype):
    base = floats(22, (5, 6, 7), dtype, 0.2)
    gshape = list(base.shape)
    gshape[axis] *= 2
    # no signalling NaN in grad here (see test_crelu_backward_signalling_nan_like_reference)
    g = no_signalling_nan(floats(23, tuple(gshape), dtype, 0.1))
    want = exp_crelu(base, axis)
    want_g = exp_crelu_backward(g, base, axis)
    for mode in BACKENDS:
        with relukit.use_backend(mode):
            x = _layout(base, layout)
            assert_same(relukit.crelu(x, axis), want, f"{mode} {layout}")
            gl = np.asfortranarray(g) if layout == "F" else g[::-1][::-1]
            assert_same(relukit.crelu_backward(gl, x, axis), want_g, f"{mode} {layout} backward")
            assert_same(relukit.crelu_backward(gl, x, axis), quiet(reference.crelu_backward, g, base, axis))


def test_crelu_gradient_matches_finite_differences(backend):
    rng = np.random.default_rng(24)
    x = rng.uniform(-5, 5, (30, 17))
    x[np.abs(x) < 0.05] = -0.5
    for axis in (0, 1, -1):
        gshape = list(x.shape)
        gshape[axis] *= 2
        G = rng.standard_normal(gshape)
        h = 1e-6
        d = (relukit.crelu(x + h, axis) - relukit.crelu(x - h, axis)) / (2 * h) * G
        d1, d2 = np.split(d, 2, axis=axis)
        np.testing.assert_allclose(relukit.crelu_backward(G, x, axis), d1 + d2, rtol=1e-7, atol=1e-8)
        v = rng.standard_normal(x.shape)
        dL = (np.sum(G * relukit.crelu(x + h * v, axis)) - np.sum(G * relukit.crelu(x - h * v, axis))) / (2 * h)
        np.testing.assert_allclose(np.sum(relukit.crelu_backward(G, x, axis) * v), dL, rtol=1e-6, atol=1e-6)


# ======================================================================================
# brelu
# ======================================================================================
BRELU_CASES = {
    "1d": ((11,), [-0.5, 0.0, 0.25, 1.0]),
    "2d": ((4, 5), [0.1, -0.1]),
    "one-bias": ((13,), [0.3]),
    "0d-x": ((), [-1.0, 0.0, 1.0]),
    "list-biases": ((3, 2), [2, -2, 0]),
    "int-biases": ((6,), np.array([1, 0, -1])),
    "float32-biases": ((6,), np.array([0.1, 0.7], np.float32)),
    "negative-zero-bias": ((9,), [-0.0]),
    "empty-x": ((0, 3), [0.5, 1.0]),
}


@pytest.mark.parametrize("case", list(BRELU_CASES))
@pytest.mark.parametrize("dtype", FLOATS)
def test_brelu_values(backend, case, dtype):
    shape, b = BRELU_CASES[case]
    x = floats(30, shape, dtype, 0.3)
    k = len(b)
    y = relukit.brelu(x, b)
    assert y.shape == shape + (k,)
    assert_same(y, exp_brelu(x, b))
    g = floats(31, shape + (k,), dtype, 0.0)
    assert_same(relukit.brelu_backward(g, x, b), exp_brelu_backward(g, x, b))


def test_brelu_bias_rounded_to_dtype_first(backend):
    """x - float32(b) in float32, not float32(x - b) computed in float64."""
    rng = np.random.default_rng(32)
    x = (rng.standard_normal(20000) * 3).astype(np.float32)
    b = np.array([0.1, 1 / 3])
    in_dtype = np.stack([x - b32 for b32 in b.astype(np.float32)], axis=-1)
    once = (x.astype(np.float64)[:, None] - b).astype(np.float32)
    differ = (in_dtype != once).any(axis=-1) & (in_dtype > 0).all(axis=-1)
    assert differ.sum() > 10, "precondition: the roundings differ somewhere"
    x = x[differ]
    assert_same(relukit.brelu(x, b), in_dtype[differ])


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_brelu_empty_biases(backend, dtype):
    x = floats(33, (3, 4), dtype)
    for b in ([], np.array([]), np.zeros(0, np.int32)):
        y = relukit.brelu(x, b)
        assert y.shape == (3, 4, 0) and y.dtype == dtype
        gx = relukit.brelu_backward(np.empty((3, 4, 0), dtype), x, b)
        assert_same(gx, np.zeros((3, 4), dtype))


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_brelu_backward_sums_in_bias_order_from_positive_zero(backend, dtype):
    big = dtype(2.0 ** (np.finfo(dtype).nmant + 2))      # big + 1 rounds back to big
    x = np.array([10.0, 10.0, -10.0], dtype)
    b = [0.0, 1.0, 2.0]
    g = np.array([[big, 1.0, -big],        # (0 + big) + 1 = big; big - big = 0 (not 1)
                  [-0.0, -0.0, -0.0],      # +0.0 + -0.0 + ... = +0.0
                  [5.0, 6.0, 7.0]], dtype)  # no bias passes: +0.0
    got = relukit.brelu_backward(g, x, b)
    assert_same(got, np.zeros(3, dtype))
    assert not np.any(np.signbit(got))
    assert_same(got, exp_brelu_backward(g, x, b))
    # order matters the other way too: 1 first, then big, then -big
    g2 = np.array([[1.0, big, -big]], dtype)
    assert_same(relukit.brelu_backward(g2, x[:1], b), np.zeros(1, dtype))
    g3 = np.array([[big, -big, 1.0]], dtype)
    assert_same(relukit.brelu_backward(g3, x[:1], b), np.ones(1, dtype))


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_brelu_specials(backend, dtype):
    x = special_values(dtype)
    b = [-1.0, 0.0, 0.5, np.inf, -np.inf]
    y = relukit.brelu(x, b)
    assert_same(y, exp_brelu(x, b))
    nan = np.isnan(x)
    assert np.isnan(y[nan]).all(), "NaN propagates for every bias"
    assert y[x == np.inf][0, 3] != y[x == np.inf][0, 3], "inf - inf is NaN"
    g = no_signalling_nan(np.ones(x.shape + (5,), dtype))
    assert_same(relukit.brelu_backward(g, x, b), exp_brelu_backward(g, x, b))


def test_brelu_errors(backend):
    x = np.ones((3, 2), np.float32)
    for bad in (0.5, np.float64(0.5), np.array(0.5), np.ones((2, 2)), [[0.5]]):
        with pytest.raises(ValueError, match="biases"):
            relukit.brelu(x, bad)
        with pytest.raises(ValueError, match="biases"):
            relukit.brelu_backward(np.ones((3, 2, 1), np.float32), x, bad)
    with pytest.raises(TypeError):
        relukit.brelu(x, np.array([0.5j]))
    for dt in (np.int32, np.int8, np.uint64, bool):
        with pytest.raises(TypeError):
            relukit.brelu(np.ones(3, dt), [0.0])
    b = [0.0, 1.0]
    relukit.brelu_backward(np.ones((3, 2, 2), np.float32), x, b)       # fine
    for bad in (np.ones((3, 2), np.float32), np.ones((3, 2, 3), np.float32),
                np.ones((2, 3, 2), np.float32), np.ones((3, 2, 1), np.float32),
                np.ones((3, 2, 2, 1), np.float32)):
        with pytest.raises(ValueError, match="grad"):
            relukit.brelu_backward(bad, x, b)
    with pytest.raises(TypeError):
        relukit.brelu_backward(np.ones((3, 2, 2), np.float64), x, b)
    with pytest.raises(TypeError):
        relukit.brelu_backward(np.ones((3, 2, 2), np.int32), x, b)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_brelu_layouts_all_backends_identical(layout, dtype):
    base = floats(34, (5, 6, 7), dtype, 0.2)
    b = [-0.5, 0.0, 0.3]
    g = floats(35, (5, 6, 7, 3), dtype, 0.0)
    want, want_g = exp_brelu(base, b), exp_brelu_backward(g, base, b)
    for mode in BACKENDS:
        with relukit.use_backend(mode):
            x = _layout(base, layout)
            assert_same(relukit.brelu(x, b), want, f"{mode} {layout}")
            gl = np.asfortranarray(g) if layout == "F" else g
            assert_same(relukit.brelu_backward(gl, x, b), want_g, f"{mode} {layout} backward")
            assert_same(relukit.brelu(x, b[1:2]), want[..., 1:2], f"{mode} {layout} one bias")


def test_brelu_gradient_matches_finite_differences(backend):
    rng = np.random.default_rng(36)
    b = np.array([-1.0, 0.0, 0.5, 2.0])
    x = rng.uniform(-4, 4, (50, 7))
    near = np.min(np.abs(x[..., None] - b), axis=-1) < 0.05
    x[near] = 3.0
    G = rng.standard_normal(x.shape + (b.size,))
    h = 1e-6
    fd = ((relukit.brelu(x + h, b) - relukit.brelu(x - h, b)) / (2 * h) * G).sum(axis=-1)
    np.testing.assert_allclose(relukit.brelu_backward(G, x, b), fd, rtol=1e-7, atol=1e-8)
    v = rng.standard_normal(x.shape)
    dL = (np.sum(G * relukit.brelu(x + h * v, b)) - np.sum(G * relukit.brelu(x - h * v, b))) / (2 * h)
    np.testing.assert_allclose(np.sum(relukit.brelu_backward(G, x, b) * v), dL, rtol=1e-6, atol=1e-6)


# ======================================================================================
# automatic dispatch with lowered thresholds: numba is reached, results identical
# ======================================================================================
@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce:RuntimeWarning")  # see test_prelu_backward_no_floating_point_warnings
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_sizes_around_lowered_thresholds(low_thresholds, monkeypatch, dtype):
    thr = LOW_THRESHOLDS[np.dtype(dtype).name]
    have_numba = "numba" in BACKENDS
    spy = NumbaSpy(monkeypatch) if have_numba else None
    # x has shape (n, 3): 3n elements for most calls, n for the 1-d crelu ones
    for n in sorted({1, thr // 3 - 1, thr // 3, thr // 3 + 1, thr - 1, thr, thr + 1,
                     2 * thr + 5, 3001}):
        x = floats(40 + n, (n, 3), dtype, 0.2)
        x1 = x[:, 0].copy()
        w = [0.2, -0.4, 1.5]
        g = floats(41 + n, (n, 3), dtype, 0.0)
        calls = {}

        def run(name, fn, size=3 * n):
            if spy:
                spy.reset()
            r = fn()
            calls[name] = (set(spy.calls) if spy else set(), have_numba and size >= thr)
            with relukit.use_backend("cython"):
                rc = fn()
            return r, rc

        (y, m), (yc, mc) = run("prelu+mask", lambda: relukit.prelu(x, w, return_mask=True))
        assert_same(y, exp_prelu(x, w)); assert_same(m, pack(x > 0))
        assert_same(yc, y); assert_same(mc, m)
        y, yc = run("prelu", lambda: relukit.prelu(x, w))
        assert_same(y, exp_prelu(x, w)); assert_same(yc, y)
        (gx, gw), (gxc, gwc) = run("prelu_backward", lambda: relukit.prelu_backward(g, x, w))
        assert_same(gx, exp_prelu_grad_x(g, x, w)); check_grad_weight(gw, g, x, w)
        assert_same(gxc, gx); assert_same(gwc, gw)
        y, yc = run("crelu", lambda: relukit.crelu(x1), n)
        assert_same(y, exp_crelu(x1)); assert_same(yc, y)
        y, yc = run("crelu-axis0", lambda: relukit.crelu(x, 0))
        assert_same(y, exp_crelu(x, 0)); assert_same(yc, y)
        g2 = floats(42 + n, (2 * n,), dtype, 0.0)
        y, yc = run("crelu_backward", lambda: relukit.crelu_backward(g2, x1), n)
        assert_same(y, exp_crelu_backward(g2, x1)); assert_same(yc, y)
        y, yc = run("brelu", lambda: relukit.brelu(x, [0.25]))
        assert_same(y, exp_brelu(x, [0.25])); assert_same(yc, y)
        y, yc = run("brelu-3", lambda: relukit.brelu(x, [0.25, -1, 0]))
        assert_same(y, exp_brelu(x, [0.25, -1, 0])); assert_same(yc, y)
        gb = g.reshape(n, 3, 1)
        y, yc = run("brelu_backward", lambda: relukit.brelu_backward(gb, x, [0.25]))
        assert_same(y, exp_brelu_backward(gb, x, [0.25])); assert_same(yc, y)
        if spy:
            # where a Numba form exists for the call's layout, automatic dispatch uses it
            # from the threshold on, and only then
            # (x of shape (n, 3): rows of one element, prelu's short-row kernel)
            want = {"prelu+mask": {"prelu_short"}, "prelu": {"prelu_short"},
                    "prelu_backward": {"prelu_grad"},
                    "crelu": {"crelu"}, "crelu-axis0": {"crelu"},
                    "crelu_backward": {"crelu_grad"}, "brelu": {"brelu"}, "brelu-3": {"brelu"},
                    "brelu_backward": {"brelu_grad"}}
            for name, kernels in want.items():
                got, big = calls[name]
                assert got == (kernels if big else set()), (n, name, got)


# ======================================================================================
# memory: prelu in place allocates nothing proportional to the array
# ======================================================================================
@pytest.mark.parametrize("return_mask", [False, True])
@pytest.mark.parametrize("axis", [1, 0, -1])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_prelu_in_place_allocates_nothing(compiled_backend, dtype, axis, return_mask):
    src = floats(50, (1000, 1000), dtype, 0.1)
    w = np.linspace(-1, 1, 1000)
    arrays = iter([src.copy(), src.copy()])

    def run():
        a = next(arrays)
        r = relukit.prelu(a, w, axis, out=a, return_mask=return_mask)
        return a, (r[0] if return_mask else r)

    peak, (a, r) = traced_allocation(run)
    assert r is a
    allowance = 64 * 1024 + (src.size // 8 if return_mask else 0)
    assert peak < allowance, f"prelu(x, w, out=x) allocated {peak} bytes ({a.nbytes}-byte array)"
    assert_same(a, exp_prelu(src, w, axis))


# ======================================================================================
# Known failures: NaN results that differ bitwise between backends. The README promises
# "the three backends agree bit for bit on every piecewise-linear op", and the reference
# is the oracle; these inputs break that.
# ======================================================================================
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_crelu_backward_signalling_nan_like_reference(backend, dtype):
    """A signalling NaN in grad comes out as a NaN where the reference has one. Whether it
    comes out quieted is not specified (documented in the README): the C compiler may fold
    g1 - 0 to g1, which passes the signalling NaN through (float32 x = [1.0],
    grad = [sNaN 0x7fa00001, 0.0]: cython 0x7fa00001, numpy and numba 0x7fe00001)."""
    snan = make_nan(dtype, 0x7FA00001 if dtype == np.float32 else 0x7FF4000000000001)
    x = np.array([1.0, -1.0, 1.0, -1.0], dtype)
    g = np.array([snan, 0, 0, 0, 0, snan, 0, 0], dtype)       # g1 = [sNaN, 0, 0, 0], g2 = [0, sNaN, 0, 0]
    want = quiet(reference.crelu_backward, g, x)
    got = relukit.crelu_backward(g, x)
    assert np.isnan(got[0]) and np.isnan(got[1])
    assert_same_nan_loose(got, want)


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_brelu_backward_nan_order_like_reference(backend, dtype):
    """When two passing grads of one element are NaNs, the result is a NaN; which of the two
    (sign, payload) is not specified, since compilers may swap the operands of acc + term
    (x = [1.0], biases = [0, 0], grad = [[+qNaN, -qNaN]]: numpy gives +qNaN, cython and
    numba -qNaN). Every non-NaN element stays bit-identical."""
    q = dtype(np.nan)
    x = np.array([1.0, 2.0, -1.0], dtype)
    for g in (np.array([[q, -q], [1, 2], [q, q]], dtype), np.array([[-q, q], [2, 1], [3, 4]], dtype)):
        want = quiet(reference.brelu_backward, g, x, [0.0, 0.0])
        got = relukit.brelu_backward(g, x, [0.0, 0.0])
        assert np.isnan(got[0])
        assert_same_nan_loose(got, want)


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_prelu_backward_grad_weight_nan_times_nan_like_reference(backend, dtype):
    """Where x and grad are both NaN, the product entering grad_weight is a NaN whose sign
    and payload are not specified (the vectorised loop may take either operand's NaN:
    x = 16 x [[+qNaN]], grad = 16 x [[-qNaN]] gives -qNaN in cython, +qNaN in numpy)."""
    q = dtype(np.nan)
    x = np.full((16, 1), q, dtype)
    g = np.full((16, 1), -q, dtype)
    w = np.full(16, 0.25)
    want = quiet(reference.prelu_backward, g, x, w, 0)
    gx, gw = relukit.prelu_backward(g, x, w, 0)
    assert np.isnan(gw).all()
    assert_same_nan_loose(gx, want[0])
    assert_same_nan_loose(gw, want[1])


@pytest.mark.parametrize("case", ["inf-and-minus-inf", "float32-sum-overflows"])
def test_prelu_backward_no_floating_point_warnings(backend, case):
    """prelu_backward's per-channel float64 sum is silent on inf - inf and on a float32
    overflow, like every other relukit call (no floating-point warnings)."""
    import warnings
    if case == "inf-and-minus-inf":
        x = np.array([[-np.inf], [-np.inf]])            # terms -inf * 1 and -inf * -1
        g = np.array([[1.0], [-1.0]])
        want = np.float64(np.nan)
    else:
        x = np.array([[-3e38], [-3e38]], np.float32)    # each term finite in float32,
        g = np.ones((2, 1), np.float32)                 # their sum is not
        want = np.float32(-np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        relukit.prelu(x, 0.5)
        gx, gw = relukit.prelu_backward(g, x, 0.5)
    assert_same_nan_loose(gw, np.array(want))   # inf - inf: a NaN of unspecified sign


@pytest.mark.parametrize("shape, axis", [((2, 3), 1), ((3, 5, 3), -1), ((4, 5, 2), -1),
                                         ((3, 40), 0), ((2, 3, 37), 1)])
def test_prelu_weight_gradient_terms_are_rounded_before_they_are_added(compiled_backend,
                                                                        shape, axis):
    # A compiler that fuses acc + x * g into an FMA skips the rounding of the term that the
    # reference and Numba make (kernels/prelu_sum.h): random float64 data of mixed scales
    # found 1-ulp differences in about a quarter of such cases before the fix.
    rng = np.random.default_rng(7)
    w = rng.standard_normal(shape[axis])
    for _ in range(200):
        x = rng.standard_normal(shape) * 10.0 ** rng.integers(-4, 3, shape)
        g = x.copy() if rng.random() < 0.5 else rng.standard_normal(shape)
        expected = relukit.reference.prelu_backward(g.copy(), x.copy(), w, axis)[1]
        with relukit.use_backend(compiled_backend):
            got = relukit.prelu_backward(g, x, w, axis=axis)[1]
        np.testing.assert_array_equal(got.view(np.uint64), expected.view(np.uint64))
