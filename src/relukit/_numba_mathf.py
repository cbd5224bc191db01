"""Single-precision vectorisable elementary functions for the Numba backend.

The float32 twin of ``_numba_math.py`` and the Numba twin of ``kernels/vmathf.h``: the same
algorithms, constants and evaluation order (see vmathf.h for the numerical reasoning).
Functions (float32 -> float32, ``@njit(inline="always")``):

    rk_expf, rk_expm1f, rk_expm1f_neg (x <= 0), rk_log1pf
    rk_softplusf, rk_softplus_corrf, rk_siluf, rk_geluf,
    rk_gelu_tanhf                                         (fused activations)
    rk_silu_gradf, rk_gelu_gradf, rk_gelu_tanh_gradf     (g, x) -> g * f'(x)  (gradients)
    silu_grad_fastf                  rk_silu_gradf for |x| <= SILU_GRAD_FAST_MAX, no NaN
    rk_one_minus_expf                      (z, zlo) -> 1 - exp(-(z + zlo))  (softplus')

Every function built on the float exponential (rk_expf, rk_expm1f, rk_expm1f_neg, the
softplus forms, rk_siluf, silu_fast, rk_gelu_tanhf, gelu_tanh_fastf, rk_one_minus_expf)
takes one more argument, ``ec = expf_consts()``, made once per kernel call (see EXPF_CONSTS).

The float functions are float32 arithmetic, so a ``prange`` loop over float32 arrays
vectorises 16 lanes per AVX-512 vector; exact gelu and the gradients evaluate their
float32 argument in float64 (8 lanes) and round once, as vmathf.h does. Numba promotes
``float32 op <python float>`` to float64, so every float constant is a module-level
``np.float32`` (frozen into the code as a float32 constant) and arguments are converted with
``np.float32(x)`` on entry; integer bit manipulation (Numba widens int32 arithmetic to int64)
and IEEE division (Numba's ``/`` checks for zero, i.e. branches) are done in small LLVM
intrinsics. The kernels calling these are compiled with LLVM's ``contract`` flag (a*b+c
fused as gcc fuses it), and their results were bit-identical to the C build's on tens of
millions of sampled inputs.
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from ._numba_math import _fdiv as _fdivd, _pow2i as _pow2d, _sel as _seld

_I32 = ir.IntType(32)
_F32 = ir.FloatType()


# ---------------------------------------------------------------- intrinsics (float32 / i32)

def _f32_sig(n):
    return types.float32(*([types.float32] * n))


def _is_f32(*ts):
    return all(t == types.float32 for t in ts)


@intrinsic
def _fdiv(typingctx, a, b):
    """IEEE a / b in float32 (no ZeroDivisionError check, so no branch)."""
    if not _is_f32(a, b):
        return None

    def codegen(context, builder, sig, args):
        return builder.fdiv(args[0], args[1])
    return _f32_sig(2), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma.f32)."""
    if not _is_f32(a, b, c):
        return None

    def codegen(context, builder, sig, args):
        fn = builder.module.declare_intrinsic("llvm.fma", [_F32],
                                              ir.FunctionType(_F32, [_F32, _F32, _F32]))
        return builder.call(fn, args)
    return _f32_sig(3), codegen


@intrinsic
def _fabs(typingctx, a):
    """|a| (llvm.fabs.f32: an and-mask)."""
    if not _is_f32(a):
        return None

    def codegen(context, builder, sig, args):
        fn = builder.module.declare_intrinsic("llvm.fabs", [_F32], ir.FunctionType(_F32, [_F32]))
        return builder.call(fn, args)
    return _f32_sig(1), codegen


@intrinsic
def _sel(typingctx, c, a, b):
    """c ? a : b as an LLVM select (both operands already computed)."""
    if not isinstance(c, types.Boolean) or not _is_f32(a, b):
        return None

    def codegen(context, builder, sig, args):
        return builder.select(args[0], args[1], args[2])
    return types.float32(c, a, b), codegen


def _bitop(fn):
    """Intrinsic float32 -> float32 built from i32 operations fn(builder, bits)."""
    @intrinsic
    def _op(typingctx, a):
        if not _is_f32(a):
            return None

        def codegen(context, builder, sig, args):
            return builder.bitcast(fn(builder, builder.bitcast(args[0], _I32)), _F32)
        return _f32_sig(1), codegen
    return _op


def _c(v):
    return ir.Constant(_I32, v)


# 2^k for integral k in [-126, 127] given as (k + 1.5*2^23): shift the low bits into the
# exponent field and add the bias (rkf__pow2i).
_pow2_bits = _bitop(lambda b, u: b.add(b.shl(u, _c(23)), _c(127 << 23)))
# log1p reduction of u: (biased exponent of u*2^-(sqrt2/2 offset)) | 2^23 pattern, and m
_LOG_OFF = 0x3F800000 - 0x3F3504F3
_log1p_kf = _bitop(lambda b, u: b.or_(b.lshr(b.add(u, _c(_LOG_OFF)), _c(23)), _c(0x4B000000)))
_log1p_m = _bitop(lambda b, u: b.add(b.and_(b.add(u, _c(_LOG_OFF)), _c(0x007FFFFF)),
                                     _c(0x3F3504F3)))


# ---------------------------------------------------------------- constants (all float32)

_f = np.float32
_0, _HALF, _1, _2 = _f(0.0), _f(0.5), _f(1.0), _f(2.0)
_INF, _NAN = _f(np.inf), _f(np.nan)
_SH = _f(12582912.0)                  # 1.5 * 2^23
_TWO23 = _f(8388608.0)
_LOG2E = _f(1.44269502e+00)
_LN2HI = _f(6.93359375e-01)           # 355/512
_LN2LO = _f(-2.12194442e-04)
_Q5, _Q4, _Q3, _Q2, _Q1 = (_f(1.97134970e-04), _f(1.39305077e-03), _f(8.33359826e-03),
                           _f(4.16665114e-02), _f(1.66666657e-01))
_C89, _CM104, _CM18, _C24, _C100 = _f(89.0), _f(-104.0), _f(-18.0), _f(24.0), _f(100.0)
_C18 = _f(18.0)
_LG1, _LG2, _LG3, _LG4 = (_f(6.66666627e-01), _f(4.00009722e-01), _f(2.84987867e-01),
                          _f(2.42790788e-01))
_LN2_HI_LOG, _LN2_LO_LOG, _C127, _CM1 = (_f(6.93138123e-01), _f(9.05800061e-06), _f(127.0),
                                         _f(-1.0))
_C110 = _f(110.0)
_C87, _C60, _C126 = _f(87.0), _f(60.0), _f(126.0)

_jit = njit(inline="always")


@_jit
def rk_fmaf(a, b, c):
    """a * b + c rounded once, in float32."""
    return _fma(a, b, c)


@_jit
def rk_selectf(c, a, b):
    """Branch-free ``a if c else b`` for float32 arguments."""
    return _sel(c, a, b)


# ---------------------------------------------------------------- building blocks

@_jit
def _pow2i(k):
    return _pow2_bits(k + _SH)


@_jit
def _split_pow2(n):
    n1 = (n * _HALF + _SH) - _SH
    return _pow2i(n1), _pow2i(n - n1)


# Constants of _exp_core, passed at run time as _numba_math's EXP_CONSTS (see there): a
# kernel calls expf_consts() once, before its loop. Float32, one thread, n = 10**6, ns per
# element, the kernels with literals and with the copy compiled side by side in one
# process (2-core AMD EPYC, Zen 3, AVX2), two runs: silu (its blocks) 0.85 / 0.91 -> 0.71 /
# 0.73, its fast form in a plain loop 1.10 -> 0.67; elu 0.90 / 0.79 -> 0.87 / 0.72,
# softplus 2.04 / 2.02 -> 2.04 / 1.98, softplus' 1.11 -> 1.13 (their loops keep other
# literals, which LLVM still rematerialises). q (rkf__expm1_q): degree 5, then the
# reduction's constants.
EXPF_CONSTS = np.array([_Q5, _Q4, _Q3, _Q2, _Q1, _HALF, _LOG2E, _SH, _LN2HI, _LN2LO],
                       dtype=np.float32)


@_jit
def expf_consts():
    """A run-time copy of EXPF_CONSTS for the kernel's calls to the exponentials."""
    return EXPF_CONSTS.copy()


@_jit
def _exp_core(hi, lo, ec):
    # ec: expf_consts() (LOG2E, the shifter, LN2HI and LN2LO at 6-9)
    kd = (hi + lo) * ec[6] + ec[7]
    n = kd - ec[7]
    rh = hi - n * ec[8]
    rl = lo - n * ec[9]
    r = rh + rl
    q = ec[0]
    for i in range(1, 6):           # a constant trip count: unrolled before vectorising
        q = q * r + ec[i]
    return n, rh, rl + (r * r) * q


@_jit
def _one_plus(rh, corr):
    s = _1 + rh
    e = (_1 - s) + rh
    return s + (e + corr)


# ---------------------------------------------------------------- functions

@_jit
def rk_expf(x, ec):
    x = np.float32(x)
    xc = _sel(x > _C89, _C89, _sel(x < _CM104, _CM104, x))
    n, rh, corr = _exp_core(xc, _0, ec)
    s1, s2 = _split_pow2(n)
    return (_one_plus(rh, corr) * s1) * s2


@_jit
def _expm1_mid(t, rh, corr):
    # rk_expm1f for n <= 24, t = 2^n
    a = t - _1
    a_err = t - (a + _1)
    b = t * rh
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    return s + ((err + a_err) + t * corr)


@_jit
def rk_expm1f(x, ec):
    x = np.float32(x)
    xc = _sel(x > _C89, _C89, _sel(x < _CM18, _CM18, x))
    n, rh, corr = _exp_core(xc, _0, ec)
    s1, s2 = _split_pow2(n)
    mid = _expm1_mid(s1 * s2, rh, corr)
    tinv = _pow2i(-_sel(n > _C100, _C100, n))
    big = (_one_plus(rh, corr - tinv) * s1) * s2
    y = _sel(n > _C24, big, mid)
    return _sel(x == _0, x, y)


@_jit
def rk_expm1f_neg(x, ec):
    """rk_expm1f for x <= 0 only (vmathf.h rk_expm1f_neg): the same bits, half the cost."""
    x = np.float32(x)
    n, rh, corr = _exp_core(_sel(x < _CM18, _CM18, x), _0, ec)
    return _sel(x == _0, x, _expm1_mid(_pow2i(n), rh, corr))


@_jit
def _log1p_core(x):
    # rk_log1pf without its special cases: the same bits for x in [0, 1] and NaN
    u = _1 + x
    bv = u - _1
    av = u - bv
    c = (_1 - av) + (x - bv)
    k = (_log1p_kf(u) - _TWO23) - _C127
    f = _log1p_m(u) - _1
    cu = _fdiv(c, u)
    hfsq = _HALF * f * f
    s = _fdiv(f, _2 + f)
    z = s * s
    R = _LG4
    R = R * z + _LG3
    R = R * z + _LG2
    R = R * z + _LG1
    R = R * z
    return k * _LN2_HI_LOG - ((hfsq - (s * (hfsq + R) + (k * _LN2_LO_LOG + cu))) - f)


@_jit
def rk_log1pf(x):
    x = np.float32(x)
    y = _log1p_core(x)
    y = _sel(x == _INF, x, y)
    y = _sel(x == _CM1, -_INF, y)
    y = _sel(x < _CM1, _NAN, y)
    return _sel(x == _0, x, y)


# ---------------------------------------------------------------- composites

@_jit
def _horner(x, c):
    # c[0] x^(n-1) + ... + c[n-1] in the type of x and c (float32: rkf__log1p_unit's q,
    # float64: vmathf.h rkd__horner); c a global tuple, so the loop is unrolled with the
    # coefficients as constants
    p = c[0]
    for i in range(1, len(c)):
        p = p * x + c[i]
    return p


# log1p(e) for e in [0, 1]: e + e (e q(e)) (vmathf.h rkf__log1p_unit), q's coefficients
# highest degree first
_L1P_Q = tuple(_f(v) for v in (2.03769049e-03, -1.34448307e-02, 4.15576212e-02,
                                -8.25353339e-02, 1.24251030e-01, -1.61086321e-01,
                                1.98915377e-01, -2.49873921e-01, 3.33325684e-01,
                                -4.99999821e-01))


@_jit
def _log1p_unit(e):
    return e + e * (e * _horner(e, _L1P_Q))


@_jit
def rk_softplusf(z, ec):
    # rk_softplus_corrf with zlo = 0 (an exact argument), without the sigmoid
    z = np.float32(z)
    return _sel(z > _0, z, _0) + _log1p_unit(rk_expf(-_fabs(z), ec))


@_jit
def rk_softplus_corrf(z, zlo, ec):
    # softplus(z) + sigmoid(z) zlo, the sigmoid from the same e (see vmathf.h)
    z = np.float32(z)
    e = rk_expf(-_fabs(z), ec)
    sg = _fdiv(_sel(z > _0, _1, e), _1 + e)
    return (_sel(z > _0, z, _0) + _log1p_unit(e)) + sg * zlo


@_jit
def _x_sigmoid(v, m, mlo, ec):
    # v / (1 + e^(m + mlo)) = (v / D) 2^-k, D = (2^-k + 2^(n-k)) + rr 2^(n-k)
    # (vmathf.h rkf__x_sigmoid)
    mc = _sel(m < -_C87, -_C87, _sel(m > _C110, _C110, m))
    n, rh, corr = _exp_core(mc, _sel(mc == m, mlo, _0), ec)
    rr = rh + corr
    k = _sel(n > _0, n, _0)
    p2 = _pow2i(n - k)
    D = (_pow2i(-_sel(k > _C60, _C60, k)) + p2) + rr * p2
    k1 = _sel(k > _C126, _C126, k)
    vq = _sel(m > _C110, v * _0, v)           # -0.0, or NaN for -inf
    return (_fdiv(vq, D) * _pow2i(-k1)) * _pow2i(k1 - k)


@_jit
def _x_sigmoid_fast(v, m, mlo, ec):
    # _x_sigmoid for m <= 86 (vmathf.h rkf__x_sigmoid_fast: the same bits there)
    mc = _sel(m < -_C87, -_C87, m)
    n, rh, corr = _exp_core(mc, _sel(mc == m, mlo, _0), ec)
    t = _pow2i(n)
    return _fdiv(v, (_1 + t) + (rh + corr) * t)


@_jit
def rk_siluf(x, ec):
    # x / (1 + e^-x) (vmathf.h rk_siluf)
    x = np.float32(x)
    return _x_sigmoid(x, -x, _0, ec)


SILU_FAST_MIN = _f(-86.0)


@_jit
def silu_fast(x, ec):
    """silu for x >= -86 (NaN, +inf included): x / ((1 + t) + rr t), t = 2^n, the same bits
    as rk_siluf there (vmathf.h rkf__silu_fast)."""
    x = np.float32(x)
    return _x_sigmoid_fast(x, -x, _0, ec)


# gelu (tanh form) in float: x / (1 + e^-2u) with -2u as a float-float pair (vmathf.h
# rkf__gelu_tanh_m2u, its FMA branch; LLVM compiles llvm.fma for the CPU it runs on)
_GT_C1H, _GT_C1L = _f(1.59576917e+00), _f(-4.53406805e-08)
_GT_C3H, _GT_C3L = _f(7.13548139e-02), _f(2.39883247e-09)
GELU_TANH_FAST_MIN = _f(-9.8)


@_jit
def _gelu_tanh_m2u(x):
    x2h = x * x
    x2l = _fma(x, x, -x2h)
    ph = _GT_C3H * x2h
    pl = _fma(_GT_C3H, x2h, -ph) + _fma(_GT_C3H, x2l, _GT_C3L * x2h)
    kh = _GT_C1H + ph
    bb = kh - _GT_C1H
    kl = ((_GT_C1H - (kh - bb)) + (ph - bb)) + (_GT_C1L + pl)
    nx = -x
    h = nx * kh
    return h, _fma(nx, kl, _fma(nx, kh, -h))


@_jit
def rk_gelu_tanhf(x, ec):
    # vmathf.h rk_gelu_tanhf: NaN comes back as it is
    x = np.float32(x)
    m, lo = _gelu_tanh_m2u(x)
    return _sel(x != x, x, _x_sigmoid(x, m, lo, ec))


@_jit
def gelu_tanh_fastf(x, ec):
    """rk_gelu_tanhf for x >= -9.8 (NaN and +inf included), the same bits there
    (vmathf.h rkf__gelu_tanh_fast)."""
    x = np.float32(x)
    m, lo = _gelu_tanh_m2u(x)
    return _x_sigmoid_fast(x, m, lo, ec)


# Exact gelu and its gradient in double (see vmathf.h rkd__exp_neg, rkd__gelu_m, rk_geluf,
# rk_gelu_gradf): Phi(-a) = exp(-a^2/2) M(a), M rational of degree 5/6 in a/2.
_GM_P = (0.028448619496282957, 0.18621410246667855, 0.570296104776986, 1.0020835276923337,
         1.0149587818996966, 0.499999999958323)
_GM_Q = (0.14262040556280275, 0.9335330985249018, 2.894785125029215, 5.256290836823614,
         5.789926379274875, 3.625686669434571, 1.0)
_GELU_AMAX = 14.6
_C1D, _C3D = 1.5957691216057308, 0.07135481627260025   # 2 sqrt(2/pi), 0.044715 of it
_SHD = 6755399441055744.0                 # 1.5 * 2^52
_EN = (0.00019790352511422037, 0.00139446610422654, 0.008333497062418222, 0.04166629492392924,
       0.166666658689378, 0.5000000067690492, 1.0, 1.0)


@_jit
def _exp_negd(t):
    # exp(t), t <= 0, ~2^-34 relative (vmathf.h rkd__exp_neg)
    kd = t * 1.4426950408889634 + _SHD
    n = kd - _SHD
    r = t - n * 0.6931471805599453
    return _horner(r, _EN) * _pow2d(n)


@_jit
def _gelu_md(a):
    s = 0.5 * a
    return _fdivd(_horner(s, _GM_P), _horner(s, _GM_Q))


@_jit
def rk_geluf(x):
    x = np.float64(np.float32(x))
    a = abs(x)
    ac = _seld(a > _GELU_AMAX, _GELU_AMAX, a)
    T = _exp_negd(-0.5 * (ac * ac)) * _gelu_md(ac)
    T = _seld(a > _GELU_AMAX, 0.0, T)
    return np.float32(x * _seld(x < 0.0, T, 1.0 - T))


# ---------------------------------------------------------------- gradients (vmathf.h)

_ROOT_HW, _C170, _C12_8 = _f(0.125), _f(170.0), _f(12.8)
_ROOT_Q = _f(2.0 ** -8)
_BIG30 = _f(1e30)
# (x0h, x0l, c0h, c0l, p0..p6) of rkf__root_poly for silu', tanh-gelu', gelu'
_RP_SILU = tuple(_f(v) for v in (-1.27846456e+00, 1.29792825e-08, 2.17811704e-01,
                                 2.03785433e-09, 1.46648794e-01, 1.88748147e-02,
                                 -1.52226556e-02, -6.60658022e-03, 1.26636456e-04,
                                 7.97401764e-04, 1.84779710e-04))
_RP_TANH = tuple(_f(v) for v in (-7.52461433e-01, 1.13396279e-08, 4.30400103e-01,
                                 -1.23057538e-08, 3.87518436e-01, -1.57828536e-02,
                                 -1.13944486e-01, -1.66191310e-02, 1.96822286e-02,
                                 5.23576746e-03, -2.41450802e-03))
_RP_GELU = tuple(_f(v) for v in (-7.51791537e-01, 1.21144499e-08, 4.31493998e-01,
                                 -5.25980548e-09, 3.88284981e-01, -1.81996766e-02,
                                 -1.14008233e-01, -1.47713637e-02, 1.94216222e-02,
                                 4.51890938e-03, -2.23372271e-03))


@_jit
def _root_poly(g, x, c):
    # g * f'(x) = g (x - x0) Q near the root x0 (see vmathf.h rkf__root_poly)
    t = x - c[0]
    p = c[10]
    p = p * t + c[9]
    p = p * t + c[8]
    p = p * t + c[7]
    p = p * t + c[6]
    p = p * t + c[5]
    p = p * t + c[4]
    Q = c[2] + (c[3] + t * p)
    return g * _fma(t, Q, -(c[1] * Q))


@_jit
def rk_one_minus_expf(z, zlo, ec):
    # 1 - exp(-(z + zlo)) = 2^n (((2^-n - 1) - rh) - corr) (vmathf.h rk_one_minus_expf)
    z = np.float32(z)
    zc = _sel(z > _C18, _C18, _sel(z < -_C89, -_C89, z))
    lo = _sel(zc == z, -np.float32(zlo), _0)
    n, rh, corr = _exp_core(-zc, lo, ec)
    w = _pow2i(-_sel(n > _C126, _C126, n)) - _1
    s = w - rh
    e = (w - s) - rh
    y = ((s + (e - corr)) * _pow2i(_sel(n > _C127, _C127, n))) * _sel(n > _C127, _2, _1)
    return _sel(z == _0, z, y)


@_jit
def _root_quad(g, x, c):
    # the quadratic within 2^-8 of the root (vmathf.h rkf__root_quad)
    t = x - c[0]
    Q = c[2] + (c[3] + t * (c[4] + t * c[5]))
    return g * _fma(t, Q, -(c[1] * Q))


SILU_GRAD_FAST_MAX = _C170          # vmathf.h RKF__SILU_GRAD_FAST_MAX


@_jit
def silu_grad_fastf(g, x):
    """rk_silu_gradf for |x| <= 170 (NaN excluded): without the clamps and the two special
    cases, which change nothing there (vmathf.h rkf__silu_grad_fast, the same bits)."""
    g = np.float32(g)
    x = np.float32(x)
    xd = np.float64(x)
    E = _exp_negd(-abs(xd))
    S = 1.0 + E
    N = _seld(xd < 0.0, E * ((1.0 + xd) + E), S + xd * E)
    y = np.float32(_fdivd(np.float64(g) * N, S * S))
    return _sel(_fabs(x - _RP_SILU[0]) < _ROOT_Q, _root_quad(g, x, _RP_SILU), y)


@_jit
def rk_silu_gradf(g, x):
    # in double as one quotient (vmathf.h rk_silu_gradf)
    g = np.float32(g)
    x = np.float32(x)
    y = silu_grad_fastf(g, _sel(x > _C170, _C170, _sel(x < -_C170, -_C170, x)))
    y = _sel(x < -_C170, g * np.float32(-0.0), y)
    return _sel(x == _INF, _NAN, y)


@_jit
def rk_gelu_tanh_gradf(g, x):
    # in double as one quotient (vmathf.h rk_gelu_tanh_gradf)
    g = np.float32(g)
    x = np.float32(x)
    xc = np.float64(_sel(x > _C12_8, _C12_8, _sel(x < -_C12_8, -_C12_8, x)))
    x2 = xc * xc
    k1 = _C1D + _C3D * x2
    u = xc * k1
    xk = xc * (k1 + (2.0 * _C3D) * x2)
    E = _exp_negd(-abs(u))
    S = 1.0 + E
    N = _seld(u < 0.0, E * ((1.0 + xk) + E), S + xk * E)
    y = np.float32(_fdivd(np.float64(g) * N, S * S))
    y = _sel(_fabs(x - _RP_TANH[0]) < _ROOT_Q, _root_quad(g, x, _RP_TANH), y)
    far = _sel(x > _0, g, _0)
    return _sel(_fabs(x) >= _BIG30, far, y)


@_jit
def rk_gelu_gradf(g, x):
    g = np.float32(g)
    x = np.float32(x)
    xd = np.float64(x)
    a = abs(xd)
    ac = _seld(a > 20.0, 20.0, a)
    E = _exp_negd(-0.5 * (ac * ac))
    D = _gelu_md(ac) - ac * 0.3989422804014327
    d = _seld(xd < 0.0, E * D, 1.0 - E * D)
    d = _seld(xd < -20.0, -0.0, d)
    y = np.float32(np.float64(g) * d)
    yr = _root_poly(g, x, _RP_GELU)
    y = _sel(_fabs(x - _RP_GELU[0]) < _ROOT_HW, yr, y)
    return _sel(_fabs(x) == _INF, _NAN, y)
