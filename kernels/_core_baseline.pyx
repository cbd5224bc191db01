"""relukit's compiled core, built for baseline x86-64 (SSE2), the build every x86-64 CPU runs.

The source is kernels/core.pxi, shared by every level; setup.py gives each level its flags
and relukit/_isa.py imports the best one the CPU runs."""
include "core.pxi"
