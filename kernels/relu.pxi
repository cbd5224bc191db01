# ReLU kernels: contiguous buffers only. The strided driver in _core.pyx gathers any
# other layout into contiguous blocks and calls these same functions, so each op has
# exactly one implementation of its arithmetic per backend.
#
# Semantics (shared by the NumPy reference and the Numba kernels):
#   y    = 0 if x <= 0 else x      -> NaN propagates (NaN <= 0 is false) and
#                                     relu(-0.0) = +0.0 (the output never has its sign bit set)
#   bit  = not (x <= 0)            -> the gradient passes where x > 0 and at NaN (PyTorch autograd)
#   grad = g if bit else +0.0      -> a select, not a product: NaN/inf in g is zeroed where
#                                     the bit is clear, as in PyTorch's threshold_backward.
#
# Why these loop shapes: `0 if v <= 0 else v` compiles to compare + and-not (a blend),
# which gcc vectorises at -O3 on every SIMD width; a loop written with max() would have to
# pick an operand order for NaN and the sign of zero. The mask loops work on bytes of
# eight elements so every store to the mask is a whole byte written once.


cdef void relu_kernel(const real* a, const real* b, const uint8_t* mask_in,
                      real* y, uint8_t* mask_out, Py_ssize_t n,
                      const double* params) noexcept nogil:
    cdef Py_ssize_t i, blk, nblk
    cdef int j
    cdef real v
    cdef uint8_t byte, keep
    if mask_out == NULL:
        for i in range(n):
            v = a[i]
            y[i] = 0 if v <= 0 else v
        return
    nblk = n >> 3
    for blk in range(nblk):
        byte = 0
        for j in range(8):
            v = a[8 * blk + j]
            keep = not (v <= 0)
            y[8 * blk + j] = v if keep else 0
            byte |= <uint8_t>(keep << j)
        mask_out[blk] = byte
    if n & 7:
        byte = 0
        for i in range(nblk * 8, n):
            v = a[i]
            keep = not (v <= 0)
            y[i] = v if keep else 0
            byte |= <uint8_t>(keep << (i & 7))
        mask_out[nblk] = byte


cdef void mask_select_kernel(const real* a, const real* b, const uint8_t* mask_in,
                             real* y, uint8_t* mask_out, Py_ssize_t n,
                             const double* params) noexcept nogil:
    # Backward of every op whose derivative is 1 where the bit is set and 0 elsewhere
    # (relu, relu6): y = g where the bit is set, +0.0 elsewhere.
    cdef Py_ssize_t i, blk, nblk
    cdef int j
    cdef uint8_t byte
    nblk = n >> 3
    for blk in range(nblk):
        byte = mask_in[blk]
        for j in range(8):
            y[8 * blk + j] = a[8 * blk + j] if (byte >> j) & 1 else 0
    if n & 7:
        byte = mask_in[nblk]
        for i in range(nblk * 8, n):
            y[i] = a[i] if (byte >> (i & 7)) & 1 else 0
