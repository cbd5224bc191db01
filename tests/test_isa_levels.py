"""The instruction-set levels of the compiled core (relukit._isa).

setup.py builds the core once per level (baseline x86-64, AVX2 + FMA, AVX-512) and import
picks the best one the CPU runs; RELUKIT_ISA forces one. The value and layout tests below
run once more, in a fresh interpreter, for every other level this machine runs, so each
build's kernels are checked against the NumPy reference, not only the one chosen here."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import relukit
from conftest import NO_TUNED_CONFIG, SRC, run_python
from relukit import _core, _isa

RUNNABLE = _isa.runnable_levels()
# What each level's module must report it was compiled for (RK_SIMD_LEVEL in core.pxi).
SIMD_NAMES = {"baseline": ("SSE2", "portable C"), "avx2": ("AVX2",),
              "avx512": ("AVX-512 (F, BW)",)}
KERNEL_TESTS = ["test_relu_values.py", "test_layouts.py", "test_piecewise_ops.py",
                "test_composite_ops.py", "test_smooth_ops.py", "test_smooth_accuracy.py"]


def test_loaded_level_is_the_best_runnable_or_the_forced_one():
    forced = os.environ.get("RELUKIT_ISA", "").strip().lower()
    assert _isa.LEVEL == (forced or RUNNABLE[0])
    assert relukit._core is _core is _isa.core
    assert _core.ISA_LEVEL == _isa.LEVEL
    if _isa.LEVEL in SIMD_NAMES:
        assert _core.SIMD_LEVEL in SIMD_NAMES[_isa.LEVEL]


def test_cpu_levels_are_a_prefix_of_the_order():
    from relukit import _cpu
    levels = _cpu.supported_levels()
    assert levels == list(_cpu.LEVELS[: len(levels)]) and levels[0] == "baseline"
    if not _cpu.X86:
        assert levels == ["baseline"]


def test_a_portable_build_has_every_x86_level():
    from relukit import _cpu
    built = _isa.built_levels()
    assert "baseline" in built
    if _cpu.X86 and sys.platform != "win32":
        assert {"baseline", "avx2", "avx512"} <= set(built)


@pytest.mark.parametrize("level", RUNNABLE)
def test_forcing_a_level_loads_that_build(level):
    r = run_python("""
        import relukit, numpy as np
        x = np.array([-1.0, 0.5, np.nan], np.float32)
        print(relukit._core.ISA_LEVEL, relukit._core.SIMD_LEVEL, relukit.relu(x))
        relukit.show_config()
    """, env={"RELUKIT_ISA": level})
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith(level + " ")
    assert first.endswith("[0.  0.5 nan]")
    assert f"instruction set: {level} (forced by RELUKIT_ISA" in r.stdout
    assert "Warning" not in r.stderr


@pytest.mark.parametrize("value", ["bogus", "native-not-built"])
def test_an_unusable_level_warns_and_falls_back(value):
    if value == "native-not-built":
        if "native" in _isa.built_levels():
            pytest.skip("this installation was built with RELUKIT_MARCH, so native exists")
        value = "native"
    r = run_python("import relukit; print(relukit._core.ISA_LEVEL)",
                   env={"RELUKIT_ISA": value})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == RUNNABLE[0]
    assert "RuntimeWarning" in r.stderr and f"RELUKIT_ISA={value!r}" in r.stderr


OTHER_LEVELS = [lv for lv in RUNNABLE if lv != _isa.LEVEL]


@pytest.mark.skipif(not OTHER_LEVELS, reason="this machine runs a single level")
@pytest.mark.parametrize("level", OTHER_LEVELS)
def test_kernel_tests_pass_at_every_other_level(level):
    # The same files this run has just checked at the chosen level, at another build.
    here = Path(__file__).resolve().parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELUKIT_", "NUMBA_"))}
    env.update(RELUKIT_ISA=level, RELUKIT_CONFIG=NO_TUNED_CONFIG, RELUKIT_BUSY_CHECK="0",
               PYTHONPATH=SRC)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                        *KERNEL_TESTS], cwd=here, env=env, capture_output=True, text=True,
                       timeout=1800)
    tail = "\n".join(r.stdout.splitlines()[-25:])
    assert r.returncode == 0, f"RELUKIT_ISA={level}: kernel tests failed\n{tail}\n{r.stderr[-2000:]}"
    assert " passed" in tail and " failed" not in tail
