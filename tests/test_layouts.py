"""Layouts: C, F, strided, reversed, transposed, broadcast, unaligned, byte-swapped inputs
and outputs; masks in C order of the logical elements; partial overlap of out and input."""
import numpy as np
import pytest

import relukit
from conftest import (COMPILED_DTYPES, assert_same, expected_backward,
                      expected_mask, expected_relu, random_floats)


def _base(shape, dtype, seed=0, order="C"):
    n = int(np.prod(shape))
    return np.asarray(random_floats(np.random.default_rng(seed), n, dtype, 0.2)
                      .reshape(shape), order=order)


def unaligned(a):
    """A copy of ``a`` (C order) whose data pointer is 1 byte off alignment."""
    a = np.ascontiguousarray(a)
    raw = np.empty(a.nbytes + 1, np.uint8)
    u = raw[1:].view(a.dtype).reshape(a.shape) if a.size else raw[1:1].view(a.dtype).reshape(a.shape)
    u[...] = a
    if a.size:
        assert not u.flags.aligned
    return u


# name -> function(dtype) returning a view with that layout (fresh data each call)
LAYOUTS = {
    "C-1d": lambda dt: _base((3001,), dt),
    "C-2d": lambda dt: _base((37, 41), dt),
    "F-2d": lambda dt: _base((37, 41), dt, order="F"),
    "F-3d": lambda dt: _base((5, 7, 33), dt, order="F"),
    "step2": lambda dt: _base((4001,), dt)[::2],
    "reversed": lambda dt: _base((2049,), dt)[::-1],
    "step-3": lambda dt: _base((3000,), dt)[::-3],
    "cols-step3": lambda dt: _base((40, 61), dt)[:, ::3],
    "transposed": lambda dt: _base((37, 41), dt).T,
    "transposed-3d": lambda dt: _base((4, 9, 35), dt).transpose(2, 0, 1),
    "mixed-neg": lambda dt: _base((9, 20, 13), dt)[::-2, 1::3, ::-1],
    "inner-1": lambda dt: _base((2000, 3), dt)[:, 1:2],
    "block-cross": lambda dt: _base((3, 1500), dt)[:, ::2],
    "F-sliced": lambda dt: _base((64, 50), dt, order="F")[3:60:2, :],
    "unaligned-1d": lambda dt: unaligned(_base((1537,), dt)),
    "unaligned-2d": lambda dt: unaligned(_base((17, 93), dt)),
    "size1-weird-strides": lambda dt: np.lib.stride_tricks.as_strided(
        _base((6, 1, 50), dt), shape=(6, 1, 50),
        strides=(50 * np.dtype(dt).itemsize, 12345 * 8, np.dtype(dt).itemsize)),
}
LAYOUT_IDS = list(LAYOUTS)


def _check_forward_all_forms(x):
    """Every call form on ``x`` (whose data is kept) against the oracle."""
    x0 = x.copy()                    # C-order copy of the logical values
    ey, em = expected_relu(x0), expected_mask(x0)
    assert_same(relukit.relu(x), ey, "out=None")
    assert_same(x, x0, "input unchanged")
    y, m = relukit.relu(x, return_mask=True)
    assert_same(y, ey, "return_mask")
    assert_same(m, em, "mask (C order of logical elements)")
    return x0, ey, em


@pytest.mark.parametrize("layout", LAYOUT_IDS)
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_input_layouts(backend, layout, dtype):
    x = LAYOUTS[layout](dtype)
    x0, ey, em = _check_forward_all_forms(x)
    # in place on the view itself: writes through the view, nothing else in the base touched
    r = relukit.relu(x, out=x)
    assert r is x
    assert_same(x, ey, "in place")
    x = LAYOUTS[layout](dtype)
    r, m = relukit.relu(x, out=x, return_mask=True)
    assert r is x
    assert_same(x, ey, "in place + mask")
    assert_same(m, em, "in place mask")
    # backward on the same layout (grad) with in place and out given
    g = LAYOUTS[layout](dtype)
    g[...] = random_floats(np.random.default_rng(9), g.size, dtype, 0.3).reshape(g.shape)
    g0 = g.copy()
    eg = expected_backward(g0, em)
    assert_same(relukit.relu_backward(g, em), eg, "backward")
    assert relukit.relu_backward(g, em, out=g) is g
    assert_same(g, eg, "backward in place")


def test_in_place_view_leaves_rest_of_base_alone(backend):
    base = _base((50, 60), np.float32)
    keep = base.copy()
    view = base[3:40:3, ::-4]
    expected = keep.copy()
    expected[3:40:3, ::-4] = expected_relu(keep[3:40:3, ::-4])
    relukit.relu(view, out=view)
    assert_same(base, expected)
    base = _base((50, 60), np.float64)
    keep = base.copy()
    g = base[1::2, 5:]
    m = expected_mask(keep[::2, 5:])
    expected = keep.copy()
    expected[1::2, 5:] = expected_backward(keep[1::2, 5:], m)
    relukit.relu_backward(g, m, out=g)
    assert_same(base, expected)


OUT_LAYOUTS = {
    "C": lambda shape, dt: np.full(shape, 5.0, dt),
    "F": lambda shape, dt: np.full(shape, 5.0, dt, order="F"),
    "strided": lambda shape, dt: np.full(tuple(2 * s for s in shape), 5.0, dt)[
        tuple(slice(None, None, 2) for _ in shape)],
    "reversed": lambda shape, dt: np.full(shape, 5.0, dt)[tuple(slice(None, None, -1) for _ in shape)],
    "unaligned": lambda shape, dt: unaligned(np.full(shape, 5.0, dt)),
}


@pytest.mark.parametrize("out_layout", list(OUT_LAYOUTS))
@pytest.mark.parametrize("layout", ["C-2d", "F-2d", "cols-step3", "transposed-3d", "unaligned-2d"])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_output_layouts(backend, layout, out_layout, dtype):
    x = LAYOUTS[layout](dtype)
    x0 = x.copy()
    out = OUT_LAYOUTS[out_layout](x.shape, dtype)
    assert relukit.relu(x, out=out) is out
    assert_same(out, expected_relu(x0))
    out = OUT_LAYOUTS[out_layout](x.shape, dtype)
    r, m = relukit.relu(x, out=out, return_mask=True)
    assert r is out
    assert_same(out, expected_relu(x0))
    assert_same(m, expected_mask(x0))
    out = OUT_LAYOUTS[out_layout](x.shape, dtype)
    assert relukit.relu_backward(x, m, out=out) is out
    assert_same(out, expected_backward(x0, m))
    assert_same(x, x0, "input unchanged")


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_broadcast_input_read_only(backend, dtype):
    row = np.array([-1.0, 2.0, -0.0, np.nan, 3.0], dtype)
    x = np.broadcast_to(row, (400, 5))          # stride 0 on axis 0, read-only
    assert not x.flags.writeable
    y, m = relukit.relu(x, return_mask=True)
    assert_same(y, expected_relu(np.array(x)))
    assert_same(m, expected_mask(np.array(x)))
    g = np.broadcast_to(np.array(7.0, dtype), x.shape)
    assert_same(relukit.relu_backward(g, m), expected_backward(np.array(g), m))
    ro = np.array(x)
    ro.flags.writeable = False
    assert_same(relukit.relu(ro), expected_relu(np.array(x)))


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
@pytest.mark.parametrize("shape", [(0,), (1,), (1001,), (30, 41)])
def test_byteswapped_input(backend, dtype, shape):
    x = _base(shape, dtype, seed=3)
    xs = x.astype(np.dtype(dtype).newbyteorder())
    assert not xs.dtype.isnative
    y, m = relukit.relu(xs, return_mask=True)
    assert y.dtype == xs.dtype, "the result keeps the input's dtype, byte order included"
    assert_same(y, expected_relu(x).astype(xs.dtype))
    assert_same(m, expected_mask(x))
    xi = xs.copy()
    assert relukit.relu(xi, out=xi) is xi
    assert_same(xi, expected_relu(x).astype(xs.dtype))
    gs = xs.copy()
    gb = relukit.relu_backward(gs, m)
    assert gb.dtype == xs.dtype
    assert_same(gb, expected_backward(x, m).astype(xs.dtype))
    assert "backend numpy" in relukit.explain("relu", xs)
    # F-order and strided byte-swapped views too
    if len(shape) == 2:
        xf = np.asfortranarray(xs)[:, ::2]
        y, m = relukit.relu(xf, return_mask=True)
        assert_same(y, expected_relu(np.ascontiguousarray(x[:, ::2])).astype(xs.dtype))
        assert_same(m, expected_mask(x[:, ::2]))


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_mask_follows_c_order_for_f_and_strided(backend, dtype):
    # a pattern whose C-order mask differs from its F-order / memory-order mask
    x = np.array([[1, -1, -1], [1, 1, -1]], dtype)
    for v in (np.asfortranarray(x), x.T.copy().T, np.ascontiguousarray(x[::-1])[::-1]):
        _, m = relukit.relu(v, return_mask=True)
        # C order: 1,0,0,1,1,0 -> bits 0,3,4 set
        assert_same(m, np.array([0b11001], np.uint8))
        g = relukit.relu_backward(np.ones_like(v), m)
        assert_same(g, np.array([[1, 0, 0], [1, 1, 0]], dtype))


# --------------------------------------------------------------------------------------
# partial overlap of out and input: the result NumPy gives (input read before written)
# --------------------------------------------------------------------------------------
def _overlap_cases(n):
    """(name, make(a) -> (x, out)) with x and out views of the same buffer ``a``."""
    return {
        "shift-right": lambda a: (a[:-1], a[1:]),
        "shift-left": lambda a: (a[1:], a[:-1]),
        "shift-by-8": lambda a: (a[:-8], a[8:]),
        "reversed-out": lambda a: (a, a[::-1]),
        "interleaved": lambda a: (a[: 2 * (n // 2) : 2], a[1::2]),
        "half-overlap-strided": lambda a: (a[: n // 2 * 2 : 2], a[n // 2 - n // 4 :][: n // 2]),
    }


OVERLAP_NAMES = list(_overlap_cases(10))


@pytest.mark.parametrize("case", OVERLAP_NAMES)
@pytest.mark.parametrize("n", [10, 33, 1030, 5000])
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_partial_overlap_forward(backend, low_thresholds, case, n, dtype):
    make = _overlap_cases(n)[case]
    a0 = random_floats(np.random.default_rng(n), n, dtype, 0.2)
    # what NumPy gives: the input is read as a whole before out is written
    exp = a0.copy()
    xe, oe = make(exp)
    oe[...] = expected_relu(xe.copy())
    a = a0.copy()
    x, out = make(a)
    assert x.shape == out.shape
    r = relukit.relu(x, out=out)
    assert r is out
    assert_same(a, exp, f"{case}: whole buffer")

    a = a0.copy()
    x, out = make(a)
    em = expected_mask(make(a0.copy())[0])
    r, m = relukit.relu(x, out=out, return_mask=True)
    assert_same(a, exp, f"{case}: whole buffer, return_mask")
    assert_same(m, em, f"{case}: mask")

    # backward: grad and out overlapping in the same way
    exp = a0.copy()
    ge, oe = make(exp)
    oe[...] = expected_backward(ge.copy(), em)
    a = a0.copy()
    g, out = make(a)
    assert relukit.relu_backward(g, em, out=out) is out
    assert_same(a, exp, f"{case}: backward whole buffer")


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_partial_overlap_2d(backend, low_thresholds, dtype):
    a0 = _base((40, 40), dtype, seed=11)
    cases = {
        "rows": lambda a: (a[:-1, :], a[1:, :]),
        "cols": lambda a: (a[:, 1:], a[:, :-1]),
        "transpose": lambda a: (a, a.T),
        "flip": lambda a: (a, a[::-1, ::-1]),
        "block-vs-transposed-block": lambda a: (a[:, :20], a.T[:, 20:]),
    }
    for name, make in cases.items():
        exp = a0.copy()
        xe, oe = make(exp)
        oe[...] = expected_relu(xe.copy())
        a = a0.copy()
        x, out = make(a)
        relukit.relu(x, out=out)
        assert_same(a, exp, name)


def test_same_memory_different_view_object_is_in_place(backend):
    a = _base((100,), np.float32, seed=4)
    a0 = a.copy()
    out = a[...]
    assert out is not a
    r = relukit.relu(a, out=out)
    assert r is out
    assert_same(a, expected_relu(a0))


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_backward_out_overlapping_mask(backend, dtype):
    """``out`` whose memory holds the mask: the result must be computed from the mask as it
    was on entry (NumPy semantics: inputs are read before the output is written), and must
    not depend on the backend."""
    n = 256
    rng = np.random.default_rng(21)
    x = random_floats(rng, n, dtype)
    g = random_floats(rng, n, dtype)
    m = expected_mask(x)
    expected = expected_backward(g, m)
    buf = np.zeros(n * np.dtype(dtype).itemsize, np.uint8)
    buf[: m.size] = m
    out = buf.view(dtype)
    r = relukit.relu_backward(g, buf[: m.size], out=out)
    assert r is out
    assert_same(out, expected)
