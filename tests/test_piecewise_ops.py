"""relu6 and leaky_relu: values, masks, backwards, dtypes, errors, thresholds, gradients and
memory, in every backend.

The expectations are written here from the definitions (PyTorch's formulas), not taken from
``relukit.reference``:

* relu6(x) = min(max(0, x), 6) with NaN propagated and relu6(-0.0) = +0.0; mask bit 0 < x < 6;
  relu6_backward = grad where the bit is set, else +0.0 (a select: NaN/inf grad is dropped).
* leaky_relu(x, s) = x if x > 0 else s * x, ``s`` first rounded to x's dtype and the product
  taken in that dtype (PyTorch's ``x > 0 ? x : x * negval`` with ``negval`` a ``scalar_t``);
  mask bit x > 0; leaky_relu_backward = grad where the bit is set, else s * grad.
"""
import numpy as np
import pytest

import relukit
from conftest import (SENTINEL, bad_outs, BACKENDS, COMPILED_DTYPES, LOW_THRESHOLDS, NumbaSpy, assert_same,
                      random_floats, special_values, traced_allocation)

FLOATS = (np.float16, np.float32, np.float64)
SLOPES = (0.01, 0.2, 1 / 3, -0.5, -1.0, 0.0, 1.0, 1.5, 3.0)


# --------------------------------------------------------------------------------------
# independent oracles
# --------------------------------------------------------------------------------------
def pack(bits):
    return np.packbits(np.asarray(bits, bool).ravel(order="C"), bitorder="little")


def exp_relu6(x):
    x = np.asarray(x)
    zero, six = x.dtype.type(0), x.dtype.type(6)
    return np.where(x <= 0, zero, np.where(x >= 6, six, x)).astype(x.dtype)


def exp_relu6_mask(x):
    x = np.asarray(x)
    return pack((x > 0) & (x < 6))


def exp_select(grad, mask, cleared):
    """grad where the mask bit is set, else ``cleared`` (an array like grad)."""
    grad = np.asarray(grad)
    keep = np.unpackbits(mask, count=grad.size, bitorder="little").astype(bool)
    return np.where(keep.reshape(grad.shape), grad, cleared).astype(grad.dtype)


def exp_leaky(x, slope):
    x = np.asarray(x)
    with np.errstate(all="ignore"):
        s = x.dtype.type(slope)                 # rounded to the dtype first
        prod = x * s                            # dtype * same-dtype scalar: dtype arithmetic
    assert prod.dtype == x.dtype
    return np.where(x > 0, x, prod)


def exp_leaky_backward(grad, mask, slope):
    grad = np.asarray(grad)
    with np.errstate(all="ignore"):
        scaled = grad * grad.dtype.type(slope)
    return exp_select(grad, mask, scaled)


def affine(x, a, b):
    """a * x + b in x's dtype, quietly (specials overflow or turn into NaN, as intended)."""
    with np.errstate(all="ignore"):
        return (x * a + b).astype(x.dtype)


def edge_values(dtype):
    """Specials plus the neighbourhoods of both kinks (0 and 6)."""
    dt = np.dtype(dtype)
    six = dt.type(6)
    extra = np.array([6, 5, 3, 7, 100, -6, -100, np.nextafter(six, dt.type(np.inf)),
                      np.nextafter(six, dt.type(0)), np.nextafter(dt.type(0), dt.type(1)),
                      np.nextafter(dt.type(0), dt.type(-1)), 5.5, 0.25, -0.25], dt)
    return np.concatenate([special_values(dt), extra])


# --------------------------------------------------------------------------------------
# relu6
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_relu6_edge_values(backend, dtype):
    x = edge_values(dtype)
    y, m = relukit.relu6(x, return_mask=True)
    assert_same(y, exp_relu6(x), "relu6")
    assert_same(m, exp_relu6_mask(x), "relu6 mask")
    assert_same(relukit.relu6(x), exp_relu6(x), "relu6 without mask")


@pytest.mark.parametrize("dtype", FLOATS)
def test_relu6_spot_values(backend, dtype):
    dt = np.dtype(dtype)
    nan_bits = {2: 0x7E01, 4: 0x7FC00123, 8: 0x7FF8000000000123}[dt.itemsize]
    qnan = np.array([nan_bits], {2: np.uint16, 4: np.uint32, 8: np.uint64}[dt.itemsize]).view(dt)[0]
    x = np.array([-0.0, 0.0, 6.0, np.inf, -np.inf, 3.0, 7.0, -2.0, 5.75, qnan, -qnan], dt)
    y, m = relukit.relu6(x, return_mask=True)
    want = np.array([0.0, 0.0, 6.0, 6.0, 0.0, 3.0, 6.0, 0.0, 5.75, 0, 0], dt)
    assert_same(y[:9], want[:9])
    assert not np.signbit(y[0]) and not np.signbit(y[4]), "relu6(-0.0) and relu6(-inf) are +0.0"
    # the same NaN comes out: sign and payload
    assert y[9:].view(np.dtype(f"u{dt.itemsize}")).tolist() == \
        x[9:].view(np.dtype(f"u{dt.itemsize}")).tolist()
    #          -0 0  6  inf -inf 3  7  -2 5.75 nan -nan
    bits_ = [0, 0, 0, 0,  0,   1, 0, 0, 1,   0,  0]
    np.testing.assert_array_equal(np.unpackbits(m, count=x.size, bitorder="little"), bits_)


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_relu6_backward(backend, dtype):
    x = edge_values(dtype)
    g = edge_values(dtype)[::-1].copy()          # NaN/inf grads land on cleared bits too
    m = exp_relu6_mask(x)
    want = exp_select(g, m, np.zeros_like(g))
    got = relukit.relu6_backward(g, m)
    assert_same(got, want, "relu6_backward")
    cleared = np.unpackbits(m, count=x.size, bitorder="little") == 0
    assert np.all(got[cleared] == 0) and not np.any(np.signbit(got[cleared])), \
        "cleared bits give +0.0 whatever grad holds"
    assert np.isnan(g[cleared]).any(), "the test must put NaN grads on cleared bits"
    out = np.full_like(g, SENTINEL)
    assert relukit.relu6_backward(g, m, out=out) is out
    assert_same(out, want, "relu6_backward out=")
    gi = g.copy()
    assert relukit.relu6_backward(gi, m, out=gi) is gi
    assert_same(gi, want, "relu6_backward in place")


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 33, 1023, 1025, 4097, 8193])
def test_relu6_call_forms(backend, dtype, n):
    rng = np.random.default_rng(n)
    x = affine(random_floats(rng, n, dtype, 0.2), 3, 2)   # many values in (0, 6)
    ey, em = exp_relu6(x), exp_relu6_mask(x)
    x0 = x.copy()
    assert_same(relukit.relu6(x), ey)
    y, m = relukit.relu6(x, return_mask=True)
    assert_same(y, ey)
    assert_same(m, em)
    assert_same(x, x0, "x unchanged")
    out = np.full_like(x, SENTINEL)
    r, m = relukit.relu6(x, out=out, return_mask=True)
    assert r is out
    assert_same(out, ey)
    assert_same(m, em)
    xi = x.copy()
    r, m = relukit.relu6(xi, out=xi, return_mask=True)
    assert r is xi
    assert_same(xi, ey, "in place")
    assert_same(m, em, "in-place mask")
    xi = x.copy()
    assert relukit.relu6(xi, out=xi) is xi
    assert_same(xi, ey, "in place, no mask")
    g = random_floats(rng, n, dtype, 0.2)
    assert_same(relukit.relu6_backward(g, em), exp_select(g, em, np.zeros_like(g)))


@pytest.mark.parametrize("layout", ["F", "step2", "reversed", "transposed"])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_relu6_layouts_mask_in_c_order(backend, layout, dtype):
    rng = np.random.default_rng(3)
    base = affine(random_floats(rng, 37 * 29 * 2, dtype, 0.2), 4, 3)
    x = {"F": np.asfortranarray(base[: 37 * 29].reshape(37, 29)),
         "step2": base.reshape(37, 58)[:, ::2],
         "reversed": base[: 37 * 29].reshape(37, 29)[::-1, ::-1],
         "transposed": base[: 37 * 29].reshape(29, 37).T}[layout]
    y, m = relukit.relu6(x, return_mask=True)
    assert_same(y, exp_relu6(x))
    assert_same(m, exp_relu6_mask(x), "mask is in C order of the logical elements")
    g = random_floats(rng, x.size, dtype).reshape(x.shape)
    assert_same(relukit.relu6_backward(g, m), exp_select(g, m, np.zeros_like(g)))


INT_DTYPES = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_relu6_integers(backend, dtype):
    info = np.iinfo(dtype)
    vals = [info.min, info.max, 0, 1, 5, 6, 7, 100 if info.max >= 100 else 9]
    if info.min < 0:
        vals += [-1, -6, -7]
    x = np.array(vals, dtype)
    want = np.array([min(max(0, int(v)), 6) for v in vals], dtype)
    y, m = relukit.relu6(x, return_mask=True)
    assert_same(y, want)
    assert_same(m, pack([0 < int(v) < 6 for v in vals]))
    xi = x.copy()
    assert relukit.relu6(xi, out=xi) is xi
    assert_same(xi, want, "in place")
    g = np.arange(1, x.size + 1).astype(dtype)
    assert_same(relukit.relu6_backward(g, m),
                np.array([int(gv) if 0 < int(v) < 6 else 0 for gv, v in zip(g, vals)], dtype))


def test_relu6_float16(backend):
    x = edge_values(np.float16)
    y, m = relukit.relu6(x, return_mask=True)
    assert_same(y, exp_relu6(x))
    assert_same(m, exp_relu6_mask(x))
    g = x[::-1].copy()
    assert_same(relukit.relu6_backward(g, m), exp_select(g, m, np.zeros_like(g)))


# --------------------------------------------------------------------------------------
# leaky_relu
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("slope", SLOPES)
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_leaky_edge_values(backend, dtype, slope):
    x = edge_values(dtype)
    y, m = relukit.leaky_relu(x, slope, return_mask=True)
    assert_same(y, exp_leaky(x, slope), f"leaky_relu slope={slope}")
    assert_same(m, pack(x > 0), "mask = x > 0")
    assert_same(relukit.leaky_relu(x, negative_slope=slope), exp_leaky(x, slope))
    g = x[::-1].copy()
    want = exp_leaky_backward(g, m, slope)
    assert_same(relukit.leaky_relu_backward(g, m, slope), want, "backward")
    assert_same(relukit.leaky_relu_backward(g, m, negative_slope=slope), want)
    gi = g.copy()
    assert relukit.leaky_relu_backward(gi, m, slope, out=gi) is gi
    assert_same(gi, want, "backward in place")


@pytest.mark.parametrize("dtype", FLOATS)
def test_leaky_signed_zero_nan_and_default_slope(backend, dtype):
    dt = np.dtype(dtype)
    x = np.array([-0.0, 0.0, np.nan, -np.inf, np.inf, -2.0, 2.0], dt)
    y = relukit.leaky_relu(x)                                     # default slope 0.01
    assert np.signbit(y[0]) and y[0] == 0, "leaky(-0.0) = -0.0 for a positive slope"
    assert not np.signbit(y[1]) and y[1] == 0
    assert np.isnan(y[2])
    assert y[3] == -np.inf and y[4] == np.inf
    assert y[5] == dt.type(-2.0) * dt.type(0.01) and y[6] == 2.0
    yn = relukit.leaky_relu(x, -0.25)
    assert not np.signbit(yn[0]) and yn[0] == 0, "leaky(-0.0) = +0.0 for a negative slope"
    assert yn[3] == np.inf and yn[5] == 0.5
    y0 = relukit.leaky_relu(x, 0.0)
    assert np.isnan(y0[3]), "-inf * 0 is NaN (the product is taken, as in PyTorch)"
    assert y0[5] == 0 and np.signbit(y0[5]), "-2 * 0.0 = -0.0"


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("slope", [0.1, 0.01, 1 / 3, -0.3, 2.2])
def test_leaky_slope_rounded_to_dtype_first(backend, dtype, slope):
    """slope * x in the dtype with the slope rounded first, not x * slope in float64 rounded
    once: the values are chosen where the two differ, so this test tells them apart."""
    rng = np.random.default_rng(7)
    x = -np.abs(rng.standard_normal(20000) * 10).astype(dtype)
    with np.errstate(all="ignore"):
        in_dtype = dtype(slope) * x
        once = (x.astype(np.float64) * slope).astype(dtype)
    differ = in_dtype != once
    assert differ.sum() > 10, "precondition: the two roundings differ somewhere"
    x = x[differ]
    y, m = relukit.leaky_relu(x, slope, return_mask=True)
    assert_same(y, in_dtype[differ], "slope rounded to the dtype, product in the dtype")
    assert not np.any(m)
    g = -x                                           # any grad: all bits clear
    with np.errstate(all="ignore"):
        assert_same(relukit.leaky_relu_backward(g, m, slope), dtype(slope) * g)


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_leaky_extreme_slopes(backend, dtype):
    fi = np.finfo(dtype)
    x = np.array([-fi.max, -1.0, -fi.smallest_subnormal, -0.0, 1.0, fi.max], dtype)
    for slope in (1e-300, 1e300, -1e300, 2.0, 5e-324):      # out of float32's range too
        assert_same(relukit.leaky_relu(x, slope), exp_leaky(x, slope), f"slope={slope}")
        m = pack(x > 0)
        assert_same(relukit.leaky_relu_backward(x, m, slope), exp_leaky_backward(x, m, slope))


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
@pytest.mark.parametrize("n", [0, 1, 9, 1025, 8193])
def test_leaky_call_forms(backend, dtype, n):
    rng = np.random.default_rng(n + 1)
    x = random_floats(rng, n, dtype, 0.2).reshape(-1, 1) if n else np.empty((0, 3), dtype)
    for slope in (0.02, -0.7):
        ey, em = exp_leaky(x, slope), pack(x > 0)
        out = np.full_like(x, SENTINEL)
        r, m = relukit.leaky_relu(x, slope, out=out, return_mask=True)
        assert r is out
        assert_same(out, ey)
        assert_same(m, em)
        xi = x.copy()
        assert relukit.leaky_relu(xi, slope, out=xi) is xi
        assert_same(xi, ey, "in place")
        xi = x.copy()
        r, m = relukit.leaky_relu(xi, slope, out=xi, return_mask=True)
        assert_same(xi, ey, "in place with mask")
        assert_same(m, em)
        g = random_floats(rng, x.size, dtype, 0.2).reshape(x.shape)
        out = np.full_like(g, SENTINEL)
        assert relukit.leaky_relu_backward(g, em, slope, out=out) is out
        assert_same(out, exp_leaky_backward(g, em, slope))


@pytest.mark.parametrize("layout", ["F", "step3", "reversed", "transposed"])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_leaky_layouts(backend, layout, dtype):
    rng = np.random.default_rng(4)
    base = random_floats(rng, 41 * 23 * 3, dtype, 0.2)
    x = {"F": np.asfortranarray(base[: 41 * 23].reshape(41, 23)),
         "step3": base.reshape(41, 69)[:, ::3],
         "reversed": base[: 41 * 23].reshape(41, 23)[::-1, ::-2],
         "transposed": base[: 41 * 23].reshape(23, 41).T}[layout]
    y, m = relukit.leaky_relu(x, 0.3, return_mask=True)
    assert_same(y, exp_leaky(x, 0.3))
    assert_same(m, pack(x > 0))
    out = np.full(x.shape, SENTINEL, dtype, order="F")[::-1]
    relukit.leaky_relu(x, -0.3, out=out)
    assert_same(out, exp_leaky(x, -0.3))


def test_leaky_float16(backend):
    x = edge_values(np.float16)
    for slope in (0.01, -0.3, 3.0):
        y, m = relukit.leaky_relu(x, slope, return_mask=True)
        assert_same(y, exp_leaky(x, slope))
        assert_same(m, pack(x > 0))
        g = x[::-1].copy()
        assert_same(relukit.leaky_relu_backward(g, m, slope), exp_leaky_backward(g, m, slope))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.uint64])
def test_leaky_integer_is_type_error_nothing_written(backend, dtype):
    x = np.array([-3, 0, 5, 9], dtype) if np.dtype(dtype).kind == "i" else np.array([0, 5, 9], dtype)
    x0 = x.copy()
    with pytest.raises(TypeError):
        relukit.leaky_relu(x)
    with pytest.raises(TypeError):
        relukit.leaky_relu(x, 0.1, return_mask=True)
    with pytest.raises(TypeError):
        relukit.leaky_relu(x, out=x)
    assert_same(x, x0, "in-place integer x untouched")
    out = np.full(x.shape, 77, dtype)
    with pytest.raises(TypeError):
        relukit.leaky_relu(x, out=out)
    assert np.all(out == 77), "out untouched"
    m = pack(np.ones(x.size, bool))
    with pytest.raises(TypeError):
        relukit.leaky_relu_backward(x, m)
    with pytest.raises(TypeError):
        relukit.leaky_relu_backward(x, m, out=x)
    assert_same(x, x0, "integer grad untouched")
    with pytest.raises(TypeError):
        relukit.leaky_relu([1, -2, 3])                             # a list of ints, too


# --------------------------------------------------------------------------------------
# errors before anything is written
# --------------------------------------------------------------------------------------


FORWARDS = {
    "relu6": lambda x, **k: relukit.relu6(x, **k),
    "leaky_relu": lambda x, **k: relukit.leaky_relu(x, 0.2, **k),
    "leaky_relu-negative": lambda x, **k: relukit.leaky_relu(x, negative_slope=-0.2, **k),
}


@pytest.mark.parametrize("fn", list(FORWARDS))
@pytest.mark.parametrize("case", list(bad_outs(np.zeros(4, np.float32))))
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
@pytest.mark.parametrize("return_mask", [False, True])
def test_forward_bad_out_nothing_written(backend, fn, case, dtype, return_mask):
    x = np.linspace(-8, 8, 100).astype(dtype)
    x0 = x.copy()
    exc, out = bad_outs(x)[case]
    snapshot = out.copy()
    with pytest.raises(exc, match=r"\bout\b"):
        FORWARDS[fn](x, out=out, return_mask=return_mask)
    assert_same(out, snapshot, "out untouched")
    assert_same(x, x0, "x untouched")


@pytest.mark.parametrize("fn", list(FORWARDS))
def test_forward_read_only_in_place(backend, fn):
    x = np.linspace(-8, 8, 50)
    x.flags.writeable = False
    x0 = x.copy()
    with pytest.raises(ValueError, match="read-only"):
        FORWARDS[fn](x, out=x)
    assert_same(x, x0)


@pytest.mark.parametrize("case", ["shape-short", "dtype", "read-only"])
@pytest.mark.parametrize("which", ["relu6", "leaky"])
def test_backward_bad_out_nothing_written(backend, case, which):
    g = np.linspace(-8, 8, 100).astype(np.float32)
    m = exp_relu6_mask(g)
    exc, out = bad_outs(g)[case]
    snapshot = out.copy()
    with pytest.raises(exc, match=r"\bout\b"):
        if which == "relu6":
            relukit.relu6_backward(g, m, out=out)
        else:
            relukit.leaky_relu_backward(g, m, 0.1, out=out)
    assert_same(out, snapshot)


@pytest.mark.parametrize("bad", ["0.1", None, [0.1], 1j, object()])
def test_leaky_bad_slope_nothing_written(backend, bad):
    x = np.linspace(-3, 3, 64)
    x0 = x.copy()
    out = np.full_like(x, SENTINEL)
    with pytest.raises(TypeError):
        relukit.leaky_relu(x, bad, out=out)
    with pytest.raises(TypeError):
        relukit.leaky_relu(x, negative_slope=bad, out=x)
    assert_same(x, x0)
    assert np.all(out == SENTINEL)
    m = pack(x > 0)
    with pytest.raises(TypeError):
        relukit.leaky_relu_backward(x, m, bad, out=x)
    assert_same(x, x0)


@pytest.mark.parametrize("which", ["relu6", "leaky"])
def test_backward_bad_mask_nothing_written(backend, which):
    g = np.linspace(-3, 3, 20)
    g0 = g.copy()
    bw = relukit.relu6_backward if which == "relu6" else relukit.leaky_relu_backward
    for bad, exc in ((np.zeros(2, np.uint8), ValueError), (np.zeros(4, np.uint8), ValueError),
                     (np.zeros(3, np.int8), TypeError), (np.zeros((3, 1), np.uint8), ValueError),
                     ([0, 0, 0], TypeError)):
        with pytest.raises(exc, match="mask"):
            bw(g, bad, out=g)
        assert_same(g, g0)


# --------------------------------------------------------------------------------------
# sizes around lowered thresholds: automatic dispatch reaches numba, same results
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_sizes_around_lowered_thresholds(low_thresholds, monkeypatch, numba_warm, dtype):
    thr = LOW_THRESHOLDS[np.dtype(dtype).name]
    spy = NumbaSpy(monkeypatch) if "numba" in BACKENDS else None
    rng = np.random.default_rng(11)
    for n in sorted({1, thr - 9, thr - 1, thr, thr + 1, thr + 8, 2 * thr + 3, 4097, 9000}):
        x = affine(random_floats(rng, n, dtype, 0.2), 3, 1)
        g = random_floats(rng, n, dtype, 0.2)
        big = n >= thr and spy is not None
        want = "numba" if big else "cython"
        for op, kw in (("relu6", {}), ("leaky_relu", {"negative_slope": -0.05})):
            for mask in (False, True):
                assert f"backend {want}" in relukit.explain(op, x, return_mask=mask), (op, n)
            assert f"backend {want}" in relukit.explain(op + "_backward", g), (op, n)
        if spy:
            spy.reset()
        y6, m6 = relukit.relu6(x, return_mask=True)
        assert_same(y6, exp_relu6(x), f"relu6 n={n}")
        assert_same(m6, exp_relu6_mask(x), f"relu6 mask n={n}")
        assert_same(relukit.relu6(x), exp_relu6(x))
        xi = x.copy()
        relukit.relu6(xi, out=xi)
        assert_same(xi, exp_relu6(x), f"relu6 in place n={n}")
        assert_same(relukit.relu6_backward(g, m6), exp_select(g, m6, np.zeros_like(g)))
        yl, ml = relukit.leaky_relu(x, -0.05, return_mask=True)
        assert_same(yl, exp_leaky(x, -0.05), f"leaky n={n}")
        assert_same(ml, pack(x > 0))
        xi = x.copy()
        relukit.leaky_relu(xi, -0.05, out=xi)
        assert_same(xi, exp_leaky(x, -0.05))
        assert_same(relukit.leaky_relu_backward(g, ml, -0.05), exp_leaky_backward(g, ml, -0.05))
        if spy:
            expected_kernels = {"relu6", "relu6_mask", "mask_select", "leaky_relu",
                                "leaky_relu_mask", "mask_scale"}
            assert set(spy.calls) == (expected_kernels if big else set()), (n, spy.calls)
        # the forced cython backend gives the same bits
        with relukit.use_backend("cython"):
            assert_same(relukit.relu6(x, return_mask=True)[0], y6)
            assert_same(relukit.leaky_relu(x, -0.05, return_mask=True)[1], ml)


# --------------------------------------------------------------------------------------
# gradients: central finite differences in float64, away from the kinks
# --------------------------------------------------------------------------------------
def _smooth_points(rng, n, kinks):
    """n points in [-12, 12], none within 0.05 of a kink."""
    x = rng.uniform(-12, 12, 2 * n)
    for k in kinks:
        x = x[np.abs(x - k) > 0.05]
    return x[:n]


def test_relu6_gradient_matches_finite_differences(backend):
    rng = np.random.default_rng(21)
    x = _smooth_points(rng, 3000, (0.0, 6.0))
    G = rng.standard_normal(x.size)
    h = 1e-6
    fd = (relukit.relu6(x + h) - relukit.relu6(x - h)) / (2 * h)
    _, m = relukit.relu6(x, return_mask=True)
    np.testing.assert_allclose(relukit.relu6_backward(G, m), G * fd, rtol=1e-7, atol=1e-8)
    assert (fd > 0.5).any() and (fd < 0.5).any()          # both pieces were exercised


@pytest.mark.parametrize("slope", [0.01, -0.4, 0.0, 2.5])
def test_leaky_gradient_matches_finite_differences(backend, slope):
    rng = np.random.default_rng(22)
    x = _smooth_points(rng, 3000, (0.0,))
    G = rng.standard_normal(x.size)
    h = 1e-6
    fd = (relukit.leaky_relu(x + h, slope) - relukit.leaky_relu(x - h, slope)) / (2 * h)
    _, m = relukit.leaky_relu(x, slope, return_mask=True)
    np.testing.assert_allclose(relukit.leaky_relu_backward(G, m, slope), G * fd,
                               rtol=1e-7, atol=1e-8)
    # directional check of the whole loss L = sum(G * f(x))
    v = rng.standard_normal(x.size)
    dL = (np.sum(G * relukit.leaky_relu(x + h * v, slope))
          - np.sum(G * relukit.leaky_relu(x - h * v, slope))) / (2 * h)
    np.testing.assert_allclose(np.dot(relukit.leaky_relu_backward(G, m, slope), v), dL,
                               rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------------------
# memory: the in-place paths allocate nothing proportional to the array
# --------------------------------------------------------------------------------------
N = 10**6
SMALL = 64 * 1024

IN_PLACE = {
    "relu6": lambda a, m: relukit.relu6(a, out=a),
    "relu6+mask": lambda a, m: relukit.relu6(a, out=a, return_mask=True)[0],
    "leaky_relu": lambda a, m: relukit.leaky_relu(a, 0.1, out=a),
    "leaky_relu-neg+mask": lambda a, m: relukit.leaky_relu(a, -0.1, out=a, return_mask=True)[0],
    "relu6_backward": lambda a, m: relukit.relu6_backward(a, m, out=a),
    "leaky_relu_backward": lambda a, m: relukit.leaky_relu_backward(a, m, -0.3, out=a),
}


@pytest.mark.parametrize("call", list(IN_PLACE))
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_in_place_allocates_nothing(compiled_backend, call, dtype):
    rng = np.random.default_rng(31)
    src = affine(random_floats(rng, N, dtype), 4, 0)
    m = pack((src > 0) & (src < 6))
    arrays = iter([src.copy(), src.copy()])
    fn = IN_PLACE[call]

    def run():
        a = next(arrays)
        return a, fn(a, m)

    peak, (a, r) = traced_allocation(run)
    assert r is a
    allowance = SMALL + ((N + 7) // 8 if "mask" in call else 0)
    assert peak < allowance, f"{call} in place allocated {peak} bytes ({a.nbytes}-byte array)"
    want = {"relu6": exp_relu6(src), "relu6+mask": exp_relu6(src),
            "leaky_relu": exp_leaky(src, 0.1), "leaky_relu-neg+mask": exp_leaky(src, -0.1),
            "relu6_backward": exp_select(src, m, np.zeros_like(src)),
            "leaky_relu_backward": exp_leaky_backward(src, m, -0.3)}[call]
    assert_same(a, want)
