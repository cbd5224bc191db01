# Smooth (transcendental) ops: the elu family (elu, selu, celu), softplus, silu, gelu, and
# their backwards. Definitions follow PyTorch's CPU kernels.
#
# Every kernel evaluates in double through vmath.h (branch-free, vectorisable, < 2 ulp in
# double: 0.74 to 1.49 ulp measured against mpmath) and rounds once to the output dtype: float32 results are then within 1 ulp of the
# correctly rounded value, and float64 results are within a few ulp (the formulas below add
# one or two roundings to the function's own). The loops have no calls and no branches, so
# gcc vectorises them (8 doubles per AVX-512 vector).

cdef extern from "vmathf.h" nogil:
    float rk_expm1f(float)
    float rk_sigmoidf(float)
    float rk_softplusf(float)
    float rk_softplus_corrf(float, float)
    float rk_siluf(float)
    float rk_geluf(float)
    float rk_gelu_tanhf(float)
    float rk_silu_gradf(float, float)
    float rk_gelu_gradf(float, float)
    float rk_gelu_tanh_gradf(float, float)

cdef extern from "vmath.h" nogil:
    double rk_exp(double)
    double rk_expm1(double)
    double rk_log1p(double)
    double rk_erfc(double)
    double rk_tanh(double)
    double rk_sigmoid(double)
    double fma(double, double, double)

# Constants and per-element functions are C (RK_INLINE = always_inline): Cython's
# `cdef inline` is a plain `static inline`, which gcc stops inlining once this large module
# exhausts its inlining budget, and a loop with a call in it does not vectorise (measured:
# softplus and gelu float32 at n = 10**6 took 37 ms and 40 ms that way, instead of ~4 ms).
# Constants are macros, not module globals: with -fno-strict-aliasing a store through the
# output pointer may alias a global, which also blocks vectorisation.
#
# Float32 forwards use the float32-native functions of vmathf.h (16 lanes per AVX-512
# vector instead of 8; each function < 1.5 ulp over all 2^32 inputs, so every composite
# below stays within ~2.5 ulp of the 4 allowed). The float32 backwards of silu, gelu (both
# forms) and softplus are float32-native too (vmathf.h's rk_*_gradf, and the softplus
# gradient below): the silu/gelu derivatives, which cancel near their roots, are formed
# with float-float pairs and a root polynomial there (within 2.2 ulp on all 2^32 inputs,
# grad = 1; 3.42 / 7.33 / 2.74 / 1.92 -> 1.69 / 4.45 / 2.17 / 1.18 ns per element on one
# core for silu / gelu / gelu(tanh) / softplus, against the double evaluation). The
# elu family's backward (a load, an add, a product: 0.33 ns per element, memory-bound) stays
# in double. Float64 needs more care in three places, each noted
# below: the rounding of an argument amplified by exp/erfc in a tail (gelu), a constant
# that is not a double (selu), and results that are subnormal (silu's gradient).
cdef extern from *:
    """
    #define RK_SQRT1_2 0.70710678118654752440
    #define RK_SQRT1_2_LO (-4.833646656726457e-17)     /* 1/sqrt 2 - RK_SQRT1_2 */
    #define RK_INV_SQRT_2PI 0.39894228040143267794
    #define RK_TWO_OVER_SQRTPI 1.1283791670955126
    #define RK_SQRT_2_OVER_PI 0.79788456080286535588
    #define RK_GELU_TANH_C 0.044715
    #define RK_DBL_MAX 1.7976931348623157e308

    /* elu family: y = poscoef x where x > 0, else negcoef expm1(x / divisor); x <= 0 takes
     * the exponential branch, as PyTorch (-0.0 -> -0.0; NaN takes the other branch). */
    RK_INLINE double rk_elu_one(double v, double negcoef, double poscoef, double divisor)
    {
        double e = negcoef * rk_expm1(v / divisor);
        return v <= 0 ? e : poscoef * v;
    }

    /* Gradient from the output: (y + negcoef) / divisor where y <= 0. negcoef is passed as
     * hi + lo (selu's alpha * scale is not a double): y + hi is exact where y nears -hi
     * (Sterbenz), so the lo part survives the cancellation. */
    RK_INLINE double rk_elu_grad_one(double g, double out, double neghi, double neglo,
                                     double poscoef, double divisor)
    {
        double d = ((out + neghi) + neglo) / divisor;
        return out <= 0 ? g * d : g * poscoef;
    }

    /* softplus as max(z, 0) + log1p(exp(-|z|)), z = beta x: exp never overflows, and for
     * z -> -inf the result is exp(z) itself, rounded once into the subnormals. The rounding
     * error of z (zero when beta = 1) is recovered with an FMA and applied to first order
     * (softplus'(z) = sigmoid(z)); for an infinite z it is 0, not inf - inf. */
    RK_INLINE double rk_softplus_one(double v, double beta, double threshold)
    {
        double z = beta * v;
        double zlo = fma(beta, v, -z);
        zlo = RK_FABS(z) <= RK_DBL_MAX ? zlo : 0.0;
        double sp = (z > 0 ? z : 0.0) + rk_log1p(rk_exp(-RK_FABS(z)));
        sp = sp + rk_sigmoid(z) * zlo;
        return z > threshold ? v : sp / beta;
    }

    /* Gradient from the output: exp(beta y) = 1 + exp(beta x), so sigmoid(beta x) =
     * -expm1(-beta y) (accurate for y -> 0, where it is ~beta y); where beta y > threshold
     * the forward was the identity and the gradient passes. */
    RK_INLINE double rk_softplus_grad_one(double g, double out, double beta, double threshold)
    {
        double z = beta * out;
        double d = -rk_expm1(-z);
        return z > threshold ? g : g * d;
    }

    /* silu: below x = -708 sigmoid(x) is subnormal and has lost its low bits; x * e * e
     * with e = exp(x / 2) (normal down to x = -1416) rounds only once into the result. */
    RK_INLINE double rk_silu_one(double v)
    {
        double e = rk_exp(0.5 * v);
        double tail = (v * e) * e;
        return v < -708.0 ? tail : v * rk_sigmoid(v);
    }

    /* silu' = s (1 + x t), s = sigmoid(x), t = sigmoid(-x) = 1 - s without cancellation;
     * the same e * e tail as the forward keeps subnormal gradients to one rounding. */
    RK_INLINE double rk_silu_grad_one(double g, double v)
    {
        double s = rk_sigmoid(v), t = rk_sigmoid(-v);
        double e = rk_exp(0.5 * v);
        double tail = ((g * (1.0 + v * t)) * e) * e;
        tail = v < -1500.0 ? g * -0.0 : tail;          /* e * e is 0 there; no -inf * 0 */
        return v < -708.0 ? tail : g * (s + (v * s) * t);
    }

    /* gelu exact: 0.5 x erfc(-x / sqrt 2); erfc keeps the negative tail accurate where
     * 0.5 x (1 + erf) would cancel to 0, so gelu(-30) is tiny and negative.
     * erfc's relative sensitivity to its argument grows like 2t^2, so the rounding
     * of t = -x/sqrt 2 alone costs up to ~1,200 ulp near underflow. t is carried as
     * t + tlo (the FMA-recovered product error plus 1/sqrt 2's own representation error)
     * and erfc corrected to first order: erfc(t + tlo) = erfc(t) - 2/sqrt(pi) e^{-t^2} tlo,
     * with t^2 split exactly for the exp. */
    RK_INLINE double rk_gelu_exact_precise(double v)
    {
        double t = -v * RK_SQRT1_2;
        double tlo = fma(-v, RK_SQRT1_2, -t) + (-v) * RK_SQRT1_2_LO;
        double h = t * t;
        double hl = fma(t, t, -h);
        int finite = RK_FABS(h) <= RK_DBL_MAX;
        tlo = finite ? tlo : 0.0;
        hl = finite ? hl : 0.0;
        double dens = RK_TWO_OVER_SQRTPI * rk_exp(-h) * (1.0 - hl);
        return (0.5 * v) * (rk_erfc(t) - dens * tlo);
    }

    /* gelu' = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi); x^2 is split into an
     * exact high part and its FMA-recovered error so exp(-x^2/2) keeps full accuracy (the
     * rounding of x^2 alone would cost hundreds of ulp at |x| ~ 38); for |x| > 1.3e154,
     * where x^2 overflows, the split is dropped (phi is 0 there anyway). */
    RK_INLINE double rk_gelu_grad_one(double g, double v)
    {
        double h = v * v;
        double lo = fma(v, v, -h);
        lo = RK_FABS(h) <= RK_DBL_MAX ? lo : 0.0;
        double pdf = RK_INV_SQRT_2PI * rk_exp(-0.5 * h) * (1.0 - 0.5 * lo);
        double cdf = 0.5 * rk_erfc(-v * RK_SQRT1_2);
        return g * (cdf + v * pdf);
    }

    /* float32 forms (vmathf.h). elu: the coefficients rounded to float, x <= 0 takes the
     * exponential branch as above. */
    RK_INLINE float rk_elu_onef(float v, float negcoef, float poscoef, float divisor)
    {
        float e = negcoef * rk_expm1f(v / divisor);
        return v <= 0 ? e : poscoef * v;
    }

    /* softplus in float32 for a beta exact in float32: z = beta x carried as z + zlo (fmaf),
     * corrected to first order as in the double form. */
    RK_INLINE float rk_softplus_onef(float v, float beta, float threshold)
    {
        float z = beta * v;
        float zlo = fmaf(beta, v, -z);
        zlo = RK_FABS(z) <= 3.4028234663852886e38f ? zlo : 0.0f;
        float sp = rk_softplus_corrf(z, zlo);
        return z > threshold ? v : sp / beta;
    }

    /* softplus gradient in float32 for a beta exact in float32: -expm1(-z), z = beta y
     * carried as z + zlo (fmaf) and applied to first order (d/dz = exp(-z) = 1 - d); the
     * threshold test is made on the exact product in double, as the double form makes it
     * (it decides whether the forward was the identity). */
    RK_INLINE float rk_softplus_grad_onef(float g, float out, float beta, double threshold)
    {
        float z = beta * out;
        float zlo = fmaf(beta, out, -z);
        zlo = RK_FABS(z) <= 3.4028234663852886e38f ? zlo : 0.0f;
        float d = -rk_expm1f(-z);
        float c = (1.0f - d) * zlo;
        float dc = d + c;
        /* d itself where there is no correction (keeps -0.0 for y = -0.0) or where it is
         * -inf (y < -88.7 / beta, outside the forward's range: inf * 0) */
        d = (c == 0.0f) | (dc != dc) ? d : dc;
        return (double)beta * (double)out > threshold ? g : g * d;
    }

    /* Float64 tanh form: 2u = 2 sqrt(2/pi) (x + 0.044715 x^3) as hi + lo (double-double,
     * both constants as hi + lo too): the rounding of a plain-double 2u, amplified ~|2u|
     * times by the sigmoid, cost up to 1,233 ulp for x < -1.4. */
    #define RK_GELU_K_HI 0.044715
    #define RK_GELU_K_LO 2.1960211427085595e-18
    #define RK_C2_HI 1.5957691216057308
    #define RK_C2_LO (-9.96930880911092e-17)
    RK_INLINE double rk_gelu_tanh_u2(double v, double *lo)
    {
        double p2 = v * v, e2 = fma(v, v, -p2);
        double p3 = p2 * v, e3 = fma(p2, v, -p3) + e2 * v;
        double pt = RK_GELU_K_HI * p3;
        double et = fma(RK_GELU_K_HI, p3, -pt) + RK_GELU_K_HI * e3 + RK_GELU_K_LO * p3;
        double ps = v + pt, bb = ps - v;
        double es = ((v - (ps - bb)) + (pt - bb)) + et;
        double pu = RK_C2_HI * ps;
        double eu = fma(RK_C2_HI, ps, -pu) + RK_C2_HI * es + RK_C2_LO * ps;
        /* beyond |2u| = 1e6 the result is 0 or x whatever lo is (and e^lo = 1 + lo no
         * longer holds); NaN and inf fail the test too */
        *lo = (RK_FABS(pu) <= 1e6) ? eu : 0.0;
        return pu;
    }

    /* gelu tanh: 0.5 x (1 + tanh(u)) = x sigmoid(2u) (1 + tanh(u) would cancel for
     * u -> -inf), and x sigmoid(hi + lo) = x (s + s t lo), t = sigmoid(-hi); below
     * hi = -708 the sigmoid is subnormal, so x e (1 + lo) e with e = exp(hi / 2) rounds
     * once into the result. */
    RK_INLINE double rk_gelu_tanh_precise(double v)
    {
        double lo, u2 = rk_gelu_tanh_u2(v, &lo);
        double s = rk_sigmoid(u2), t = rk_sigmoid(-u2);
        double e = rk_exp(0.5 * u2);
        double tail = ((v * e) * (1.0 + lo)) * e;
        return u2 < -708.0 ? tail : v * (s + (s * t) * lo);
    }

    RK_INLINE double rk_gelu_tanh_grad_precise(double g, double v)
    {
        double lo, u2 = rk_gelu_tanh_u2(v, &lo);
        double du2 = RK_C2_HI * (1.0 + 3.0 * RK_GELU_TANH_C * (v * v));
        double s = rk_sigmoid(u2), t = rk_sigmoid(-u2);
        double ds = (s * t) * lo;
        s = s + ds;
        t = t - ds;
        double main = g * (s + (v * du2) * (s * t));
        double e = rk_exp(0.5 * u2);
        double tail = (((g * (1.0 + (v * du2) * t)) * e) * (1.0 + lo)) * e;
        main = u2 < -708.0 ? tail : main;
        double far = v > 0 ? g : 0.0;
        return RK_FABS(v) >= 1e30 ? far : main;
    }
    """
    double elu_one "rk_elu_one"(double v, double negcoef, double poscoef, double divisor) nogil
    double elu_grad_one "rk_elu_grad_one"(double g, double out, double neghi, double neglo,
                                           double poscoef, double divisor) nogil
    double softplus_one "rk_softplus_one"(double v, double beta, double threshold) nogil
    double softplus_grad_one "rk_softplus_grad_one"(double g, double out, double beta,
                                                     double threshold) nogil
    double silu_one "rk_silu_one"(double v) nogil
    double silu_grad_one "rk_silu_grad_one"(double g, double v) nogil
    double gelu_exact_precise "rk_gelu_exact_precise"(double v) nogil
    double gelu_grad_one "rk_gelu_grad_one"(double g, double v) nogil
    double gelu_tanh_precise "rk_gelu_tanh_precise"(double v) nogil
    double gelu_tanh_grad_precise "rk_gelu_tanh_grad_precise"(double g, double v) nogil
    float elu_onef "rk_elu_onef"(float v, float negcoef, float poscoef, float divisor) nogil
    float softplus_onef "rk_softplus_onef"(float v, float beta, float threshold) nogil
    float softplus_grad_onef "rk_softplus_grad_onef"(float g, float out, float beta,
                                                     double threshold) nogil


# ---- elu family: y = poscoef * x where x > 0, else negcoef * expm1(x / divisor) ----
# params: (negcoef, poscoef, divisor, negcoef_lo). elu: (alpha, 1, 1, 0); selu:
# (alpha * scale, scale, 1, its rounding error); celu: (alpha, 1, alpha, 0).
cdef void elu_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                     real* y, uint8_t* mask_out, Py_ssize_t n,
                     const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef double negcoef = params[0], poscoef = params[1], divisor = params[2]
    cdef float nf = <float>negcoef, pf = <float>poscoef, df = <float>divisor
    if real is float:
        for i in range(n):
            y[i] = elu_onef(a[i], nf, pf, df)
    else:
        for i in range(n):
            y[i] = elu_one(a[i], negcoef, poscoef, divisor)


# Backward from the output y (a = grad, b = y); needs negcoef >= 0 (checked by the entry
# points): then y <= 0 exactly where x <= 0.
cdef void elu_grad_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                          real* y, uint8_t* mask_out, Py_ssize_t n,
                          const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef double neghi = params[0], poscoef = params[1], divisor = params[2], neglo = params[3]
    for i in range(n):
        y[i] = <real>elu_grad_one(a[i], b[i], neghi, neglo, poscoef, divisor)


# ---- softplus: log(1 + exp(beta x)) / beta, and x where beta * x > threshold ----
cdef void softplus_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                          real* y, uint8_t* mask_out, Py_ssize_t n,
                          const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef double beta = params[0], threshold = params[1]
    cdef float bf = <float>beta
    if real is float and <double>bf == beta:
        for i in range(n):
            y[i] = softplus_onef(a[i], bf, threshold)
    else:            # float64, or a beta that float32 cannot hold: the double form
        for i in range(n):
            y[i] = <real>softplus_one(a[i], beta, threshold)


cdef void softplus_grad_kernel(const real* a, const real* b, const real* c,
                               const uint8_t* mask_in, real* y, uint8_t* mask_out,
                               Py_ssize_t n, const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef double beta = params[0], threshold = params[1]
    cdef float bf = <float>beta
    if real is float and <double>bf == beta:
        for i in range(n):
            y[i] = softplus_grad_onef(a[i], b[i], bf, threshold)
    else:
        for i in range(n):
            y[i] = <real>softplus_grad_one(a[i], b[i], beta, threshold)


# ---- silu: x * sigmoid(x) ----
cdef void silu_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                      real* y, uint8_t* mask_out, Py_ssize_t n,
                      const double* params) noexcept nogil:
    cdef Py_ssize_t i
    if real is float:
        for i in range(n):
            y[i] = rk_siluf(a[i])
    else:
        for i in range(n):
            y[i] = silu_one(a[i])


cdef void silu_grad_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                           real* y, uint8_t* mask_out, Py_ssize_t n,
                           const double* params) noexcept nogil:
    cdef Py_ssize_t i
    if real is float:
        for i in range(n):
            y[i] = rk_silu_gradf(a[i], b[i])
    else:
        for i in range(n):
            y[i] = silu_grad_one(a[i], b[i])


# ---- gelu: params[0] = 0 exact (erfc), 1 tanh approximation ----
cdef void gelu_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                      real* y, uint8_t* mask_out, Py_ssize_t n,
                      const double* params) noexcept nogil:
    cdef Py_ssize_t i
    if real is float:
        if params[0] != 0:
            for i in range(n):
                y[i] = rk_gelu_tanhf(a[i])
        else:
            for i in range(n):
                y[i] = rk_geluf(a[i])
    elif params[0] != 0:
        for i in range(n):
            y[i] = gelu_tanh_precise(a[i])
    else:
        for i in range(n):
            y[i] = gelu_exact_precise(a[i])


cdef void gelu_grad_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                           real* y, uint8_t* mask_out, Py_ssize_t n,
                           const double* params) noexcept nogil:
    cdef Py_ssize_t i
    if real is float:
        if params[0] == 0:
            for i in range(n):
                y[i] = rk_gelu_gradf(a[i], b[i])
        else:
            for i in range(n):
                y[i] = rk_gelu_tanh_gradf(a[i], b[i])
    elif params[0] == 0:
        for i in range(n):
            y[i] = gelu_grad_one(a[i], b[i])
    else:
        for i in range(n):
            y[i] = gelu_tanh_grad_precise(a[i], b[i])
