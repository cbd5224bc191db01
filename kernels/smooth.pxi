# Smooth (transcendental) ops: the elu family (elu, selu, celu), softplus, silu, gelu, and
# their backwards. Definitions follow PyTorch's CPU kernels.
#
# Every kernel evaluates in double through vmath.h (branch-free, vectorisable, < 2 ulp in
# double: 0.74 to 1.49 ulp measured against mpmath) and rounds once to the output dtype: float32 results are then within 1 ulp of the
# correctly rounded value, and float64 results are within a few ulp (the formulas below add
# one or two roundings to the function's own). The loops have no calls and no branches, so
# gcc vectorises them (8 doubles per AVX-512 vector).

cdef extern from "vmath.h" nogil:
    double rk_exp(double)
    double rk_expm1(double)
    double rk_log1p(double)
    double rk_erfc(double)
    double rk_tanh(double)
    double rk_sigmoid(double)
    double fma(double, double, double)

# GELU constants, correctly rounded doubles. C macros, not module-level variables: a loop
# reading a global double while storing through a float pointer cannot be vectorised
# (with -fno-strict-aliasing the store may alias the global); measured: gelu float32 at
# n = 10**6 took 46 ms with globals.
#
# The per-element functions are C (RK_INLINE = always_inline): Cython's `cdef inline` is a
# plain `static inline`, which gcc stops inlining once this large module exhausts its
# inlining budget, and a loop with a call in it does not vectorise (measured: softplus and
# gelu float32 at n = 10**6 took 37 ms and 40 ms that way, instead of ~4 ms).
cdef extern from *:
    """
    #define RK_SQRT1_2 0.70710678118654752440
    #define RK_INV_SQRT_2PI 0.39894228040143267794
    #define RK_SQRT_2_OVER_PI 0.79788456080286535588
    #define RK_GELU_TANH_C 0.044715

    /* elu family: x <= 0 takes the exponential branch, as PyTorch (-0.0 -> -0.0; NaN
     * takes the other branch and stays NaN). */
    RK_INLINE double rk_elu_one(double v, double negcoef, double poscoef, double divisor)
    {
        double e = negcoef * rk_expm1(v / divisor);
        return v <= 0 ? e : poscoef * v;
    }

    /* softplus as max(z, 0) + log1p(exp(-|z|)), z = beta x: exp never overflows, and for
     * z -> -inf the result is exp(z) itself, rounded once into the subnormals. The rounding
     * error of z (zero when beta = 1) is recovered with an FMA and applied to first order
     * (softplus'(z) = sigmoid(z)). */
    RK_INLINE double rk_softplus_one(double v, double beta, double threshold)
    {
        double z = beta * v;
        double zlo = fma(beta, v, -z);
        double sp = (z > 0 ? z : 0.0) + rk_log1p(rk_exp(-RK_FABS(z)));
        sp = sp + rk_sigmoid(z) * zlo;
        return z > threshold ? v : sp / beta;
    }

    /* silu: below x = -708 sigmoid(x) is subnormal and has lost its low bits; x * e * e
     * with e = exp(x / 2) (normal down to x = -1416) rounds only once into the result. */
    RK_INLINE double rk_silu_one(double v)
    {
        double e = rk_exp(0.5 * v);
        double tail = (v * e) * e;
        return v < -708.0 ? tail : v * rk_sigmoid(v);
    }

    /* gelu exact: 0.5 x erfc(-x / sqrt 2); erfc keeps the negative tail accurate where
     * 0.5 x (1 + erf) would cancel to 0, so gelu(-30) is tiny and negative. */
    RK_INLINE double rk_gelu_exact_one(double v)
    {
        return (0.5 * v) * rk_erfc(-v * RK_SQRT1_2);
    }

    /* gelu tanh: 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3),
     * for the same reason (1 + tanh(u) cancels for u -> -inf). */
    RK_INLINE double rk_gelu_tanh_one(double v)
    {
        double u2 = 2.0 * RK_SQRT_2_OVER_PI * (v + RK_GELU_TANH_C * (v * v * v));
        return v * rk_sigmoid(u2);
    }
    """
    const double SQRT1_2 "RK_SQRT1_2"
    const double INV_SQRT_2PI "RK_INV_SQRT_2PI"
    const double SQRT_2_OVER_PI "RK_SQRT_2_OVER_PI"
    const double GELU_TANH_C "RK_GELU_TANH_C"
    double elu_one "rk_elu_one"(double v, double negcoef, double poscoef, double divisor) nogil
    double softplus_one "rk_softplus_one"(double v, double beta, double threshold) nogil
    double silu_one "rk_silu_one"(double v) nogil
    double gelu_exact_one "rk_gelu_exact_one"(double v) nogil
    double gelu_tanh_one "rk_gelu_tanh_one"(double v) nogil


# ---- elu family: y = poscoef * x where x > 0, else negcoef * expm1(x / divisor) ----
# elu: (alpha, 1, 1); selu: (alpha * scale, scale, 1); celu: (alpha, 1, alpha).


cdef void elu_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                     real* y, uint8_t* mask_out, Py_ssize_t n,
                     const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef double negcoef = params[0], poscoef = params[1], divisor = params[2]
    for i in range(n):
        y[i] = <real>elu_one(a[i], negcoef, poscoef, divisor)


# Backward from the output y (a = grad, b = y): poscoef where y > 0; where y <= 0,
# d/dx negcoef * expm1(x / d) = negcoef * exp(x / d) / d = (y + negcoef) / d. Needs
# negcoef >= 0 (checked by the entry points): then y <= 0 exactly where x <= 0.
cdef void elu_grad_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                          real* y, uint8_t* mask_out, Py_ssize_t n,
                          const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef double negcoef = params[0], poscoef = params[1], divisor = params[2]
    cdef double g, out
    for i in range(n):
        g = a[i]
        out = b[i]
        y[i] = <real>(g * ((out + negcoef) / divisor) if out <= 0 else g * poscoef)


# ---- softplus: log(1 + exp(beta x)) / beta, and x where beta * x > threshold ----


cdef void softplus_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                          real* y, uint8_t* mask_out, Py_ssize_t n,
                          const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef double beta = params[0], threshold = params[1]
    for i in range(n):
        y[i] = <real>softplus_one(a[i], beta, threshold)


# Backward from the output: exp(beta y) = 1 + exp(beta x), so sigmoid(beta x) =
# 1 - exp(-beta y) = -expm1(-beta y) (accurate for y -> 0, where it is ~beta y). Where
# beta * y > threshold the forward was the identity: the gradient passes unchanged.
cdef void softplus_grad_kernel(const real* a, const real* b, const real* c,
                               const uint8_t* mask_in, real* y, uint8_t* mask_out,
                               Py_ssize_t n, const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef double beta = params[0], threshold = params[1]
    cdef double g, z
    for i in range(n):
        g = a[i]
        z = beta * <double>b[i]
        y[i] = <real>(g if z > threshold else g * -rk_expm1(-z))


# ---- silu: x * sigmoid(x) ----


cdef void silu_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                      real* y, uint8_t* mask_out, Py_ssize_t n,
                      const double* params) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = <real>silu_one(a[i])


# d/dx x sigmoid(x) = s (1 + x (1 - s)), with 1 - s = sigmoid(-x) computed directly (no
# cancellation for x > 0).
cdef void silu_grad_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                           real* y, uint8_t* mask_out, Py_ssize_t n,
                           const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v, s, t
    for i in range(n):
        v = b[i]
        s = rk_sigmoid(v)
        t = rk_sigmoid(-v)
        y[i] = <real>(a[i] * (s + (v * s) * t))


# ---- gelu ----


cdef void gelu_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                      real* y, uint8_t* mask_out, Py_ssize_t n,
                      const double* params) noexcept nogil:
    cdef Py_ssize_t i
    if params[0] == 0:
        for i in range(n):
            y[i] = <real>gelu_exact_one(a[i])
    else:
        for i in range(n):
            y[i] = <real>gelu_tanh_one(a[i])


# exact: Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi); x^2 is split into an exact
# high part and its FMA-recovered rounding error so exp(-x^2/2) keeps full accuracy for
# |x| up to ~38 (where the rounding error of x^2 alone would cost hundreds of ulp).
# tanh: d/dx x sigmoid(2u) = s + x * 2 u' s (1 - s), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
cdef void gelu_grad_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                           real* y, uint8_t* mask_out, Py_ssize_t n,
                           const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef double v, h, lo, pdf, cdf, s, t, u2, du2
    if params[0] == 0:
        for i in range(n):
            v = b[i]
            h = v * v
            lo = fma(v, v, -h)
            pdf = INV_SQRT_2PI * rk_exp(-0.5 * h) * (1.0 - 0.5 * lo)
            cdf = 0.5 * rk_erfc(-v * SQRT1_2)
            y[i] = <real>(a[i] * (cdf + v * pdf))
    else:
        for i in range(n):
            v = b[i]
            u2 = 2.0 * SQRT_2_OVER_PI * (v + GELU_TANH_C * (v * v * v))
            du2 = 2.0 * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_C * (v * v))
            s = rk_sigmoid(u2)
            t = rk_sigmoid(-u2)
            y[i] = <real>(a[i] * (s + (v * du2) * (s * t)))
