"""Values: edge values, odd sizes, dtypes, shapes, the op table (OPS), in every backend."""
import numpy as np
import pytest

import relukit
from conftest import (BACKENDS, COMPILED_DTYPES, ODD_SIZES, assert_same, bits,
                      expected_backward, expected_mask, expected_relu, random_floats,
                      special_values)

OPS = list(relukit.MASKED.values())
OP_IDS = [op.name for op in OPS]


def saved_for_backward(op, x, y, mask):
    """What the op's backward takes besides grad (per ``backward_needs``)."""
    return {"mask": mask, "output": y, "input": x}[op.backward_needs]


# --------------------------------------------------------------------------------------
# edge values
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_edge_values(backend, dtype):
    x = special_values(dtype)
    x0 = x.copy()
    y = relukit.relu(x)
    assert y is not x and y.dtype == dtype and y.shape == x.shape
    assert_same(x, x0, "input must not be modified")
    nan = np.isnan(x)
    # NaN in -> NaN out (every NaN, whatever its sign or payload)
    assert np.isnan(y[nan]).all()
    # positive numbers (incl. subnormals, max, inf) pass through bit for bit
    pos = ~nan & (x > 0)
    assert_same(y[pos], x[pos], "positive values")
    # everything <= 0 (incl. -0.0, -inf, negative subnormals, finfo.min) becomes +0.0
    nonpos = ~nan & (x <= 0)
    assert nonpos.sum() >= 8
    assert (bits(y[nonpos]) == 0).all(), "non-positive inputs must give +0.0 (no sign bit)"
    assert not np.signbit(y[~nan]).any()
    assert_same(y, expected_relu(x))


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_edge_values_mask_and_backward(backend, dtype):
    x = special_values(dtype)
    y, mask = relukit.relu(x, return_mask=True)
    assert isinstance(mask, np.ndarray) and mask.dtype == np.uint8 and mask.ndim == 1
    assert mask.size == (x.size + 7) // 8
    assert_same(mask, expected_mask(x), "mask")
    # the bit is set exactly where x > 0 or x is NaN
    unpacked = np.unpackbits(mask, count=x.size, bitorder="little").astype(bool)
    np.testing.assert_array_equal(unpacked, (x > 0) | np.isnan(x))
    assert_same(y, expected_relu(x))

    # grad full of NaN/inf/-0.0: a select, so cleared bits give +0.0 and set bits give grad
    grad = np.resize(special_values(dtype)[::-1], x.size).astype(dtype)
    gx = relukit.relu_backward(grad, mask)
    assert_same(gx, expected_backward(grad, mask), "backward")
    assert (bits(gx[~unpacked]) == 0).all()
    assert_same(gx[unpacked], grad[unpacked], "backward at set bits")


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_nan_payload_and_sign_pass_through_identically(dtype):
    """relu(NaN) is NaN in every backend, and every backend gives the same bits."""
    x = special_values(dtype)[:5]
    assert np.isnan(x).all()
    results = {}
    for b in BACKENDS:
        with relukit.use_backend(b):
            results[b] = relukit.relu(x)
            assert np.isnan(results[b]).all(), b
    for b in BACKENDS:
        assert_same(results[b], results[BACKENDS[0]], f"{b} vs {BACKENDS[0]}")


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_negative_zero_becomes_positive_zero(backend, dtype):
    x = np.full(37, -0.0, dtype)
    for y in (relukit.relu(x), relukit.relu(x, return_mask=True)[0], relukit.relu(x.copy(), out=x)):
        assert not np.signbit(y).any()
        assert (bits(y) == 0).all()
    _, mask = relukit.relu(np.full(37, -0.0, dtype), return_mask=True)
    assert not mask.any(), "-0.0 <= 0, so its bit is clear"


# --------------------------------------------------------------------------------------
# odd sizes, every call form
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", ODD_SIZES)
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_odd_sizes_all_call_forms(backend, dtype, n):
    rng = np.random.default_rng(n)
    x = random_floats(rng, n, dtype)
    ey, em = expected_relu(x), expected_mask(x)

    assert_same(relukit.relu(x), ey, "out=None")
    out = np.full_like(x, 7.0)
    r = relukit.relu(x, out=out)
    assert r is out
    assert_same(out, ey, "out=given")
    y, m = relukit.relu(x, return_mask=True)
    assert_same(y, ey, "return_mask out")
    assert_same(m, em, "mask")
    xi = x.copy()
    r = relukit.relu(xi, out=xi)
    assert r is xi
    assert_same(xi, ey, "in place")
    xi = x.copy()
    r, m = relukit.relu(xi, out=xi, return_mask=True)
    assert r is xi
    assert_same(xi, ey, "in place + mask")
    assert_same(m, em, "in-place mask")

    grad = random_floats(rng, n, dtype, special_fraction=0.3)
    eg = expected_backward(grad, em)
    assert_same(relukit.relu_backward(grad, m), eg, "backward")
    go = np.full_like(grad, 7.0)
    assert relukit.relu_backward(grad, m, out=go) is go
    assert_same(go, eg, "backward out=given")
    gi = grad.copy()
    assert relukit.relu_backward(gi, m, out=gi) is gi
    assert_same(gi, eg, "backward in place")


@pytest.mark.parametrize("n", [7, 8, 9, 1023, 1025])
def test_mask_padding_bits_are_zero_and_ignored(backend, n):
    x = np.ones(n, np.float32)            # every bit set
    _, m = relukit.relu(x, return_mask=True)
    assert_same(m, np.packbits(np.ones(n, bool), bitorder="little"))
    if n % 8:
        assert m[-1] == (1 << (n % 8)) - 1, "padding bits of the last byte must be 0"
    # backward ignores whatever the padding bits of a mask say
    m2 = m.copy()
    m2[-1] = 0xFF
    g = np.arange(1, n + 1, dtype=np.float32)
    assert_same(relukit.relu_backward(g, m2), g)
    m3 = np.zeros_like(m)
    if n % 8:
        m3[-1] = np.uint8(0xFF << (n % 8) & 0xFF)
    assert (bits(relukit.relu_backward(g, m3)) == 0).all()


# --------------------------------------------------------------------------------------
# every backend agrees bit for bit (explicit cross-check, beyond agreeing with the oracle)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
@pytest.mark.parametrize("n", [0, 1, 17, 129, 1025, 8193, 70_001])
def test_backends_agree_bitwise(dtype, n):
    rng = np.random.default_rng(1000 + n)
    x = random_floats(rng, n, dtype, special_fraction=0.2)
    g = random_floats(rng, n, dtype, special_fraction=0.2)
    res = {}
    for b in BACKENDS:
        with relukit.use_backend(b):
            y, m = relukit.relu(x, return_mask=True)
            res[b] = (relukit.relu(x), y, m, relukit.relu_backward(g, m))
    first = BACKENDS[0]
    for b in BACKENDS[1:]:
        for k, what in enumerate(("relu", "relu+mask", "mask", "backward")):
            assert_same(res[b][k], res[first][k], f"{what}: {b} vs {first}")


# --------------------------------------------------------------------------------------
# sizes at the dispatch thresholds: automatic dispatch, no override
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_sizes_around_default_thresholds(dtype):
    thr = relukit.thresholds()["memory-bound"][np.dtype(dtype).name]
    rng = np.random.default_rng(5)
    for n in (thr - 1, thr, thr + 1, thr + 7):
        x = random_floats(rng, n, dtype)
        assert_same(relukit.relu(x), expected_relu(x), f"n={n}")
        y, m = relukit.relu(x, return_mask=True)
        assert_same(m, expected_mask(x), f"mask n={n}")
        xi = x.copy()
        relukit.relu(xi, out=xi)
        assert_same(xi, expected_relu(x), f"in place n={n}")
        g = random_floats(rng, n, dtype)
        assert_same(relukit.relu_backward(g, m), expected_backward(g, m), f"backward n={n}")


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_sizes_around_lowered_thresholds(low_thresholds, dtype):
    thr = low_thresholds["memory-bound"][np.dtype(dtype).name]
    rng = np.random.default_rng(6)
    for n in sorted({0, 1, thr - 9, thr - 1, thr, thr + 1, thr + 8, 2 * thr + 3, 4097}):
        x = random_floats(rng, n, dtype)
        expected_backend = "numba" if (n >= thr and "numba" in BACKENDS) else "cython"
        # low_thresholds puts every op class at the same value, so every call form agrees
        assert f"backend {expected_backend}" in relukit.explain("relu", x), n
        assert f"backend {expected_backend}" in relukit.explain("relu", x, return_mask=True), n
        assert f"backend {expected_backend}" in relukit.explain("relu_backward", x), n
        y, m = relukit.relu(x, return_mask=True)
        assert_same(y, expected_relu(x), f"n={n}")
        assert_same(m, expected_mask(x), f"mask n={n}")
        assert_same(relukit.relu(x), expected_relu(x), f"no mask n={n}")
        g = random_floats(rng, n, dtype)
        gi = g.copy()
        relukit.relu_backward(gi, m, out=gi)
        assert_same(gi, expected_backward(g, m), f"backward n={n}")


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_threshold_zero_sends_everything_to_numba(dtype):
    relukit.set_threshold("memory-bound", dtype, 0)
    for n in (0, 1, 9, 100):
        x = random_floats(np.random.default_rng(n), n, dtype)
        if "numba" in BACKENDS:
            assert "backend numba" in relukit.explain("relu", x)
        y, m = relukit.relu(x, return_mask=True)
        assert_same(y, expected_relu(x))
        assert_same(m, expected_mask(x))


# --------------------------------------------------------------------------------------
# shapes: 0-d, empty, n-d
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (0,), (0, 5), (3, 0, 2), (1,), (1, 1, 1), (2, 3),
                                   (4, 1, 5), (2, 3, 4, 5), (1,) * 20, (2,) * 10])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_shapes(backend, shape, dtype):
    n = int(np.prod(shape))
    x = random_floats(np.random.default_rng(n), n, dtype).reshape(shape)
    y = relukit.relu(x)
    assert isinstance(y, np.ndarray) and y.shape == shape
    assert_same(y, expected_relu(x))
    y, m = relukit.relu(x, return_mask=True)
    assert m.shape == ((n + 7) // 8,)
    assert_same(m, expected_mask(x))
    g = random_floats(np.random.default_rng(n + 1), n, dtype).reshape(shape)
    gb = relukit.relu_backward(g, m)
    assert gb.shape == shape
    assert_same(gb, expected_backward(g, m))
    xi = x.copy()
    assert relukit.relu(xi, out=xi) is xi
    assert_same(xi, expected_relu(x))


@pytest.mark.parametrize("value", [-3.5, -0.0, 0.0, 2.25, np.nan, -np.inf])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_zero_d_and_numpy_scalars(backend, value, dtype):
    for x in (np.array(value, dtype), dtype(value)):
        y = relukit.relu(x)
        assert np.ndim(y) == 0
        assert_same(np.asarray(y), expected_relu(np.asarray(x)))
        y, m = relukit.relu(x, return_mask=True)
        assert_same(m, expected_mask(np.asarray(x)))
        g = relukit.relu_backward(np.array(4.0, dtype), m)
        assert_same(np.asarray(g), expected_backward(np.array(4.0, dtype), m))
    x = np.array(value, dtype)
    assert relukit.relu(x, out=x) is x
    assert_same(x, expected_relu(np.array(value, dtype)))


# --------------------------------------------------------------------------------------
# dtypes without compiled kernels: results via the NumPy reference, in every backend
# --------------------------------------------------------------------------------------
NON_COMPILED = [np.float16, np.longdouble, np.int8, np.int16, np.int32, np.int64,
                np.uint8, np.uint16, np.uint32, np.uint64]


def _values_for(dtype):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        fi = np.finfo(dt)
        return np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, fi.smallest_subnormal,
                         -fi.smallest_subnormal, fi.max, fi.min, 1.5, -1.5, 3, -7], dt)
    ii = np.iinfo(dt)
    return np.array([ii.min, ii.min + 1, -1 if ii.min else 0, 0, 1, 2, ii.max - 1, ii.max,
                     5, 17, ii.max // 3], dt)


@pytest.mark.parametrize("dtype", NON_COMPILED, ids=lambda d: np.dtype(d).name)
def test_non_compiled_dtypes(backend, dtype):
    x = _values_for(dtype)
    ey = expected_relu(x)
    y = relukit.relu(x)
    assert y.dtype == x.dtype
    assert_same(y, ey)
    y, m = relukit.relu(x, return_mask=True)
    assert_same(y, ey)
    assert_same(m, expected_mask(x))
    xi = x.copy()
    assert relukit.relu(xi, out=xi) is xi
    assert_same(xi, ey)
    o = np.empty_like(x)
    assert relukit.relu(x, out=o) is o
    assert_same(o, ey)
    g = x[::-1].copy()
    assert_same(relukit.relu_backward(g, m), expected_backward(g, m))
    gi = g.copy()
    assert relukit.relu_backward(gi, m, out=gi) is gi
    assert_same(gi, expected_backward(g, m))
    assert "backend numpy" in relukit.explain("relu", x)


def test_integer_results_explicit(backend):
    x = np.array([-128, -1, 0, 1, 127], np.int8)
    y, m = relukit.relu(x, return_mask=True)
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 127])
    assert y.dtype == np.int8
    np.testing.assert_array_equal(m, [0b11000])
    u = np.array([0, 1, 2**64 - 1], np.uint64)
    np.testing.assert_array_equal(relukit.relu(u), u)
    h = np.array([-1, 0.5, -0.0, np.nan], np.float16)
    r = relukit.relu(h)
    assert r.dtype == np.float16
    assert_same(r, np.array([0, 0.5, 0, np.nan], np.float16))


# --------------------------------------------------------------------------------------
# array-likes
# --------------------------------------------------------------------------------------
def test_lists_accepted_out_of_place(backend):
    y = relukit.relu([1, -2])
    assert isinstance(y, np.ndarray)
    np.testing.assert_array_equal(y, [1, 0])
    y = relukit.relu([1.5, -2.0, -0.0, float("nan")])
    assert y.dtype == np.float64
    assert_same(y, np.array([1.5, 0.0, 0.0, np.nan]))
    y, m = relukit.relu([[1.0, -1.0], [-1.0, 2.0]], return_mask=True)
    assert_same(m, np.array([0b1001], np.uint8))
    g = relukit.relu_backward([[3.0, 4.0], [5.0, 6.0]], m)
    assert_same(g, np.array([[3.0, 0.0], [0.0, 6.0]]))
    assert_same(relukit.relu((-1.0, 2.0)), np.array([0.0, 2.0]))


# --------------------------------------------------------------------------------------
# op table: every registered op, forward and backward, against its own reference
# --------------------------------------------------------------------------------------
def test_op_table_is_populated():
    assert "relu" in relukit.OPS
    op = relukit.OPS["relu"]
    assert op.forward is relukit.relu and op.backward is relukit.relu_backward
    for op in OPS:
        assert op.backward_needs in ("mask", "output", "input")
        assert callable(op.forward) and callable(op.backward)
        assert callable(op.ref_forward) and callable(op.ref_backward)


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
@pytest.mark.parametrize("n", [0, 1, 9, 1025, 9000])
def test_ops_match_their_reference(backend, op, dtype, n):
    rng = np.random.default_rng(n)
    x = random_floats(rng, n, dtype, special_fraction=0.25).reshape(-1, 1) if n else \
        np.empty((0, 1), dtype)
    g = random_floats(rng, n, dtype, special_fraction=0.25).reshape(x.shape)
    ry, rm = op.ref_forward(x.copy(), return_mask=True)
    y, m = op.forward(x, return_mask=True)
    assert_same(y, ry, f"{op.name} forward")
    assert_same(m, rm, f"{op.name} mask")
    assert_same(op.forward(x), ry, f"{op.name} forward, no mask")
    xi = x.copy()
    op.forward(xi, out=xi)
    assert_same(xi, ry, f"{op.name} forward in place")
    saved = saved_for_backward(op, x, y, m)
    rsaved = saved_for_backward(op, x, ry, rm)
    rg = op.ref_backward(g.copy(), rsaved)
    assert_same(op.backward(g, saved), rg, f"{op.name} backward")
    gi = g.copy()
    assert op.backward(gi, saved, out=gi) is gi
    assert_same(gi, rg, f"{op.name} backward in place")


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
def test_reference_is_consistent_with_contract(op):
    """The NumPy reference itself matches the contract's oracle (it is the 'numpy' backend)."""
    for dt in COMPILED_DTYPES:
        x = special_values(dt)
        y, m = op.ref_forward(x, return_mask=True)
        if op.name == "relu":
            assert_same(y, expected_relu(x))
            assert_same(m, expected_mask(x))
            g = x[::-1].copy()
            assert_same(op.ref_backward(g, m), expected_backward(g, m))
