"""relukit's compiled core, built for the target RELUKIT_MARCH names (usually native: the
building machine's own instruction set); built only when RELUKIT_MARCH is set.

The source is kernels/core.pxi, shared by every level; setup.py gives each level its flags
and relukit/_isa.py imports the best one the CPU runs."""
include "core.pxi"
