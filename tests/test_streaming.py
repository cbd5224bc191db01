"""Streaming stores (kernels/stream.h): large out-of-place outputs of the memory-bound ops
are computed chunk by chunk into an L1 buffer and streamed to ``out``. The results must be
the same bits as the ordinary path and the NumPy reference: at every chunk boundary, for
any alignment of ``out``, with masks read and written chunk by chunk.

The threshold is lowered here (``_core._set_stream_min``) so that small arrays take the
streaming path; one test keeps the real threshold."""
import numpy as np
import pytest

import relukit
from conftest import COMPILED_DTYPES, assert_same, random_floats
from relukit import _core, reference

# Chunk boundaries: the buffer holds 2048 float32 or 1024 float64 elements.
SIZES = (1, 7, 8, 9, 63, 1023, 1024, 1025, 2047, 2048, 2049, 4096, 5000, 10007)
SLOPE = 0.25


@pytest.fixture
def stream_everything():
    previous = _core._set_stream_min(1)
    try:
        yield
    finally:
        _core._set_stream_min(previous)


def _buffers(n, dtype, offset):
    """x, grad, a mask of x, and an output view starting `offset` elements into a buffer
    (so that every alignment of the streamed stores is met)."""
    rng = np.random.default_rng(n + offset)
    x = random_floats(rng, n, dtype)
    g = random_floats(rng, n, dtype)
    mask = np.packbits(~(x <= 0), bitorder="little")
    out = np.full(n + offset, np.nan, dtype)[offset:]
    return x, g, mask, out


FORWARDS = {
    "relu": (relukit.relu, reference.relu, {}),
    "relu6": (relukit.relu6, reference.relu6, {}),
    "leaky_relu": (relukit.leaky_relu, reference.leaky_relu, {"negative_slope": SLOPE}),
}
BACKWARDS = {
    "relu_backward": (relukit.relu_backward, reference.relu_backward, {}),
    "relu6_backward": (relukit.relu6_backward, reference.relu6_backward, {}),
    "leaky_relu_backward": (relukit.leaky_relu_backward, reference.leaky_relu_backward,
                            {"negative_slope": SLOPE}),
}


@pytest.mark.parametrize("offset", [0, 1, 3])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
@pytest.mark.parametrize("name", list(FORWARDS))
def test_forward_streamed_equals_reference(stream_everything, name, dtype, n, offset):
    fn, ref, kw = FORWARDS[name]
    x, _, _, out = _buffers(n, dtype, offset)
    x_before = x.copy()
    with relukit.use_backend("cython"):
        y = fn(x, out=out, **kw)
        y2, m2 = fn(x, out=np.empty_like(out), return_mask=True, **kw)
    assert y is out
    assert_same(y, ref(x, **kw), f"{name} streamed")
    ry, rm = ref(x, return_mask=True, **kw)
    assert_same(y2, ry, f"{name} + mask streamed")
    assert_same(m2, rm, f"{name} mask streamed")
    assert_same(x, x_before, "input untouched")


@pytest.mark.parametrize("offset", [0, 1, 3])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
@pytest.mark.parametrize("name", list(BACKWARDS))
def test_backward_streamed_equals_reference(stream_everything, name, dtype, n, offset):
    fn, ref, kw = BACKWARDS[name]
    x, g, mask, out = _buffers(n, dtype, offset)
    with relukit.use_backend("cython"):
        y = fn(g, mask, out=out, **kw)
    assert y is out
    assert_same(y, ref(g, mask, **kw), f"{name} streamed")


@pytest.mark.parametrize("dtype", COMPILED_DTYPES)
def test_in_place_and_small_calls_are_unchanged_at_the_real_threshold(dtype):
    # One array just past the real threshold, and the same call in place (never streamed).
    real = _core._set_stream_min(1)
    _core._set_stream_min(real)
    n = real // np.dtype(dtype).itemsize + 5
    x = random_floats(np.random.default_rng(1), n, dtype)
    with relukit.use_backend("cython"):
        y = relukit.relu(x)
        z = relukit.relu(x.copy(), out=None)
        w = x.copy()
        relukit.relu(w, out=w)
    expected = reference.relu(x)
    for got in (y, z, w):
        assert_same(got, expected, "relu at the real streaming threshold")


def test_threshold_is_half_the_last_level_cache():
    from relukit import dispatch
    llc = dispatch.last_level_cache_bytes()
    want = max(4 << 20, llc // 2) if llc else dispatch.STREAM_MIN_DEFAULT
    assert dispatch.stream_min_bytes() == want
    previous = _core._set_stream_min(want)
    assert previous == want                  # what import configured


def test_explain_says_when_a_call_streams():
    real = _core._set_stream_min(1)
    _core._set_stream_min(real)
    big = np.zeros(real // 4 + 1, np.float32)
    small = np.zeros(16, np.float32)
    with relukit.use_backend("cython"):
        assert "streaming stores" in relukit.explain("relu", big)
        assert "streaming stores" not in relukit.explain("relu", big, out=big)
        assert "streaming stores" not in relukit.explain("relu", small)
        assert "streaming stores" not in relukit.explain("silu", big)
