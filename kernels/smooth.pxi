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
    float rk_softplus_corrf(float, float)
    float rk_one_minus_expf(float, float)
    float rk_siluf(float)
    float rkf__silu_fast(float)
    int rkf__any_below_or_nan(const float*, Py_ssize_t, float)
    float rkf__silu_grad_fast(float, float)
    int rkf__any_abs_not_within(const float*, Py_ssize_t, float)
    const float RKF__SILU_GRAD_FAST_MAX
    const float RKF__SILU_FAST_MIN
    float rk_geluf(float)
    float rk_gelu_tanhf(float)
    float rkf__gelu_tanh_fast(float)
    const float RKF__GELU_TANH_FAST_MIN
    float rk_silu_gradf(float, float)
    float rk_gelu_gradf(float, float)
    float rk_gelu_tanh_gradf(float, float)

cdef extern from "vmath.h" nogil:
    double rk_exp(double)
    double rk_expm1(double)
    double fma(double, double, double)

# Constants and per-element functions are C (RK_INLINE = always_inline): Cython's
# `cdef inline` is a plain `static inline`, which gcc stops inlining once this large module
# exhausts its inlining budget, and a loop with a call in it does not vectorise (measured:
# softplus and gelu float32 at n = 10**6 took 37 ms and 40 ms that way, instead of ~4 ms).
# Constants are macros, not module globals: with -fno-strict-aliasing a store through the
# output pointer may alias a global, which also blocks vectorisation.
#
# The float32 kernels call vmathf.h (see its header for each function's error and
# speed): silu, softplus, gelu(tanh) (its argument 2u as a float pair) and softplus's
# gradient (1 - e^-z) run in float (16 lanes per AVX-512 vector); exact gelu and the
# gradients of silu, gelu and gelu(tanh), which cancel near their roots, take the float
# argument to double, evaluate one quotient around one lean double exponential and round
# once, with a polynomial in (x - root) next to the root. That replaced float-float pairs
# (one core, ns per element, silu' / gelu' / gelu(tanh)': 1.69 / 4.45 / 2.17 -> 1.25-1.4 /
# 1.69 / 1.36; softplus' 1.18 -> 0.65-0.7 in float). The elu family's backward runs in
# float too (rk_elu_grad_onef below). Float64 needs more care in three places, each noted
# below: the rounding of an argument amplified by exp in a tail (gelu's x^2), a constant
# that is not a double (selu), and results that are subnormal (silu's and gelu's tails);
# besides, the float64 silu and gelu gradients cancel near their roots and take double-double
# terms and, for gelu, a fitted polynomial there (rk__xsig_grad, rk_gelu_grad_precise).
cdef extern from *:
    """
    #define RK_INV_SQRT_2PI 0.39894228040143267794
    #define RK_DBL_MAX 1.7976931348623157e308

    /* elu family: y = poscoef x where x > 0, else negcoef expm1(x / divisor); x <= 0 takes
     * the exponential branch, as PyTorch (-0.0 -> -0.0; NaN takes the other branch).
     * neg (a constant at each call site): divisor > 0, so x / divisor <= 0 wherever the
     * branch is taken and rk_expm1_neg (the same bits at half the cost) serves; celu with
     * alpha < 0 needs rk_expm1 on positive arguments. */
    RK_INLINE double rk_elu_one(double v, double negcoef, double poscoef, double divisor,
                                int neg)
    {
        double z = v / divisor;
        double e = negcoef * (neg ? rk_expm1_neg(z) : rk_expm1(z));
        return v <= 0 ? e : poscoef * v;
    }

    /* Gradient from the output: (y + negcoef) * mul / divisor where y <= 0. negcoef is
     * passed as hi + lo (selu's alpha * scale is not a double): y + hi is exact where y
     * nears -hi (Sterbenz), so the lo part survives the cancellation. The callers pass
     * literal 1.0 for mul or divisor, which the compiler folds away (x * 1.0 and x / 1.0
     * are exact): elu and selu divide by nothing, celu in float32 multiplies by the double
     * reciprocal (relative error 2^-53 before the float rounding) and in float64 divides. */
    RK_INLINE double rk_elu_grad_one(double g, double out, double neghi, double neglo,
                                     double poscoef, double mul, double divisor)
    {
        double d = (((out + neghi) + neglo) * mul) / divisor;
        return out <= 0 ? g * d : g * poscoef;
    }

    /* The same in float32 arithmetic (16 lanes, no conversions): negcoef as the float pair
     * hi + lo, 1 / divisor and poscoef rounded to float. out + hi is exact where it
     * cancels (Sterbenz), so the result takes the roundings of the sum, of the product by
     * mul (none for a literal 1) and of the products by g and by the rounded coefficients:
     * 1.25-2.28 ulp measured against mpmath (tests/test_smooth_accuracy.py; 2.28 for celu
     * with alpha = 0.3, whose 1 / alpha rounds), against 0.50 for the double form, in a
     * third of its time (float32 elu backward, n = 10^5, one core: 30 -> 12 us). */
    RK_INLINE float rk_elu_grad_onef(float g, float out, float hi, float lo, float poscoef,
                                     float mul)
    {
        float d = ((out + hi) + lo) * mul;
        return out <= 0 ? g * d : g * poscoef;
    }

    /* softplus as max(z, 0) + log1p(exp(-|z|)), z = beta x: exp never overflows, and for
     * z -> -inf the result is exp(z) itself, rounded once into the subnormals. The rounding
     * error of z (zero when beta = 1) is recovered with an FMA and applied to first order
     * (softplus'(z) = sigmoid(z)); for an infinite z it is 0, not inf - inf. The sigmoid
     * scales a term below 2^-52 of the result, so it is formed from the same e = exp(-|z|)
     * with one division, not a second exponential (as vmathf.h's rk_softplus_corrf):
     * float64 softplus, one core, n = 10^6, 8.1 -> 5.x ns per element. */
    RK_INLINE double rk_softplus_one(double v, double beta, double threshold, int unit)
    {
        if (unit) {     /* beta = 1 (a constant at the call): zlo = 0, no sigmoid, no division */
            double sp = (v > 0 ? v : 0.0) + rk__log1p_core(rk_exp(-RK_FABS(v)));
            return v > threshold ? v : sp;
        }
        double z = beta * v;
        double zlo = fma(beta, v, -z);
        zlo = RK_FABS(z) <= RK_DBL_MAX ? zlo : 0.0;
        double e = rk_exp(-RK_FABS(z));
        double sg = rk__sel(z > 0, 1.0, e) / (1.0 + e);
        double sp = ((z > 0 ? z : 0.0) + rk__log1p_core(e)) + sg * zlo;   /* e in [0, 1] */
        return z > threshold ? v : sp / beta;
    }

    /* Gradient from the output: exp(beta y) = 1 + exp(beta x), so sigmoid(beta x) =
     * -expm1(-beta y) (accurate for y -> 0, where it is ~beta y); where beta y > threshold
     * the forward was the identity and the gradient passes. nonneg (a constant at each
     * call): the caller knows beta y >= 0, which the forward's outputs give for beta > 0,
     * so expm1's argument is <= 0 and rk_expm1_neg gives its bits at about 60% of the cost
     * (softplus_grad_kernel). */
    RK_INLINE double rk_softplus_grad_one(double g, double out, double beta, double threshold,
                                          int nonneg)
    {
        double z = beta * out;
        double d = nonneg ? -rk_expm1_neg(-z) : -rk_expm1(-z);
        return z > threshold ? g : g * d;
    }

    /* v sigmoid(a + alo) = v / (1 + e^-(a + alo)), a + alo an argument carried as a pair
     * (silu: a = v, alo = 0; gelu tanh: 2u in double-double), as vmathf.h's rkf__x_sigmoid in
     * double: e^-(a + alo) = 2^n (1 + rr) from rk__exp_core is never rounded, and with
     * k = max(n, 0)
     *     v / (1 + e^-a) = (v / D) 2^-k,   D = (2^-k + 2^(n-k)) + rr 2^(n-k),
     * where 2^-k + 2^(n-k) is exact (one term is 1, the other 2^-|n| with |n| <= 53 where it
     * matters; 2^-k is capped at 2^-120) and rr 2^(n-k) too: D is rounded once, v / D once,
     * and 2^-k, applied last as 2^-min(k, 1000) 2^(min(k, 1000) - k), rounds once into the
     * subnormals. One exponential and one division, where v sigmoid(a) with a separate
     * subnormal tail took two (silu) or three (gelu tanh) exponentials: float64, one core,
     * n = 10^6, silu 4.8 -> 1.9 and gelu tanh 6.6 -> 3.x ns per element. -a is clamped to
     * [-708, 760] (alo dropped where it was): beyond 708 D = 1; below -760 the result is
     * below 2^-1075 |v| / 760 and v * 0 is returned (-0.0, or NaN for -inf as the reference). */
    RK_INLINE double rk__x_sigmoid(double v, double a, double alo)
    {
        double na = rk__sel(a > 708.0, -708.0, rk__sel(a < -760.0, 760.0, -a));
        double lo = rk__sel(na == -a, 0.0 - alo, 0.0);
        double n, rh, corr;
        rk__exp_core(na, lo, &n, &rh, &corr);
        double rr = rh + corr;
        double k = rk__sel(n > 0.0, n, 0.0);
        double p2 = rk__pow2i(n - k);
        double D = (rk__pow2i(-rk__sel(k > 120.0, 120.0, k)) + p2) + rr * p2;
        double k1 = rk__sel(k > 1000.0, 1000.0, k);
        double vq = rk__sel(a < -760.0, v * 0.0, v);
        return ((vq / D) * rk__pow2i(-k1)) * rk__pow2i(k1 - k);
    }

    RK_INLINE double rk_silu_one(double v)
    {
        return rk__x_sigmoid(v, v, 0.0);
    }

    /* rk__x_sigmoid for a >= -700 (NaN and +inf included; other a give an unspecified
     * value) and results that are normal or zero, as vmathf.h's rkf__x_sigmoid_fast: there
     * e^-(a + alo) = (1 + rr) 2^n with t = 2^n <= 2^1010, and D = (1 + t) + rr t is 2^k
     * times rk__x_sigmoid's D, so v / D is its result without the rescaling: the same bits
     * (silu: checked on 2^31 sampled doubles >= -700; gelu(tanh): 2^28 doubles >= -20, where
     * 2u >= -604 and the result is at least 1e-261, and the special values), one core,
     * n = 2^16, uniform [-10, 10], ns per element: silu 1.58 -> 1.07 (Xeon); gelu(tanh),
     * uniform [-20, 20], 4.39 -> 3.15 (AMD EPYC Zen 3, AVX2). */
    RK_INLINE double rk__x_sigmoid_fast(double v, double a, double alo)
    {
        double na = rk__sel(a > 708.0, -708.0, -a);
        double lo = rk__sel(na == -a, 0.0 - alo, 0.0);
        double n, rh, corr;
        rk__exp_core(na, lo, &n, &rh, &corr);
        double t = rk__pow2i(n);
        return v / ((1.0 + t) + (rh + corr) * t);
    }

    #define RK__SILU_FAST_MIN (-700.0)

    RK_INLINE double rk__silu_fast(double v)
    {
        return rk__x_sigmoid_fast(v, v, 0.0);
    }

    /* Whether any p[i] of p[0..n) is NaN or below lim (vmathf.h rkf__any_below_or_nan). */
    RK_INLINE int rk__any_below_or_nan(const double *p, ptrdiff_t n, double lim)
    {
        int r = 0;
        for (ptrdiff_t i = 0; i < n; i++)
            r |= !(p[i] >= lim);
        return r;
    }

    #define RK_INV_SQRT_2PI_LO (-2.49232720227773e-17)

    /* (ah + al) (bh + bl) as a pair: the product, its FMA error and the cross terms */
    RK_INLINE void rk__dd_mul(double ah, double al, double bh, double bl, double *p, double *pl)
    {
        *p = ah * bh;
        *pl = fma(ah, bh, -*p) + (ah * bl + al * bh);
    }

    /* g(a) = phi(a) / Phi(-a) - a for a in [0.5, 39] (the tail of Laplace's continued
     * fraction for Phi(-a) / phi(a)): a rational of degree 9/10 in a, Loeb-Lawson fit at 50
     * digits, 2^-55.3 relative; 0.66 at a = 0.5, ~1/a for large a. */
    RK_INLINE double rk__gelu_g(double a)
    {
        static const double GP[10] = {1.0271483134728662e-06, 2.7701186426809633e-05,
            0.0003761847136534995, 0.0033005994349274144, 0.020412539242647822,
            0.091906126171255, 0.301419425810712, 0.6980537452663613, 1.0482004616386018,
            0.7978845607988319};
        static const double GQ[11] = {1.0271483134767213e-06, 2.770118642593452e-05,
            0.00037823901037076885, 0.003356001802131912, 0.021158746020980074,
            0.09834111044576042, 0.340030712289403, 0.8632226154443514, 1.5439859279043868,
            1.7691540337635667, 1.0};
        return rkd__horner(a, GP, 10) / rkd__horner(a, GQ, 11);
    }

    /* For a in [0.5, 39]: e^(-a^2/2) = (1 + rh + corr) s1 s2 (a^2 = h + hl split exactly,
     * s2 to be applied last) and 1 / (a + g(a)) = r (1 + e), a + g a Fast2Sum pair and r
     * Newton-corrected: the parts gelu and gelu' share. */
    RK_INLINE void rk__gelu_parts(double a, double *h, double *hl, double *g, double *rh,
                                  double *corr, double *s1, double *s2, double *r, double *e)
    {
        double n;
        *h = a * a;
        *hl = fma(a, a, -*h);
        rk__exp_core(-0.5 * *h, -0.5 * *hl, &n, rh, corr);
        rk__split_pow2(n, s1, s2);
        *g = rk__gelu_g(a);
        double dh = a + *g, dl = *g - (dh - a);
        *r = 1.0 / dh;
        *e = fma(-dh, *r, 1.0) - dl * *r;
    }

    /* (y0 + y0l) (1 + rh + corr) s1 s2: one rounding before the scaling, s2 last */
    RK_INLINE double rk__gelu_scaled(double y0, double y0l, double rh, double corr, double s1,
                                     double s2)
    {
        double p = rh + corr;
        return ((y0 + fma(y0, rh, fma(y0, corr, y0l * (1.0 + p)))) * s1) * s2;
    }

    /* gelu exact, float64, in two pieces, each a leading term plus a smaller correction so
     * that the fits' own rounding is damped:
     *  - |x| < 0.5: gelu = x Phi(x) = 0.5 x + x^2 S(x^2), S(u) = erf(sqrt(u / 2)) / (2
     *    sqrt(u)), a degree-8 polynomial in u = x^2 (mpmath Chebyshev fit on [0, 1/4],
     *    2^-66.7 relative) whose terms fall off, so it rounds to ~0.6 ulp; x^2 = h + hl is
     *    exact and 0.5 x + h S is one FMA. At x = -0.5 the two terms cancel by a factor 0.6.
     *  - |x| >= 0.5: Phi(-a) = phi(a) / (a + g(a)) (a = |x|; Laplace's continued fraction,
     *    g(a) = phi(a) / Phi(-a) - a, from 0.66 at a = 0.5 down to ~1/a), g a rational of
     *    degree 9/10 in a (Loeb-Lawson fit at 50 digits on [0.5, 39], 2^-55.3 relative). g's
     *    error reaches the result scaled by g / (a + g) <= 0.57, and less than 1/a^2 in the
     *    tail, where a single rational for Phi(-a) e^(a^2/2) had lost 2-6.5 ulp to its own
     *    Horner rounding. a + g is a Fast2Sum pair, 1 / (a + g) a Newton-corrected pair,
     *    x / sqrt(2 pi) a pair, and e^(-a^2/2) = (1 + p) 2^n comes from rk__exp_core with a^2
     *    split exactly (rounding a^2 would cost up to 1,200 ulp near underflow): for x < 0
     *    only the last addition rounds before the scaling by 2^n, applied in two halves, the
     *    second last (a subnormal result, x in [-38.6, -37.6], rounds twice at most, below
     *    one ulp of 2^-1074). For x > 0, gelu = x - x Phi(-a) with Phi(-a) <= 0.31 in plain
     *    double: its error is damped by Phi(-a) / Phi(a) <= 0.45.
     * Beyond a = 39 Phi(-a) < 2^-1100: x for x > 0, x * 0 for x < 0 (-0.0; NaN for -inf, as
     * the reference 0.5 x erfc(-x / sqrt 2)). A zero result keeps x's sign; NaN propagates.
     * Max error 1.46 ulp on 16,000 points against mpmath, from 2.13 with the erfc form it
     * replaces (four selected rationals for erfc, a double-double exponential for the
     * correction of -x / sqrt 2's rounding and an asymptotic series below -26), and 2.5x
     * faster: one core, uniform [-10, 10], 8.9 -> 3.55 ns per element. */
    RK_INLINE double rk_gelu_exact_precise(double v)
    {
        static const double S[9] = {2.1500886917598997e-09, -4.116937563407896e-08,
            6.659549371017491e-07, -9.444654141793272e-06, 0.00011543468743320746,
            -0.001187328215471571, 0.0099735570100356, -0.06649038006690544,
            0.3989422804014327};
        double a = RK_FABS(v);
        /* |x| < 0.5 */
        double h = v * v, hl = fma(v, v, -h);
        double s = rkd__horner(h, S, 9);
        double small = fma(h, s, 0.5 * v) + hl * s;
        small = rk_select(small == 0.0, v * 0.0, small);
        /* |x| >= 0.5 */
        double ac = rk_select(a > 39.0, 39.0, rk_select(a < 0.5, 0.5, a));
        double hc, hcl, g, rh, corr, s1, s2, r, e;
        rk__gelu_parts(ac, &hc, &hcl, &g, &rh, &corr, &s1, &s2, &r, &e);
        double m = v * RK_INV_SQRT_2PI;
        double ml = fma(v, RK_INV_SQRT_2PI, -m) + v * RK_INV_SQRT_2PI_LO;
        double y0 = m * r, y0l = fma(m, r, -y0) + (ml * r + y0 * e);
        double neg = rk__gelu_scaled(y0, y0l, rh, corr, s1, s2);
        double T = (((RK_INV_SQRT_2PI * (1.0 + (rh + corr))) * r) * s1) * s2;
        double big = rk_select(v < 0.0, neg, fma(-v, T, v));
        big = rk_select(a > 39.0, rk_select(v > 0.0, v, v * 0.0), big);
        return rk_select(a < 0.5, small, big);
    }

    /* gelu' = Phi(x) + x phi(x) for float64, in three parts (the forward's pieces,
     * rk_gelu_exact_precise):
     *  - around the root x0 = -0.75179 (x in [-1.0, -0.4]): Phi and x phi cancel, without
     *    bound at x0: gelu' = d Q(d), d = x - x0 (x0 as hi + lo, the first subtraction exact
     *    by Sterbenz near x0), Q a degree-17 polynomial fitted on [-1.3, -0.25] (mpmath, 60
     *    digits, least squares at Chebyshev nodes, relative error with the coefficients
     *    rounded < 0.4 ulp, the leading one, gelu''(x0), as hi + lo). Measured in bins of
     *    [-1.35, -0.2] (4,001 points), the polynomial errs up to 1.1-1.9 ulp on [-1.0, -0.4]
     *    and 1.3-2.2 beyond, the forms below 1.0-1.4 beyond and up to 3-225 within;
     *  - |x| < 0.5 otherwise: 0.5 + x U(x^2), U a degree-8 polynomial in x^2 (mpmath
     *    Chebyshev fit on [0, 1/4], 2^-63.3 relative); at x = -0.4 the terms cancel by 1.5;
     *  - |x| >= 0.5 otherwise, with a = |x|, phi = e^(-a^2/2) / sqrt(2 pi) and
     *    Phi(-a) = phi / (a + g(a)) as in the forward:
     *      x >= 0.5:   1 + phi (a - 1 / (a + g)), the second term below 0.15 of the first;
     *      x <= -1.0:  phi (1 - a^2 - a g) / (a + g), with 1 - a^2 - a g summed as a pair
     *                  from a^2 = h + hl and a g = product + FMA error (g's own error reaches
     *                  the result scaled by a g / |1 - a^2 - a g|, 0.6 at x = -1), and the
     *                  rest carried as pairs to one rounding before the last power of two.
     * It replaces Phi = 0.5 erfc(-x / sqrt 2) corrected for the rounding of its argument plus
     * x phi in double-double, with an asymptotic series below -26 (four selected rationals
     * for erfc and a double-double exponential). gelu'(+-inf) is NaN, as before. */
    #define RK_GELU_X0_HI (-0.7517915246935645)
    #define RK_GELU_X0_LO 1.4956759177009883e-17
    #define RK_GELU_Q0_HI 0.4314939923140469
    #define RK_GELU_Q0_LO 2.7308688141129613e-17
    RK_INLINE double rk_gelu_grad_precise(double g, double v)
    {
        static const double U[9] = {3.846195605077609e-08, -6.584853049346171e-07,
            9.323283900346842e-06, -0.00011333583295789633, 0.00115434687252034,
            -0.009498625723666847, 0.0598413420602106, -0.26596152026762176,
            0.7978845608028654};
        double x = rk_select(v > 39.0, 39.0, rk_select(v < -39.0, -39.0, v));
        double a = RK_FABS(x);
        /* |x| < 0.5 */
        double small = g * fma(x, rkd__horner(x * x, U, 9), 0.5);
        /* near the root */
        double d = (x - RK_GELU_X0_HI) - RK_GELU_X0_LO;
        double q = -2.1777305476935804e-09;
        q = q * d - 3.3427170839783967e-08;
        q = q * d - 6.646613619694583e-10;
        q = q * d + 5.693564980667324e-07;
        q = q * d + 4.3241311031596224e-07;
        q = q * d - 7.748236551635428e-06;
        q = q * d - 1.1214276629909324e-05;
        q = q * d + 8.615944673128137e-05;
        q = q * d + 0.00018633973218674946;
        q = q * d - 0.0007448268360396969;
        q = q * d - 0.0022395380669965994;
        q = q * d + 0.00453922837900497;
        q = q * d + 0.01942167983814538;
        q = q * d - 0.014771522148241676;
        q = q * d - 0.11400823329722092;
        q = q * d - 0.018199676398671108;
        q = q * d + 0.388284982990552;
        q = RK_GELU_Q0_HI + (RK_GELU_Q0_LO + q * d);
        double root = g * (d * q);
        /* |x| >= 0.5 */
        double ac = rk_select(a < 0.5, 0.5, a);
        double hc, hcl, gf, rh, corr, s1, s2, r, e;
        rk__gelu_parts(ac, &hc, &hcl, &gf, &rh, &corr, &s1, &s2, &r, &e);
        double phi = ((RK_INV_SQRT_2PI * (1.0 + (rh + corr))) * s1) * s2;
        double pos = fma(g, phi * (ac - (r + r * e)), g);
        double n1 = 1.0 - hc, nb = n1 - 1.0;                   /* 1 - a^2 - a g as nh + nl */
        double n1l = (1.0 - (n1 - nb)) + (-hc - nb);
        double agh = ac * gf, agl = fma(ac, gf, -agh);
        double nh = n1 - agh, nbb = nh - n1;
        double nl = ((n1 - (nh - nbb)) + (-agh - nbb)) + ((n1l - hcl) - agl);
        double m = g * RK_INV_SQRT_2PI;
        double ml = fma(g, RK_INV_SQRT_2PI, -m) + g * RK_INV_SQRT_2PI_LO;
        double z, zl;
        rk__dd_mul(nh, nl, m, ml, &z, &zl);
        double y0 = z * r, y0l = fma(z, r, -y0) + (zl * r + y0 * e);
        double neg = rk__gelu_scaled(y0, y0l, rh, corr, s1, s2);
        double big = rk_select(x < 0.0, neg, pos);
        double res = rk_select((x >= -1.0) & (x <= -0.4), root,
                               rk_select(a < 0.5, small, big));
        return rk_select(RK_FABS(v) == INFINITY, NAN, res);
    }

    /* float32 forms (vmathf.h). elu: the coefficients rounded to float, x <= 0 takes the
     * exponential branch as above. */
    RK_INLINE float rk_elu_onef(float v, float negcoef, float poscoef, float divisor, int neg)
    {
        float z = v / divisor;
        float e = negcoef * (neg ? rk_expm1f_neg(z) : rk_expm1f(z));
        return v <= 0 ? e : poscoef * v;
    }

    /* softplus in float32 for a beta exact in float32: z = beta x carried as z + zlo (fmaf),
     * corrected to first order as in the double form. */
    RK_INLINE float rk_softplus_onef(float v, float beta, float threshold, int unit)
    {
        if (unit)       /* beta = 1, as in the double form */
            return v > threshold ? v : rk_softplusf(v);
        float z = beta * v;
        float zlo = fmaf(beta, v, -z);
        zlo = RK_FABS(z) <= 3.4028234663852886e38f ? zlo : 0.0f;
        float sp = rk_softplus_corrf(z, zlo);
        return z > threshold ? v : sp / beta;
    }

    /* softplus gradient in float32 for a beta exact in float32: 1 - exp(-z) of the exact
     * z = beta y, carried as z + zlo (fmaf). The threshold test decides whether the forward
     * was the identity, so it is made on the exact product, as the double form makes it:
     * in float where the threshold is a float (fthr, a literal at each call: then
     * z = fl(beta y) > t or z == t with zlo > 0, by monotonic rounding; thresholds near 0
     * are left to double, where zlo can underflow), else in double (two conversions and
     * a double compare per element, measurably slower). unit (a literal at each call, with
     * fthr): beta = 1, where z = y is exact (zlo = 0, and rk_one_minus_expf drops zlo where
     * z is infinite or NaN, as it drops fmaf's NaN there), so the same bits without the
     * product, its error term and the tie test: one core, n = 2^16, AVX2, 1.06 -> 0.94 ns
     * per element (Numba's softplus_grad_unit_f32, one thread, n = 10^6: 1.05 -> 0.94). */
    RK_INLINE float rk_softplus_grad_onef(float g, float out, float beta, float tf,
                                          double threshold, int fthr, int unit)
    {
        if (unit)
            return out > tf ? g : g * rk_one_minus_expf(out, 0.0f);
        float z = beta * out;
        float zlo = fmaf(beta, out, -z);
        float d = rk_one_minus_expf(z, zlo);
        int above = fthr ? (z > tf) | ((z == tf) & (zlo > 0.0f))
                         : (double)beta * (double)out > threshold;
        return above ? g : g * d;
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
     * u -> -inf), with 2u = hi + lo entering the exponential as a pair (rk__x_sigmoid). */
    RK_INLINE double rk_gelu_tanh_precise(double v)
    {
        double lo, u2 = rk_gelu_tanh_u2(v, &lo);
        return rk__x_sigmoid(v, u2, lo);
    }

    /* rk_gelu_tanh_precise for v >= -20 (NaN and +inf included): rk__x_sigmoid_fast, the
     * same bits (see there). gelu_kernel takes it for blocks with no v below -20 or NaN. */
    #define RK__GELU_TANH_FAST_MIN (-20.0)

    RK_INLINE double rk__gelu_tanh_fast(double v)
    {
        double lo, u2 = rk_gelu_tanh_u2(v, &lo);
        return rk__x_sigmoid_fast(v, u2, lo);
    }

    /* rk__xsig_grad from E = E_h + E_l and its unscaled pair (eh, el) = E / s2 */
    RK_INLINE double rk__xsig_grad_tail(double g, int neg, double eh, double el, double E,
                                        double El, double mh, double ml)
    {
        /* (1 + E)^2 from 1 + E = Dh + Dl (Fast2Sum: E <= 1) */
        double Dh = 1.0 + E;
        double Dl = ((1.0 - Dh) + E) + El;
        double den = fma(Dh, Dh, 2.0 * Dh * Dl);
        /* 1 + m = oh + ol (TwoSum) */
        double oh = 1.0 + mh, ob = oh - 1.0;
        double ol = ((1.0 - (oh - ob)) + (mh - ob)) + ml;
        /* v < 0: (1 + m + E) (eh + el), the sum TwoSum'd, the product rounded once */
        double kn = oh + E, kb = kn - oh;
        double knl = ((oh - (kn - kb)) + (E - kb)) + (ol + El);
        double fneg = fma(kn, eh, knl * eh + kn * el);
        /* v >= 0: 1 + E (1 + m) */
        double fpos = fma(E, oh, 1.0 + (E * ol + El * oh));
        return (g * rk_select(neg, fneg, fpos)) / den;
    }

    /* g * d/dx [x sigmoid(v)] for float64 (silu: v = x; gelu tanh: v = 2u), from
     * E = exp(-|v + vlo|) and m = x v' = mh + ml (double-double), as one quotient
     *     v < 0:  g E (1 + m + E) / (1 + E)^2,       v >= 0:  g (1 + E (1 + m)) / (1 + E)^2.
     * The textbook s + x v' s (1 - s) cancels wherever x v' (1 - s) is near -1: at the
     * derivative's root (silu' at x = -1.278, tanh-gelu' at -0.752) and, more mildly, over
     * the whole negative axis; with each factor rounded once it measured up to 8 ulp at
     * x = -1.6 and 5 ulp at x = -4, and 20-25 ulp at 1/32 from the root. Here the sum that
     * cancels, 1 + m + E, is formed exactly from 1 + m (TwoSum), m's low part and E's
     * double-double (rk__exp_dd, relative error < 2^-55, ~2^-59 near the roots) and rounded
     * once; E's low part is folded into the product with it, (1 + E)^2 is squared from its
     * double-double with one FMA, and one division ends it: five roundings of ~0.5 ulp
     * each (2.40 ulp for silu', 2.60 for tanh-gelu' measured in the accuracy tests), plus
     * E's own error scaled by E / (1 + m + E), which only matters within ~2^-8 of the root.
     * This replaced a double-double evaluation of every product (0.68 and 0.64 ulp; one
     * core, n = 10**5, ns per element in two runs: silu' 3.9 / 5.1 -> 3.1 / 4.0,
     * tanh-gelu' 5.4 / 6.9 -> 4.2 / 5.9): the contract is 4 ulp, and the time went to
     * the double-double products.
     * For v < 0 the exponential's last power-of-two factor s2 is applied after the
     * quotient, so results in the subnormals (v < -708) round once more at most. The
     * caller clamps x so that |v| <= 780 or the result is 0 or g anyway (E is clamped at
     * exp(-780)). */
    RK_INLINE double rk__xsig_grad(double g, double v, double vlo, double mh, double ml)
    {
        int neg = v < 0.0;
        double av = RK_FABS(v);
        int clamp = av > 780.0;
        double a = rk_select(clamp, -780.0, -av);
        double alo = rk_select(clamp, 0.0, rk_select(neg, vlo, -vlo));
        double eh, el, s2;
        rk__exp_dd(a, alo, &eh, &el, &s2);
        double q = rk__xsig_grad_tail(g, neg, eh, el, eh * s2, el * s2, mh, ml);
        return q * rk_select(neg, s2, 1.0);
    }

    /* rk__xsig_grad for |v| <= 600 (NaN included): e^-|v| >= 2^-866 is a normal
     * double-double (rk__exp_dd_normal), so the clamp and the final scaling drop out; the
     * same bits (2^27 sampled (g, x) each for silu' with |x| <= 600 and tanh-gelu' with |x| <=
     * 19, the roots' neighbourhoods included, at the AVX2 and baseline levels). One core,
     * n = 2^16, uniform [-10, 10], ns per element (AMD EPYC Zen 3): silu' 4.68 -> 3.69,
     * tanh-gelu' 8.02 -> 6.43. */
    RK_INLINE double rk__xsig_grad_fast(double g, double v, double vlo, double mh, double ml)
    {
        int neg = v < 0.0;
        double eh, el;
        rk__exp_dd_normal(-RK_FABS(v), rk_select(neg, vlo, -vlo), &eh, &el);
        return rk__xsig_grad_tail(g, neg, eh, el, eh, el, mh, ml);
    }

    /* silu' for float64: x is clamped to [-780, 780] (beyond, the result rounds to -0.0 g
     * and g); +inf keeps the NaN of PyTorch's s (1 + x (1 - s)). A NaN x is returned as it
     * is: through the arithmetic its sign bit depended on the operand order, which differs
     * between the vectorised loop and its scalar remainder (so on the element's position). */
    RK_INLINE double rk_silu_grad_precise(double g, double v)
    {
        double x = rk_select(v > 780.0, 780.0, rk_select(v < -780.0, -780.0, v));
        double r = rk__xsig_grad(g, x, 0.0, x, 0.0);
        r = rk_select(v == INFINITY, NAN, r);
        return rk_select(v != v, v, r);
    }

    /* rk_silu_grad_precise for |v| <= 600 (rk__xsig_grad_fast); silu_grad_kernel takes it
     * for blocks with no |x| above 600 and no NaN. */
    #define RK__SILU_GRAD_FAST_MAX 600.0

    RK_INLINE double rk__silu_grad_fast(double g, double v)
    {
        return rk__xsig_grad_fast(g, v, 0.0, v, 0.0);
    }

    /* tanh-gelu's m = x (2u)' = x C2 (1 + 3k x^2) in double-double (C2 = 2 sqrt(2/pi),
     * 3k = 0.134145, each as hi + lo): returns mh, sets ml. */
    #define RK_GELU_K3_HI 0.134145
    #define RK_GELU_K3_LO 1.3526957332032908e-17
    RK_INLINE double rk__gelu_tanh_m(double x, double *ml)
    {
        double p2 = x * x, e2 = fma(x, x, -p2);
        double q = RK_GELU_K3_HI * p2;
        double qe = fma(RK_GELU_K3_HI, p2, -q) + (RK_GELU_K3_HI * e2 + RK_GELU_K3_LO * p2);
        double ah = 1.0 + q, ab = ah - 1.0;
        double al = ((1.0 - (ah - ab)) + (q - ab)) + qe;
        double xa = x * ah;
        double xal = fma(x, ah, -xa) + x * al;
        double mh = RK_C2_HI * xa;
        *ml = fma(RK_C2_HI, xa, -mh) + (RK_C2_HI * xal + RK_C2_LO * xa);
        return mh;
    }

    /* tanh-gelu' for float64: x is clamped to [-25, 25], beyond which the result rounds
     * to -0.0 g and g (|2u| > 780 there), which also keeps x^3 finite; -inf keeps the +0.0
     * of the former evaluation. */
    RK_INLINE double rk_gelu_tanh_grad_precise(double g, double v)
    {
        double x = rk_select(v > 25.0, 25.0, rk_select(v < -25.0, -25.0, v));
        double lo, u2 = rk_gelu_tanh_u2(x, &lo);
        double ml, mh = rk__gelu_tanh_m(x, &ml);
        double r = rk__xsig_grad(g, u2, lo, mh, ml);
        r = rk_select(v == -INFINITY, 0.0, r);
        return rk_select(v != v, v, r);          /* NaN: as rk_silu_grad_precise */
    }

    /* rk_gelu_tanh_grad_precise for |v| <= 19 (|2u| <= 520: rk__xsig_grad_fast);
     * gelu_grad_kernel takes it for blocks with no |x| above 19 and no NaN. */
    #define RK__GELU_TANH_GRAD_FAST_MAX 19.0

    RK_INLINE double rk__gelu_tanh_grad_fast(double g, double v)
    {
        double lo, u2 = rk_gelu_tanh_u2(v, &lo);
        double ml, mh = rk__gelu_tanh_m(v, &ml);
        return rk__xsig_grad_fast(g, u2, lo, mh, ml);
    }

    /* Whether any |p[i]| of p[0..n) is NaN or above lim (vmathf.h rkf__any_abs_not_within). */
    RK_INLINE int rk__any_abs_not_within(const double *p, ptrdiff_t n, double lim)
    {
        int r = 0;
        for (ptrdiff_t i = 0; i < n; i++)
            r |= !(RK_FABS(p[i]) <= lim);
        return r;
    }
    """
    double elu_one "rk_elu_one"(double v, double negcoef, double poscoef, double divisor,
                                int neg) nogil
    double elu_grad_one "rk_elu_grad_one"(double g, double out, double neghi, double neglo,
                                           double poscoef, double mul, double divisor) nogil
    float elu_grad_onef "rk_elu_grad_onef"(float g, float out, float hi, float lo,
                                           float poscoef, float mul) nogil
    double softplus_one "rk_softplus_one"(double v, double beta, double threshold,
                                          int unit) nogil
    double softplus_grad_one "rk_softplus_grad_one"(double g, double out, double beta,
                                                     double threshold, int nonneg) nogil
    double silu_one "rk_silu_one"(double v) nogil
    double silu_fast "rk__silu_fast"(double v) nogil
    int any_below_or_nan "rk__any_below_or_nan"(const double*, Py_ssize_t, double) nogil
    const double SILU_FAST_MIN "RK__SILU_FAST_MIN"
    double gelu_exact_precise "rk_gelu_exact_precise"(double v) nogil
    double gelu_tanh_precise "rk_gelu_tanh_precise"(double v) nogil
    double gelu_tanh_fast "rk__gelu_tanh_fast"(double v) nogil
    const double GELU_TANH_FAST_MIN "RK__GELU_TANH_FAST_MIN"
    double gelu_tanh_grad_precise "rk_gelu_tanh_grad_precise"(double g, double v) nogil
    double gelu_tanh_grad_fast "rk__gelu_tanh_grad_fast"(double g, double v) nogil
    const double GELU_TANH_GRAD_FAST_MAX "RK__GELU_TANH_GRAD_FAST_MAX"
    double silu_grad_precise "rk_silu_grad_precise"(double g, double v) nogil
    double silu_grad_fast "rk__silu_grad_fast"(double g, double v) nogil
    const double SILU_GRAD_FAST_MAX "RK__SILU_GRAD_FAST_MAX"
    int any_abs_not_within "rk__any_abs_not_within"(const double*, Py_ssize_t, double) nogil
    double gelu_grad_precise "rk_gelu_grad_precise"(double g, double v) nogil
    float elu_onef "rk_elu_onef"(float v, float negcoef, float poscoef, float divisor,
                                 int neg) nogil
    float softplus_onef "rk_softplus_onef"(float v, float beta, float threshold, int unit) nogil
    float softplus_grad_onef "rk_softplus_grad_onef"(float g, float out, float beta, float tf,
                                                     double threshold, int fthr,
                                                     int unit) nogil


# ---- elu family: y = poscoef * x where x > 0, else negcoef * expm1(x / divisor) ----
# params: (negcoef, poscoef, divisor, negcoef_lo). elu: (alpha, 1, 1, 0); selu:
# (alpha * scale, scale, 1, its rounding error); celu: (alpha, 1, alpha, 0).
cdef void elu_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                     real* y, uint8_t* mask_out, Py_ssize_t n,
                     const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef double negcoef = params[0], poscoef = params[1], divisor = params[2]
    cdef float nf = <float>negcoef, pf = <float>poscoef, df = <float>divisor
    # Three loops, the divisor's cases as constants: 1 (elu, selu, celu's default) divides by
    # nothing, > 0 takes expm1 of non-positive arguments only, < 0 (celu) the full expm1.
    # One core, n = 2^16, uniform [-10, 10], ns per element, before -> after: float32 elu
    # 0.96 -> 0.48, celu(alpha=2) 0.96 -> 0.55; float64 elu 2.06 -> 1.08, celu(2) 2.06 -> 1.31.
    if real is float:
        if df == 1.0:
            for i in range(n):
                y[i] = elu_onef(a[i], nf, pf, 1.0, 1)
        elif df > 0:
            for i in range(n):
                y[i] = elu_onef(a[i], nf, pf, df, 1)
        else:
            for i in range(n):
                y[i] = elu_onef(a[i], nf, pf, df, 0)
    else:
        if divisor == 1.0:
            for i in range(n):
                y[i] = elu_one(a[i], negcoef, poscoef, 1.0, 1)
        elif divisor > 0:
            for i in range(n):
                y[i] = elu_one(a[i], negcoef, poscoef, divisor, 1)
        else:
            for i in range(n):
                y[i] = elu_one(a[i], negcoef, poscoef, divisor, 0)


# Backward from the output y (a = grad, b = y); needs negcoef >= 0 (checked by the entry
# points): then y <= 0 exactly where x <= 0.
cdef void elu_grad_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                          real* y, uint8_t* mask_out, Py_ssize_t n,
                          const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef double neghi = params[0], poscoef = params[1], divisor = params[2], neglo = params[3]
    cdef double inv = 1.0 / divisor
    cdef float hf = <float>neghi
    cdef float lf = <float>((neghi - <double>hf) + neglo)
    # The division by the divisor, 8 double lanes per vector, was the cost of these loops
    # (float32 elu backward, 10^6, one core: 0.32 ns per element, PyTorch 0.19); float32
    # now runs in float (rk_elu_grad_onef).
    if real is float:
        if divisor == 1.0:
            for i in range(n):
                y[i] = elu_grad_onef(a[i], b[i], hf, lf, <float>poscoef, 1.0)
        else:
            for i in range(n):
                y[i] = elu_grad_onef(a[i], b[i], hf, lf, <float>poscoef, <float>inv)
    elif divisor == 1.0:
        for i in range(n):
            y[i] = <real>elu_grad_one(a[i], b[i], neghi, neglo, poscoef, 1.0, 1.0)
    else:
        for i in range(n):
            y[i] = <real>elu_grad_one(a[i], b[i], neghi, neglo, poscoef, 1.0, divisor)


# ---- softplus: log(1 + exp(beta x)) / beta, and x where beta * x > threshold ----
cdef void softplus_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                          real* y, uint8_t* mask_out, Py_ssize_t n,
                          const double* params) noexcept nogil:
    cdef Py_ssize_t i
    cdef double beta = params[0], threshold = params[1]
    cdef float bf = <float>beta
    # beta = 1 (the default) in its own loops: x is the exact argument, so the first-order
    # correction for the rounding of beta x (a sigmoid, one division) and the division by
    # beta drop out, with the same results. One core, n = 2^16, uniform [-10, 10], ns per
    # element, against the general loop (beta = 2) in the same run: float32 1.95 -> 1.50,
    # float64 4.55 -> 3.77.
    if real is float and <double>bf == beta:
        if beta == 1.0:
            for i in range(n):
                y[i] = softplus_onef(a[i], 1.0, threshold, 1)
        else:
            for i in range(n):
                y[i] = softplus_onef(a[i], bf, threshold, 0)
    elif beta == 1.0:
        for i in range(n):
            y[i] = <real>softplus_one(a[i], 1.0, threshold, 1)
    else:            # float64, or a beta that float32 cannot hold: the double form
        for i in range(n):
            y[i] = <real>softplus_one(a[i], beta, threshold, 0)


# Kernels that check a block of their input before choosing a loop for it (silu, silu'
# and gelu(tanh) in both dtypes, softplus' and gelu(tanh)' in float64) take blocks of
# SMOOTH_BLOCK elements, which stay in L1 between the two passes.
cdef enum:
    SMOOTH_BLOCK = 1024


cdef void softplus_grad_kernel(const real* a, const real* b, const real* c,
                               const uint8_t* mask_in, real* y, uint8_t* mask_out,
                               Py_ssize_t n, const double* params) noexcept nogil:
    cdef Py_ssize_t i, j = 0, m
    cdef double beta = params[0], threshold = params[1]
    cdef float bf = <float>beta, tf = <float>threshold
    if real is float and <double>bf == beta:
        if <double>tf == threshold and not (-1e-30 < threshold < 1e-30):
            if beta == 1.0:
                for i in range(n):
                    y[i] = softplus_grad_onef(a[i], b[i], 1.0, tf, threshold, 1, 1)
            else:
                for i in range(n):
                    y[i] = softplus_grad_onef(a[i], b[i], bf, tf, threshold, 1, 0)
        else:
            for i in range(n):
                y[i] = softplus_grad_onef(a[i], b[i], bf, tf, threshold, 0, 0)
    elif real is double and beta > 0:
        # Blocks as silu_kernel's: where no y is negative or NaN, beta y >= 0 and expm1's
        # argument is <= 0: rk_expm1_neg, the same bits as rk_expm1 there; the others (not
        # outputs of the forward) the general form. One core, n = 2^16, float64, ns per
        # element: 3.24 -> 1.94 (2-core AMD EPYC Zen 3, AVX2).
        while j < n:
            m = min(n - j, SMOOTH_BLOCK)
            if any_below_or_nan(b + j, m, 0.0):
                for i in range(j, j + m):
                    y[i] = softplus_grad_one(a[i], b[i], beta, threshold, 0)
            else:
                for i in range(j, j + m):
                    y[i] = softplus_grad_one(a[i], b[i], beta, threshold, 1)
            j += m
    else:
        for i in range(n):
            y[i] = <real>softplus_grad_one(a[i], b[i], beta, threshold, 0)


# ---- silu: x * sigmoid(x) ----
cdef void silu_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                      real* y, uint8_t* mask_out, Py_ssize_t n,
                      const double* params) noexcept nogil:
    cdef Py_ssize_t i, j = 0, m
    cdef bint low
    # Blocks of SMOOTH_BLOCK: where no x is NaN or below -86 (float32) / -700 (float64),
    # checked first so that y may be a, the fast form, which gives the same results as the
    # full one there (vmathf.h rkf__silu_fast, rk__silu_fast above); the others the full
    # one (NaN with it everywhere, so that its sign bit never depends on a neighbour). The
    # check costs ~0.03 ns per element. One core, n = 2^16, ns per element: float32 0.66 ->
    # 0.35, float64 1.58 -> 1.1.
    while j < n:
        m = min(n - j, SMOOTH_BLOCK)
        if real is float:
            low = rkf__any_below_or_nan(a + j, m, RKF__SILU_FAST_MIN)
        else:
            low = any_below_or_nan(a + j, m, SILU_FAST_MIN)
        if low:
            for i in range(j, j + m):
                if real is float:
                    y[i] = rk_siluf(a[i])
                else:
                    y[i] = silu_one(a[i])
        else:
            for i in range(j, j + m):
                if real is float:
                    y[i] = rkf__silu_fast(a[i])
                else:
                    y[i] = silu_fast(a[i])
        j += m


cdef void silu_grad_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                           real* y, uint8_t* mask_out, Py_ssize_t n,
                           const double* params) noexcept nogil:
    cdef Py_ssize_t i, j = 0, m
    if real is float:
        # Blocks as silu_kernel's: where no x is NaN or above 170 in magnitude, the form
        # without clamps and special cases (the same bits; vmathf.h rkf__silu_grad_fast):
        # 1.38 -> 1.15 ns per element on one core.
        while j < n:
            m = min(n - j, SMOOTH_BLOCK)
            if rkf__any_abs_not_within(b + j, m, RKF__SILU_GRAD_FAST_MAX):
                for i in range(j, j + m):
                    y[i] = rk_silu_gradf(a[i], b[i])
            else:
                for i in range(j, j + m):
                    y[i] = rkf__silu_grad_fast(a[i], b[i])
            j += m
    else:
        # float64: blocks with no |x| above 600 and no NaN take the form without the clamp
        # and the final scaling (the same bits): 4.68 -> 3.69 ns per element on one core.
        while j < n:
            m = min(n - j, SMOOTH_BLOCK)
            if any_abs_not_within(b + j, m, SILU_GRAD_FAST_MAX):
                for i in range(j, j + m):
                    y[i] = silu_grad_precise(a[i], b[i])
            else:
                for i in range(j, j + m):
                    y[i] = silu_grad_fast(a[i], b[i])
            j += m


# ---- gelu: params[0] = 0 exact, 1 tanh approximation ----
cdef void gelu_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                      real* y, uint8_t* mask_out, Py_ssize_t n,
                      const double* params) noexcept nogil:
    cdef Py_ssize_t i, j = 0, m
    cdef bint low
    if params[0] == 0:
        for i in range(n):
            if real is float:
                y[i] = rk_geluf(a[i])
            else:
                y[i] = gelu_exact_precise(a[i])
        return
    # Blocks as silu_kernel's: where no x is NaN or below -9.8 (float32) / -20 (float64),
    # the form without the rescaling (the same bits). One core, n = 2^16, ns per element:
    # float32 1.75 -> 1.1 (its full form 1.7), float64 4.39 -> 3.15.
    while j < n:
        m = min(n - j, SMOOTH_BLOCK)
        if real is float:
            low = rkf__any_below_or_nan(a + j, m, RKF__GELU_TANH_FAST_MIN)
        else:
            low = any_below_or_nan(a + j, m, GELU_TANH_FAST_MIN)
        if low:
            for i in range(j, j + m):
                if real is float:
                    y[i] = rk_gelu_tanhf(a[i])
                else:
                    y[i] = gelu_tanh_precise(a[i])
        else:
            for i in range(j, j + m):
                if real is float:
                    y[i] = rkf__gelu_tanh_fast(a[i])
                else:
                    y[i] = gelu_tanh_fast(a[i])
        j += m


cdef void gelu_grad_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                           real* y, uint8_t* mask_out, Py_ssize_t n,
                           const double* params) noexcept nogil:
    cdef Py_ssize_t i, j = 0, m
    if real is float:
        if params[0] == 0:
            for i in range(n):
                y[i] = rk_gelu_gradf(a[i], b[i])
        else:
            for i in range(n):
                y[i] = rk_gelu_tanh_gradf(a[i], b[i])
    elif params[0] == 0:
        for i in range(n):
            y[i] = gelu_grad_precise(a[i], b[i])
    else:
        # blocks with no |x| above 19 and no NaN: the form without the clamps and the
        # final scaling (the same bits; rk__gelu_tanh_grad_fast)
        while j < n:
            m = min(n - j, SMOOTH_BLOCK)
            if any_abs_not_within(b + j, m, GELU_TANH_GRAD_FAST_MAX):
                for i in range(j, j + m):
                    y[i] = gelu_tanh_grad_precise(a[i], b[i])
            else:
                for i in range(j, j + m):
                    y[i] = gelu_tanh_grad_fast(a[i], b[i])
            j += m
