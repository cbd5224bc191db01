"""The op table (relukit/ops.py) binds every public function to the compiled kernels both
backends register, with the dispatch class and streaming permission of its entry."""
import numpy as np
import pytest

import relukit
from relukit import _core
from relukit.ops import OPS, Op

NUMBA = "numba" in relukit.backends()


def test_every_compiled_kernel_is_bound_by_the_table():
    assert _core._unbound_kernels() == []
    named = {k for op in OPS.values() for k in op.kernels}
    assert named == set(_core.KERNEL_NAMES)


def test_every_public_function_is_bound_to_its_entrys_kernels():
    for op in OPS.values():
        for fn, kernel in zip((op.forward, op.backward), op.kernels, strict=True):
            assert _core.KERNEL_NAMES[_core.FUNCTION_KERNELS[fn.__name__]] == kernel
            assert _core._kernel_binding(kernel) == (op.op_class, op.streams)
    assert set(_core.FUNCTION_KERNELS) == {f.__name__ for op in OPS.values()
                                           for f in (op.forward, op.backward)}


@pytest.mark.skipif(not NUMBA, reason="numba not installed")
def test_the_numba_backend_registers_the_same_kernel_names():
    from relukit import _numba_backend
    assert set(_numba_backend._RUNNERS) == set(_core.KERNEL_NAMES)


def test_the_table_class_drives_the_dispatch_threshold():
    x = np.ones(10, np.float32)
    for op in OPS.values():
        if op.kind != "elementwise":
            continue
        text = relukit.explain(op.name, x)
        assert f"threshold ({op.op_class}, float32)" in text, op.name


def _entry(**changes):
    base = dict(name="silu", forward=_core.silu, backward=_core.silu_backward,
                ref_forward=None, ref_backward=None, formula="", derivative="",
                backward_needs="input", mask_bit="", kernels=("silu", "silu_grad"),
                op_class="compute-bound")
    base.update(changes)
    return Op(**base)


@pytest.mark.parametrize("changes, message", [
    ({"kernels": ("silu", "no_such_kernel")}, "not compiled"),
    ({"op_class": "memory-bound"}, "bound twice"),
    ({"streams": True}, "bound twice"),
    ({"op_class": "fast"}, "op_class must be"),
])
def test_an_inconsistent_entry_is_refused(changes, message):
    from relukit.ops import register
    before = dict(_core.FUNCTION_KERNELS)
    silu = OPS["silu"]
    with pytest.raises(ValueError, match=message):
        register(_entry(**changes))
    assert OPS["silu"] is silu
    assert _core._kernel_binding("silu") == ("compute-bound", False)
    assert _core.FUNCTION_KERNELS == before
