"""Bad input: the right exception type, a message naming the argument, and nothing written."""
import datetime

import numpy as np
import pytest

import relukit
from conftest import assert_same, expected_relu

SENTINEL = 12345.0


def _sentinel_like(a, dtype=None, order="C"):
    return np.full(np.shape(a), SENTINEL, dtype or np.asarray(a).dtype, order=order)


def _x(n=100, dtype=np.float32):
    return np.linspace(-3, 3, n).astype(dtype)


def _mask(x):
    return np.packbits((~(x <= 0)).ravel(), bitorder="little")


# --------------------------------------------------------------------------------------
# dtypes that must be refused
# --------------------------------------------------------------------------------------
BAD_DTYPE_INPUTS = {
    "complex64": lambda: np.array([1 + 2j, -1], np.complex64),
    "complex128": lambda: np.array([1 + 2j, -1], np.complex128),
    "object": lambda: np.array([1.0, -1.0], dtype=object),
    "bool": lambda: np.array([True, False]),
    "str": lambda: np.array(["a", "b"]),
    "bytes": lambda: np.array([b"a", b"b"]),
    "datetime64": lambda: np.array(["2020-01-01", "2021-01-01"], dtype="datetime64[D]"),
    "timedelta64": lambda: np.array([1, -1], dtype="timedelta64[s]"),
    "structured": lambda: np.zeros(2, dtype=[("a", "f4"), ("b", "f4")]),
    "list-of-complex": lambda: [1j, -1],
    "list-of-bool": lambda: [True, False],
    "list-of-str": lambda: ["1.0", "-1.0"],
    "list-of-datetime": lambda: [datetime.datetime(2020, 1, 1)],
    "python-complex": lambda: 1 + 1j,
}


@pytest.mark.parametrize("kind", list(BAD_DTYPE_INPUTS))
def test_forward_rejects_non_real_dtypes(backend, kind):
    x = BAD_DTYPE_INPUTS[kind]()
    with pytest.raises(TypeError, match=r"\bx\b"):
        relukit.relu(x)
    with pytest.raises(TypeError, match=r"\bx\b"):
        relukit.relu(x, return_mask=True)
    if isinstance(x, np.ndarray):
        x0 = x.copy()
        with pytest.raises(TypeError):
            relukit.relu(x, out=x)
        np.testing.assert_array_equal(x, x0)
        out = np.full(np.shape(x), SENTINEL, np.float64)
        with pytest.raises(TypeError):
            relukit.relu(x, out=out)
        assert (out == SENTINEL).all()


@pytest.mark.parametrize("kind", list(BAD_DTYPE_INPUTS))
def test_backward_rejects_non_real_dtypes(backend, kind):
    g = BAD_DTYPE_INPUTS[kind]()
    m = np.full((np.size(g) + 7) // 8, 0xFF, np.uint8)
    with pytest.raises(TypeError, match="grad"):
        relukit.relu_backward(g, m)
    if isinstance(g, np.ndarray):
        g0 = g.copy()
        with pytest.raises(TypeError):
            relukit.relu_backward(g, m, out=g)
        np.testing.assert_array_equal(g, g0)


def test_explain_rejects_non_real_dtypes():
    with pytest.raises(TypeError):
        relukit.explain("relu", np.array([1j]))


# --------------------------------------------------------------------------------------
# bad `out` for the forward
# --------------------------------------------------------------------------------------
def _bad_outs(x):
    return {
        "shape-short": (ValueError, _sentinel_like(x[:-1])),
        "shape-2d": (ValueError, _sentinel_like(x.reshape(1, -1))),
        "shape-transposed": (ValueError, _sentinel_like(x.reshape(4, -1).T)),
        "dtype-float64": (TypeError, _sentinel_like(x, np.float64)),
        "dtype-float16": (TypeError, _sentinel_like(x, np.float16)),
        "dtype-int32": (TypeError, _sentinel_like(x, np.int32)),
        "dtype-byteswapped": (TypeError, _sentinel_like(x, x.dtype.newbyteorder())),
        "read-only": (ValueError, _sentinel_like(x)),
        "read-only-view": (ValueError, _sentinel_like(x)),
    }


@pytest.mark.parametrize("case", list(_bad_outs(np.zeros(4, np.float32))))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
@pytest.mark.parametrize("return_mask", [False, True])
def test_forward_bad_out_nothing_written(backend, case, dtype, return_mask):
    x = _x(100, dtype)
    if case == "dtype-float64" and dtype == np.float64:
        case = "dtype-float16"
    exc, out = _bad_outs(x)[case]
    if case == "read-only":
        out.flags.writeable = False
    if case == "read-only-view":
        base = out
        out = base[...]
        out.flags.writeable = False
    x0 = x.copy()
    snapshot = np.array(out, copy=True)
    with pytest.raises(exc, match=r"\bout\b"):
        relukit.relu(x, out=out, return_mask=return_mask)
    assert_same(np.asarray(out), snapshot, "out must be untouched")
    assert_same(x, x0, "x must be untouched")


@pytest.mark.parametrize("bad", [[0.0] * 100, (0.0,) * 100, 3.0, "out", memoryview(bytearray(400))],
                         ids=["list", "tuple", "float", "str", "memoryview"])
def test_forward_out_not_ndarray(backend, bad):
    x = _x(100)
    x0 = x.copy()
    with pytest.raises(TypeError, match=r"\bout\b"):
        relukit.relu(x, out=bad)
    assert_same(x, x0)
    if isinstance(bad, list):
        assert bad == [0.0] * 100


def test_forward_read_only_x_in_place(backend):
    x = _x(100)
    x.flags.writeable = False
    x0 = x.copy()
    with pytest.raises(ValueError, match=r"\bx\b"):
        relukit.relu(x, out=x)
    with pytest.raises(ValueError, match=r"\bx\b"):
        relukit.relu(x, out=x, return_mask=True)
    assert_same(x, x0)
    # a read-only x is fine out of place
    assert_same(relukit.relu(x), expected_relu(x0))


def test_forward_read_only_broadcast_in_place(backend):
    x = np.broadcast_to(np.float64(-1.0), (10, 10))
    with pytest.raises(ValueError):
        relukit.relu(x, out=x)
    assert (x == -1.0).all()


@pytest.mark.parametrize("x", [[1.0, -2.0], [1, -2], (1.0, -2.0)], ids=["floats", "ints", "tuple"])
def test_lists_rejected_in_place(backend, x):
    before = list(x)
    with pytest.raises(TypeError, match=r"\bx\b"):
        relukit.relu(x, out=x)
    assert list(x) == before
    # and for the backward
    m = np.array([0xFF], np.uint8)
    with pytest.raises(TypeError, match="grad"):
        relukit.relu_backward(x, m, out=x)
    assert list(x) == before


def test_numpy_scalar_rejected_in_place(backend):
    s = np.float32(-1.0)
    with pytest.raises(TypeError):
        relukit.relu(s, out=s)


# --------------------------------------------------------------------------------------
# bad mask / out for the backward
# --------------------------------------------------------------------------------------
def _bad_masks(n):
    good = np.full((n + 7) // 8, 0xAA, np.uint8)
    return {
        "too-short": (ValueError, good[:-1]),
        "too-long": (ValueError, np.concatenate([good, [0]]).astype(np.uint8)),
        "one-byte-per-element": (ValueError, np.ones(n, np.uint8)),
        "2-d": (ValueError, good.reshape(1, -1)),
        "0-d": (ValueError, np.array(0xAA, np.uint8)),
        "dtype-int8": (TypeError, good.view(np.int8)),
        "dtype-bool": (TypeError, np.ones(n, bool)),
        "dtype-uint16": (TypeError, np.ones((n + 7) // 8, np.uint16)),
        "dtype-float": (TypeError, good.astype(np.float32)),
        "list": (TypeError, good.tolist()),
        "bytes": (TypeError, good.tobytes()),
        "None": (TypeError, None),
    }


@pytest.mark.parametrize("case", list(_bad_masks(8)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("n", [1, 8, 100])
def test_backward_bad_mask_nothing_written(backend, case, dtype, n):
    exc, m = _bad_masks(n)[case]
    if case in ("too-short",) and n <= 8:
        m = np.zeros(0, np.uint8)
    if case == "one-byte-per-element" and n <= 8:
        m = np.ones(9, np.uint8)
    g = np.linspace(-1, 1, n).astype(dtype)
    g0 = g.copy()
    out = _sentinel_like(g)
    with pytest.raises(exc, match="mask"):
        relukit.relu_backward(g, m, out=out)
    assert (out == SENTINEL).all(), "out written before the error"
    with pytest.raises(exc, match="mask"):
        relukit.relu_backward(g, m, out=g)
    assert_same(g, g0, "grad written before the error")
    with pytest.raises(exc, match="mask"):
        relukit.relu_backward(g, m)


def test_backward_grad_mask_size_mismatch(backend):
    x = _x(64)
    _, m = relukit.relu(x, return_mask=True)        # 8 bytes: 57..64 elements
    for n in (56, 65, 1, 0, 128):
        g = np.ones(n, np.float32)
        out = _sentinel_like(g)
        with pytest.raises(ValueError, match="mask") as ei:
            relukit.relu_backward(g, m, out=out)
        assert "grad" in str(ei.value)
        assert (out == SENTINEL).all()
    for n in (57, 63, 64):                          # same byte count: accepted
        g = np.ones(n, np.float32)
        relukit.relu_backward(g, m)
    # a mask for a different *shape* but the same number of elements is fine
    g = np.ones((8, 8), np.float32)
    assert relukit.relu_backward(g, m).shape == (8, 8)


def _bad_backward_outs(g):
    return {
        "shape": (ValueError, _sentinel_like(g[:-1])),
        "shape-2d": (ValueError, _sentinel_like(g.reshape(2, -1))),
        "dtype": (TypeError, _sentinel_like(g, np.float16)),
        "read-only": (ValueError, _sentinel_like(g)),
        "list": (TypeError, [SENTINEL] * g.size),
    }


@pytest.mark.parametrize("case", list(_bad_backward_outs(np.zeros(4))))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_bad_out_nothing_written(backend, case, dtype):
    g = np.linspace(-1, 1, 100).astype(dtype)
    g0 = g.copy()
    m = _mask(g)
    exc, out = _bad_backward_outs(g)[case]
    if case == "read-only":
        out.flags.writeable = False
    snapshot = np.array(out, copy=True)
    with pytest.raises(exc, match=r"\bout\b"):
        relukit.relu_backward(g, m, out=out)
    np.testing.assert_array_equal(np.asarray(out), snapshot)
    assert_same(g, g0)


def test_backward_read_only_grad_in_place(backend):
    g = np.linspace(-1, 1, 100).astype(np.float32)
    m = _mask(g)
    g.flags.writeable = False
    g0 = g.copy()
    with pytest.raises(ValueError, match="grad"):
        relukit.relu_backward(g, m, out=g)
    assert_same(g, g0)
    relukit.relu_backward(g, m)                     # out of place is fine


def test_backward_non_contiguous_mask_accepted(backend):
    x = np.linspace(-1, 1, 101).astype(np.float32)
    m = _mask(x)
    wide = np.zeros(2 * m.size, np.uint8)
    wide[::2] = m
    g = np.arange(101, dtype=np.float32) + 1
    assert_same(relukit.relu_backward(g, wide[::2]), relukit.relu_backward(g, m))
    assert_same(relukit.relu_backward(g, m[::-1][::-1]), np.where(x > 0, g, 0).astype(np.float32))


def test_mask_from_read_only_buffer_accepted(backend):
    x = np.linspace(-1, 1, 50)
    m = _mask(x)
    m.flags.writeable = False
    g = np.ones(50)
    assert_same(relukit.relu_backward(g, m), np.where(x > 0, 1.0, 0.0))


# --------------------------------------------------------------------------------------
# the controls
# --------------------------------------------------------------------------------------
def test_backend_controls_reject_bad_names():
    with pytest.raises(ValueError, match="nope"):
        relukit.set_backend("nope")
    with pytest.raises(TypeError):
        relukit.set_backend(3)
    with pytest.raises(ValueError):
        with relukit.use_backend("torch"):
            pass
    assert relukit.get_backend() is None


def test_threshold_controls_reject_bad_arguments():
    before = relukit.thresholds()
    with pytest.raises(ValueError, match="op class"):
        relukit.set_threshold("compute-bound-nope", np.float32, 10)
    with pytest.raises(TypeError):
        relukit.set_threshold("memory-bound", np.int32, 10)
    with pytest.raises(TypeError):
        relukit.set_threshold("memory-bound", np.float16, 10)
    with pytest.raises(ValueError):
        relukit.set_threshold("memory-bound", np.float32, -1)
    assert relukit.thresholds() == before


def test_num_threads_controls_reject_bad_arguments():
    before = relukit.get_num_threads()
    for bad in (1.5, "2", True, [2]):
        with pytest.raises(TypeError):
            relukit.set_num_threads(bad)
    with pytest.raises(ValueError):
        relukit.set_num_threads(-1)
    assert relukit.get_num_threads() == before


def test_explain_rejects_unknown_op():
    with pytest.raises(ValueError, match="unknown op"):
        relukit.explain("gelu_nope", np.ones(3))


def test_explain_with_non_array_out_does_not_misread_it():
    """explain(op, x, out=<list>) must refuse the out (as the op would) instead of reading a
    Python list as if it were an ndarray; run in a subprocess in case it crashes."""
    from conftest import run_python
    r = run_python("""
        import numpy as np, relukit
        x = np.ones(4, np.float32)
        try:
            s = relukit.explain("relu", x, out=[1.0, 2.0, 3.0, 4.0])
        except TypeError as e:
            assert "out" in str(e), e
            print("TypeError")
        else:
            print("NO ERROR:", s.splitlines()[1])
    """, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "TypeError", r.stdout
