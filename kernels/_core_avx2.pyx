"""relukit's compiled core, built for x86-64-v3 (AVX2, FMA, BMI2).

The source is kernels/core.pxi, shared by every level; setup.py gives each level its flags
and relukit/_isa.py imports the best one the CPU runs."""
include "core.pxi"
