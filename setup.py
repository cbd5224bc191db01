"""Build the compiled Cython core of relukit.

Instruction-set levels
----------------------
The kernels are plain C loops written so that the compiler vectorises them, so the
instruction-set level decides their speed. On x86-64 the core (kernels/core.pxi) is
compiled once per level, as separate extension modules, and ``relukit._isa`` imports the
best one the CPU runs (``RELUKIT_ISA`` forces one; ``relukit.show_config()`` shows which):

==========  =====================  ===============================================
level       module                 flags
==========  =====================  ===============================================
baseline    relukit._core_baseline ``-march=x86-64`` (SSE2: every x86-64 CPU)
avx2        relukit._core_avx2     ``-march=x86-64-v3`` (AVX2, FMA, BMI2)
avx512      relukit._core_avx512   ``-march=x86-64-v4 -mprefer-vector-width=512``
==========  =====================  ===============================================

so one build (a wheel) runs everywhere at the speed of the CPU it lands on. Other
architectures build the baseline module alone, with the compiler's default target.
``RELUKIT_MARCH=native pip install .`` (or any other ``-march`` value) adds a fourth module,
``relukit._core_native``, compiled for that target and preferred at import: for a build that
never leaves the machine it was compiled on. ``RELUKIT_BUILD_LEVELS=avx512`` (a comma list)
builds only the named levels (faster rebuilds while developing).

No ``-ffast-math``: the kernels rely on IEEE comparisons with NaN (NaN must propagate)
and on the sign of zero. ``-fno-trapping-math`` (see below) is the one relaxation.
"""
import os
import platform
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

X86_64 = platform.machine().lower() in ("x86_64", "amd64") and sys.platform != "win32"

# -mprefer-vector-width=512: with -march=x86-64-v4 gcc's generic tuning keeps to 256-bit
# vectors; the 512-bit loops are what AVX-512 is for here (both measured in the README's
# instruction-set table).
LEVEL_FLAGS = {
    "baseline": ["-march=x86-64", "-mtune=generic"] if X86_64 else [],
    "avx2": ["-march=x86-64-v3", "-mtune=generic"],
    "avx512": ["-march=x86-64-v4", "-mtune=generic", "-mprefer-vector-width=512"],
}


def _levels():
    levels = list(LEVEL_FLAGS) if X86_64 else ["baseline"]
    march = os.environ.get("RELUKIT_MARCH", "").strip()
    if march and march.lower() != "none":
        LEVEL_FLAGS["native"] = [f"-march={march}"]
        levels.append("native")
    only = os.environ.get("RELUKIT_BUILD_LEVELS", "").strip()
    if only:
        wanted = [s.strip() for s in only.split(",") if s.strip()]
        unknown = set(wanted) - set(levels)
        if unknown:
            raise SystemExit(f"RELUKIT_BUILD_LEVELS: unknown or unavailable levels {sorted(unknown)}; "
                             f"this platform builds {levels}")
        levels = [lv for lv in levels if lv in wanted]
    return levels


def _compile_args(level):
    if sys.platform == "win32":
        return ["/O2"]
    # -fno-trapping-math lets gcc evaluate both sides of a select (`x <= 0 ? a : b`)
    # without assuming either could trap; without it no loop of the smooth kernels
    # vectorises ("control flow in loop"): elu float32 at n = 10**6 ran at 10.9 ms, NumPy's
    # formula at 5.2 ms. It changes no result: IEEE comparisons, NaN propagation and signed
    # zeros are untouched (only -ffast-math's finite/associative options would change them).
    return ["-O3", "-fno-strict-aliasing", "-fno-trapping-math", "-fno-math-errno",
            "-Wno-unused-function", "-Wno-unreachable-code"] + LEVEL_FLAGS[level]


def _core(level):
    args = _compile_args(level)
    return Extension(
        f"relukit._core_{level}",
        sources=[f"kernels/_core_{level}.pyx"],
        include_dirs=[np.get_include(), "kernels"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION"),
                       ("RELUKIT_ISA_LEVEL", f'"{level}"'),
                       ("RELUKIT_BUILD_FLAGS", '"' + " ".join(args) + '"')],
        extra_compile_args=args,
    )


class ParallelBuildExt(build_ext):
    """Compile the levels' modules side by side (each is one large C file)."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1


extensions = [_core(level) for level in _levels()]
# The CPU check is compiled with no -march flag: it must load on every CPU.
extensions.append(Extension("relukit._cpu", sources=["kernels/_cpu.pyx"],
                            extra_compile_args=[] if sys.platform == "win32" else ["-O2"]))

setup(
    cmdclass={"build_ext": ParallelBuildExt},
    ext_modules=cythonize(
        extensions,
        include_path=["kernels"],
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
        },
    ),
)
