/*
 * vmath.h -- branch-free, vectorisable double-precision elementary functions for the
 * smooth ReLU-family activations (elu, selu, celu, softplus, silu, gelu, ...).
 *
 *   rk_exp, rk_expm1, rk_log1p, rk_erfc
 *
 * Why not libm: a loop `y[i] = exp(x[i])` compiles to one scalar call per element, which
 * gcc cannot vectorise without -ffast-math (and -ffast-math breaks NaN / signed-zero
 * semantics the kernels rely on). Every function here is straight-line code:
 *   - no calls (fabs/copysign are gcc builtins that become and/or masks),
 *   - no data-dependent branches: every case is computed and the right one picked with a
 *     bit-mask select (rk__sel, see there for why not a C ternary),
 *   - no tables (no gathers),
 *   - bit manipulation only through memcpy to/from uint64_t, with 64-bit shifts, ands and
 *     adds that exist as packed instructions from SSE2 up (no double<->int64 conversion,
 *     which AVX2 lacks: integers are moved in and out of doubles with the 1.5*2^52
 *     "shifter" trick instead).
 * so that gcc 12 -O3 vectorises loops calling them (AVX-512, AVX2 or SSE2 per -march).
 *
 * Accuracy target: < 2 ulp (double) over the whole double range, subnormal results
 * included. Measured against mpmath (50 digits) on ~1.3e5 inputs per function (log-uniform
 * over the whole range incl. subnormal inputs, dense on the active range, interval
 * boundaries, special values), max error in ulps of the exact value, gcc 12 -O3
 * -march=native (FMA contraction) / Numba:
 *   exp 0.74/0.75, expm1 1.14/0.97, log1p 0.74/0.79, erfc 1.49/1.64.
 * Float32 callers evaluate in double and round once to float: all float32 results
 * measured correctly rounded (<= 0.5 ulp) on ~1e5 inputs per function.
 *
 * FP contraction: gcc contracts a*b+c into an FMA by default when the target has FMA.
 * Every step whose exactness matters below is exact with or without contraction (the
 * products involved are exact, or the sums involve no product), so results are accurate
 * under both; they are not bit-identical between a contracting and a non-contracting
 * build (e.g. Numba, which does not contract).
 *
 * Floating-point flags: computations whose lanes are discarded may raise flags (e.g.
 * FE_OVERFLOW from 2^1024 in rk_expm1's unused path, FE_INVALID/FE_DIVBYZERO inside
 * rk_log1p for x <= -1 or x = inf, whose results are then replaced by the special value);
 * a returned value never comes from inf-inf, 0*inf or 0/0.
 */
#ifndef RELUKIT_VMATH_H
#define RELUKIT_VMATH_H

#include <math.h>     /* NAN, INFINITY only */
#include <stdint.h>
#include <string.h>

/* Force inlining: in a large translation unit (the Cython module is ~40,000 lines) gcc's
 * inlining budget runs out and a kernel loop calling a non-inlined function cannot be
 * vectorised (measured: gelu float32 at n = 10**6 took 56 ms instead of ~6 ms). */
#if defined(__GNUC__)
#define RK_INLINE static inline __attribute__((always_inline))
#else
#define RK_INLINE static inline
#endif

#if defined(__GNUC__)
#define RK_FABS(x) __builtin_fabs(x)
#define RK_COPYSIGN(x, y) __builtin_copysign((x), (y))
#else
#define RK_FABS(x) fabs(x)
#define RK_COPYSIGN(x, y) copysign((x), (y))
#endif

RK_INLINE uint64_t rk__bits(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
RK_INLINE double rk__from_bits(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }

/* Branch-free select, (c ? a : b), done on the bit patterns with an all-ones/all-zeros mask.
 * Used for EVERY select in this file instead of a C ternary: gcc turns a ternary into
 * control flow plus a PHI node, and then
 *   - the sink pass moves a value used by only one arm into that arm, and
 *   - jump threading / PRE duplicate arithmetic into the arms when a constant (a clamp
 *     bound, a special value) flows out of the PHI,
 * which leaves floating-point operations inside conditional blocks; with the default
 * -ftrapping-math those "may trap", if-conversion refuses to speculate them and the loop is
 * not vectorised. Both were observed with gcc 12 -O3 (e.g. `y[i] = rk_expm1(x[i])`, and
 * `y[i] = (float)rk_exp((double)x[i])`). The mask form has no PHI and no arms, so every
 * value is computed unconditionally and the select is and/andn/or (one vpternlogq on
 * AVX-512). */
RK_INLINE uint64_t rk__mask(int c) { return (uint64_t)0 - (uint64_t)(c != 0); }
RK_INLINE double rk__blend(uint64_t m, double a, double b)
{
    return rk__from_bits((rk__bits(a) & m) | (rk__bits(b) & ~m));
}
RK_INLINE double rk__sel(int c, double a, double b) { return rk__blend(rk__mask(c), a, b); }

/* Public forms for the kernels built on this file. A caller loop must follow the same
 * rule: `y = v > 0 ? v : a * rk_expm1(v)` is NOT vectorised by gcc 12 (the call is sunk into
 * the arm and if-conversion cannot speculate it); compute unconditionally and select:
 *     double e = a * rk_expm1(v);  y = rk_select(v > 0, v, e);                          */
RK_INLINE double rk_select(int c, double a, double b) { return rk__sel(c, a, b); }
RK_INLINE float rk_selectf(int c, float a, float b)
{
    uint32_t m = (uint32_t)0 - (uint32_t)(c != 0), ua, ub, ur;
    float r;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    ur = (ua & m) | (ub & ~m);
    memcpy(&r, &ur, sizeof r);
    return r;
}

/* Adding 1.5*2^52 to a double of magnitude < 2^51 rounds it to an integer (ties to even)
 * and leaves that integer, in two's complement, in the low mantissa bits. */
#define RK__SHIFTER 0x1.8p52

/* 2^k for a double k holding an integer in [-1022, 1023]: (k + shifter) has k in its low
 * bits; shifting left by 52 keeps k mod 4096 in the exponent field, and adding the bias
 * gives the biased exponent (k + 1023 in [1, 2046], so no wrap into the sign bit). */
RK_INLINE double rk__pow2i(double k)
{
    uint64_t b = rk__bits(k + RK__SHIFTER);
    return rk__from_bits((b << 52) + ((uint64_t)1023 << 52));
}

/* Cody-Waite split of ln 2 (fdlibm): LN2HI has 32 significant bits, so n*LN2HI is exact
 * for |n| < 2^21, and a - n*LN2HI is exact when it is small (see rk__exp_core). */
#define RK__LOG2E 1.4426950408889634
#define RK__LN2HI 6.93147180369123816490e-01  /* 0x1.62e42feep-1 */
#define RK__LN2LO 1.90821492927058770002e-10  /* ln 2 - LN2HI    */

/*
 * Core of exp/expm1 and the erfc tail. Argument a = hi + lo where hi is exact, |lo| small.
 *   n  = nearest integer to a/ln2 (as a double, via the shifter),
 *   a  = n*ln2 + rh + rl, with rh = hi - n*LN2HI computed EXACTLY (the caller guarantees
 *        hi is a multiple of a power of two >= 2^-52 * ulp scale such that rh, of
 *        magnitude < 1, fits in 53 bits; true for any double hi with |hi| < 2^20 and for
 *        the erfc argument -z*z-0.5625), rl = lo - n*LN2LO (tiny, rounding harmless).
 *   expm1(r) = rh + corr, corr = rl + r^2 * q(r), r = rh + rl, |r| <= ln2/2 + tiny.
 * q is the Taylor polynomial 1/2! + r/3! + ... + r^11/13!: the first neglected term
 * r^14/14! <= 0.3466^14/14! = 4e-18 relative, i.e. 0.04 ulp, so degree 13 is the lowest
 * Taylor degree below 0.1 ulp (degree 12 would leave 1.5 ulp). Keeping expm1(r) as the
 * unevaluated pair (rh, corr) means the largest term rh is never rounded; callers add it
 * last.
 */
RK_INLINE void rk__exp_core(double hi, double lo, double *n_out, double *rh_out,
                                double *corr_out)
{
    double kd = (hi + lo) * RK__LOG2E + RK__SHIFTER;
    double n = kd - RK__SHIFTER;
    double rh = hi - n * RK__LN2HI;
    double rl = lo - n * RK__LN2LO;
    double r = rh + rl;
    double q = 1.6059043836821613e-10;          /* 1/13! */
    q = q * r + 2.08767569878681e-09;           /* 1/12! */
    q = q * r + 2.505210838544172e-08;          /* 1/11! */
    q = q * r + 2.755731922398589e-07;          /* 1/10! */
    q = q * r + 2.7557319223985893e-06;         /* 1/9!  */
    q = q * r + 2.48015873015873e-05;           /* 1/8!  */
    q = q * r + 1.984126984126984e-04;          /* 1/7!  */
    q = q * r + 1.388888888888889e-03;          /* 1/6!  */
    q = q * r + 8.333333333333333e-03;          /* 1/5!  */
    q = q * r + 4.1666666666666664e-02;         /* 1/4!  */
    q = q * r + 1.6666666666666666e-01;         /* 1/3!  */
    q = q * r + 0.5;                            /* 1/2!  */
    *n_out = n;
    *rh_out = rh;
    *corr_out = rl + (r * r) * q;
}

/* 1 + (rh + corr) with 1 + rh summed exactly (Fast2Sum, valid since |rh| < 1): only the
 * final addition rounds. The naive 1 + (rh + corr) rounds rh + corr first, which cost up
 * to 0.84 ulp in exp (measured). */
RK_INLINE double rk__one_plus(double rh, double corr)
{
    double s = 1.0 + rh;
    double e = (1.0 - s) + rh;
    return s + (e + corr);
}

/* Split n (|n| <= 1134) into n1 + n2 with both halves in [-567, 567], so 2^n1 and 2^n2 are
 * normal doubles: v * 2^n1 is exact and the single rounding happens in the final multiply
 * by 2^n2, which gives correctly rounded gradual underflow and exact overflow to inf. */
RK_INLINE void rk__split_pow2(double n, double *s1, double *s2)
{
    double n1 = (n * 0.5 + RK__SHIFTER) - RK__SHIFTER;
    *s1 = rk__pow2i(n1);
    *s2 = rk__pow2i(n - n1);
}

/*
 * exp(hi + lo) for hi <= 0 as a scaled double-double: exp(hi + lo) = (eh + el) * s2 with
 * eh + el = (1 + expm1(r)) * 2^n1 normal (a Fast2Sum keeps the rounding
 * error of 1 + expm1(r) in el) and s2 = 2^(n - n1) applied by the caller LAST, so that a
 * product of the result with other factors rounds only once into the subnormals. The caller
 * clamps hi to [-780, 0] (n within rk__split_pow2's range) and keeps hi exact in the sense
 * of rk__exp_core. The relative error of eh + el is that of rk__exp_core, below 2^-55 (it
 * falls with |r|: ~2^-59 for |r| < 0.1).
 */
RK_INLINE void rk__exp_dd(double hi, double lo, double *eh, double *el, double *s2)
{
    double n, rh, corr, s1;
    rk__exp_core(hi, lo, &n, &rh, &corr);
    rk__split_pow2(n, &s1, s2);
    double s = 1.0 + rh;
    double t = ((1.0 - s) + rh) + corr;
    double eu = s + t;
    *eh = eu * s1;
    *el = (t - (eu - s)) * s1;
}

/*
 * exp(x). The input is clamped to [-746, 710] (NaN passes through the comparisons):
 * exp(710) overflows and exp(-746) underflows to 0 anyway, and the clamp keeps n within the
 * range of rk__split_pow2, so +inf -> inf, -inf -> 0 need no special case.
 * Result = (1 + expm1(r)) * 2^n1 * 2^n2, one rounding in 1 + expm1(r) (plus the final one
 * for subnormal results).
 */
RK_INLINE double rk_exp(double x)
{
    double xc = rk__sel(x > 710.0, 710.0, rk__sel(x < -746.0, -746.0, x));
    double n, rh, corr, s1, s2;
    rk__exp_core(xc, 0.0, &n, &rh, &corr);
    rk__split_pow2(n, &s1, &s2);
    double e = rk__one_plus(rh, corr);
    return (e * s1) * s2;
}

/*
 * expm1(x) = 2^n * (1 + p) - 1, p = expm1(r) = rh + corr.
 *  n == 0:       p itself (rh = x exactly, so tiny x gives x; -0.0 kept by a final select).
 *  -65 <= n <= 53: (2^n - 1) + 2^n*rh is summed EXACTLY with TwoSum (2^n - 1 is exact for
 *                n >= -53, 2^n*rh is exact), then the small 2^n*corr and the TwoSum error
 *                are added: no cancellation error even for n = +-1, where 2^n - 1 and
 *                2^n*p nearly cancel (the naive form loses up to 1 ulp there).
 *  n >= 54:      2^n * ((1 + p) - 2^-n); 2^-n < 2^-53 is folded into corr.
 * x is clamped to [-45, 710]: expm1(x) rounds to -1 for x < -38.1.
 */
RK_INLINE double rk_expm1(double x)
{
    double xc = rk__sel(x > 710.0, 710.0, rk__sel(x < -45.0, -45.0, x));
    double n, rh, corr, s1, s2;
    rk__exp_core(xc, 0.0, &n, &rh, &corr);
    rk__split_pow2(n, &s1, &s2);

    /* moderate n */
    double t = s1 * s2;                 /* 2^n exactly (inf for n = 1024, unused lane) */
    double a = t - 1.0;
    double b = t * rh;
    double s = a + b;                   /* TwoSum(a, b): s + err == a + b exactly */
    double bb = s - a;
    double err = (a - (s - bb)) + (b - bb);
    double mid = s + (err + t * corr);

    /* large n */
    double tinv = rk__pow2i(-rk__sel(n > 1000.0, 1000.0, n));
    double big = (rk__one_plus(rh, corr - tinv) * s1) * s2;

    double y = rk__sel(n > 53.0, big, mid);
    return rk__sel(x == 0.0, x, y);
}

/*
 * log1p(x), fdlibm reduction made branch-free.
 *  u = 1 + x rounded, c = its exact rounding error (TwoSum), so 1 + x = u + c exactly and
 *  log1p(x) = log(u) + c/u to far below an ulp (c/u <= 2^-53).
 *  u = 2^k * m with m in [sqrt(2)/2, sqrt(2)): found by adding (1 - sqrt(2)/2) in the bit
 *  pattern, so k and m come from shifts/masks; k is read back as a double with the 2^52
 *  trick. f = m - 1 is exact (Sterbenz).
 *  log(1+f) = f - hfsq + s*(hfsq + R(s^2)), s = f/(2+f), |s| <= 0.1716; R is fdlibm's
 *  degree-7 minimax polynomial (Lg1..Lg7, |error| < 2^-58.45), whose error is further
 *  scaled down by s^2 in the result. The large terms f and k*LN2HI are added last.
 * Special cases selected at the end: x < -1 -> NaN, x = -1 -> -inf, x = +inf -> +inf,
 * x = +-0 -> x; NaN propagates through c.
 */
RK_INLINE double rk_log1p(double x)
{
    double u = 1.0 + x;
    double bv = u - 1.0;
    double av = u - bv;
    double c = (1.0 - av) + (x - bv);

    uint64_t iu = rk__bits(u) + (UINT64_C(0x3ff0000000000000) - UINT64_C(0x3fe6a09e667f3bcd));
    double k = rk__from_bits((iu >> 52) | UINT64_C(0x4330000000000000)) - 0x1p52 - 1023.0;
    double m = rk__from_bits((iu & UINT64_C(0x000fffffffffffff)) + UINT64_C(0x3fe6a09e667f3bcd));
    double f = m - 1.0;

    double cu = c / u;
    double hfsq = 0.5 * f * f;
    double s = f / (2.0 + f);
    double z = s * s;
    double R = 1.479819860511658591e-01;        /* Lg7 */
    R = R * z + 1.531383769920937332e-01;       /* Lg6 */
    R = R * z + 1.818357216161805012e-01;       /* Lg5 */
    R = R * z + 2.222219843214978396e-01;       /* Lg4 */
    R = R * z + 2.857142874366239149e-01;       /* Lg3 */
    R = R * z + 3.999999999940941908e-01;       /* Lg2 */
    R = R * z + 6.666666666666735130e-01;       /* Lg1 */
    R = R * z;
    double y = k * RK__LN2HI - ((hfsq - (s * (hfsq + R) + (k * RK__LN2LO + cu))) - f);

    y = rk__sel(x == INFINITY, x, y);
    y = rk__sel(x == -1.0, -INFINITY, y);
    y = rk__sel(x < -1.0, NAN, y);
    return rk__sel(x == 0.0, x, y);
}

/*
 * erf / erfc: the FreeBSD msun (Sun fdlibm) approximations, with their published
 * coefficients, made branch-free. Four intervals of |x|, each a rational P(t)/Q(t):
 *   I0 [0, 0.84375):       t = x^2,      erf = x + x*P/Q
 *   I1 [0.84375, 1.25):    t = |x| - 1,  erf = erx + P/Q   (erx = erf(1) to 24 bits)
 *   I2 [1.25, 1/0.35):     t = 1/x^2,    erfc = exp(-x^2 - 0.5625 + P/Q) / |x|
 *   I3 [1/0.35, 28]:       t = 1/x^2,    same form, other coefficients
 * Instead of evaluating four rationals, each lane SELECTS its interval's coefficients
 * (the shorter polynomials padded with zero leading coefficients, which leaves Horner's
 * result unchanged) and one numerator (degree 7) and one denominator (degree 8) are
 * evaluated, with one division: cheaper than four rationals and four divisions.
 */
#define RK__ERX 8.45062911510467529297e-01
#define RK__ERF_SPLIT1 0.84375
#define RK__ERF_SPLIT2 1.25
#define RK__ERF_SPLIT3 2.8571434020996094   /* 0x1.6db6ep+1 ~ 1/0.35 */

RK_INLINE double rk__erf_ratio(double ax)
{
    /* Interval weights: exactly one of w0..w3 is 1.0, the others +0.0. A coefficient is
     * selected as w0*c0 + w1*c1 + w2*c2 + w3*c3, which is EXACT (the products are c or 0,
     * and c + 0 = c), contraction-proof, and keeps the 64 coefficients as FP constants
     * (memory-broadcast operands). Selecting them with integer bit masks instead made gcc
     * rematerialise each constant per iteration (movabs + vpbroadcastq), 3-4x slower. */
    uint64_t m0 = rk__mask(ax < RK__ERF_SPLIT1), m1 = rk__mask(ax < RK__ERF_SPLIT2),
             m2 = rk__mask(ax < RK__ERF_SPLIT3);
    uint64_t one = rk__bits(1.0);
    double w0 = rk__from_bits(one & m0);
    double w1 = rk__from_bits(one & ~m0 & m1);
    double w2 = rk__from_bits(one & ~m1 & m2);
    double w3 = rk__from_bits(one & ~m2);
    /* 1/x^2 only where it is used: the operand is kept in [1.25, 28] so that no lane divides
     * by zero or overflows. */
    double at = rk__sel(ax < RK__ERF_SPLIT2, RK__ERF_SPLIT2, rk__sel(ax > 28.0, 28.0, ax));
    double t_sq = ax * ax, t_lin = ax - 1.0, t_inv = 1.0 / (at * at);
    double t = rk__blend(m0, t_sq, rk__blend(m1, t_lin, t_inv));
#define RK__SEL(a, b, c, d) ((((w0 * (a)) + w1 * (b)) + w2 * (c)) + w3 * (d))
    /*                      I0 (pp/qq)                I1 (pa/qa)                I2 (ra/sa)                I3 (rb/sb) */
    double P = RK__SEL(0.0,                       0.0,                      -9.81432934416914548592e+00, 0.0);
    P = P * t + RK__SEL(0.0,                      -2.16637559486879084300e-03, -8.12874355063065934246e+01, -4.83519191608651397019e+02);
    P = P * t + RK__SEL(0.0,                       3.54783043256182359371e-02, -1.84605092906711035994e+02, -1.02509513161107724954e+03);
    P = P * t + RK__SEL(-2.37630166566501626084e-05, -1.10894694282396677476e-01, -1.62396669462573470355e+02, -6.37566443368389627722e+02);
    P = P * t + RK__SEL(-5.77027029648944159157e-03,  3.18346619901161753674e-01, -6.23753324503260060396e+01, -1.60636384855821916062e+02);
    P = P * t + RK__SEL(-2.84817495755985104766e-02, -3.72207876035701323847e-01, -1.05586262253232909814e+01, -1.77579549177547519889e+01);
    P = P * t + RK__SEL(-3.25042107247001499370e-01,  4.14856118683748331666e-01, -6.93858572707181764372e-01, -7.99283237680523006574e-01);
    P = P * t + RK__SEL( 1.28379167095512558561e-01, -2.36211856075265944077e-03, -9.86494403484714822705e-03, -9.86494292470009928597e-03);

    double Q = RK__SEL(0.0,                       0.0,                      -6.04244152148580987438e-02, 0.0);
    Q = Q * t + RK__SEL(0.0,                       0.0,                       6.57024977031928170135e+00, -2.24409524465858183362e+01);
    Q = Q * t + RK__SEL(0.0,                       1.19844998467991074170e-02, 1.08635005541779435134e+02, 4.74528541206955367215e+02);
    Q = Q * t + RK__SEL(-3.96022827877536812320e-06, 1.36370839120290507362e-02, 4.29008140027567833386e+02, 2.55305040643316442583e+03);
    Q = Q * t + RK__SEL( 1.32494738004321644526e-04, 1.26171219808761642112e-01, 6.45387271733267880336e+02, 3.19985821950859553908e+03);
    Q = Q * t + RK__SEL( 5.08130628187576562776e-03, 7.18286544141962662868e-02, 4.34565877475229228821e+02, 1.53672958608443695994e+03);
    Q = Q * t + RK__SEL( 6.50222499887672944485e-02, 5.40397917702171048937e-01, 1.37657754143519042600e+02, 3.25792512996573918826e+02);
    Q = Q * t + RK__SEL( 3.97917223959155352819e-01, 1.06420880400844228286e-01, 1.96512716674392571292e+01, 3.03380607434824582924e+01);
    Q = Q * t + 1.0;
#undef RK__SEL
    return P / Q;
}

/*
 * exp(-a^2 - off + L) / d, the exp form shared by the erfc tail (msun: a in [1.25, 28],
 * off = 0.5625, L = P/Q, d = a) and relukit's erfc on [0.5, 1.25) (off = 0.75, L = the
 * polynomial of rk_erfc, d = 1).
 * -a^2 must not be rounded (its rounding error, up to ulp(784), would be multiplied into
 * the result by exp), so a is split as z + (a - z) with z = a truncated to 21 significant
 * bits: z*z and -z*z - off are exact (at most 44 significant bits for a in [0.5, 28]), and
 * -a^2 = -z*z + (z - a)*(z + a) where the second term is small. A single exp of the
 * exact-high/small-low pair is then evaluated by rk__exp_core (one exp instead of msun's
 * two). The division by d happens BEFORE the final power-of-two scaling, so subnormal
 * results (a > 26.6) are rounded only once.
 */
RK_INLINE double rk__exp_negsq(double a, double off, double L, double d)
{
    double z = rk__from_bits(rk__bits(a) & UINT64_C(0xffffffff00000000));
    double hi = -z * z - off;
    double lo = (z - a) * (z + a) + L;
    double n, rh, corr, s1, s2;
    rk__exp_core(hi, lo, &n, &rh, &corr);
    rk__split_pow2(n, &s1, &s2);
    double e = rk__one_plus(rh, corr);
    return ((e * s1) / d) * s2;
}

/*
 * erfc(x):
 *   x in (-0.84375, 0.5):  (1 - x) - x*y (msun's I0 rational y), with 1 - x kept exactly as
 *       a TwoSum pair, so only x*y (at most 4% of the result here) and the final addition
 *       round.
 *   x in [0.5, 1.25): NOT msun. There erfc falls to 0.077 while erf ~ 0.9, so msun's
 *       1 - erf forms cancel: 0.5 - (x*y + (x - 0.5)) and (1 - erx) - P/Q amplify the
 *       rounding errors of their rational approximations, measured up to 2.0 ulp near
 *       x = 0.843 and 1.83 ulp near 1.25. Instead erfc = exp(-x^2 - 0.75 + L(x)), with
 *       L(x) = log(erfc(x)) + x^2 + 0.75 in [-0.26, 0.27], a degree-14 polynomial in
 *       t = x - 0.875 (exact, Sterbenz) fitted with mpmath (Chebyshev, 60 digits; |error|
 *       with the coefficients rounded to double < 9.6e-18 = 0.09 ulp of the result). L is
 *       small so its rounding adds < 0.15 ulp; exp of the exact-high pair rounds once.
 *   x in (-1.25, -0.84375]: 1 + (erx + P/Q), result in [1.77, 1.93], no cancellation.
 *   |x| >= 1.25: msun's exp tail r for x > 0, 2 - r for x < 0.
 * The [0.5, 1.25) and tail lanes share ONE exp evaluation (their parameters are selected
 * per lane). erfc(x) underflows to 0 for x > 27.23 and is subnormal in ~[26.55, 27.23];
 * the far negative tail returns 2. NaN propagates (it takes the tail path).
 */
RK_INLINE double rk_erfc(double x)
{
    double ax = RK_FABS(x);
    double ratio = rk__erf_ratio(ax);

    double xy = x * ratio;
    double oh = 1.0 - x;                              /* TwoSum: 1 - x == oh + ol exactly */
    double ob = oh - 1.0;
    double ol = (1.0 - (oh - ob)) + (-x - ob);
    double small = oh + (ol - xy);
    double mid_neg = 1.0 + (RK__ERX + ratio);

    double tn = x - 0.875;
    double Ln = 2.1560377618307575e-08;
    Ln = Ln * tn - 1.0300384908072515e-07;
    Ln = Ln * tn + 2.6184709352496706e-07;
    Ln = Ln * tn - 1.792749233875109e-07;
    Ln = Ln * tn - 1.990103812219069e-06;
    Ln = Ln * tn + 1.212319142895773e-05;
    Ln = Ln * tn - 3.935046185150772e-05;
    Ln = Ln * tn + 5.927672013505188e-05;
    Ln = Ln * tn + 0.00020078816031289802;
    Ln = Ln * tn - 0.002143997759135668;
    Ln = Ln * tn + 0.011323339681368613;
    Ln = Ln * tn - 0.04689605455992823;
    Ln = Ln * tn + 0.17345830666613812;
    Ln = Ln * tn - 0.6802197229548382;
    Ln = Ln * tn - 0.017199436598551675;

    int near = (x >= 0.5) & (ax < RK__ERF_SPLIT2);
    double a_tail = rk__sel(ax > 28.0, 28.0, rk__sel(ax < RK__ERF_SPLIT2, RK__ERF_SPLIT2, ax));
    double a = rk__sel(near, x, a_tail);
    double r = rk__exp_negsq(a, rk__sel(near, 0.75, 0.5625), rk__sel(near, Ln, ratio),
                             rk__sel(near, 1.0, a));
    double r_neg = 2.0 - r;
    double tail = rk__sel(x > 0.0, r, r_neg);
    double y = rk__sel(ax < RK__ERF_SPLIT1, small, rk__sel(ax < RK__ERF_SPLIT2, mid_neg, tail));
    return rk__sel(near, r, y);
}

#endif /* RELUKIT_VMATH_H */
