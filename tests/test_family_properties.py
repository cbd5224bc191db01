"""Property tests (Hypothesis) for relu6, leaky_relu, prelu, crelu and brelu: over random
shapes, memory layouts (axis permutations, C/F order, steps incl. negative, unaligned
buffers), dtypes and values (NaN with payloads, signalling NaN, inf, subnormals, -0.0), every
backend forced and automatic dispatch with lowered thresholds (so Numba is reached) equal
the NumPy reference bit for bit: forwards, masks, ``out=``, in place and backwards. Each
reference result is also checked against an oracle written from the op's definition.

Where two NaNs meet in one operation (prelu's x * grad for its weight gradient, brelu's sum
of NaN grads) or a signalling NaN passes crelu_backward, the backends currently pick
different NaNs; those cases are reported by dedicated failing tests in
test_composite_ops.py, and here only they are compared up to the NaN's sign and payload.
"""
import numpy as np
from hypothesis import given, note, settings
from hypothesis import strategies as st

import relukit
from relukit import reference
from conftest import (BACKENDS, assert_same, assert_same_nan_loose, expected_relu,
                      lower_thresholds_to, random_floats)

MODES = BACKENDS + [None]          # every backend forced, then automatic dispatch
SETTINGS = settings(max_examples=70, deadline=None)
FLOAT_DTYPES = st.sampled_from([np.float32, np.float64, np.float32, np.float64, np.float16])


def quiet(fn, *a, **k):
    with np.errstate(all="ignore"):
        return fn(*a, **k)


def pack(b):
    return np.packbits(np.asarray(b, bool).ravel(order="C"), bitorder="little")


def has_signalling_nan(a):
    a = np.asarray(a)
    if a.dtype.kind != "f" or a.size == 0:
        return False
    quiet_bit = {2: 1 << 9, 4: 1 << 22, 8: 1 << 51}[a.itemsize]
    u = np.ascontiguousarray(a).view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.itemsize])
    return bool(np.any(np.isnan(a) & ((u & u.dtype.type(quiet_bit)) == 0)))


# --------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------
@st.composite
def shapes(draw, min_dims=0, max_dims=4, max_elements=2500):
    nd = draw(st.integers(min_dims, max_dims))
    max_side = {0: 0, 1: max_elements, 2: 50, 3: 13, 4: 7}[nd]
    shape = tuple(draw(st.lists(st.integers(0, max_side), min_size=nd, max_size=nd)))
    return shape


@st.composite
def values(draw, shape, dtype):
    """Normals of many magnitudes, a drawn fraction of special values, a few Hypothesis floats."""
    n = int(np.prod(shape))
    seed = draw(st.integers(0, 2**32 - 1))
    frac = draw(st.sampled_from([0.0, 0.05, 0.3, 1.0]))
    v = random_floats(np.random.default_rng(seed), n, dtype, frac)
    if draw(st.booleans()):                 # many values near the kinks of relu6 too
        with np.errstate(all="ignore"):
            v = (v * dtype(draw(st.sampled_from([1, 3, 0.01]))) + dtype(draw(st.sampled_from([0, 3, 6])))).astype(dtype)
    if n:
        width = {np.float16: 16, np.float32: 32, np.float64: 64}[dtype]
        picks = draw(st.lists(st.tuples(st.integers(0, n - 1),
                                        st.floats(width=width, allow_subnormal=True)),
                              max_size=5))
        for i, f in picks:
            v[i] = f
    return v.reshape(shape)


@st.composite
def layouts(draw, nd):
    """``make(values) -> view`` with a drawn layout; each call gives fresh memory."""
    perm = list(range(nd))
    if nd > 1 and draw(st.booleans()):
        perm = list(draw(st.permutations(range(nd))))
    steps = [draw(st.sampled_from([1, 1, 1, 2, -1, -2])) for _ in range(nd)]
    order = draw(st.sampled_from("CF"))
    unaligned = draw(st.integers(0, 7)) == 0
    inv = list(np.argsort(perm)) if nd else []

    def make(vals):
        dt = vals.dtype
        pshape = [vals.shape[p] for p in perm]
        bshape = [s * abs(k) for s, k in zip(pshape, steps)]
        if unaligned and dt.itemsize > 1:
            raw = np.zeros(int(np.prod(bshape)) * dt.itemsize + 1, np.uint8)
            buf = raw[1:].view(dt).reshape(bshape)
        else:
            buf = np.full(bshape, 3.0, dt, order=order)
        view = buf[tuple(slice(None, None, k) for k in steps) + (Ellipsis,)]
        view = view.transpose(inv) if nd else view
        view[...] = vals
        return view

    make.description = f"perm={perm} steps={steps} order={order} unaligned={unaligned}"
    return make


def compiled(dtype):
    return np.dtype(dtype) in (np.float32, np.float64)


# --------------------------------------------------------------------------------------
# independent oracles (from the definitions)
# --------------------------------------------------------------------------------------
def exp_relu6(x):
    zero, six = x.dtype.type(0), x.dtype.type(6)
    return np.where(x <= 0, zero, np.where(x >= 6, six, x))


def exp_leaky(x, slope):
    with np.errstate(all="ignore"):
        return np.where(x > 0, x, x * x.dtype.type(slope))


def exp_mask_select(g, bits_, cleared):
    return np.where(bits_, g, cleared)


def exp_prelu(x, w, axis):
    wb = slopes_like(x, w, axis)
    with np.errstate(all="ignore"):
        return np.where(x > 0, x, x * wb)


def slopes_like(x, w, axis):
    w = np.asarray(w).astype(x.dtype).reshape(-1)
    if x.ndim < 2 and axis == 1:
        return np.broadcast_to(w[0], x.shape)
    ch = axis % x.ndim
    shape = [1] * x.ndim
    shape[ch] = x.shape[ch]
    return np.broadcast_to(np.broadcast_to(w, (x.shape[ch],)).reshape(shape), x.shape)


def exp_crelu(x, axis):
    return np.concatenate((expected_relu(x), expected_relu(np.negative(x))), axis=axis)


def exp_brelu(x, biases):
    bs = np.asarray(biases, dtype=np.float64).astype(x.dtype)
    with np.errstate(all="ignore"):
        parts = [expected_relu(x - b) for b in bs]
    return np.stack(parts, axis=-1) if parts else np.empty(x.shape + (0,), x.dtype)


# --------------------------------------------------------------------------------------
# relu6
# --------------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_relu6_matches_reference_everywhere(data):
    lower_thresholds_to()
    dtype = data.draw(st.sampled_from([np.float32, np.float64, np.float16, np.int16, np.uint8]),
                      label="dtype")
    shape = data.draw(shapes(), label="shape")
    if np.dtype(dtype).kind == "f":
        xv = data.draw(values(shape, dtype), label="x")
        gv = data.draw(values(shape, dtype), label="grad")
    else:
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
        info = np.iinfo(dtype)
        xv = rng.integers(info.min, int(info.max) + 1, shape, dtype=dtype)
        xv.ravel()[: xv.size // 2] %= 9                     # many values around 0..6
        gv = rng.integers(info.min, int(info.max) + 1, shape, dtype=dtype)
    make_x = data.draw(layouts(len(shape)), label="x layout")
    make_o = data.draw(layouts(len(shape)), label="out layout")
    note(f"x: {make_x.description}; out: {make_o.description}")

    ry, rm = reference.relu6(xv.copy(), return_mask=True)
    assert_same(ry, exp_relu6(xv), "reference relu6 vs definition")
    assert_same(rm, pack((xv > 0) & (xv < 6)), "reference mask vs definition")
    rg = reference.relu6_backward(gv.copy(), rm)
    assert_same(rg, exp_mask_select(gv, (xv > 0) & (xv < 6), gv.dtype.type(0)))

    for mode in MODES:
        with relukit.use_backend(mode):
            x = make_x(xv)
            assert_same(relukit.relu6(x), ry, f"{mode}: relu6")
            y, m = relukit.relu6(x, return_mask=True)
            assert_same(y, ry, f"{mode}: relu6 with mask")
            assert_same(m, rm, f"{mode}: mask")
            assert_same(x, xv, f"{mode}: x unchanged")
            out = make_o(np.zeros(shape, xv.dtype))
            r, m = relukit.relu6(x, out=out, return_mask=True)
            assert r is out
            assert_same(out, ry, f"{mode}: out=")
            assert_same(m, rm)
            xi = make_x(xv)
            assert relukit.relu6(xi, out=xi) is xi
            assert_same(xi, ry, f"{mode}: in place")
            g = make_x(gv)
            assert_same(relukit.relu6_backward(g, rm), rg, f"{mode}: backward")
            gi = make_o(gv)
            assert relukit.relu6_backward(gi, rm, out=gi) is gi
            assert_same(gi, rg, f"{mode}: backward in place")


# --------------------------------------------------------------------------------------
# leaky_relu
# --------------------------------------------------------------------------------------
SLOPES = st.one_of(st.floats(-4, 4, allow_nan=False),
                   st.sampled_from([0.01, -0.01, 0.0, -0.0, 1.0, -1.0, 0.1, 1 / 3, 1e-30, 1e30,
                                    -1e30, 5e-324, 1e-8]))


@SETTINGS
@given(data=st.data())
def test_leaky_relu_matches_reference_everywhere(data):
    lower_thresholds_to()
    dtype = data.draw(FLOAT_DTYPES, label="dtype")
    shape = data.draw(shapes(), label="shape")
    slope = data.draw(SLOPES, label="slope")
    xv = data.draw(values(shape, dtype), label="x")
    gv = data.draw(values(shape, dtype), label="grad")
    make_x = data.draw(layouts(len(shape)), label="x layout")
    make_o = data.draw(layouts(len(shape)), label="out layout")
    note(f"x: {make_x.description}; out: {make_o.description}")

    ry, rm = quiet(reference.leaky_relu, xv.copy(), slope, return_mask=True)
    assert_same(ry, exp_leaky(xv, slope), "reference vs definition")
    assert_same(rm, pack(xv > 0))
    rg = quiet(reference.leaky_relu_backward, gv.copy(), rm, slope)
    with np.errstate(all="ignore"):
        assert_same(rg, np.where(xv > 0, gv, gv * gv.dtype.type(slope)), "reference backward")

    for mode in MODES:
        with relukit.use_backend(mode):
            x = make_x(xv)
            assert_same(relukit.leaky_relu(x, slope), ry, f"{mode}: leaky_relu")
            y, m = relukit.leaky_relu(x, negative_slope=slope, return_mask=True)
            assert_same(y, ry, f"{mode}: with mask")
            assert_same(m, rm, f"{mode}: mask")
            out = make_o(np.zeros(shape, dtype))
            assert relukit.leaky_relu(x, slope, out=out) is out
            assert_same(out, ry, f"{mode}: out=")
            xi = make_x(xv)
            r, m = relukit.leaky_relu(xi, slope, out=xi, return_mask=True)
            assert r is xi
            assert_same(xi, ry, f"{mode}: in place")
            assert_same(m, rm, f"{mode}: in-place mask")
            g = make_x(gv)
            assert_same(relukit.leaky_relu_backward(g, rm, slope), rg, f"{mode}: backward")
            out = make_o(np.zeros(shape, dtype))
            assert relukit.leaky_relu_backward(g, rm, slope, out=out) is out
            assert_same(out, rg, f"{mode}: backward out=")
            gi = make_x(gv)
            relukit.leaky_relu_backward(gi, rm, negative_slope=slope, out=gi)
            assert_same(gi, rg, f"{mode}: backward in place")


# --------------------------------------------------------------------------------------
# prelu
# --------------------------------------------------------------------------------------
@st.composite
def prelu_args(draw, shape):
    """(weight, axis or None for the default): a scalar, one slope or one per channel."""
    nd = len(shape)
    if nd == 0 or draw(st.booleans()):
        axis = None                                   # default axis=1
        n = shape[1] if nd >= 2 else 1                # fewer than 2 dims: one slope
    else:
        axis = draw(st.integers(-nd, nd - 1))
        n = shape[axis % nd]
    slope = st.one_of(st.floats(-3, 3, allow_nan=False), st.sampled_from([0.0, -0.0, 0.25, 1.0]))
    form = draw(st.sampled_from(["scalar", "one", "per-channel", "per-channel"]))
    if form == "scalar":
        w = draw(slope)
    elif form == "one":
        w = np.array([draw(slope)])
    else:
        w = np.array(draw(st.lists(slope, min_size=n, max_size=n)), dtype=np.float64)
        if draw(st.booleans()):
            w = w.astype(np.float32)
    return w, axis


@SETTINGS
@given(data=st.data())
def test_prelu_matches_reference_everywhere(data):
    lower_thresholds_to()
    dtype = data.draw(FLOAT_DTYPES, label="dtype")
    shape = data.draw(shapes(), label="shape")
    w, axis = data.draw(prelu_args(shape), label="weight, axis")
    kw = {} if axis is None else {"axis": axis}
    ax = 1 if axis is None else axis
    xv = data.draw(values(shape, dtype), label="x")
    gv = data.draw(values(shape, dtype), label="grad")
    make_x = data.draw(layouts(len(shape)), label="x layout")
    make_o = data.draw(layouts(len(shape)), label="out layout")
    make_g = data.draw(layouts(len(shape)), label="grad layout")
    note(f"x: {make_x.description}; out: {make_o.description}; grad: {make_g.description}")

    ry, rm = quiet(reference.prelu, xv.copy(), w, ax, return_mask=True)
    assert_same(ry, exp_prelu(xv, w, ax), "reference vs definition")
    assert_same(rm, pack(xv > 0))
    rgx, rgw = quiet(reference.prelu_backward, gv.copy(), xv.copy(), w, ax)
    with np.errstate(all="ignore"):
        assert_same(rgx, np.where(xv > 0, gv, gv * slopes_like(xv, w, ax)), "reference grad_x")
    assert rgw.shape == np.shape(w) and rgw.dtype == xv.dtype
    nan_meets_nan = bool(np.any(np.isnan(xv) & np.isnan(gv)))
    same_gw = assert_same_nan_loose if nan_meets_nan else assert_same

    for mode in MODES:
        with relukit.use_backend(mode):
            x = make_x(xv)
            assert_same(relukit.prelu(x, w, **kw), ry, f"{mode}: prelu")
            y, m = relukit.prelu(x, w, return_mask=True, **kw)
            assert_same(y, ry, f"{mode}: with mask")
            assert_same(m, rm, f"{mode}: mask")
            assert_same(x, xv, f"{mode}: x unchanged")
            out = make_o(np.zeros(shape, dtype))
            r, m = relukit.prelu(x, w, out=out, return_mask=True, **kw)
            assert r is out
            assert_same(out, ry, f"{mode}: out=")
            xi = make_x(xv)
            assert relukit.prelu(xi, w, out=xi, **kw) is xi
            assert_same(xi, ry, f"{mode}: in place")
            g = make_g(gv)
            with np.errstate(all="ignore"):       # see test_prelu_backward_no_fp_warnings
                gx, gw = relukit.prelu_backward(g, x, w, **kw)
            assert_same(gx, rgx, f"{mode}: grad_x")
            same_gw(gw, rgw, f"{mode}: grad_weight")


# --------------------------------------------------------------------------------------
# crelu
# --------------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_crelu_matches_reference_everywhere(data):
    lower_thresholds_to()
    dtype = data.draw(FLOAT_DTYPES, label="dtype")
    shape = data.draw(shapes(min_dims=1), label="shape")
    nd = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-nd, nd - 1)), label="axis")
    kw = {} if axis is None else {"axis": axis}
    ax = -1 if axis is None else axis
    gshape = list(shape)
    gshape[ax] *= 2
    xv = data.draw(values(shape, dtype), label="x")
    gv = data.draw(values(tuple(gshape), dtype), label="grad")
    make_x = data.draw(layouts(nd), label="x layout")
    make_g = data.draw(layouts(nd), label="grad layout")
    note(f"x: {make_x.description}; grad: {make_g.description}")

    ry = reference.crelu(xv.copy(), ax)
    assert_same(ry, exp_crelu(xv, ax), "reference vs definition")
    rg = quiet(reference.crelu_backward, gv.copy(), xv.copy(), ax)
    g1, g2 = np.split(gv, 2, axis=ax)
    with np.errstate(all="ignore"):
        want = np.where(~(xv <= 0), g1, dtype(0)) - np.where(~(-xv <= 0), g2, dtype(0))
    assert_same(rg, want, "reference backward vs definition")
    same_g = assert_same_nan_loose if has_signalling_nan(gv) else assert_same

    for mode in MODES:
        with relukit.use_backend(mode):
            x = make_x(xv)
            assert_same(relukit.crelu(x, **kw), ry, f"{mode}: crelu")
            assert_same(x, xv, f"{mode}: x unchanged")
            g = make_g(gv)
            same_g(relukit.crelu_backward(g, x, **kw), rg, f"{mode}: backward")


# --------------------------------------------------------------------------------------
# brelu
# --------------------------------------------------------------------------------------
BIASES = st.lists(st.one_of(st.floats(-8, 8, allow_nan=False),
                            st.sampled_from([0.0, -0.0, 0.1, 1 / 3, 6.0, 1e-40, -1e-300])),
                  min_size=0, max_size=5)


@SETTINGS
@given(data=st.data())
def test_brelu_matches_reference_everywhere(data):
    lower_thresholds_to()
    dtype = data.draw(FLOAT_DTYPES, label="dtype")
    shape = data.draw(shapes(max_dims=3, max_elements=800), label="shape")
    b = data.draw(BIASES, label="biases")
    as_array = data.draw(st.sampled_from([None, np.float64, np.float32]))
    biases = b if as_array is None else np.array(b, dtype=as_array)
    k = len(b)
    xv = data.draw(values(shape, dtype), label="x")
    gv = data.draw(values(shape + (k,), dtype), label="grad")
    make_x = data.draw(layouts(len(shape)), label="x layout")
    make_g = data.draw(layouts(len(shape) + 1), label="grad layout")
    note(f"x: {make_x.description}; grad: {make_g.description}")

    ry = quiet(reference.brelu, xv.copy(), biases)
    assert_same(ry, exp_brelu(xv, np.asarray(biases, dtype=np.float64)), "reference vs definition")
    rg = quiet(reference.brelu_backward, gv.copy(), xv.copy(), biases)
    bs = np.asarray(biases, dtype=np.float64).astype(dtype)
    total = np.zeros(shape, dtype)
    nan_meets_nan = False           # an addition of two NaNs (a NaN grad, or inf + -inf)
    with np.errstate(all="ignore"):
        for j, bj in enumerate(bs):
            term = np.where(~(xv - bj <= 0), gv[..., j], dtype(0))
            nan_meets_nan |= bool(np.any(np.isnan(total) & np.isnan(term)))
            total = total + term
    assert_same(rg, total, "reference backward vs definition")
    same_g = assert_same_nan_loose if nan_meets_nan else assert_same

    for mode in MODES:
        with relukit.use_backend(mode):
            x = make_x(xv)
            assert_same(relukit.brelu(x, biases), ry, f"{mode}: brelu")
            g = make_g(gv)
            same_g(relukit.brelu_backward(g, x, biases), rg, f"{mode}: backward")
