/*
 * vmathf.h -- branch-free, vectorisable functions for the float32 paths of the smooth
 * ReLU-family activations (the float32 twin of vmath.h):
 *
 *   rk_expf, rk_expm1f, rk_expm1f_neg (x <= 0), rk_log1pf      (float -> float)
 *
 * fused activations whose combined error is measured (see "Composites"):
 *
 *   rk_siluf, rk_geluf, rk_gelu_tanhf                          (float -> float)
 *   rk_softplusf                                               (float z -> float)
 *   rk_softplus_corrf                                          (float z, float zlo -> float)
 *
 * and the gradients (see "Gradients"): g * f'(x) for (float g, float x),
 *
 *   rk_silu_gradf, rk_gelu_gradf, rk_gelu_tanh_gradf
 *
 * and softplus's from its output, f'(z) = 1 - e^-z for z = beta y (no g):
 *
 *   rk_one_minus_expf                                          (float z, float zlo -> float)
 *
 * Why: the float32 kernels used to evaluate through vmath.h in double and round once. The
 * same rules as vmath.h hold (see there for the reasons):
 *   - no calls, no data-dependent branches: every case is computed and picked with a
 *     bit-mask select (rkf__sel / rkd__sel); no tables (no gathers);
 *   - bit manipulation through memcpy to/from uint32_t / uint64_t; integers are moved in
 *     and out of floats with the 1.5*2^23 (1.5*2^52) "shifter" trick.
 * Two kinds of evaluation, chosen by measurement:
 *   - float arithmetic (16 lanes per AVX-512 vector): rk_expf, rk_expm1f, rk_log1pf,
 *     rk_softplus_corrf, rk_siluf, rk_gelu_tanhf (its argument 2u as a float pair),
 *     rk_one_minus_expf, where float alone reaches the bound;
 *   - a float argument evaluated in DOUBLE (8 lanes) and rounded once: exact gelu and every
 *     derivative with a root (silu', gelu', gelu(tanh)'), around one lean double
 *     exponential (rkd__exp_neg, ~2^-34). The float-float forms they replaced carried every
 *     step as an unevaluated pair to stay accurate near the derivative's root and in the
 *     sigmoid's tail; the double forms are simpler, more accurate and 1.2-1.6x faster here
 *     (per function below).
 *     The same holds with AVX2 alone (8 float / 4 double lanes; a 2-core AMD EPYC Zen 3,
 *     x86-64-v3 build, one core, n = 2^16, uniform [-10, 10], ns per element), where two
 *     float-only forms were measured against the double ones and not kept:
 *       - exact gelu as x Phi(-a), Phi(-a) = e^(-a^2/2) Q / (sqrt(2 pi) a Q + P) (P / Q a
 *         4/5 rational fitted to 1/M(a) - sqrt(2 pi) a, positive coefficients; a^2 split
 *         exactly with an FMA into the exponential's hi and lo), 0.5 x + x^2 S(x^2) for
 *         |x| < 0.5: 3.3-4.2 ulp on every 17th bit pattern (the worst cases where five
 *         float roundings of ~0.5 ulp line up, a in [1.8, 7]), 2.20 ns against 2.2 for
 *         rk_geluf (0.5 ulp);
 *       - silu' with e^-|x| as an exact pair from rkf__exp_core and the root's sum (1 + x)
 *         + E formed from exact pieces (no root polynomial needed down to 2^-7): 3.3 ulp
 *         (g = 1), 2.11 ns against 2.00 for rk_silu_gradf (1.2 ulp) and 1.73 for its block
 *         form rkf__silu_grad_fast.
 *     The float forms need about twice the operations per element to carry the extra
 *     precision, which eats the doubled lane count. A cheaper double exact gelu (degree-5
 *     exponential, 4/5 rational, ~2^-26) would gain at most 8% (1.98 -> 1.82 ns).
 *     gelu(tanh) went the other way (double 1.75 -> float 1.1 ns there): only its argument
 *     2u needs a pair (about a dozen float operations), and the sigmoid after it is silu's
 *     form with its two roundings (2.62 ulp against 0.52).
 *
 * Accuracy: every function is within 2.7 ulp (float32) of the exact result over the WHOLE
 * float32 range, subnormal results included, against the same function / formula in double
 * (vmath.h or libm: < 2 ulp double, i.e. exact at float resolution); error in ulps of the
 * exact value (2^-149 below 2^-126); NaN must give NaN, infinities and signed zeros must
 * match. gcc 12 -O3 -fno-trapping-math -fno-math-errno:
 *
 *                            -march=native (AVX-512+FMA)   -march=x86-64-v2   Numba
 *   rk_expf                  0.77 (all 2^32 inputs)        0.75               0.76
 *   rk_expm1f                0.88 (all)                    1.00               1.01
 *   rk_log1pf                0.76 (all)                    0.85               0.83
 *   rk_siluf                 2.39 (every 17th)             -                  = C
 *   rk_softplusf             1.99 (all; x86-64-v3)         2.30 (all; v1)     = C (all)
 *   rk_geluf (double)        0.502 (every 17th)            0.502              = C
 *   rk_gelu_tanhf            2.62 (all; x86-64-v3)         2.62 (all; v1)     = C (all)
 *   rk_silu_gradf (double)   1.19 (every 17th)             1.45               = C
 *   rk_gelu_gradf (double)   1.30 (every 17th)             1.66               = C
 *   rk_gelu_tanh_gradf (d.)  1.24 (every 17th)             -                  = C
 *   rk_one_minus_expf        1.07 (all; 0.82 for z >= 0)   -                  = C
 * (x86-64-v2: every 7th block of 2^16 for the first three, every 17th input for the
 *  gradients; Numba: 1.9e7 sampled, "= C" where its results were bit-identical to the C
 *  build's on 2-5e7 sampled inputs ("all": on every float32, x86-64-v3 build against
 *  Numba on the same AVX2 CPU; rk_siluf too), Numba contracting a*b+c as gcc does. Composites
 *  against x sigmoid(x), 0.5 x erfc(-x/sqrt2), x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))
 *  in double; gradients against s + x s t, Phi + x phi and s + x (2u)' s t in double (libm),
 *  g = 1, the neighbourhood of the derivative's root included; with g = 1.37: silu' 1.62,
 *  gelu(tanh)' 1.82. rk_softplus_corrf's error is the tests' (tests/test_smooth_accuracy.py:
 *  2.05 ulp with beta = 3).)
 * Reproduce: an exhaustive loop over the bit patterns in C with OpenMP against the double
 * formula (not in the repository).
 *
 * Speed, one core, ns per element, AVX-512 build, uniform [-10, 10] (n = 2^16 to 10^6):
 *   exp 0.44, expm1 0.82 (x <= 0: 0.44), log1p 0.50, silu 0.32 (its wide form 0.66),
 *   gelu 1.24, gelu(tanh) 1.02 (its double form, before the float one), silu' 1.25-1.4,
 *   gelu' 1.69, gelu(tanh)' 1.36, 1 - exp 0.62; PyTorch 2.13's kernels (SLEEF, no care at a
 *   derivative's root) run silu 0.4-0.55, gelu 0.47, gelu(tanh) 1.7, silu' 0.5-0.66, gelu'
 *   0.84-0.94, gelu(tanh)' 1.9 on the same core.
 *
 * Cython:  cdef extern from "vmathf.h" nogil:
 *              float rk_expm1f(float)        float rk_softplus_corrf(float, float)
 *              float rk_siluf(float)         float rk_geluf(float)
 *              float rk_gelu_tanhf(float)    float rk_one_minus_expf(float, float)
 *              float rk_silu_gradf(float, float)      float rk_gelu_gradf(float, float)
 *              float rk_gelu_tanh_gradf(float, float)
 * (vmathf.h defines RK_INLINE only if vmath.h has not; either order of inclusion works.)
 *
 * Contraction: every step whose exactness matters is exact with or without FP contraction
 * (a*b+c fused into an FMA); results are accurate under both, and Numba is compiled with
 * the `contract` flag so that its results match the C build's.
 *
 * Floating-point flags: discarded lanes may raise flags (overflow of 2^128 in rk_expm1f's
 * unused path, division by zero / invalid in rk_log1pf for x <= -1); a returned value never
 * comes from inf-inf, 0*inf or 0/0 except where NaN is the answer.
 */
#ifndef RELUKIT_VMATHF_H
#define RELUKIT_VMATHF_H

#include <math.h>     /* NAN, INFINITY only */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef RK_INLINE
#if defined(__GNUC__)
#define RK_INLINE static inline __attribute__((always_inline))
#else
#define RK_INLINE static inline
#endif
#endif

#if defined(__GNUC__)
#define RKF_FABS(x) __builtin_fabsf(x)
#else
#define RKF_FABS(x) fabsf(x)
#endif

RK_INLINE uint32_t rkf__bits(float x) { uint32_t u; memcpy(&u, &x, sizeof u); return u; }
RK_INLINE float rkf__from_bits(uint32_t u) { float x; memcpy(&x, &u, sizeof x); return x; }

/* Branch-free (c ? a : b) on the bit patterns (see rk__sel in vmath.h: a C ternary lets gcc
 * sink work into conditional blocks that if-conversion then refuses to vectorise). */
RK_INLINE uint32_t rkf__mask(int c) { return (uint32_t)0 - (uint32_t)(c != 0); }
RK_INLINE float rkf__blend(uint32_t m, float a, float b)
{
    return rkf__from_bits((rkf__bits(a) & m) | (rkf__bits(b) & ~m));
}
RK_INLINE float rkf__sel(int c, float a, float b) { return rkf__blend(rkf__mask(c), a, b); }

/* Adding 1.5*2^23 to a float of magnitude < 2^22 rounds it to an integer (ties to even) and
 * leaves that integer, in two's complement, in the low mantissa bits. */
#define RKF__SHIFTER 0x1.8p23f

/* 2^k for a float k holding an integer in [-126, 127]: (k + shifter)'s low bits hold k;
 * shifted left by 23 they leave k mod 512 in bits 23..31, and adding the bias gives the
 * biased exponent k + 127 in [1, 254] (no carry into the sign bit). */
RK_INLINE float rkf__pow2i(float k)
{
    uint32_t b = rkf__bits(k + RKF__SHIFTER);
    return rkf__from_bits((b << 23) + (UINT32_C(127) << 23));
}

/* 2^n = s1 * s2 with n1 = round(n/2), n2 = n - n1, both normal for |n| <= 252: a value v
 * in [0.5, 2) scaled as (v * s1) * s2 is rounded only once, by the last multiply, which
 * gives correctly rounded gradual underflow and exact overflow to inf. */
RK_INLINE void rkf__split_pow2(float n, float *s1, float *s2)
{
    float n1 = (n * 0.5f + RKF__SHIFTER) - RKF__SHIFTER;
    *s1 = rkf__pow2i(n1);
    *s2 = rkf__pow2i(n - n1);
}

/* Cody-Waite split of ln 2 (cephes): LN2HI = 355/512 has 9 significant bits, so n*LN2HI is
 * exact for |n| < 2^15, and hi - n*LN2HI is exact whenever it is small (below). */
#define RKF__LOG2E 1.44269502e+00f
#define RKF__LN2HI 6.93359375e-01f      /* 0x1.63p-1            */
#define RKF__LN2LO -2.12194442e-04f     /* ln 2 - LN2HI, float  */

/*
 * Core of every exponential here. Argument a = hi + lo, hi exact, |lo| <~ 0.2:
 *   n  = nearest integer to a/ln2 (a float, via the shifter),
 *   rh = hi - n*LN2HI, EXACT: it is a multiple of min(ulp(hi), 2^-9) and |rh| < 1, which
 *        fits in 24 bits for every hi the callers pass (|hi| <= 172);
 *   rl = lo - n*LN2LO (small; its rounding is harmless);
 *   expm1(r) = rh + corr, corr = rl + r^2*q(r), r = rh + rl, |r| <= ln2/2 + |lo| slack.
 * q: degree-5 polynomial fitted (least squares on Chebyshev nodes, mpmath, float
 * coefficients) to (expm1(r) - r)/r^2 on |r| <= 0.3467: relative error 4.5e-9, which enters
 * the result scaled by r^2 q <= 0.062: < 2^-32 relative. (Taylor would need degree 7.)
 * The unevaluated pair (rh, corr) keeps the largest term rh unrounded; callers add it last.
 */
RK_INLINE float rkf__expm1_q(float r)
{
    float q = 1.97134970e-04f;
    q = q * r + 1.39305077e-03f;
    q = q * r + 8.33359826e-03f;
    q = q * r + 4.16665114e-02f;
    q = q * r + 1.66666657e-01f;
    return q * r + 0.5f;
}

RK_INLINE void rkf__exp_core(float hi, float lo, float *n_out, float *rh_out, float *corr_out)
{
    float kd = (hi + lo) * RKF__LOG2E + RKF__SHIFTER;
    float n = kd - RKF__SHIFTER;
    float rh = hi - n * RKF__LN2HI;
    float rl = lo - n * RKF__LN2LO;
    float r = rh + rl;
    *n_out = n;
    *rh_out = rh;
    *corr_out = rl + (r * r) * rkf__expm1_q(r);
}

/* 1 + (rh + corr) rounded once. */
RK_INLINE float rkf__one_plus(float rh, float corr)
{
    float s = 1.0f + rh;
    float e = (1.0f - s) + rh;
    return s + (e + corr);
}

/*
 * expf(x). x is clamped to [-104, 89]: exp(89) overflows and exp(-104) < 2^-150 rounds to 0
 * anyway, and the clamp keeps n in [-150, 129], inside rkf__split_pow2's range, so +inf ->
 * inf and -inf -> 0 need no special case; NaN passes the clamp (comparisons are false).
 * Result = (1 + expm1(r)) * 2^n1 * 2^n2: one rounding in 1 + expm1(r) and, for subnormal
 * results (x < -87.34), one more in the final scaling.
 */
RK_INLINE float rk_expf(float x)
{
    float xc = rkf__sel(x > 89.0f, 89.0f, rkf__sel(x < -104.0f, -104.0f, x));
    float n, rh, corr, s1, s2;
    rkf__exp_core(xc, 0.0f, &n, &rh, &corr);
    rkf__split_pow2(n, &s1, &s2);
    return (rkf__one_plus(rh, corr) * s1) * s2;
}

/* rk_expm1f for n <= 24, t = 2^n (exact). */
RK_INLINE float rkf__expm1_mid(float t, float rh, float corr)
{
    float a = t - 1.0f;
    float a_err = t - (a + 1.0f);       /* a + a_err == t - 1 exactly */
    float b = t * rh;
    float s = a + b;                    /* TwoSum(a, b) */
    float bb = s - a;
    float err = (a - (s - bb)) + (b - bb);
    return s + ((err + a_err) + t * corr);
}

/*
 * expm1f(x) = 2^n (1 + p) - 1, p = expm1(r) = rh + corr (vmath.h's rk_expm1 in float):
 *  n <= 24: a = 2^n - 1 (exact for 0 <= n <= 24; for n < 0 its rounding error a_err is
 *           recovered by Fast2Sum, |-1| >= 2^n) and b = 2^n*rh (exact) are summed with
 *           TwoSum, then the small terms err + a_err + 2^n*corr are added: no cancellation
 *           error at n = +-1, and tiny x gives x (n = 0, rh = x).
 *  n >= 25: 2^n ((1 + p) - 2^-n), 2^-n < 2^-24 folded into corr.
 * x is clamped to [-18, 89]: expm1f(x) rounds to -1 below -17.33 and overflows above 88.72.
 * -0.0 is returned as -0.0 by the final select; NaN propagates.
 */
RK_INLINE float rk_expm1f(float x)
{
    float xc = rkf__sel(x > 89.0f, 89.0f, rkf__sel(x < -18.0f, -18.0f, x));
    float n, rh, corr, s1, s2;
    rkf__exp_core(xc, 0.0f, &n, &rh, &corr);
    rkf__split_pow2(n, &s1, &s2);

    /* moderate n; s1 * s2 = 2^n exactly (inf for n = 128, unused lane) */
    float mid = rkf__expm1_mid(s1 * s2, rh, corr);

    /* large n */
    float tinv = rkf__pow2i(-rkf__sel(n > 100.0f, 100.0f, n));
    float big = (rkf__one_plus(rh, corr - tinv) * s1) * s2;

    float y = rkf__sel(n > 24.0f, big, mid);
    return rkf__sel(x == 0.0f, x, y);
}

/*
 * rk_expm1f for x <= 0 only (other x give an unspecified value): the elu family's
 * exponential branch. n <= 0, so 2^n is one rkf__pow2i and the large-n path is not needed;
 * the results are rk_expm1f's, bit for bit. Half the cost: float32 elu, one core, n = 2^16,
 * uniform [-10, 10]: 0.81 -> 0.44 ns per element (0.92 -> 0.52 with celu's division).
 */
RK_INLINE float rk_expm1f_neg(float x)
{
    float xc = rkf__sel(x < -18.0f, -18.0f, x);
    float n, rh, corr;
    rkf__exp_core(xc, 0.0f, &n, &rh, &corr);
    float y = rkf__expm1_mid(rkf__pow2i(n), rh, corr);
    return rkf__sel(x == 0.0f, x, y);
}

/*
 * log1pf(x): vmath.h's rk_log1p (fdlibm reduction, branch-free) in float.
 *  u = 1 + x rounded, c = its exact error (TwoSum): log1p(x) = log(u) + c/u.
 *  u = 2^k m, m in [sqrt(2)/2, sqrt(2)), from the bit pattern; f = m - 1 exact.
 *  log(1+f) = f - hfsq + s (hfsq + R(s^2)), s = f/(2+f), R = musl/fdlibm logf's degree-4
 *  polynomial Lg1..Lg4 (|error| < 2^-34.24 relative). k*LN2HI is exact (LN2HI has 17
 *  significant bits, |k| <= 128); the large terms k*LN2HI and f are added last.
 * Special cases selected at the end: x < -1 -> NaN, x = -1 -> -inf, x = +inf -> +inf,
 * x = +-0 -> x; NaN propagates through c; subnormal x gives x.
 */
/* rk_log1pf without its special cases: for x in [0, 1] (and NaN), where none applies,
 * the same bits (softplus's log1p(e^-|z|) used it, 1.73 -> 1.51 ns per element without
 * the four selects, before rkf__log1p_unit replaced it there). */
RK_INLINE float rkf__log1p_core(float x)
{
    float u = 1.0f + x;
    float bv = u - 1.0f;
    float av = u - bv;
    float c = (1.0f - av) + (x - bv);

    uint32_t iu = rkf__bits(u) + (UINT32_C(0x3f800000) - UINT32_C(0x3f3504f3));
    float k = (rkf__from_bits((iu >> 23) | UINT32_C(0x4b000000)) - 0x1p23f) - 127.0f;
    float m = rkf__from_bits((iu & UINT32_C(0x007fffff)) + UINT32_C(0x3f3504f3));
    float f = m - 1.0f;

    float cu = c / u;
    float hfsq = 0.5f * f * f;
    float s = f / (2.0f + f);
    float z = s * s;
    float R = 2.42790788e-01f;          /* Lg4 = 0xf89e26.0p-26 */
    R = R * z + 2.84987867e-01f;        /* Lg3 = 0x91e9ee.0p-25 */
    R = R * z + 4.00009722e-01f;        /* Lg2 = 0xccce13.0p-25 */
    R = R * z + 6.66666627e-01f;        /* Lg1 = 0xaaaaaa.0p-24 */
    R = R * z;
    return k * 6.93138123e-01f          /* ln2_hi = 0x3f317180 */
           - ((hfsq - (s * (hfsq + R) + (k * 9.05800061e-06f + cu))) - f);
}

RK_INLINE float rk_log1pf(float x)
{
    float y = rkf__log1p_core(x);
    y = rkf__sel(x == INFINITY, x, y);
    y = rkf__sel(x == -1.0f, -INFINITY, y);
    y = rkf__sel(x < -1.0f, NAN, y);
    return rkf__sel(x == 0.0f, x, y);
}

/* ------------------------------------------------------------------ composites
 *
 * Fused forms for the activations. Errors are measured exhaustively against the same
 * formula evaluated in double (table at the top). The activations' contract is 4 ulp in
 * float32; every form here is within 0.6, except rk_siluf (2.4), rk_gelu_tanhf (2.62),
 * rk_softplusf (1.99) and rk_softplus_corrf.
 *
 *  elu / selu / celu:  alpha * rk_expm1f(x / d): rk_expm1f's error plus one rounding of
 *     the product (<= expm1 + 0.5 ulp); with alpha = 1, d = 1 it is rk_expm1f itself.
 *     (x / d rounds for d != 1: expm1's condition number |x e^x/(e^x-1)| <= |x| for x < 0,
 *     bounded by 1 + ... near 0 and by |x| e^x -> 0 for the saturated tail.)
 */

/* log1p(e) for e in [0, 1] (softplus's log1p(e^-|z|)): e + e (e q(e)), q of degree 9 so
 * that 1 + e q(e) is a degree-10 polynomial fitted to log1p(e) / e (least squares on 400
 * Chebyshev nodes of [0, 1], mpmath, float coefficients: relative error 2^-26.8). No
 * division and no reduction, where rkf__log1p_core (general x) takes two divisions and
 * the exponent split; the last step adds e (e q), at most 0.31 e, to e with one rounding
 * (an FMA where the CPU has one). float32
 * softplus against max(z, 0) + log1p(exp(-|z|)) in double, all 2^32 bit patterns: 1.99 ulp
 * (2.30 on the baseline build, without FMA; worst for z in (0, 1), where e is near 1),
 * against 1.47 with rkf__log1p_core (every 3rd pattern); one core,
 * n = 2^16, uniform [-10, 10] (AMD EPYC Zen 3, AVX2): 2.0 -> 1.35 ns per element (Numba,
 * n = 10^6: 1.92 -> 1.25). NaN
 * propagates; e = 0 (z = +-inf) gives 0. */
RK_INLINE float rkf__log1p_unit(float e)
{
    float q = 2.03769049e-03f;
    q = q * e - 1.34448307e-02f;
    q = q * e + 4.15576212e-02f;
    q = q * e - 8.25353339e-02f;
    q = q * e + 1.24251030e-01f;
    q = q * e - 1.61086321e-01f;
    q = q * e + 1.98915377e-01f;
    q = q * e - 2.49873921e-01f;
    q = q * e + 3.33325684e-01f;
    q = q * e - 4.99999821e-01f;
    return e + e * (e * q);
}

/* softplus(z) for an exact z (beta = 1): rk_softplus_corrf with zlo = 0, the same bits
 * without the sigmoid's division (float32 softplus, one core: see softplus_kernel in
 * smooth.pxi). */
RK_INLINE float rk_softplusf(float z)
{
    return rkf__sel(z > 0.0f, z, 0.0f) + rkf__log1p_unit(rk_expf(-RKF_FABS(z)));
}

/* softplus(z + zlo) for z = beta x rounded and zlo its rounding error (|zlo| <= 2^-24 |z|),
 * to first order: softplus(z) + sigmoid(z) zlo. The sigmoid enters only through a term of
 * relative size <= 2^-17.5 of the result, so it is formed from the same e = exp(-|z|) with
 * one plain division (relative error ~2^-22, i.e. < 2^-39 of the result) instead of a second
 * exponential (a full sigmoid): float32 softplus at n = 10^6, one core, 2.28 -> 1.58 ms. */
RK_INLINE float rk_softplus_corrf(float z, float zlo)
{
    float e = rk_expf(-RKF_FABS(z));
    float l = rkf__log1p_unit(e);
    float sg = rkf__sel(z > 0.0f, 1.0f, e) / (1.0f + e);
    return (rkf__sel(z > 0.0f, z, 0.0f) + l) + sg * zlo;
}

/* v / (1 + e^(m + mlo)) = v sigmoid(-(m + mlo)), the exponent carried as a pair (silu:
 * m = -v, mlo = 0; gelu tanh: -2u from rkf__gelu_tanh_m2u), with e^(m + mlo) = (1 + rr) 2^n
 * (rkf__exp_core, rr = expm1 of the reduced argument, never rounded to 1 + rr) and
 * k = max(n, 0):
 *     v / (1 + e^m) = (v / D) 2^-k,   D = (2^-k + 2^(n-k)) + rr 2^(n-k).
 * 2^-k + 2^(n-k) is exact (one of them is 1, the other 2^-|n| with |n| <= 24 where it
 * matters; 2^-k is capped at 2^-60 beyond) and rr 2^(n-k) is exact, so D is rounded once
 * and v / D once more: no rounding of e^m itself, no overflow for m > 88.7 (e^m is never
 * formed), and the scaling 2^-k, applied last as 2^-min(k,126) 2^(min(k,126)-k), rounds
 * once into the subnormals. m is clamped to [-87, 110] (mlo dropped where it was): below
 * -87 e^m < 2^-125 (D = 1), beyond 110 the result is below 2^-150 for every |v| the
 * callers pass with such an m, and v * 0 is returned (silu(-inf) = -inf * 0 = NaN, as the
 * double formula; silu(+inf) = inf; -0.0 -> -0.0; NaN propagates).
 * silu: measured on every 17th bit pattern against x / (1 + exp(-x)) in double: 2.40 ulp
 * (the compensated form it replaces: 1.49), 0.87 -> 0.58 ns per element on one core
 * (uniform [-10, 10], n = 2^20, AVX-512). */
RK_INLINE float rkf__x_sigmoid(float v, float m, float mlo)
{
    float mc = rkf__sel(m < -87.0f, -87.0f, rkf__sel(m > 110.0f, 110.0f, m));
    float lo = rkf__sel(mc == m, mlo, 0.0f);
    float n, rh, corr;
    rkf__exp_core(mc, lo, &n, &rh, &corr);
    float rr = rh + corr;
    float k = rkf__sel(n > 0.0f, n, 0.0f);
    float p2 = rkf__pow2i(n - k);
    float D = (rkf__pow2i(-rkf__sel(k > 60.0f, 60.0f, k)) + p2) + rr * p2;
    float k1 = rkf__sel(k > 126.0f, 126.0f, k);
    float vq = rkf__sel(m > 110.0f, v * 0.0f, v);    /* -0.0, or NaN for -inf */
    return ((vq / D) * rkf__pow2i(-k1)) * rkf__pow2i(k1 - k);
}

RK_INLINE float rk_siluf(float x)
{
    return rkf__x_sigmoid(x, -x, 0.0f);
}

/* rkf__x_sigmoid for m <= 86 (NaN and -inf included; other m give an unspecified value)
 * and results that are normal or zero: there v / (1 + e^m) neither overflows nor
 * underflows, so the scaling by 2^-k is not needed: with e^m = (1 + rr) 2^n as there and
 * t = 2^n, D = (1 + t) + rr t is 2^k times rkf__x_sigmoid's D (1 + t is exact for n <= 24
 * and rounds as 2^-k + 1 there beyond), rounded once, and v / D is its result scaled: the
 * same bits (silu: checked on every float >= -86; gelu tanh: on every float >= -9.8) at
 * half the cost (silu, one core, n = 2^16, uniform [-10, 10]: 0.66 -> 0.34 ns per
 * element). silu_kernel and gelu_kernel in smooth.pxi take it for blocks with no x below
 * RKF__SILU_FAST_MIN / RKF__GELU_TANH_FAST_MIN and no NaN. */
#define RKF__SILU_FAST_MIN (-86.0f)

RK_INLINE float rkf__x_sigmoid_fast(float v, float m, float mlo)
{
    float mc = rkf__sel(m < -87.0f, -87.0f, m);       /* as rkf__x_sigmoid's clamp */
    float lo = rkf__sel(mc == m, mlo, 0.0f);
    float n, rh, corr;
    rkf__exp_core(mc, lo, &n, &rh, &corr);
    float t = rkf__pow2i(n);
    return v / ((1.0f + t) + (rh + corr) * t);
}

RK_INLINE float rkf__silu_fast(float x)
{
    return rkf__x_sigmoid_fast(x, -x, 0.0f);
}

/* Whether any p[i] of p[0..n) is NaN or below lim (a vectorised OR reduction). NaN counts
 * as in rkf__any_abs_not_within below: it then takes the full form in every block. */
RK_INLINE int rkf__any_below_or_nan(const float *p, ptrdiff_t n, float lim)
{
    int r = 0;
    for (ptrdiff_t i = 0; i < n; i++)
        r |= !(p[i] >= lim);
    return r;
}

/*
 * Exact gelu through the scaled tail of the normal distribution, in double:
 *     Phi(-a) = exp(-a^2/2) M(a),   M(a) = Phi(-a) exp(a^2/2),   a = |x|,
 * M a rational function of degree 5/6 in s = a/2, fitted (mpmath, Loeb iteration with
 * Lawson weights, relative error) on a in [0, 14.6]: relative error 2^-33.5, no pole for
 * s >= 0 (the denominator's coefficients are positive). The exponential is rkd__exp_neg
 * (below). A float argument is exact in double (a^2 too), so the whole evaluation errs by
 * ~2^-32 relative and the float result is rounded once: 0.505 ulp on every 17th bit
 * pattern, against 0.86 for the erfc-based form this replaces, at half its cost (float32
 * gelu, one core, n = 2^20: 2.81 -> 1.40 ns per element). The double evaluation costs
 * 8-lane vectors; the float forms tried instead (the same rational in float) lost 4-6 ulp
 * to the rounding of its Horner steps. The gradient (rk_gelu_gradf) uses the same M.
 */
#define RKD__GELU_AMAX 14.6

/* Horner's rule, c[0] x^(n-1) + ... + c[n-1] (highest degree first). Called with a constant
 * n and a static const c, gcc unrolls the loop and folds the coefficients into the code:
 * the same instructions as a written-out chain (checked: identical results, same speed). */
RK_INLINE double rkd__horner(double x, const double *c, int n)
{
    double p = c[0];
    for (int i = 1; i < n; i++)
        p = p * x + c[i];
    return p;
}

/* exp(t) for t in [-708, 0] (t = -a^2/2 or -|x|, exact), relative error ~2^-34, 2^n normal
 * in double throughout; float results only need that. One Cody-Waite step suffices: t - n
 * ln2 is formed with ln2 rounded to double, an absolute error below |n| 2^-54 <= 2^-44.
 * The polynomial is degree 7, fitted (mpmath, relative error, c0 = c1 = 1) on |r| <=
 * ln2/2: 2^-34.2, against Taylor degree 8's 2^-32.2 with one more term; with the single
 * reduction step, float32 gelu 1.35 -> 1.2x ns per element on one core. */
RK_INLINE double rkd__exp_neg(double t)
{
    static const double c[8] = {0.00019790352511422037, 0.00139446610422654,
                                0.008333497062418222, 0.04166629492392924, 0.166666658689378,
                                0.5000000067690492, 1.0, 1.0};
    double kd = t * 1.4426950408889634 + 0x1.8p52;
    double n = kd - 0x1.8p52;
    double r = t - n * 0.6931471805599453;
    double p = rkd__horner(r, c, 8);
    uint64_t b;
    memcpy(&b, &kd, sizeof b);
    b = (b << 52) + (UINT64_C(1023) << 52);
    double s;
    memcpy(&s, &b, sizeof s);
    return p * s;
}

RK_INLINE double rkd__gelu_m(double a)
{
    static const double P[6] = {0.028448619496282957, 0.18621410246667855, 0.570296104776986,
                                1.0020835276923337, 1.0149587818996966, 0.499999999958323};
    static const double Q[7] = {0.14262040556280275, 0.9335330985249018, 2.894785125029215,
                                5.256290836823614, 5.789926379274875, 3.625686669434571, 1.0};
    double s = 0.5 * a;
    return rkd__horner(s, P, 6) / rkd__horner(s, Q, 7);
}

RK_INLINE double rkd__sel(int c, double a, double b)
{
    uint64_t m = (uint64_t)0 - (uint64_t)(c != 0), ua, ub;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    ua = (ua & m) | (ub & ~m);
    double r;
    memcpy(&r, &ua, sizeof r);
    return r;
}

/* gelu(x) = x Phi(x): x Phi(-a) for x < 0, x (1 - Phi(-a)) for x >= 0 (no cancellation:
 * Phi(-a) <= 1/2). Beyond a = 14.6 Phi(-a) is set to 0: gelu(x < -14.6) = -0.0 (|gelu| <
 * 2^-150 from -14.34), gelu(-inf) = -inf * 0 = NaN as the double formula, gelu(+inf) =
 * inf; NaN propagates; -0.0 -> -0.0. */
RK_INLINE float rk_geluf(float xf)
{
    double x = xf;
    double a = __builtin_fabs(x);
    double ac = rkd__sel(a > RKD__GELU_AMAX, RKD__GELU_AMAX, a);
    double T = rkd__exp_neg(-0.5 * (ac * ac)) * rkd__gelu_m(ac);
    T = rkd__sel(a > RKD__GELU_AMAX, 0.0, T);
    return (float)(x * rkd__sel(x < 0, T, 1.0 - T));
}

/*
 * gelu, tanh approximation: 0.5 x (1 + tanh(u)) = x sigmoid(2u), 2u = x (C1 + C3 x^2),
 * C1 = 2 sqrt(2/pi), C3 = 0.044715 C1, in float as silu: x / (1 + e^-2u) through
 * rkf__x_sigmoid, with -2u as a pair. Sigmoid's relative condition number is
 * |2u| (1 - sigmoid), up to ~110 in the tail, so 2u rounded once to float would cost up to
 * ~110 x 0.5 ulp; as hi + lo it errs by ~2^-44 relative, and the result carries
 * rkf__x_sigmoid's two roundings (D and the quotient). Measured on all 2^32 bit patterns
 * against the double formula x / (1 + exp(-2u)) (libm, 2u from the double constants):
 * 2.62 ulp (silu's own form: 2.40), against 0.516 for the double form it replaces; one
 * core, n = 2^16, uniform [-10, 10] (AMD EPYC Zen 3, AVX2): 1.75 -> 1.1 ns per element
 * with rkf__gelu_tanh_fast (blocks with no x below -9.8), 1.7 with the full form.
 * Special values as rkf__x_sigmoid: below x = -10.8 the result rounds to -0.0,
 * gelu(-inf) = NaN (as the double formula), gelu(+inf) = inf, -0.0 -> -0.0, and NaN comes
 * back as it is.
 *
 * -2u as hi + lo: with FMA, float-float arithmetic (each product's error from an fma, the
 * sum C1 + C3 x^2 by TwoSum; C1, C3 as float pairs); without it (the baseline x86-64
 * build, where fmaf is a library call: 19.8 against 12.4 ns per element for the double
 * form), 2u in double, split. Both are within 2^-44 of 2u; they can differ in the last bit
 * of a result. Beyond |x| ~ 1.8e19 x^2 overflows and lo is NaN: -2u is +-inf there, and
 * rkf__x_sigmoid drops lo for -2u beyond its clamps.
 */
#define RKD__C1 1.5957691216057308           /* 2 sqrt(2/pi) */
#define RKD__C3 0.07135481627260025          /* 0.044715 * 2 sqrt(2/pi), rounded */

RK_INLINE float rkf__gelu_tanh_m2u(float x, float *lo)
{
#if defined(__FP_FAST_FMAF)
    const float c1h = 1.59576917e+00f, c1l = -4.53406805e-08f;   /* RKD__C1 as a pair */
    const float c3h = 7.13548139e-02f, c3l = 2.39883247e-09f;    /* RKD__C3 as a pair */
    float x2h = x * x;
    float x2l = __builtin_fmaf(x, x, -x2h);
    float ph = c3h * x2h;                                         /* C3 x^2 = ph + pl */
    float pl = __builtin_fmaf(c3h, x2h, -ph) + __builtin_fmaf(c3h, x2l, c3l * x2h);
    float kh = c1h + ph;                                          /* TwoSum */
    float bb = kh - c1h;
    float kl = ((c1h - (kh - bb)) + (ph - bb)) + (c1l + pl);
    float nx = -x;
    float h = nx * kh;
    *lo = __builtin_fmaf(nx, kl, __builtin_fmaf(nx, kh, -h));
    return h;
#else
    double xd = x;
    double u = -(xd * (RKD__C1 + RKD__C3 * (xd * xd)));
    float h = (float)u;
    *lo = (float)(u - (double)h);
    return h;
#endif
}

RK_INLINE float rk_gelu_tanhf(float x)
{
    float lo, m = rkf__gelu_tanh_m2u(x, &lo);
    return rkf__sel(x != x, x, rkf__x_sigmoid(x, m, lo));
}

/* rk_gelu_tanhf for x >= -9.8 (-2u <= 82.8; NaN and +inf included): rkf__x_sigmoid_fast,
 * the same bits (see there). gelu_kernel in smooth.pxi takes it for blocks with no x below
 * -9.8 and no NaN. */
#define RKF__GELU_TANH_FAST_MIN (-9.8f)

RK_INLINE float rkf__gelu_tanh_fast(float x)
{
    float lo, m = rkf__gelu_tanh_m2u(x, &lo);
    return rkf__x_sigmoid_fast(x, m, lo);
}

/* ------------------------------------------------------------------ gradients
 *
 * Each returns g * f'(x), evaluated in double from the float arguments and rounded once
 * (the product with g included, so subnormal gradients round once too).
 *
 * The derivatives of silu and gelu have a simple root (silu' at x = -1.2785, gelu' at
 * -0.7518, tanh-gelu' at -0.7525) where two terms of ~0.2 cancel: the double forms are
 * arranged so that only the error of the exponential or of gelu's tail function (~2^-34
 * relative) is amplified by the cancellation, and a polynomial in x - x0 replaces them
 * closest to the root (below).
 */

/*
 * Near the root x0 of a derivative, f'(x) = (x - x0) Q(x - x0) with Q smooth and away from
 * 0: t = x - x0h is EXACT (Sterbenz) within |t| < 0.125 of the float x0h, x0 = x0h + x0l,
 * and Q = c0h + (c0l + t p(t)), c0 = f''(x0) as a pair, p of degree 6 (least squares on
 * Chebyshev nodes, mpmath, float coefficients; fit error far below the float evaluation's,
 * Q within 0.9 * 2^-24 relative measured on 2000 points). g (t - x0l) Q is rounded twice
 * (fma, then g): within ~2.5 ulp however close x is to the root. gelu' uses it within 1/8
 * of its root (its tail function's error is amplified ~6x at 1/8); silu' and gelu(tanh)',
 * whose double forms lose accuracy only much closer, use the quadratic rkf__root_quad
 * within 2^-8 (the first coefficients of the same kind of fit).
 */
#define RKF__ROOT_HALFWIDTH 0.125f

RK_INLINE float rkf__root_poly(float g, float x, float x0h, float x0l, float c0h, float c0l,
                               float p0, float p1, float p2, float p3, float p4, float p5,
                               float p6)
{
    float t = x - x0h;
    float p = p6;
    p = p * t + p5;
    p = p * t + p4;
    p = p * t + p3;
    p = p * t + p2;
    p = p * t + p1;
    p = p * t + p0;
    float Q = c0h + (c0l + t * p);
    return g * (t * Q - x0l * Q);
}

/*
 * softplus' from the output: 1 - e^-(z + zlo) = -expm1(-(z + zlo)), z = beta y rounded and
 * zlo its rounding error (|zlo| <= 2^-24 |z|; it enters the exponential's low part, so the
 * result is that of the exact product). The forward's outputs give z >= 0; other z are
 * accurate too. With e^-(z + zlo) = 2^n (1 + rh + corr) (rkf__exp_core, rh exact):
 *     1 - e^-z = 2^n ((2^-n - 1) - rh - corr),
 * 2^-n - 1 is exact for |n| <= 24 (rounded to -1 beyond, an error below 2^-25 of the
 * result); |2^-n - 1| >= |rh| for every n, so (2^-n - 1) - rh is summed with Fast2Sum and
 * its error joins corr: one rounding before the scaling, which is exact (2^127 * 2 for
 * n = 128, so that no subnormal z loses a bit to a halving). z is clamped to [-89, 18]
 * (beyond 18 the result rounds to 1; -89 overflows to -inf, as every z below -88.72 does)
 * and zlo is dropped where z was clamped (it is NaN for an infinite z). z = +-0 gives z
 * (signed zero); NaN propagates. Measured against -expm1 in double: 0.82 ulp on every z >= 0
 * (the forward's range), 1.07 on all 2^32 z (zlo = 0); 1.05 / 0.82 ulp on every 7th y with
 * z = 3y / 0.5y and its zlo. It replaces -rk_expm1f(-z) plus a first-order correction for
 * zlo (0.82 -> 0.62 ns per element alone; float32 softplus backward, one core, n = 10^6:
 * 1.22 -> 0.65-0.7 ns, PyTorch's 0.52-0.76 in the same runs; without the Fast2Sum, 0.53 ns
 * and 1.15 ulp).
 */
RK_INLINE float rk_one_minus_expf(float z, float zlo)
{
    float zc = rkf__sel(z > 18.0f, 18.0f, rkf__sel(z < -89.0f, -89.0f, z));
    float lo = rkf__sel(zc == z, -zlo, 0.0f);
    float n, rh, corr;
    rkf__exp_core(-zc, lo, &n, &rh, &corr);
    float w = rkf__pow2i(-rkf__sel(n > 126.0f, 126.0f, n)) - 1.0f;
    float s = w - rh;                              /* Fast2Sum: |w| >= |rh| */
    float e = (w - s) - rh;
    float y = ((s + (e - corr)) * rkf__pow2i(rkf__sel(n > 127.0f, 127.0f, n)))
              * rkf__sel(n > 127.0f, 2.0f, 1.0f);
    return rkf__sel(z == 0.0f, z, y);
}

/* rkf__root_poly within 2^-8 of the root, where Q's cubic term is below 2^-27 of Q: a
 * quadratic (the first coefficients of the degree-6 fit on 1/8). */
RK_INLINE float rkf__root_quad(float g, float x, float x0h, float x0l, float c0h, float c0l,
                               float p0, float p1)
{
    float t = x - x0h;
    float Q = c0h + (c0l + t * (p0 + t * p1));
    return g * (t * Q - x0l * Q);
}

/*
 * silu' = sigmoid(x) (1 + x sigmoid(-x)), in double as one quotient: with E = e^-|x|
 * (rkd__exp_neg, ~2^-34 relative) and S = 1 + E,
 *     x >= 0:  (S + x E) / S^2,        x < 0:  E ((1 + x) + E) / S^2,
 * and g silu' is rounded once to float. For x < 0 the numerator cancels at the root
 * x0 = -1.2785 (1 + x0 + e^x0 = 0): 1 + x is exact and E's relative error 2^-34 becomes
 * 2^-34 0.39 / |x - x0| of the result, 0.1 ulp at 2^-8 from the root; within 2^-8 the
 * quadratic rkf__root_quad is used. x is clamped to +-170 (E stays normal; below -170 the
 * result is g * -0.0: below 2^-236 in magnitude, NaN for an infinite g as the double
 * formula s + (x s) t); silu'(+inf) is NaN as that formula's 1 + inf * 0 (PyTorch's).
 * Measured on every 17th bit pattern against that formula in double (libm): 1.19 ulp with
 * g = 1, 1.62 with g = 1.37 (the worst cases at the root, in the quadratic), against 1.48
 * / 2.04 for the float-float form it replaced (a compensated sigmoid product), which
 * cost 1.65 ns per element on one core against 1.25 here (n = 2^16, uniform [-10, 10];
 * PyTorch's, SLEEF's exp in float and no care at the root: 0.5-0.66 ns).
 */
/* rk_silu_gradf for |x| <= 170: without the clamps and the two special
 * cases, which change nothing there (the same bits); 1.38 -> 1.15 ns per element on one
 * core (n = 2^16, uniform [-10, 10]). silu_grad_kernel in smooth.pxi takes it for blocks
 * with no |x| above 170 and no NaN. */
#define RKF__SILU_GRAD_FAST_MAX 170.0f

RK_INLINE float rkf__silu_grad_fast(float g, float xf)
{
    double x = xf;
    double E = rkd__exp_neg(-__builtin_fabs(x));
    double S = 1.0 + E;
    double N = rkd__sel(x < 0, E * ((1.0 + x) + E), S + x * E);
    float y = (float)(((double)g * N) / (S * S));
    float yr = rkf__root_quad(g, xf, -1.27846456e+00f, 1.29792825e-08f, 2.17811704e-01f,
                              2.03785433e-09f, 1.46648794e-01f, 1.88748147e-02f);
    return rkf__sel(RKF_FABS(xf + 1.27846456e+00f) < 0x1p-8f, yr, y);
}

RK_INLINE float rk_silu_gradf(float g, float xf)
{
    float xc = rkf__sel(xf > 170.0f, 170.0f, rkf__sel(xf < -170.0f, -170.0f, xf));
    float y = rkf__silu_grad_fast(g, xc);
    y = rkf__sel(xf < -170.0f, g * -0.0f, y);
    return rkf__sel(xf == INFINITY, NAN, y);
}

/* Whether any p[i] of p[0..n) is NaN or above lim in magnitude. NaN counts: both forms
 * return NaN for it, but the baseline (SSE2) build's two forms gave it different sign bits
 * (tests/test_smooth_ops.py at that level), and a result must not depend on a neighbour. */
RK_INLINE int rkf__any_abs_not_within(const float *p, ptrdiff_t n, float lim)
{
    int r = 0;
    for (ptrdiff_t i = 0; i < n; i++)
        r |= !(RKF_FABS(p[i]) <= lim);
    return r;
}

/*
 * gelu (tanh form)' = s + x (2u)' s (1 - s), s = sigmoid(2u), (2u)' = C1 + 3 C3 x^2, in
 * double as rk_silu_gradf: with E = e^-|2u| and S = 1 + E,
 *     2u >= 0:  (S + x (2u)' E) / S^2,      2u < 0:  E ((1 + x (2u)') + E) / S^2,
 * the second cancelling at the root x0 = -0.7525, where the quadratic rkf__root_quad takes
 * over within 2^-8. |x| is clamped to 12.8 (|2u| <= 170, f' < 2^-236 beyond) and, as in
 * the double formula, beyond |x| = 1e30 the gradient is g for x > 0 and +0.0 otherwise.
 * Measured on every 17th bit pattern against the double formula: 1.24 ulp with g = 1,
 * 1.82 with g = 1.37 (the float-float form it replaced: 1.53 / 2.05); one
 * core 2.14 -> 1.36 ns per element.
 */
RK_INLINE float rk_gelu_tanh_gradf(float g, float xf)
{
    double x = rkf__sel(xf > 12.8f, 12.8f, rkf__sel(xf < -12.8f, -12.8f, xf));
    double x2 = x * x;
    double k1 = RKD__C1 + RKD__C3 * x2;
    double u = x * k1;
    double xk = x * (k1 + (2.0 * RKD__C3) * x2);
    double E = rkd__exp_neg(-__builtin_fabs(u));
    double S = 1.0 + E;
    double N = rkd__sel(u < 0, E * ((1.0 + xk) + E), S + xk * E);
    float y = (float)(((double)g * N) / (S * S));
    float yr = rkf__root_quad(g, xf, -7.52461433e-01f, 1.13396279e-08f, 4.30400103e-01f,
                              -1.23057538e-08f, 3.87518436e-01f, -1.57828536e-02f);
    y = rkf__sel(RKF_FABS(xf + 7.52461433e-01f) < 0x1p-8f, yr, y);
    float far = rkf__sel(xf > 0.0f, g, 0.0f);
    return rkf__sel(RKF_FABS(xf) >= 1e30f, far, y);
}

/*
 * gelu' = Phi(x) + x phi(x), in double with rk_geluf's M: phi(a) = exp(-a^2/2) / sqrt(2 pi)
 * and Phi(-a) = exp(-a^2/2) M(a), so with D = M(a) - a / sqrt(2 pi):
 *     x < 0:  gelu' = exp(-a^2/2) D,      x >= 0:  gelu' = 1 - exp(-a^2/2) D,
 * and g gelu' is formed in double and rounded once. D cancels at the root a0 = 0.7518
 * (x = -a0): M's relative error 2^-33.5 is amplified by M / |D| (about 6 at 1/8 from the
 * root), so within 1/8 of it the fitted polynomial in x - x0 (rkf__root_poly, float) is
 * used instead. a is clamped to 20 (beyond, |gelu'| < 2^-290: g * -0.0 for x < 0, and the
 * double exponential stays normal); M is extrapolated past its fit (14.6) there, where it is
 * below 1/a^2 of a / sqrt(2 pi). gelu'(+-inf) is NaN, as the double formula's inf * 0
 * (PyTorch's). Measured on every 17th bit pattern, g = 1: 1.5 ulp, 4.45 -> 1.7 ns per
 * element on one core against the erfc-based float form this replaces.
 */
RK_INLINE float rk_gelu_gradf(float g, float xf)
{
    double x = xf;
    double a = __builtin_fabs(x);
    double ac = rkd__sel(a > 20.0, 20.0, a);
    double E = rkd__exp_neg(-0.5 * (ac * ac));
    double D = rkd__gelu_m(ac) - ac * 0.3989422804014327;
    double d = rkd__sel(x < 0, E * D, 1.0 - E * D);
    d = rkd__sel(x < -20.0, -0.0, d);
    float y = (float)((double)g * d);
    float yr = rkf__root_poly(g, xf, -7.51791537e-01f, 1.21144499e-08f, 4.31493998e-01f,
                              -5.25980548e-09f, 3.88284981e-01f, -1.81996766e-02f,
                              -1.14008233e-01f, -1.47713637e-02f, 1.94216222e-02f,
                              4.51890938e-03f, -2.23372271e-03f);
    y = rkf__sel(RKF_FABS(xf + 7.51791537e-01f) < RKF__ROOT_HALFWIDTH, yr, y);
    return rkf__sel(RKF_FABS(xf) == INFINITY, NAN, y);
}

#endif /* RELUKIT_VMATHF_H */
