# Piecewise-linear ops beyond relu: relu6, leaky_relu (and prelu, which is leaky_relu with
# a slope per channel) and the mask backward that scales instead of zeroing.
#
# Mask kernels use the generic two-pass form: per block of BLOCK elements, one vectorised
# loop writes the output and a 0/1 byte per element, then rk_pack_flags packs the bytes
# with SIMD. The per-element arithmetic is written once, in the ``*_one`` inline functions,
# and shared by the no-mask and mask loops.

cdef extern from "mask_simd.h" nogil:
    void rk_pack_flags(const uint8_t* f, uint8_t* m, Py_ssize_t n)
    void rk_unpack_flags(const uint8_t* m, uint8_t* f, Py_ssize_t n)


# relu6: y = min(max(0, x), 6), NaN propagates, relu6(-0.0) = +0.0.
# Mask bit: 0 < x < 6 (the gradient is 1 strictly inside; 0 at both kinks and at NaN, as in
# PyTorch's hardtanh_backward).
cdef inline real relu6_one(real v) noexcept nogil:
    return 0 if v <= 0 else (6 if v >= 6 else v)


cdef void relu6_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                       real* y, uint8_t* mask_out, Py_ssize_t n,
                       const double* params) noexcept nogil:
    cdef Py_ssize_t i, s, cnt
    cdef real v
    cdef uint8_t flags[BLOCK]
    if mask_out == NULL:
        for i in range(n):
            y[i] = relu6_one(a[i])
        return
    s = 0
    while s < n:
        cnt = min(<Py_ssize_t>BLOCK, n - s)
        for i in range(cnt):
            v = a[s + i]
            flags[i] = (v > 0) & (v < 6)
            y[s + i] = relu6_one(v)
        rk_pack_flags(flags, mask_out + (s >> 3), cnt)
        s += cnt


# leaky_relu: y = x if x > 0 else slope * x, with the slope rounded to the array's dtype
# first and the product taken in that dtype (as PyTorch does), so every backend and the
# NumPy reference round identically. NaN propagates through the product; leaky(-0.0) =
# slope * -0.0 (-0.0 for a positive slope, as in PyTorch). Mask bit: x > 0.
cdef inline real leaky_one(real v, real s) noexcept nogil:
    return v if v > 0 else v * s


cdef void leaky_relu_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                            real* y, uint8_t* mask_out, Py_ssize_t n,
                            const double* params) noexcept nogil:
    cdef Py_ssize_t i, s, cnt
    cdef real v
    cdef real slope = <real>params[0]
    cdef uint8_t flags[BLOCK]
    if mask_out == NULL:
        for i in range(n):
            y[i] = leaky_one(a[i], slope)
        return
    s = 0
    while s < n:
        cnt = min(<Py_ssize_t>BLOCK, n - s)
        for i in range(cnt):
            v = a[s + i]
            flags[i] = v > 0
            y[s + i] = leaky_one(v, slope)
        rk_pack_flags(flags, mask_out + (s >> 3), cnt)
        s += cnt


# Backward of leaky_relu from its mask: g where the bit is set, slope * g elsewhere.
cdef void mask_scale_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                            real* y, uint8_t* mask_out, Py_ssize_t n,
                            const double* params) noexcept nogil:
    cdef Py_ssize_t i, s, cnt
    cdef real slope = <real>params[0]
    cdef real g
    cdef uint8_t flags[BLOCK]
    s = 0
    while s < n:
        cnt = min(<Py_ssize_t>BLOCK, n - s)
        rk_unpack_flags(mask_in + (s >> 3), flags, cnt)
        for i in range(cnt):
            g = a[s + i]
            y[s + i] = g if flags[i] else g * slope
        s += cnt


# prelu: leaky_relu with a slope per element, b = the weight broadcast along the channel
# axis (a zero-stride view: the strided driver gathers it block by block).
cdef void prelu_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                       real* y, uint8_t* mask_out, Py_ssize_t n,
                       const double* params) noexcept nogil:
    cdef Py_ssize_t i, s, cnt
    cdef real v
    cdef uint8_t flags[BLOCK]
    if mask_out == NULL:
        for i in range(n):
            y[i] = leaky_one(a[i], b[i])
        return
    s = 0
    while s < n:
        cnt = min(<Py_ssize_t>BLOCK, n - s)
        for i in range(cnt):
            v = a[s + i]
            flags[i] = v > 0
            y[s + i] = leaky_one(v, b[s + i])
        rk_pack_flags(flags, mask_out + (s >> 3), cnt)
        s += cnt


# prelu on C-ordered data viewed as (outer, channels, inner): one slope per row.
cdef void prelu_rows_kernel(const real* x, const real* w, real* y, Py_ssize_t outer,
                            Py_ssize_t nchan, Py_ssize_t inner) noexcept nogil:
    cdef Py_ssize_t o, ch, i, base
    cdef real s
    for o in range(outer):
        for ch in range(nchan):
            s = w[ch]
            base = (o * nchan + ch) * inner
            for i in range(inner):
                y[base + i] = leaky_one(x[base + i], s)


# prelu gradient w.r.t. x: g where x > 0, else slope * g (a = g, b = x, c = slope).
cdef void prelu_grad_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                            real* y, uint8_t* mask_out, Py_ssize_t n,
                            const double* params) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = a[i] if b[i] > 0 else a[i] * c[i]


# The per-element term of prelu's weight gradient, x * g where x <= 0 (not x > 0: NaN x
# contributes NaN, as in PyTorch), else 0; summed per channel by the caller.
cdef void prelu_wterm_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                             real* y, uint8_t* mask_out, Py_ssize_t n,
                             const double* params) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = 0 if b[i] > 0 else a[i] * b[i]


# relu(-x), the second half of crelu: -x is exact, so this equals relu applied to -x
# (a NaN comes out with its sign bit flipped, as np.negative gives it).
cdef void neg_relu_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                          real* y, uint8_t* mask_out, Py_ssize_t n,
                          const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef real v
    for i in range(n):
        v = -a[i]
        y[i] = 0 if v <= 0 else v


# crelu backward: a = grad of the relu(x) half, b = grad of the relu(-x) half, c = x.
# d relu(x)/dx passes where not x <= 0; d relu(-x)/dx = -1 where not -x <= 0.
cdef void crelu_grad_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                            real* y, uint8_t* mask_out, Py_ssize_t n,
                            const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef real v, p, q
    for i in range(n):
        v = c[i]
        p = 0 if v <= 0 else a[i]
        q = 0 if -v <= 0 else b[i]
        y[i] = p - q


# brelu: relu(x - bias) for one bias (params[0], rounded to the dtype; the difference is
# taken in the dtype).
cdef void shift_relu_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                            real* y, uint8_t* mask_out, Py_ssize_t n,
                            const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef real bias = <real>params[0]
    cdef real v
    for i in range(n):
        v = a[i] - bias
        y[i] = 0 if v <= 0 else v


# brelu backward, one bias at a time: y = acc + (g where not x - bias <= 0, else 0), with
# a = g[..., j], b = x, c = acc (the output itself). Summing biases in order j = 0, 1, ...
# from +0.0 fixes the rounding, so every backend and the reference agree bit for bit.
cdef void shift_select_acc_kernel(const real* a, const real* b, const real* c,
                                  const uint8_t* mask_in, real* y, uint8_t* mask_out,
                                  Py_ssize_t n, const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef real bias = <real>params[0]
    for i in range(n):
        y[i] = c[i] + (0 if b[i] - bias <= 0 else a[i])
