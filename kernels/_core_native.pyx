"""relukit's compiled core, built for the building machine's own instruction set (-march=native; built only with RELUKIT_MARCH=native).

The source is kernels/core.pxi, shared by every level; setup.py gives each level its flags
and relukit/_isa.py imports the best one the CPU runs."""
include "core.pxi"
