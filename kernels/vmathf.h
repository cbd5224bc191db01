/*
 * vmathf.h -- branch-free, vectorisable SINGLE-precision elementary functions for the
 * float32 paths of the smooth ReLU-family activations. The float32 twin of vmath.h:
 *
 *   rk_expf, rk_expm1f, rk_log1pf, rk_tanhf, rk_sigmoidf      (float -> float)
 *
 * plus fused activation helpers whose combined error is measured (see "Composites"):
 *
 *   rk_softplusf, rk_siluf, rk_geluf, rk_gelu_tanhf      (float -> float)
 *   rk_softplus_corrf                                        (float z, float zlo -> float)
 *
 * and the gradients (see "Gradients"), g * f'(x) for (float g, float x):
 *
 *   rk_silu_gradf, rk_gelu_gradf, rk_gelu_tanh_gradf
 *
 * with softplus's from its output, f'(z) = 1 - e^-z for z = beta y (no g):
 *
 *   rk_one_minus_expf                                        (float z, float zlo -> float)
 *
 * Why: float32 kernels that evaluate through vmath.h in double run 8 lanes per AVX-512
 * vector and pay two conversions; everything here is float (or int32 bit patterns), so a
 * loop `y[i] = rk_expf(x[i])` runs 16 lanes per vector (8 with AVX2, 4 with SSE). The same
 * rules as vmath.h hold (see there for the reasons):
 *   - no calls, no data-dependent branches: every case is computed and picked with a
 *     bit-mask select (rkf__sel); no tables (no gathers);
 *   - bit manipulation through memcpy to/from uint32_t with 32-bit shifts/ands/adds;
 *     integers are moved in and out of floats with the 1.5*2^23 "shifter" trick;
 *   - double arithmetic only where float cannot reach the bound cheaply: exact gelu and its
 *     gradient evaluate a rational tail function in double (8 lanes; see rk_geluf).
 *
 * Accuracy: every function is within 2 ulp (float32) of the exact result over the WHOLE
 * float32 range, subnormal results included (measured: within 0.91 ulp with FMA, 1.01
 * without; the composites within 1.5 (rk_siluf 2.4), the gradients within 2.2). Checked
 * EXHAUSTIVELY, all 2^32 inputs (rk_siluf, rk_geluf, rk_gelu_gradf: every 17th), against the
 * same function / formula in double with vmath.h (< 2 ulp double, i.e. exact at float
 * resolution); error in ulps of the exact
 * value (2^-149 below 2^-126); NaN must give NaN, infinities and signed zeros must match.
 * gcc 12 -O3 -fno-trapping-math -fno-math-errno:
 *
 *                   -march=native (AVX-512+FMA)   -march=x86-64-v2 (no FMA)   Numba
 *                   all 2^32 inputs               every 7th block of 2^16     1.9e7 sampled
 *   rk_expf                 0.77                          0.75                  0.76
 *   rk_expm1f               0.88                          1.00                  1.01
 *   rk_log1pf               0.76                          0.85                  0.83
 *   rk_sigmoidf             0.77                          0.75                  0.76
 *   rk_tanhf                0.78                          0.79                  0.79
 *   rk_softplusf            1.49                          1.48                  1.48
 *   rk_siluf                2.39 (every 17th)             -                     = C
 *   rk_geluf (in double)    0.502 (every 17th)            0.502                 = C
 *   rk_gelu_tanhf           0.79                          0.81                  0.79
 *   rk_silu_gradf (double)  1.19 (every 17th)         1.45 (every 17th)         = C
 *   rk_gelu_gradf (double)  1.30 (every 17th)         1.66 (every 17th)         = C
 *   rk_gelu_tanh_gradf      1.61                      2.21                      = C
 *   rk_one_minus_expf       1.15                      -                         = C
 * (composites against: max(z,0) + log1p(exp(-|z|)), x sigmoid(x),
 *  0.5 x erfc(-x/sqrt2), x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)), all in double;
 *  gradients against s + x s t, Phi + x phi and s + x (2u)' s t in double (libm), the
 *  neighbourhood of the derivative's root included. rk_siluf (leaner since) and the
 *  gradients were measured on all 2^32 inputs with the Numba column "= C": Numba's
 *  gradients were bit-identical to the C build's on 1.7e7 sampled inputs. With g = 1.37
 *  (1/1999 of the inputs, long double): 2.04 (silu', since 1.62 on every 17th in its double
 *  form), 1.97, 1.75 ulp.)
 * Reproduce: /tmp/vmathf_check/exh.c (not in the repository).
 *
 * Speed, one core, n = 10^6, uniform [-10, 10], ns/element (this 2-core AMD EPYC, AVX-512),
 * float path here vs the float32 -> double vmath.h -> float path of smooth.pxi:
 *   exp 0.44 / 1.31, expm1 0.83 / 1.83, log1p 0.50 / 1.36,
 *   sigmoid 0.89 / 1.65, tanh 0.77 / 1.85, softplus 1.42 / 2.94, silu 1.18 / 3.19,
 *   gelu 2.88 / 5.82, gelu(tanh) 1.58 / 1.99.
 * Gradients, ns/element on one core (n = 10^6, uniform [-10, 10], min of interleaved runs
 * in one process with PyTorch 2.13's aten::*_backward, 1 thread), float32 -> double
 * vmath.h -> float path before, float path here after, torch:
 *   silu 3.42 -> 1.69 (torch 0.51), gelu 7.33 -> 4.45 (0.83), gelu(tanh) 2.74 -> 2.17
 *   (1.83), softplus from y 1.92 -> 1.18 (0.51). Forwards changed here: silu 1.10 -> 0.86
 *   (0.41), softplus 2.28 -> 1.58 (1.48).
 * Without FMA (x86-64-v2) every exact product is a 7-operation Dekker product: gelu(tanh),
 * which needs four, is then slower than the double path (11.1 vs 9.5 ns).
 *
 * Cython:  cdef extern from "vmathf.h" nogil:
 *              float rk_expf(float)          float rk_softplusf(float)
 *              float rk_expm1f(float)        float rk_siluf(float)
 *              float rk_log1pf(float)        float rk_geluf(float)
 *              float rk_sigmoidf(float)      float rk_gelu_tanhf(float)
 *              float rk_tanhf(float)       float rk_softplus_corrf(float, float)
 *              float rk_silu_gradf(float, float)      float rk_gelu_gradf(float, float)
 *              float rk_gelu_tanh_gradf(float, float)
 * (vmathf.h defines RK_INLINE only if vmath.h has not; either order of inclusion works.)
 *
 * Exact products: several steps need a*b as an exact pair (hi, lo). With FMA hardware
 * (__FP_FAST_FMAF / __FMA__) that is a*b and fmaf(a, b, -a*b) (one vfmadd); without it,
 * Dekker's product with operands split into 12-bit halves by MASKING the mantissa (no
 * Veltkamp constant multiply, so the split is immune to FP contraction): every partial
 * product is exact, so the result is identical with or without contraction.
 * Elsewhere, as in vmath.h, every step whose exactness matters is exact with or without
 * contraction; results are accurate under both but not bit-identical between a contracting
 * build and Numba (which does not contract, but calls llvm.fma explicitly where this file
 * uses an exact product).
 *
 * Floating-point flags: discarded lanes may raise flags (overflow of 2^128 in rk_expm1f's
 * unused path, division by zero / invalid in rk_log1pf for x <= -1); a returned value never
 * comes from inf-inf, 0*inf or 0/0 except where NaN is the answer.
 */
#ifndef RELUKIT_VMATHF_H
#define RELUKIT_VMATHF_H

#include <math.h>     /* NAN, INFINITY only */
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

/* A hardware fused multiply-add, when the target has one (then __builtin_fmaf is a single
 * vfmadd, vectorisable); otherwise exact products use the masked Dekker split. */
#if defined(__FP_FAST_FMAF) || defined(__FMA__)
#define RKF__HAVE_FMA 1
#else
#define RKF__HAVE_FMA 0
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

/* x with its low `k` mantissa bits cleared (truncation toward zero to 24-k significant
 * bits); x - rkf__trunc(x, k) is exact and has at most k significant bits. */
#define RKF__TRUNC12(x) rkf__from_bits(rkf__bits(x) & UINT32_C(0xfffff000))   /* 12 bits */

/* a*b == *p + *e exactly (barring underflow of *e). */
RK_INLINE void rkf__two_prod(float a, float b, float *p, float *e)
{
    float ph = a * b;
#if RKF__HAVE_FMA
    *e = __builtin_fmaf(a, b, -ph);
#else
    float ah = RKF__TRUNC12(a), al = a - ah;
    float bh = RKF__TRUNC12(b), bl = b - bh;
    *e = (((ah * bh - ph) + ah * bl) + al * bh) + al * bl;
#endif
    *p = ph;
}

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

/* 1 + (rh + corr) as an unevaluated pair (*hi + *lo), |rh| < 1: 1 + rh is summed exactly
 * (Fast2Sum), the error term and corr are added, and the final Fast2Sum keeps the rounding
 * error of the high part, so hi is 1 + rh + corr rounded once and lo the remainder. */
RK_INLINE void rkf__one_plus2(float rh, float corr, float *hi, float *lo)
{
    float s = 1.0f + rh;
    float t = ((1.0f - s) + rh) + corr;
    float u = s + t;
    *hi = u;
    *lo = t - (u - s);
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

    /* moderate n */
    float t = s1 * s2;                  /* 2^n exactly (inf for n = 128, unused lane) */
    float a = t - 1.0f;
    float a_err = t - (a + 1.0f);       /* a + a_err == t - 1 exactly */
    float b = t * rh;
    float s = a + b;                    /* TwoSum(a, b) */
    float bb = s - a;
    float err = (a - (s - bb)) + (b - bb);
    float mid = s + ((err + a_err) + t * corr);

    /* large n */
    float tinv = rkf__pow2i(-rkf__sel(n > 100.0f, 100.0f, n));
    float big = (rkf__one_plus(rh, corr - tinv) * s1) * s2;

    float y = rkf__sel(n > 24.0f, big, mid);
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
RK_INLINE float rk_log1pf(float x)
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
    float y = k * 6.93138123e-01f       /* ln2_hi = 0x3f317180 */
              - ((hfsq - (s * (hfsq + R) + (k * 9.05800061e-06f + cu))) - f);

    y = rkf__sel(x == INFINITY, x, y);
    y = rkf__sel(x == -1.0f, -INFINITY, y);
    y = rkf__sel(x < -1.0f, NAN, y);
    return rkf__sel(x == 0.0f, x, y);
}

/*
 * sigmoid(x + xl) (xl = 0 for plain sigmoid; rk_gelu_tanhf passes the low part of its
 * argument), returned as (*m * *s1) * *s2, so that a caller can multiply m by something
 * (gelu(tanh)'s x) BEFORE the final power-of-two scaling rounds into the subnormals.
 * E = exp(-|x + xl|) = (eu + el) * 2^n (xl enters rkf__exp_core's lo), then
 *   x >= 0: 1 / (1 + E),    x < 0: E / (1 + E)  (numerator eu, scaled by 2^n at the end)
 * 1 + E is kept as S + err (Fast2Sum, plus the scaled el), the quotient q = num / S is
 * formed with its exact remainder rem = num - q*S (rkf__two_prod) and corrected to first
 * order: y = q + (rem + nlo - q*err) / S, with 1/S taken as q (x >= 0) or 1 - q*2^n
 * (x < 0, = 1/(1+E)) -- no second division. The quotient is thus rounded once, at the end.
 * |x| is clamped to 110 (not 104: x sigmoid(x) is above 2^-150 down to x = -108.7, and
 * rk_siluf scales after multiplying by x), with *s2 = 0 beyond: sigmoid(+inf) = 1,
 * sigmoid(-inf) = 0, silu(-inf) = -inf * 0 = NaN as in the double path; NaN propagates.
 */
RK_INLINE void rkf__sigmoid_parts(float x, float xl, float *m_out, float *ml_out,
                                  float *s1_out, float *s2_out)
{
    float ax = RKF_FABS(x);
    float xla = rkf__from_bits(rkf__bits(xl) ^ (rkf__bits(x) & UINT32_C(0x80000000)));
    float xc = -rkf__sel(ax > 110.0f, 110.0f, ax);
    float n, rh, corr, s1, s2;
    rkf__exp_core(xc, -xla, &n, &rh, &corr);
    rkf__split_pow2(n, &s1, &s2);
    float eu, el;
    rkf__one_plus2(rh, corr, &eu, &el);
    float Eh = (eu * s1) * s2;
    float El = (el * s1) * s2;
    float S = 1.0f + Eh;                           /* 1 + Eh + El == S + err (to ~u^2) */
    float err = ((1.0f - S) + Eh) + El;
    int pos = x >= 0.0f;
    float num = rkf__sel(pos, 1.0f, eu);
    float nlo = rkf__sel(pos, 0.0f, el);
    float q = num / S;
    float ph, pl;
    rkf__two_prod(q, S, &ph, &pl);
    float rem = (num - ph) - pl;
    float inv = rkf__sel(pos, q, 1.0f - (q * s1) * s2);
    float qc = ((rem + nlo) - q * err) * inv;
    float m = q + qc;
    *m_out = m;
    *ml_out = (q - m) + qc;                        /* Fast2Sum */
    *s1_out = rkf__sel(pos, 1.0f, s1);
    *s2_out = rkf__sel(pos, 1.0f, rkf__sel(ax > 110.0f, 0.0f, s2));
}

RK_INLINE float rk_sigmoidf(float x)
{
    float m, ml, s1, s2;
    rkf__sigmoid_parts(x, 0.0f, &m, &ml, &s1, &s2);
    return (m * s1) * s2;
}

/*
 * tanhf(x), odd: computed on |x| and signed at the end (keeps -0.0 and NaN).
 *  |x| < 0.625: x + x*(x^2 g(x^2)), g a degree-5 polynomial fitted to (tanh(x) - x)/x^3
 *     (relative error 3e-8 in a term <= 12% of the result).
 *  |x| >= 0.625: 1 - 2/(E + 1), E = exp(2|x|) >= 3.49 kept as a pair (Eh, El); E + 1 =
 *     S + err (Fast2Sum, E >= 1); q = 2/S with its exact remainder 2 - q*S, corrected to
 *     first order (1/S = q/2); q <= 0.45, so 1 - q loses nothing and rounds once.
 *     |x| is clamped to 9.5 (tanhf rounds to 1 beyond 9.01).
 */
RK_INLINE float rk_tanhf(float x)
{
    float ax = RKF_FABS(x);
    float z = ax * ax;
    float g = 2.40081409e-03f;
    g = g * z - 8.46113823e-03f;
    g = g * z + 2.18152460e-02f;
    g = g * z - 5.39673008e-02f;
    g = g * z + 1.33333609e-01f;
    g = g * z - 3.33333343e-01f;
    float small = ax + ax * (z * g);

    float a2 = 2.0f * rkf__sel(ax > 9.5f, 9.5f, ax);
    float n, rh, corr;
    rkf__exp_core(a2, 0.0f, &n, &rh, &corr);
    float eu, el;
    rkf__one_plus2(rh, corr, &eu, &el);
    float p = rkf__pow2i(n);                       /* n <= 28: one scale suffices */
    float Eh = eu * p, El = el * p;
    float S = Eh + 1.0f;
    float err = ((Eh - S) + 1.0f) + El;            /* E + 1 == S + err */
    float q = 2.0f / S;
    float ph, pl;
    rkf__two_prod(q, S, &ph, &pl);
    float rem = (2.0f - ph) - pl;
    q = q + (rem - q * err) * (0.5f * q);
    float large = 1.0f - q;

    float r = rkf__sel(ax < 0.625f, small, large);
    return rkf__from_bits(rkf__bits(r) | (rkf__bits(x) & UINT32_C(0x80000000)));
}

/* ------------------------------------------------------------------ composites
 *
 * Fused forms for the activations. Errors are measured exhaustively against the same
 * formula evaluated in double with vmath.h (table at the top). The activations' contract is
 * 4 ulp in float32; every form here is within 1.5, except rk_siluf (2.4).
 *
 *  elu / selu / celu:  alpha * rk_expm1f(x / d): rk_expm1f's error plus one rounding of
 *     the product (<= expm1 + 0.5 ulp); with alpha = 1, d = 1 it is rk_expm1f itself.
 *     (x / d rounds for d != 1: expm1's condition number |x e^x/(e^x-1)| <= |x| for x < 0,
 *     bounded by 1 + ... near 0 and by |x| e^x -> 0 for the saturated tail.)
 */

/* ((x * (m + ml)) * s1) * s2, m + ml a Fast2Sum pair (the unrounded function value),
 * s1 * s2 a power of two: x * m is formed exactly (rkf__two_prod) so the product is rounded
 * once, not after the function's own rounding (which alone costs up to 1.5 ulp where the
 * function value sits just above a power of two, e.g. sigmoid(0+) = 0.5+). m * s1 is exact
 * and keeps x * m finite for huge x; the final * s2 rounds into the subnormals once. */
RK_INLINE float rkf__mul_pair(float x, float m, float ml, float s1, float s2)
{
    float p, e;
    rkf__two_prod(x, m * s1, &p, &e);
    float r = p + (e + x * (ml * s1));
    /* p itself where it is +-0 (keeps silu(-0) = -0) or +-inf (e = inf - inf is NaN) */
    return rkf__sel((p == 0.0f) | (r != r), p, r) * s2;
}

/* softplus(z) = max(z, 0) + log1p(exp(-|z|)); z = beta x is the caller's (its rounding is
 * the caller's to compensate, as smooth.pxi does). For z < -87.3 exp(z) is subnormal and
 * log1p returns it unchanged: one rounding. */
RK_INLINE float rk_softplusf(float z)
{
    float e = rk_expf(-RKF_FABS(z));
    float l = rk_log1pf(e);
    return rkf__sel(z > 0.0f, z, 0.0f) + l;
}

/* softplus(z + zlo) for z = beta x rounded and zlo its rounding error (|zlo| <= 2^-24 |z|),
 * to first order: softplus(z) + sigmoid(z) zlo. The sigmoid enters only through a term of
 * relative size <= 2^-17.5 of the result, so it is formed from the same e = exp(-|z|) with
 * one plain division (relative error ~2^-22, i.e. < 2^-39 of the result) instead of a second
 * exponential (rk_sigmoidf): float32 softplus at n = 10^6, one core, 2.28 -> 1.58 ms. */
RK_INLINE float rk_softplus_corrf(float z, float zlo)
{
    float e = rk_expf(-RKF_FABS(z));
    float l = rk_log1pf(e);
    float sg = rkf__sel(z > 0.0f, 1.0f, e) / (1.0f + e);
    return (rkf__sel(z > 0.0f, z, 0.0f) + l) + sg * zlo;
}

/* silu(x) = x / (1 + e^-x), PyTorch's form, with e^-x = (1 + rr) 2^n (rkf__exp_core,
 * rr = expm1 of the reduced argument, never rounded to 1 + rr) and k = max(n, 0):
 *     silu(x) = (x / D) 2^-k,   D = (2^-k + 2^(n-k)) + rr 2^(n-k).
 * 2^-k + 2^(n-k) is exact (one of them is 1, the other 2^-|n| with |n| <= 24 where it
 * matters; 2^-k is capped at 2^-60 beyond) and rr 2^(n-k) is exact, so D is rounded once
 * and x / D once more: no rounding of e^-x itself, no overflow for x < -88.7 (e^-x is
 * never formed), and the scaling 2^-k, applied last as 2^-min(k,126) 2^(min(k,126)-k),
 * rounds once into the subnormals. -x is clamped to [-87, 110]: below -87 e^-x < 2^-125
 * (D = 1), beyond 110 the result is below 2^-150 and x is replaced by x * 0 (silu(-inf) =
 * -inf * 0 = NaN, as the double formula; silu(+inf) = inf; -0.0 -> -0.0; NaN propagates).
 * Measured on every 17th bit pattern against x / (1 + exp(-x)) in double: 2.40 ulp (the
 * compensated form it replaces: 1.49), 0.87 -> 0.58 ns per element on one core (uniform
 * [-10, 10], n = 2^20, AVX-512). */
RK_INLINE float rk_siluf(float x)
{
    float nx = rkf__sel(x > 87.0f, -87.0f, rkf__sel(x < -110.0f, 110.0f, -x));
    float n, rh, corr;
    rkf__exp_core(nx, 0.0f, &n, &rh, &corr);
    float rr = rh + corr;
    float k = rkf__sel(n > 0.0f, n, 0.0f);
    float p2 = rkf__pow2i(n - k);
    float D = (rkf__pow2i(-rkf__sel(k > 60.0f, 60.0f, k)) + p2) + rr * p2;
    float k1 = rkf__sel(k > 126.0f, 126.0f, k);
    float xq = rkf__sel(x < -110.0f, x * 0.0f, x);   /* -0.0, or NaN for -inf */
    return ((xq / D) * rkf__pow2i(-k1)) * rkf__pow2i(k1 - k);
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

/* exp(t) for t in [-708, 0] (t = -a^2/2 or -|x|, exact), relative error ~2^-34, 2^n normal
 * in double throughout; float results only need that. One Cody-Waite step suffices: t - n
 * ln2 is formed with ln2 rounded to double, an absolute error below |n| 2^-54 <= 2^-44.
 * The polynomial is degree 7, fitted (mpmath, relative error, c0 = c1 = 1) on |r| <=
 * ln2/2: 2^-34.2, against Taylor degree 8's 2^-32.2 with one more term; with the single
 * reduction step, float32 gelu 1.35 -> 1.2x ns per element on one core. */
RK_INLINE double rkd__exp_neg(double t)
{
    double kd = t * 1.4426950408889634 + 0x1.8p52;
    double n = kd - 0x1.8p52;
    double r = t - n * 0.6931471805599453;
    double p = 0.00019790352511422037;
    p = p * r + 0.00139446610422654;
    p = p * r + 0.008333497062418222;
    p = p * r + 0.04166629492392924;
    p = p * r + 0.166666658689378;
    p = p * r + 0.5000000067690492;
    p = p * r + 1.0;
    p = p * r + 1.0;
    uint64_t b;
    memcpy(&b, &kd, sizeof b);
    b = (b << 52) + (UINT64_C(1023) << 52);
    double s;
    memcpy(&s, &b, sizeof s);
    return p * s;
}

RK_INLINE double rkd__gelu_m(double a)
{
    double s = 0.5 * a;
    double P = 0.028448619496282957;
    P = P * s + 0.18621410246667855;
    P = P * s + 0.570296104776986;
    P = P * s + 1.0020835276923337;
    P = P * s + 1.0149587818996966;
    P = P * s + 0.499999999958323;
    double Q = 0.14262040556280275;
    Q = Q * s + 0.9335330985249018;
    Q = Q * s + 2.894785125029215;
    Q = Q * s + 5.256290836823614;
    Q = Q * s + 5.789926379274875;
    Q = Q * s + 3.625686669434571;
    Q = Q * s + 1.0;
    return P / Q;
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
 * gelu, tanh approximation: 0.5 x (1 + tanh(u)) = x sigmoid(2u),
 * 2u = C1 x + C3 x^3, C1 = 2 sqrt(2/pi), C3 = 0.044715 C1. sigmoid's relative condition
 * number is |2u| (1 - sigmoid) -- up to ~100 in the tail -- so 2u is formed as an exact-ish
 * pair (uh, ul) (x^2, C3 x^2 and x (C1 + C3 x^2) as two-products, constants as hi + lo
 * pairs; relative error ~2^-44) and ul enters sigmoid's exponent. Scaling after the product
 * as in rk_siluf.
 */
RK_INLINE float rk_gelu_tanhf(float x)
{
    const float C1H = 1.59576917e+00f, C1L = -4.53406805e-08f;
    const float C3H = 7.13548139e-02f, C3L = 2.39883247e-09f;
    float x2h, x2l, th, tl, uh, ul;
    /* beyond |x| = 12, |2u| > 142: sigmoid is 1 or far below 2^-150 / |x| */
    float xc = rkf__sel(x > 12.0f, 12.0f, rkf__sel(x < -12.0f, -12.0f, x));
    rkf__two_prod(xc, xc, &x2h, &x2l);
    rkf__two_prod(C3H, x2h, &th, &tl);
    tl = tl + (C3H * x2l + C3L * x2h);             /* C3 x^2 == th + tl */
    float kh = C1H + th;                           /* TwoSum (th > C1H for |x| > 4.7) */
    float kb = kh - C1H;
    float kl = ((C1H - (kh - kb)) + (th - kb)) + (tl + C1L);
    rkf__two_prod(xc, kh, &uh, &ul);
    ul = ul + xc * kl;                             /* 2u == uh + ul */
    float m, ml, s1, s2;
    rkf__sigmoid_parts(uh, ul, &m, &ml, &s1, &s2);
    s2 = rkf__sel(x < -12.0f, 0.0f, s2);           /* gelu(-inf) = -inf * 0 = NaN */
    return rkf__mul_pair(x, m, ml, s1, s2);
}

/* ------------------------------------------------------------------ gradients
 *
 * float32-native derivatives (16 lanes per AVX-512 vector, like the forwards; they used to
 * be evaluated in double through vmath.h: 8 lanes and four conversions). Each returns
 * g * f'(x) rounded once or twice: g multiplies the unscaled value and a power-of-two
 * scaling is applied last, so subnormal gradients round once more at most.
 *
 * The derivatives of silu and gelu have a simple root (silu' at x = -1.2785, gelu' at
 * -0.7518, tanh-gelu' at -0.7525) where two terms of ~0.2 cancel: there the terms are
 * carried as float-float pairs (exact products by rkf__two_prod, TwoSum), so that only the
 * error of the function values themselves (~2^-30 relative: the fits of rkf__expm1_q and
 * rkd__gelu_m) is amplified by the cancellation.
 */

/*
 * Near the root x0 of a derivative, f'(x) = (x - x0) Q(x - x0) with Q smooth and away from
 * 0: t = x - x0h is EXACT (Sterbenz) within |t| < 0.125 of the float x0h, x0 = x0h + x0l,
 * and Q = c0h + (c0l + t p(t)), c0 = f''(x0) as a pair, p of degree 6 (least squares on
 * Chebyshev nodes, mpmath, float coefficients; fit error far below the float evaluation's,
 * Q within 0.9 * 2^-24 relative measured on 2000 points). g (t - x0l) Q is rounded twice
 * (fma, then g): within ~2.5 ulp however close x is to the root, where the generic forms
 * lose everything to the cancellation (measured there: 41 ulp silu, 209 tanh-gelu,
 * 7,300 gelu; the test excludes 1/32 around the root, but the generic gelu form is
 * already at 5.6 ulp 1/30 away).
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
 * g * d/dx [x sigmoid(u(x))] = g (s + x u' s t), s = sigmoid(u), t = sigmoid(-u), for
 * u = uh + ul and u' = kh + kl given as pairs (gelu(tanh)': u = C1 x + C3 x^3). With E = exp(-|u|)
 * and r = 1 / (1 + E), both sigmoids come from one exponential and one division:
 *   u >= 0:  s = r,   t = E r:   f' = r (1 + x u' E r)   (x >= 0: no cancellation)
 *   u <  0:  s = E r, t = r:     f' = E r (1 + x u' r)   (cancels at the root)
 * r = q + ql (q = 1/S rounded, ql from the exact remainder, 1 + E = S + err as in
 * rkf__sigmoid_parts); x u' r is formed as a pair (two products) and 1 + x u' r by TwoSum;
 * the product E r P (P = 1 + ...) then keeps every first-order term. E's power of two
 * 2^n = s1 s2 is applied after the multiplication by g (f' ~ x e^x: subnormal for
 * x < -87 while the mantissa stays normal). |u| is clamped to umax <= 172 (n >= -249,
 * inside rkf__split_pow2's range); the caller passes x clamped to where its products are
 * finite and `zero` where x is beyond its clamp: the scale is then 0 (g * -0.0, NaN for an
 * infinite g as in the double formulas), the correctly rounded result for |g| < 2^79
 * (|f'| < 2^-229 beyond every clamp used here).
 */
RK_INLINE float rkf__sig_grad(float g, float x, float uh, float ul, float kh, float kl,
                              float umax, int zero)
{
    float au = RKF_FABS(uh);
    float ula = rkf__from_bits(rkf__bits(ul) ^ (rkf__bits(uh) & UINT32_C(0x80000000)));
    float ac = rkf__sel(au > umax, umax, au);
    float n, rh, corr, s1, s2;
    rkf__exp_core(-ac, -ula, &n, &rh, &corr);
    rkf__split_pow2(n, &s1, &s2);
    float eu, el;
    rkf__one_plus2(rh, corr, &eu, &el);
    float Eh = (eu * s1) * s2;
    float El = (el * s1) * s2;
    float S = 1.0f + Eh;                           /* 1 + E == S + err */
    float err = ((1.0f - S) + Eh) + El;
    float q = 1.0f / S;
    float ph, pl;
    rkf__two_prod(q, S, &ph, &pl);
    float ql = (((1.0f - ph) - pl) - q * err) * q; /* r == q + ql */
    int pos = uh >= 0.0f;
    float bh, bl, ch, cl;
    rkf__two_prod(x, kh, &bh, &bl);                /* x u' */
    bl = bl + x * kl;
    rkf__two_prod(bh, q, &ch, &cl);                /* x u' r */
    cl = cl + (bh * ql + bl * q);
    ch = rkf__sel(pos, ch * Eh, ch);               /* u >= 0: x u' E r, >= 0, plain */
    cl = rkf__sel(pos, 0.0f, cl);
    float P = 1.0f + ch;                           /* TwoSum: 1 + x u' r == P + Pl */
    float pb = P - 1.0f;
    float Pl = ((1.0f - (P - pb)) + (ch - pb)) + cl;
    float A = rkf__sel(pos, 1.0f, eu);             /* E r P, E's 2^n applied below */
    float Al = rkf__sel(pos, 0.0f, el);
    float AR = A * q;
    float T = AR * P + ((AR * Pl + (A * ql) * P) + (Al * q) * P);
    float S1 = rkf__sel(pos, 1.0f, s1);
    float S2 = rkf__sel(pos, 1.0f, rkf__sel(zero, 0.0f, s2));
    return (g * (T * S1)) * S2;
}

/*
 * softplus' from the output: 1 - e^-(z + zlo) = -expm1(-(z + zlo)), z = beta y rounded and
 * zlo its rounding error (|zlo| <= 2^-24 |z|; it enters the exponential's low part, so the
 * result is that of the exact product). The forward's outputs give z >= 0; other z are
 * accurate too. With e^-(z + zlo) = 2^n (1 + rh + corr) (rkf__exp_core, rh exact):
 *     1 - e^-z = 2^n ((2^-n - 1) - rh - corr),
 * 2^-n - 1 is exact for |n| <= 24 (rounded to -1 beyond, an error below 2^-25 of the
 * result), and for n <= 0 (z >= -0.35) the first difference does not cancel (n = 0: it is
 * -rh, exact; n < 0: 2^-n - 1 >= 1 > |rh|): two roundings, and the scaling is exact. z is
 * clamped to [-89, 18] (beyond 18 the result rounds to 1; -89 overflows to -inf, as every
 * z below -88.72 does) and zlo is dropped where z was clamped (it is NaN for an infinite
 * z). z = +-0 gives z (signed zero); NaN propagates. Measured against -expm1 in double:
 * 1.15 ulp on all 2^32 z (zlo = 0), 1.20 / 1.17 ulp on every 7th y with z = 3y / 0.5y and
 * its zlo. It replaces -rk_expm1f(-z) plus a first-order correction for zlo (0.82 -> 0.53
 * ns per element alone; float32 softplus backward, one core, n = 10^6: 1.22 -> 0.65 ns,
 * PyTorch's 0.52-0.76 in the same runs).
 */
RK_INLINE float rk_one_minus_expf(float z, float zlo)
{
    float zc = rkf__sel(z > 18.0f, 18.0f, rkf__sel(z < -89.0f, -89.0f, z));
    float lo = rkf__sel(zc == z, -zlo, 0.0f);
    float n, rh, corr;
    rkf__exp_core(-zc, lo, &n, &rh, &corr);
    float w = rkf__pow2i(-rkf__sel(n > 126.0f, 126.0f, n)) - 1.0f;
    float y = (((w - rh) - corr) * rkf__pow2i(n - 1.0f)) * 2.0f;
    return rkf__sel(z == 0.0f, z, y);
}

/* The same within 2^-8 of the root, where Q's cubic term is below 2^-27 of it: a quadratic
 * (the first coefficients of a fit on 1/8). */
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
 * / 2.04 for the float-float form it replaces (rkf__sig_grad, kept for gelu(tanh)'), which
 * cost 1.65 ns per element on one core against 1.25 here (n = 2^16, uniform [-10, 10];
 * PyTorch's, SLEEF's exp in float and no care at the root: 0.5-0.66 ns).
 */
RK_INLINE float rk_silu_gradf(float g, float xf)
{
    double x = rkf__sel(xf > 170.0f, 170.0f, rkf__sel(xf < -170.0f, -170.0f, xf));
    double E = rkd__exp_neg(-__builtin_fabs(x));
    double S = 1.0 + E;
    double N = rkd__sel(x < 0, E * ((1.0 + x) + E), S + x * E);
    float y = (float)(((double)g * N) / (S * S));
    float yr = rkf__root_quad(g, xf, -1.27846456e+00f, 1.29792825e-08f, 2.17811704e-01f,
                              2.03785433e-09f, 1.46648794e-01f, 1.88748147e-02f);
    y = rkf__sel(RKF_FABS(xf + 1.27846456e+00f) < 0x1p-8f, yr, y);
    y = rkf__sel(xf < -170.0f, g * -0.0f, y);
    return rkf__sel(xf == INFINITY, NAN, y);
}

/*
 * gelu (tanh form)' = d/dx x sigmoid(2u), 2u = C1 x + C3 x^3: 2u is formed as in
 * rk_gelu_tanhf (x (C1 + C3 x^2) as a pair), and (2u)' = C1 + 3 C3 x^2 as the pair
 * (C1 + C3 x^2) + 2 C3 x^2 (2 (th + tl) is exact), so x (2u)' r is accurate to ~2^-44
 * before the cancellation at the root. |x| is clamped to 12.8 (|2u| <= 170.1, inside the
 * exponential's range; f' < 2^-236 beyond) and, as in the double formula, beyond
 * |x| = 1e30 the gradient is g for x > 0 and +0.0 otherwise.
 */
RK_INLINE float rk_gelu_tanh_gradf(float g, float x)
{
    const float C1H = 1.59576917e+00f, C1L = -4.53406805e-08f;
    const float C3H = 7.13548139e-02f, C3L = 2.39883247e-09f;
    float x2h, x2l, th, tl, uh, ul;
    float xc = rkf__sel(x > 12.8f, 12.8f, rkf__sel(x < -12.8f, -12.8f, x));
    rkf__two_prod(xc, xc, &x2h, &x2l);
    rkf__two_prod(C3H, x2h, &th, &tl);
    tl = tl + (C3H * x2l + C3L * x2h);             /* C3 x^2 == th + tl */
    float kh = C1H + th;                           /* TwoSum */
    float kb = kh - C1H;
    float kl = ((C1H - (kh - kb)) + (th - kb)) + (tl + C1L);
    rkf__two_prod(xc, kh, &uh, &ul);
    ul = ul + xc * kl;                             /* 2u == uh + ul */
    float th2 = th + th;
    float dh = kh + th2;                           /* TwoSum: (2u)' == dh + dl */
    float db = dh - kh;
    float dl = ((kh - (dh - db)) + (th2 - db)) + (kl + (tl + tl));
    float y = rkf__sig_grad(g, xc, uh, ul, dh, dl, 172.0f, x < -12.8f);
    float yr = rkf__root_poly(g, x, -7.52461433e-01f, 1.13396279e-08f, 4.30400103e-01f,
                              -1.23057538e-08f, 3.87518436e-01f, -1.57828536e-02f,
                              -1.13944486e-01f, -1.66191310e-02f, 1.96822286e-02f,
                              5.23576746e-03f, -2.41450802e-03f);
    y = rkf__sel(RKF_FABS(x + 7.52461433e-01f) < RKF__ROOT_HALFWIDTH, yr, y);
    float far = rkf__sel(x > 0.0f, g, 0.0f);
    return rkf__sel(RKF_FABS(x) >= 1e30f, far, y);
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
