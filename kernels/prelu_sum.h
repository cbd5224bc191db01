/*
 * prelu's float64 weight-gradient sums without floating-point contraction.
 *
 * The sum's order is fixed and shared by every backend and the NumPy reference (see
 * piecewise.pxi), and each term x * g is rounded before it is added. gcc contracts
 * `acc + x * g` into a fused multiply-add wherever the target has one (it does so for the
 * AVX-512 build, and for the vectorised loops of the other levels with FMA), which skips
 * that rounding: measured, 1,748 of 6,000 random float64 cases (rows of one element,
 * channels-last data) came out 1 ulp from the reference and from Numba, which does not
 * contract. These two loops are therefore compiled with contraction off; they still
 * vectorise. Cost, measured (Cython, float64, 10**6 elements, one thread): (32, 50, 25, 25)
 * along axis 1 476 -> 617 us, (10000, 100) along the last axis 573 -> 634 us. (float32
 * needs nothing: its product is rounded to float before it is widened.)
 */
#ifndef RELUKIT_PRELU_SUM_H
#define RELUKIT_PRELU_SUM_H

#include <stddef.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

#define RK_PRELU_LANES 16

/* One segment of m elements: grad_x, and the lane-wise sum of the terms (lanes start at
 * +0.0, element j goes to lane j % 16, lanes halved pairwise), as prelu_grad_segment. */
static double rk_prelu_segment_f64(const double *g, const double *x, double *gx, double sl,
                                   ptrdiff_t m)
{
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
    double acc[RK_PRELU_LANES];
    ptrdiff_t j, full = m - m % RK_PRELU_LANES;
    int k, h;
    for (k = 0; k < RK_PRELU_LANES; k++)
        acc[k] = 0.0;
    for (j = 0; j < full; j += RK_PRELU_LANES)
        for (k = 0; k < RK_PRELU_LANES; k++) {
            double v = x[j + k], gv = g[j + k];
            gx[j + k] = v > 0 ? gv : gv * sl;
            acc[k] += v > 0 ? 0.0 : v * gv;
        }
    for (k = 0; k < m - full; k++) {
        double v = x[full + k], gv = g[full + k];
        gx[full + k] = v > 0 ? gv : gv * sl;
        acc[k] += v > 0 ? 0.0 : v * gv;
    }
    for (h = RK_PRELU_LANES / 2; h > 0; h /= 2)
        for (k = 0; k < h; k++)
            acc[k] += acc[k + h];
    return acc[0];
}

/* One row of channels-last data (one element per channel): grad_x and each channel's
 * running total. */
static void rk_prelu_row_f64(const double *g, const double *x, const double *w, double *gx,
                             double *total, ptrdiff_t nchan)
{
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
    for (ptrdiff_t c = 0; c < nchan; c++) {
        double v = x[c], gv = g[c];
        gx[c] = v > 0 ? gv : gv * w[c];
        total[c] += v > 0 ? 0.0 : v * gv;
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif
