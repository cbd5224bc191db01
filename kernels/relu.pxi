# ReLU kernels: contiguous buffers only. The strided driver in _core.pyx gathers any
# other layout into contiguous blocks and calls these same functions, so each op has
# exactly one implementation of its arithmetic per backend.
#
# Semantics (shared by the NumPy reference and the Numba kernels):
#   y    = 0 if x <= 0 else x      -> NaN propagates (NaN <= 0 is false) and
#                                     relu(-0.0) = +0.0; a NaN (any sign, payload) passes unchanged
#   bit  = not (x <= 0)            -> the gradient passes where x > 0 and at NaN (PyTorch autograd)
#   grad = g if bit else +0.0      -> a select, not a product: NaN/inf in g is zeroed where
#                                     the bit is clear, as in PyTorch's threshold_backward.
#
# Why these loop shapes: `0 if v <= 0 else v` compiles to compare + and-not (a blend),
# which gcc vectorises at -O3 on every SIMD width; a loop written with max() would have to
# pick an operand order for NaN and the sign of zero. The mask loops are in mask_simd.h
# (intrinsics: the compiler does not vectorise bit packing; figures there).


cdef extern from "mask_simd.h" nogil:
    void rk_relu_mask_f32(const float* x, float* y, uint8_t* m, Py_ssize_t n)
    void rk_relu_mask_f64(const double* x, double* y, uint8_t* m, Py_ssize_t n)
    void rk_select_f32(const float* g, const uint8_t* m, float* y, Py_ssize_t n)
    void rk_select_f64(const double* g, const uint8_t* m, double* y, Py_ssize_t n)


cdef void relu_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                      real* y, uint8_t* mask_out, Py_ssize_t n,
                      const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef real v
    if mask_out == NULL:
        for i in range(n):
            v = a[i]
            y[i] = 0 if v <= 0 else v
    elif real is float:
        rk_relu_mask_f32(a, y, mask_out, n)
    else:
        rk_relu_mask_f64(a, y, mask_out, n)


cdef void mask_select_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                             real* y, uint8_t* mask_out, Py_ssize_t n,
                             const double* params) noexcept nogil:
    # Backward of every op whose derivative is 1 where the bit is set and 0 elsewhere
    # (relu, relu6): y = g where the bit is set, +0.0 elsewhere.
    if real is float:
        rk_select_f32(a, mask_in, y, n)
    else:
        rk_select_f64(a, mask_in, y, n)
