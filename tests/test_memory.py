"""Memory: the in-place paths allocate nothing proportional to the array, and return_mask
allocates only the mask. NumPy reports its array allocations to tracemalloc, so the traced
peak of one call is what that call allocated (interpreter noise is a few hundred bytes).

Every call is made once untraced first (for the numba backend that excludes compilation).

These guarantees are the compiled backends' (float32/float64 under automatic dispatch): the
``numpy`` backend is the readable reference and allocates boolean temporaries, as the README
says."""

import numpy as np
import pytest

import relukit
from conftest import traced_allocation, assert_same, expected_backward, expected_mask, expected_relu, random_floats

N = 10**6
SMALL = 64 * 1024          # allowance for interpreter noise: far below any array here


def _float_layouts(dtype):
    rng = np.random.default_rng(0)
    return {
        "C-1d": lambda: random_floats(rng, N, dtype),
        "F-2d": lambda: np.asfortranarray(random_floats(rng, N, dtype).reshape(1000, 1000)),
        "step2": lambda: random_floats(rng, 2 * N, dtype)[::2],
        "transposed": lambda: random_floats(rng, N, dtype).reshape(500, 2000).T,
    }


LAYOUTS = list(_float_layouts(np.float32))


@pytest.fixture
def warm(numba_warm):
    return numba_warm


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_in_place_allocates_nothing(compiled_backend, warm, layout, dtype):
    make = _float_layouts(dtype)[layout]
    xs = [make(), make()]
    x0 = xs[1].copy()
    it = iter(xs)

    def call():
        x = next(it)
        return relukit.relu(x, out=x)

    peak, y = traced_allocation(call)
    assert y is xs[1]
    assert_same(y, expected_relu(x0))
    assert peak < SMALL, f"relu(x, out=x) allocated {peak} bytes for a {x0.nbytes}-byte array"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_into_given_out_allocates_nothing(compiled_backend, warm, dtype):
    rng = np.random.default_rng(1)
    x = random_floats(rng, N, dtype)
    out = np.empty_like(x)
    peak, y = traced_allocation(lambda: relukit.relu(x, out=out))
    assert y is out
    assert_same(out, expected_relu(x))
    assert peak < SMALL, f"relu(x, out=out) allocated {peak} bytes for a {x.nbytes}-byte array"


@pytest.mark.parametrize("layout", ["C-1d", "step2"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_in_place_allocates_nothing(compiled_backend, warm, layout, dtype):
    make = _float_layouts(dtype)[layout]
    gs = [make(), make()]
    g0 = gs[1].copy()
    m = expected_mask(random_floats(np.random.default_rng(2), N, dtype))
    it = iter(gs)

    def call():
        g = next(it)
        return relukit.relu_backward(g, m, out=g)

    peak, y = traced_allocation(call)
    assert y is gs[1]
    assert_same(y, expected_backward(g0, m))
    assert peak < SMALL, f"relu_backward(g, m, out=g) allocated {peak} bytes"


@pytest.mark.parametrize("layout", ["C-1d", "F-2d"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_return_mask_allocates_only_the_mask(compiled_backend, warm, layout, dtype):
    make = _float_layouts(dtype)[layout]
    xs = [make(), make()]
    x0 = xs[1].copy()
    it = iter(xs)

    def call():
        x = next(it)
        return relukit.relu(x, out=x, return_mask=True)

    peak, (y, m) = traced_allocation(call)
    assert_same(y, expected_relu(x0))
    assert_same(m, expected_mask(x0))
    mask_bytes = (N + 7) // 8
    assert m.nbytes == mask_bytes
    assert mask_bytes <= peak < mask_bytes + SMALL, (
        f"relu(x, out=x, return_mask=True) allocated {peak} bytes; the mask is {mask_bytes}, "
        f"x is {x0.nbytes}")


def test_out_none_allocates_the_output(compiled_backend, warm):
    """Sanity check of the method: a call that must allocate is seen allocating."""
    x = random_floats(np.random.default_rng(3), N, np.float32)
    peak, y = traced_allocation(lambda: relukit.relu(x))
    assert peak >= x.nbytes
    assert_same(y, expected_relu(x))
