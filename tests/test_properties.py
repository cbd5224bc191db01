"""Property tests (Hypothesis): over shapes, layouts (orders, steps incl. negative,
transposes, unaligned, byte-swapped), dtypes and values (NaN/inf/subnormal/-0), every
backend, and automatic dispatch with lowered thresholds, equals the reference bit for bit;
the mask equals the np.packbits reference; the backward equals its reference."""
import numpy as np
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import relukit
from conftest import (BACKENDS, assert_same, expected_backward, expected_mask,
                      expected_relu, random_floats)

OP = relukit.OPS["relu"]
# every backend forced, then automatic dispatch with thresholds low enough that the
# automatic choice really varies between Cython and Numba at these sizes
MODES = BACKENDS + [None]
LOW = {"float32": 64, "float64": 24}


def _lower_thresholds():
    for cls in relukit.thresholds():
        for dt, n in LOW.items():
            relukit.set_threshold(cls, dt, n)


@st.composite
def shapes(draw):
    nd = draw(st.sampled_from([0, 1, 1, 1, 2, 2, 3, 4]))
    max_side = {0: 0, 1: 2100, 2: 45, 3: 12, 4: 6}[nd]
    return tuple(draw(st.lists(st.integers(0, max_side), min_size=nd, max_size=nd)))


@st.composite
def float_values(draw, shape, dtype):
    """Random normals of many magnitudes + special values + a few Hypothesis-chosen floats."""
    n = int(np.prod(shape))
    seed = draw(st.integers(0, 2**32 - 1))
    frac = draw(st.sampled_from([0.0, 0.05, 0.3, 1.0]))
    v = random_floats(np.random.default_rng(seed), n, dtype, frac)
    if n:
        width = 32 if np.dtype(dtype) == np.float32 else 64
        picks = draw(st.lists(st.tuples(st.integers(0, n - 1),
                                        st.floats(width=width, allow_subnormal=True)),
                              max_size=6))
        for i, f in picks:
            v[i] = f
    return v.reshape(shape)


@st.composite
def layouts(draw, nd, allow_unaligned=True):
    """A recipe ``make(values) -> view`` with a drawn memory layout: axis permutation, C/F
    base order, per-axis steps (negative included), or an unaligned buffer. Calling it twice
    gives two arrays with the same layout in separate memory."""
    perm = list(range(nd))
    if nd > 1 and draw(st.booleans()):
        perm = draw(st.permutations(range(nd)))
    steps = [draw(st.sampled_from([1, 1, 2, -1, -3])) for _ in range(nd)]
    order = draw(st.sampled_from("CF"))
    unaligned = allow_unaligned and draw(st.integers(0, 5)) == 0
    inv = np.argsort(perm) if nd else []

    def make(values):
        shape = values.shape
        pshape = [shape[p] for p in perm]
        bshape = [s * abs(k) for s, k in zip(pshape, steps)]
        dt = values.dtype
        if unaligned:
            raw = np.zeros(int(np.prod(bshape)) * dt.itemsize + 1, np.uint8)
            buf = raw[1:].view(dt).reshape(bshape)
        else:
            buf = np.full(bshape, 3.0, dt, order=order)
        view = buf[tuple(slice(None, None, k) for k in steps) + (Ellipsis,)]
        view = view.transpose(inv) if nd else view
        assert view.shape == shape
        view[...] = values
        return view

    make.description = f"perm={perm} steps={steps} order={order} unaligned={unaligned}"
    return make


@given(data=st.data())
def test_forward_and_backward_match_reference_in_every_backend(data):
    _lower_thresholds()
    dtype = data.draw(st.sampled_from([np.float32, np.float64]), label="dtype")
    shape = data.draw(shapes(), label="shape")
    nd = len(shape)
    xv = data.draw(float_values(shape, dtype), label="x values")
    gv = data.draw(float_values(shape, dtype), label="grad values")
    byteswap = data.draw(st.integers(0, 7)) == 0
    if byteswap:
        bdt = np.dtype(dtype).newbyteorder()
        xv, gv = xv.astype(bdt), gv.astype(bdt)
    make_x = data.draw(layouts(nd), label="x layout")
    make_out = data.draw(layouts(nd), label="out layout")
    make_g = data.draw(layouts(nd), label="grad layout")
    note(f"x: {make_x.description}; out: {make_out.description}; grad: {make_g.description}")

    ey = expected_relu(xv)
    em = expected_mask(xv)
    eg = expected_backward(gv, em)
    ry, rm = OP.ref_forward(xv.copy(), return_mask=True)
    assert_same(ry, ey, "reference forward vs contract")
    assert_same(rm, em, "reference mask vs contract")

    for mode in MODES:
        with relukit.use_backend(mode):
            x = make_x(xv)
            note(f"mode={mode}: {relukit.explain('relu', x).splitlines()[0]}")
            y = relukit.relu(x)
            assert_same(y, ey, f"{mode}: relu(x)")
            y, m = relukit.relu(x, return_mask=True)
            assert_same(y, ey, f"{mode}: relu(x, return_mask=True)")
            assert_same(m, em, f"{mode}: mask")
            assert_same(x, xv, f"{mode}: x unchanged")

            out = make_out(np.full(shape, 7.0, xv.dtype))
            assert relukit.relu(x, out=out) is out
            assert_same(out, ey, f"{mode}: relu(x, out=out)")
            out = make_out(np.full(shape, 7.0, xv.dtype))
            r, m = relukit.relu(x, out=out, return_mask=True)
            assert r is out
            assert_same(out, ey, f"{mode}: relu(x, out=out, return_mask=True)")
            assert_same(m, em, f"{mode}: mask with out")

            xi = make_x(xv)
            assert relukit.relu(xi, out=xi) is xi
            assert_same(xi, ey, f"{mode}: in place")
            xi = make_x(xv)
            r, m = relukit.relu(xi, out=xi, return_mask=True)
            assert r is xi
            assert_same(xi, ey, f"{mode}: in place with mask")
            assert_same(m, em, f"{mode}: in-place mask")

            g = make_g(gv)
            assert_same(relukit.relu_backward(g, em), eg, f"{mode}: backward")
            out = make_out(np.full(shape, 7.0, gv.dtype))
            assert relukit.relu_backward(g, em, out=out) is out
            assert_same(out, eg, f"{mode}: backward out=out")
            assert_same(g, gv, f"{mode}: grad unchanged")
            gi = make_g(gv)
            assert relukit.relu_backward(gi, em, out=gi) is gi
            assert_same(gi, eg, f"{mode}: backward in place")


@given(data=st.data())
def test_backends_agree_with_each_other(data):
    """The same call in every backend gives identical bits (mask, output, backward)."""
    _lower_thresholds()
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    shape = data.draw(shapes())
    xv = data.draw(float_values(shape, dtype))
    make_x = data.draw(layouts(len(shape)))
    results = []
    for mode in MODES:
        with relukit.use_backend(mode):
            x = make_x(xv)
            y, m = relukit.relu(x, return_mask=True)
            g = relukit.relu_backward(x, m)
            results.append((mode, y, m, g))
    first = results[0]
    for other in results[1:]:
        for k, what in ((1, "relu"), (2, "mask"), (3, "backward")):
            assert_same(other[k], first[k], f"{what}: {other[0]} vs {first[0]}")


INT_AND_HALF = st.sampled_from([np.float16, np.int8, np.int16, np.int32, np.int64,
                                np.uint8, np.uint16, np.uint32, np.uint64])


@given(data=st.data())
def test_non_compiled_dtypes(data):
    dtype = data.draw(INT_AND_HALF, label="dtype")
    x = data.draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0,
                                                      max_side=20)), label="x")
    g = data.draw(hnp.arrays(dtype, x.shape), label="grad")
    step = data.draw(st.sampled_from([1, -1]))
    x = x[(slice(None, None, step),) * x.ndim] if x.ndim else x
    g = g[(slice(None, None, step),) * g.ndim] if g.ndim else g
    ey, em = expected_relu(x), expected_mask(x)
    eg = expected_backward(g, em)
    for mode in MODES:
        with relukit.use_backend(mode):
            y, m = relukit.relu(x, return_mask=True)
            assert_same(y, ey, f"{mode}: relu")
            assert_same(m, em, f"{mode}: mask")
            xi = x.copy()
            relukit.relu(xi, out=xi)
            assert_same(xi, ey, f"{mode}: in place")
            assert_same(relukit.relu_backward(g, em), eg, f"{mode}: backward")


@given(data=st.data())
def test_partial_overlap_matches_numpy(data):
    """x and out are views of one buffer that overlap (or interleave) arbitrarily: the result
    is what NumPy gives, i.e. as if x had been read before anything was written."""
    _lower_thresholds()
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    total = data.draw(st.integers(1, 3000))
    k = data.draw(st.integers(0, total))
    sx = data.draw(st.sampled_from([1, 1, 2, -1, -2]))
    so = data.draw(st.sampled_from([1, 1, 2, -1, -2]))
    span_x, span_o = (k - 1) * abs(sx) + 1, (k - 1) * abs(so) + 1
    if k == 0 or span_x > total or span_o > total:
        k, sx, so, span_x, span_o = 0, 1, 1, 1, 1
    ox = data.draw(st.integers(0, total - span_x))
    oo = data.draw(st.integers(0, total - span_o))

    def views(a):
        def v(off, step, span):
            if k == 0:
                return a[:0]
            lo, hi = off, off + span
            return a[lo:hi:step] if step > 0 else a[lo:hi][::step]
        return v(ox, sx, span_x), v(oo, so, span_o)

    a0 = data.draw(float_values((total,), dtype))
    exp = a0.copy()
    xe, oe = views(exp)
    assert xe.shape == oe.shape == (k,)
    em = expected_mask(xe)
    oe[...] = expected_relu(xe.copy())
    expg = a0.copy()
    ge, og = views(expg)
    og[...] = expected_backward(ge.copy(), em)
    for mode in MODES:
        with relukit.use_backend(mode):
            a = a0.copy()
            x, out = views(a)
            r, m = relukit.relu(x, out=out, return_mask=True)
            assert r is out
            assert_same(a, exp, f"{mode}: buffer after relu")
            assert_same(m, em, f"{mode}: mask")
            a = a0.copy()
            x, out = views(a)
            relukit.relu(x, out=out)
            assert_same(a, exp, f"{mode}: buffer after relu (no mask)")
            a = a0.copy()
            g, out = views(a)
            relukit.relu_backward(g, em, out=out)
            assert_same(a, expg, f"{mode}: buffer after backward")
