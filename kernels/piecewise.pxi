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


# prelu on C-ordered data viewed as (outer, channels, inner): one slope per row, so the
# inner loop is leaky_relu's, vectorised. With a mask, the rows are walked in blocks of
# BLOCK elements (a row may start mid-byte of the mask): flags per block, then one SIMD pack.
# Measured (float32, n = 10**6, (32, 50, 25, 25), one thread): 1.48 ms through the strided
# driver's gather of a broadcast slope view, 0.13 ms here.
# Short rows (a (batch, features) input has rows of one element) leave the per-row loop no
# room to vectorise, and its scalar select branches on the sign: one thread, 20,000
# elements, ns per element, rows of 1-7 elements 4.6-5.5 (float32; float64 rows of 1-3),
# and 5.2-7.1 with a mask for every row shorter than 32. There each block first gets its
# slopes, one per element (copied from w for rows of one element), and then one flat loop
# over the block, which vectorises (prelu_block_slopes): rows of 1 0.16, of 4-7 0.8-1.2,
# with a mask 0.2-1.1. Rows of 8 float32 / 4 float64 and longer without a mask keep the
# per-row loop (0.2-0.6 there, ahead of the block form).
cdef enum:
    PRELU_SHORT_ROW = 32          # with a mask
    PRELU_SHORT_ROW_F32 = 8       # without: a vector of 8 floats / 4 doubles
    PRELU_SHORT_ROW_F64 = 4


cdef inline void prelu_block_slopes(const real* w, real* slb, Py_ssize_t cnt, Py_ssize_t nchan,
                                    Py_ssize_t inner, Py_ssize_t* ch, Py_ssize_t* pos) noexcept nogil:
    # slb[0:cnt] = the slopes of the next cnt elements, from channel *ch, *pos elements into
    # its row; advances (*ch, *pos). No data-dependent branch and no division per element.
    cdef Py_ssize_t f = 0, run, i
    cdef real sl
    if inner == 1:
        while f < cnt:
            run = min(nchan - ch[0], cnt - f)
            for i in range(run):
                slb[f + i] = w[ch[0] + i]
            f += run
            ch[0] += run
            if ch[0] == nchan:
                ch[0] = 0
        return
    while f < cnt:
        run = min(inner - pos[0], cnt - f)
        sl = w[ch[0]]
        for i in range(run):
            slb[f + i] = sl
        f += run
        pos[0] += run
        if pos[0] == inner:
            pos[0] = 0
            ch[0] += 1
            if ch[0] == nchan:
                ch[0] = 0


cdef void prelu_rows_kernel(const real* x, const real* w, real* y, uint8_t* mask,
                            Py_ssize_t outer, Py_ssize_t nchan, Py_ssize_t inner) noexcept nogil:
    cdef Py_ssize_t o, ch, i, base, s, cnt, pos, n
    cdef real sl, v
    cdef uint8_t flags[BLOCK]
    cdef real slb[BLOCK]
    cdef Py_ssize_t short_row = PRELU_SHORT_ROW
    if mask == NULL:
        short_row = PRELU_SHORT_ROW_F32 if real is float else PRELU_SHORT_ROW_F64
    if inner >= short_row:
        if mask != NULL:
            prelu_rows_masked(x, w, y, mask, outer, nchan, inner)
            return
        for o in range(outer):
            for ch in range(nchan):
                sl = w[ch]
                base = (o * nchan + ch) * inner
                for i in range(inner):
                    y[base + i] = leaky_one(x[base + i], sl)
        return
    n = outer * nchan * inner
    ch = 0
    pos = 0
    s = 0
    while s < n:
        cnt = min(<Py_ssize_t>BLOCK, n - s)
        prelu_block_slopes(w, slb, cnt, nchan, inner, &ch, &pos)
        if mask == NULL:
            for i in range(cnt):
                y[s + i] = leaky_one(x[s + i], slb[i])
        else:
            for i in range(cnt):
                v = x[s + i]
                flags[i] = v > 0
                y[s + i] = leaky_one(v, slb[i])
            rk_pack_flags(flags, mask + (s >> 3), cnt)
        s += cnt


cdef void prelu_rows_masked(const real* x, const real* w, real* y, uint8_t* mask,
                            Py_ssize_t outer, Py_ssize_t nchan, Py_ssize_t inner) noexcept nogil:
    # rows of PRELU_SHORT_ROW or more, with a mask: blocks walked row run by row run
    cdef Py_ssize_t i, s, cnt, f, run, row = 0, pos = 0, n = outer * nchan * inner
    cdef real sl, v
    cdef uint8_t flags[BLOCK]
    s = 0
    while s < n:
        cnt = min(<Py_ssize_t>BLOCK, n - s)
        f = 0
        while f < cnt:
            run = min(inner - pos, cnt - f)
            sl = w[row % nchan]
            for i in range(run):
                v = x[s + f + i]
                flags[f + i] = v > 0
                y[s + f + i] = leaky_one(v, sl)
            f += run
            pos += run
            if pos == inner:
                pos = 0
                row += 1
        rk_pack_flags(flags, mask + (s >> 3), cnt)
        s += cnt


# prelu backward in one pass over C-ordered (outer, channels, inner) data: grad_x, and the
# weight gradient's sum of x * g (the product rounded to the dtype) over the elements where
# not x > 0, accumulated in float64 in a fixed order that every backend and the NumPy
# reference (reference.prelu_channel_sum) follow, so the result is bit-identical everywhere
# and independent of the thread count:
#   * each row (o, c) is cut into segments of PRELU_SEG elements (the last may be shorter);
#   * within a segment, element j goes to lane j % PRELU_LANES (lanes start at +0.0;
#     excluded elements add +0.0), then the lanes are summed pairwise by halving (lane k +=
#     lane k + h for h = 8, 4, 2, 1);
#   * a channel's total is the sequential sum, from +0.0, of its segment sums in the order
#     (o, segment). (+0.0 throughout, as PyTorch's sum of its 0-or-x*g terms: a channel
#     without a contribution gets +0.0.)
# The error bound is that of a float64 sum of n terms, far inside one float32 ulp. Lanes
# let the loop vectorise (a single float64 accumulator would be a serial chain of adds):
# measured (float32, 10**6 elements, one thread) 0.19 ms, against 3.4 ms for the former
# grad_x pass + term array + NumPy channel sum (float64: 0.60 ms).
cdef enum:
    PRELU_LANES = 16
    PRELU_SEG = 4096     # a multiple of PRELU_LANES; also the Numba kernel's unit of work

cdef extern from "prelu_sum.h" nogil:
    # float64: the same loops compiled without FMA contraction (see the header)
    double rk_prelu_segment_f64(const double* g, const double* x, double* gx, double sl,
                                Py_ssize_t m)
    void rk_prelu_row_f64(const double* g, const double* x, const double* w, double* gx,
                          double* total, Py_ssize_t nchan)


cdef inline double prelu_grad_segment(const real* g, const real* x, real* gx, real sl,
                                      Py_ssize_t m) noexcept nogil:
    cdef double acc[PRELU_LANES]
    cdef Py_ssize_t j, k, h, full = m - m % PRELU_LANES
    cdef real v, gv
    for k in range(PRELU_LANES):
        acc[k] = 0
    j = 0
    while j < full:
        for k in range(PRELU_LANES):
            v = x[j + k]
            gv = g[j + k]
            gx[j + k] = gv if v > 0 else gv * sl
            acc[k] += 0 if v > 0 else <double>(v * gv)
        j += PRELU_LANES
    for k in range(m - full):
        v = x[full + k]
        gv = g[full + k]
        gx[full + k] = gv if v > 0 else gv * sl
        acc[k] += 0 if v > 0 else <double>(v * gv)
    h = PRELU_LANES // 2
    while h > 0:
        for k in range(h):
            acc[k] += acc[k + h]
        h //= 2
    return acc[0]


# Rows shorter than PRELU_LANES are one segment each, and prelu_grad_segment would run
# them in its scalar tail (branching on the sign: 5-8 ns per element for rows of 2-15).
# Here grad_x and the float64 terms of a block of whole rows are computed in one flat loop
# with per-element slopes (prelu_block_slopes), which vectorises, and each row's terms are
# then summed exactly as prelu_grad_segment sums a segment (lanes from +0.0, zero-padded,
# halved pairwise), so the result is the same bit for bit.
cdef inline double prelu_lane(const double* t, Py_ssize_t m, Py_ssize_t k) noexcept nogil:
    return (0.0 + t[k]) if k < m else 0.0


cdef inline double prelu_lane_sum(const double* t, Py_ssize_t m) noexcept nogil:
    # prelu_grad_segment's lanes and halving for one row of 2 <= m < PRELU_LANES terms, in
    # registers. A lane is +0.0 + term (never -0.0) and no sum of such lanes is -0.0, so
    # adding a zero-padded lane changes nothing: the halving can start at the smallest
    # power of two >= m and give the same bits (measured: the 16-lane loop on a stack
    # array took 12 ns per element for rows of 2, this 2.1; rows of 5 1.4).
    cdef double a0 = 0.0 + t[0], a1 = 0.0 + t[1], a2, a3, a4, a5, a6, a7
    if m <= 2:
        return a0 + a1
    a2 = prelu_lane(t, m, 2)
    a3 = prelu_lane(t, m, 3)
    if m <= 4:
        return (a0 + a2) + (a1 + a3)
    a4 = prelu_lane(t, m, 4)
    a5 = prelu_lane(t, m, 5)
    a6 = prelu_lane(t, m, 6)
    a7 = prelu_lane(t, m, 7)
    if m > 8:
        a0 += 0.0 + t[8]
        a1 += prelu_lane(t, m, 9)
        a2 += prelu_lane(t, m, 10)
        a3 += prelu_lane(t, m, 11)
        a4 += prelu_lane(t, m, 12)
        a5 += prelu_lane(t, m, 13)
        a6 += prelu_lane(t, m, 14)
        a7 += prelu_lane(t, m, 15)
    a0 += a4
    a1 += a5
    a2 += a6
    a3 += a7
    return (a0 + a2) + (a1 + a3)


cdef void prelu_grad_short_rows(const real* g, const real* x, const real* w, real* gx,
                                double* total, Py_ssize_t nrows, Py_ssize_t nchan,
                                Py_ssize_t inner) noexcept nogil:
    cdef real slb[BLOCK]
    cdef double tb[BLOCK]
    cdef Py_ssize_t per_block = BLOCK // inner, r0 = 0, nr, cnt, base, i, r
    cdef Py_ssize_t ch = 0, pos = 0, rch = 0
    cdef real v, gv
    while r0 < nrows:
        nr = min(per_block, nrows - r0)
        cnt = nr * inner
        base = r0 * inner
        prelu_block_slopes(w, slb, cnt, nchan, inner, &ch, &pos)
        for i in range(cnt):
            v = x[base + i]
            gv = g[base + i]
            gx[base + i] = gv if v > 0 else gv * slb[i]
            tb[i] = 0 if v > 0 else <double>(v * gv)
        for r in range(nr):
            total[rch] += prelu_lane_sum(tb + r * inner, inner)
            rch += 1
            if rch == nchan:
                rch = 0
        r0 += nr


cdef void prelu_grad_rows_kernel(const real* g, const real* x, const real* w, real* gx,
                                 double* total, Py_ssize_t outer, Py_ssize_t nchan,
                                 Py_ssize_t inner) noexcept nogil:
    cdef Py_ssize_t o, ch, i, base, b0
    cdef real sl, v, gv
    for ch in range(nchan):
        total[ch] = 0
    if 1 < inner < PRELU_LANES:
        prelu_grad_short_rows(g, x, w, gx, total, outer * nchan, nchan, inner)
        return
    if inner == 1:
        # one-element segments: the segment sum is +0.0 + term, and adding that to a total
        # that starts at +0.0 (so is never -0.0) equals adding the term itself; the channel
        # totals then run across the row, vectorised over channels (channels-last data)
        for o in range(outer):
            base = o * nchan
            if real is double:
                rk_prelu_row_f64(g + base, x + base, w, gx + base, total, nchan)
                continue
            for ch in range(nchan):
                v = x[base + ch]
                gv = g[base + ch]
                gx[base + ch] = gv if v > 0 else gv * w[ch]
                total[ch] += 0 if v > 0 else <double>(v * gv)
        return
    for o in range(outer):
        for ch in range(nchan):
            sl = w[ch]
            base = (o * nchan + ch) * inner
            b0 = 0
            while b0 < inner:
                if real is double:
                    total[ch] += rk_prelu_segment_f64(g + base + b0, x + base + b0,
                                                      gx + base + b0, sl,
                                                      min(<Py_ssize_t>PRELU_SEG, inner - b0))
                else:
                    total[ch] += prelu_grad_segment(g + base + b0, x + base + b0,
                                                    gx + base + b0, sl,
                                                    min(<Py_ssize_t>PRELU_SEG, inner - b0))
                b0 += PRELU_SEG


# prelu gradient w.r.t. x: g where x > 0, else slope * g (a = g, b = x, c = slope): the
# kernel table's elementwise entry for prelu_backward, which itself runs
# prelu_grad_rows_kernel (on C-ordered copies for other layouts).
cdef void prelu_grad_kernel(const real* a, const real* b, const real* c, const uint8_t* mask_in,
                            real* y, uint8_t* mask_out, Py_ssize_t n,
                            const double* params) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = a[i] if b[i] > 0 else a[i] * c[i]


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


# crelu in one pass over C-ordered x viewed as (outer, inner): row o of x gives row o of
# both halves of the (outer, 2, inner) output, relu(x) then relu(-x). Measured (float32,
# (1000, 1000), one thread): 3.2 ms as two strided-driver passes over the halves, 0.16 ms
# here; the backward 2.6 ms -> 0.36 ms.
cdef void crelu_rows_kernel(const real* x, real* y, Py_ssize_t outer,
                            Py_ssize_t inner) noexcept nogil:
    cdef Py_ssize_t o, i
    cdef const real* xr
    cdef real* y1
    cdef real* y2
    cdef real v
    for o in range(outer):
        xr = x + o * inner
        y1 = y + 2 * o * inner
        y2 = y1 + inner
        for i in range(inner):
            v = xr[i]
            y1[i] = 0 if v <= 0 else v
        for i in range(inner):
            v = -xr[i]
            y2[i] = 0 if v <= 0 else v


# crelu backward over C-ordered data: grad (outer, 2, inner), x and grad_x (outer, inner);
# the arithmetic of crelu_grad_kernel.
cdef void crelu_grad_rows_kernel(const real* g, const real* x, real* gx, Py_ssize_t outer,
                                 Py_ssize_t inner) noexcept nogil:
    cdef Py_ssize_t o, i
    cdef const real* g1
    cdef const real* g2
    cdef const real* xr
    cdef real* yr
    cdef real v, p, q
    for o in range(outer):
        g1 = g + 2 * o * inner
        g2 = g1 + inner
        xr = x + o * inner
        yr = gx + o * inner
        for i in range(inner):
            v = xr[i]
            p = 0 if v <= 0 else g1[i]
            q = 0 if -v <= 0 else g2[i]
            yr[i] = p - q


# brelu over C-ordered data: y (n, nb) with y[i, j] = relu(x[i] - b[j]). With nb a
# compile-time constant (the inlined helper below, called for nb = 1 ... 8) gcc unrolls the
# bias loop and vectorises over i with interleaving stores; with a runtime nb it does not
# (float32, one thread, per output: 8 biases 0.15 ns, 9 biases 0.55 ns). Measured (float32,
# n = 10**6, 4 biases, one thread): 8.6 ms as four strided-driver passes, 0.50 ms here (the
# backward, also one pass: 10.8 ms -> 0.82 ms).
cdef inline void brelu_fixed(const real* x, const real* b, real* y, Py_ssize_t n,
                             const Py_ssize_t nb) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef real v
    for i in range(n):
        for j in range(nb):
            v = x[i] - b[j]
            y[i * nb + j] = 0 if v <= 0 else v


cdef void brelu_rows_kernel(const real* x, const real* b, real* y, Py_ssize_t n,
                            Py_ssize_t nb) noexcept nogil:
    if nb == 1:
        brelu_fixed(x, b, y, n, 1)
    elif nb == 2:
        brelu_fixed(x, b, y, n, 2)
    elif nb == 3:
        brelu_fixed(x, b, y, n, 3)
    elif nb == 4:
        brelu_fixed(x, b, y, n, 4)
    elif nb == 5:
        brelu_fixed(x, b, y, n, 5)
    elif nb == 6:
        brelu_fixed(x, b, y, n, 6)
    elif nb == 7:
        brelu_fixed(x, b, y, n, 7)
    elif nb == 8:
        brelu_fixed(x, b, y, n, 8)
    else:
        brelu_fixed(x, b, y, n, nb)


# brelu backward over C-ordered data: gx[i] = sum over j of (g[i, j] where not
# x[i] - b[j] <= 0, else 0), summed in bias order from +0.0 (shift_select_acc_kernel's
# rounding, in one pass instead of one per bias).
cdef inline void brelu_grad_fixed(const real* g, const real* x, const real* b, real* gx,
                                  Py_ssize_t n, const Py_ssize_t nb) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef real acc, v, gv
    for i in range(n):
        v = x[i]
        acc = 0
        for j in range(nb):
            gv = g[i * nb + j]      # loaded unconditionally: a select, not a branch
            acc = acc + (0 if v - b[j] <= 0 else gv)
        gx[i] = acc


cdef void brelu_grad_rows_kernel(const real* g, const real* x, const real* b, real* gx,
                                 Py_ssize_t n, Py_ssize_t nb) noexcept nogil:
    if nb == 1:
        brelu_grad_fixed(g, x, b, gx, n, 1)
    elif nb == 2:
        brelu_grad_fixed(g, x, b, gx, n, 2)
    elif nb == 3:
        brelu_grad_fixed(g, x, b, gx, n, 3)
    elif nb == 4:
        brelu_grad_fixed(g, x, b, gx, n, 4)
    elif nb == 5:
        brelu_grad_fixed(g, x, b, gx, n, 5)
    elif nb == 6:
        brelu_grad_fixed(g, x, b, gx, n, 6)
    elif nb == 7:
        brelu_grad_fixed(g, x, b, gx, n, 7)
    elif nb == 8:
        brelu_grad_fixed(g, x, b, gx, n, 8)
    else:
        brelu_grad_fixed(g, x, b, gx, n, nb)
