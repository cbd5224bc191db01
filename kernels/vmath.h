/*
 * vmath.h -- branch-free, vectorisable double-precision elementary functions for the
 * smooth ReLU-family activations (elu, selu, celu, softplus, silu, gelu, ...).
 *
 *   rk_exp, rk_expm1, rk_expm1_neg (x <= 0), rk_log1p
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
 *   exp 0.74/0.75, expm1 1.14/0.97, log1p 0.74/0.79.
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
 * Core of exp/expm1 (and of the callers' exponentials). Argument a = hi + lo where hi is
 * exact, |lo| small.
 *   n  = nearest integer to a/ln2 (as a double, via the shifter),
 *   a  = n*ln2 + rh + rl, with rh = hi - n*LN2HI computed EXACTLY (the caller guarantees
 *        hi is a multiple of a power of two >= 2^-52 * ulp scale such that rh, of
 *        magnitude < 1, fits in 53 bits; true for any double hi with |hi| < 2^20), rl =
 *        lo - n*LN2LO (tiny, rounding harmless).
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
/* (1 + rh + corr) s1 as eh + el (the Fast2Sum of rk__exp_dd) */
RK_INLINE void rk__exp_dd_scaled(double rh, double corr, double s1, double *eh, double *el)
{
    double s = 1.0 + rh;
    double t = ((1.0 - s) + rh) + corr;
    double eu = s + t;
    *eh = eu * s1;
    *el = (t - (eu - s)) * s1;
}

RK_INLINE void rk__exp_dd(double hi, double lo, double *eh, double *el, double *s2)
{
    double n, rh, corr, s1;
    rk__exp_core(hi, lo, &n, &rh, &corr);
    rk__split_pow2(n, &s1, s2);
    rk__exp_dd_scaled(rh, corr, s1, eh, el);
}

/* rk__exp_dd for hi in [-669, 0]: there eh and el (~2^-53 eh) are normal with the whole of
 * 2^n in s1, so s2 = 1 and the caller needs no last scaling; the same eh + el (2^n = s1 s2
 * exactly in both). */
RK_INLINE void rk__exp_dd_normal(double hi, double lo, double *eh, double *el)
{
    double n, rh, corr;
    rk__exp_core(hi, lo, &n, &rh, &corr);
    rk__exp_dd_scaled(rh, corr, rk__pow2i(n), eh, el);
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

/* rk_expm1 for -65 <= n <= 53, t = 2^n (exact). */
RK_INLINE double rk__expm1_mid(double t, double rh, double corr)
{
    double a = t - 1.0;
    double b = t * rh;
    double s = a + b;                   /* TwoSum(a, b): s + err == a + b exactly */
    double bb = s - a;
    double err = (a - (s - bb)) + (b - bb);
    return s + (err + t * corr);
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

    /* moderate n; s1 * s2 = 2^n exactly (inf for n = 1024, unused lane) */
    double mid = rk__expm1_mid(s1 * s2, rh, corr);

    /* large n */
    double tinv = rk__pow2i(-rk__sel(n > 1000.0, 1000.0, n));
    double big = (rk__one_plus(rh, corr - tinv) * s1) * s2;

    double y = rk__sel(n > 53.0, big, mid);
    return rk__sel(x == 0.0, x, y);
}

/* rk_expm1 for x <= 0 only (other x give an unspecified value), as rk_expm1f_neg in
 * vmathf.h: n in [-65, 0], 2^n is one rk__pow2i, no large-n path; the same bits as
 * rk_expm1. */
RK_INLINE double rk_expm1_neg(double x)
{
    double xc = rk__sel(x < -45.0, -45.0, x);
    double n, rh, corr;
    rk__exp_core(xc, 0.0, &n, &rh, &corr);
    double y = rk__expm1_mid(rk__pow2i(n), rh, corr);
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
/* rk_log1p without its special cases: for x in [0, 1] (and NaN), where none applies, the
 * same bits (softplus's log1p(e^-|z|), as vmathf.h's rkf__log1p_core). */
RK_INLINE double rk__log1p_core(double x)
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
    return k * RK__LN2HI - ((hfsq - (s * (hfsq + R) + (k * RK__LN2LO + cu))) - f);
}

RK_INLINE double rk_log1p(double x)
{
    double y = rk__log1p_core(x);
    y = rk__sel(x == INFINITY, x, y);
    y = rk__sel(x == -1.0, -INFINITY, y);
    y = rk__sel(x < -1.0, NAN, y);
    return rk__sel(x == 0.0, x, y);
}

#endif /* RELUKIT_VMATH_H */
