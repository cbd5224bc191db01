"""Vectorisable elementary functions for the Numba backend (imported only by it).

The same algorithms, constants and evaluation order as ``kernels/vmath.h``; see that file
for the numerical reasoning (Cody-Waite reduction with an unevaluated (hi, corr) expm1 of
the reduced argument, TwoSum/Fast2Sum compensations, fdlibm log1p). Functions:

    rk_exp, rk_expm1, rk_log1p            (float64 -> float64)
    rk_expm1_neg                          (rk_expm1 for x <= 0)
    rk_log1p_core                         (rk_log1p for x in [0, 1]: softplus)
    rk_exp_dd(hi, lo)                     (exp as a scaled double-double, vmath.h rk__exp_dd)
    rk_select(cond, a, b)                                            (branch-free select)

Every exponential takes one more argument, ``ec = exp_consts()``, made once per kernel
call (see EXP_CONSTS).

All are ``@njit(inline="always")`` so that they are inlined into the calling kernel at
Numba-IR level, which lets LLVM vectorise a ``prange`` loop that calls them: the bodies
contain no calls (fabs/copysign are LLVM intrinsics), no branches (every case is computed
and chosen with an LLVM ``select``), and no Python-semantics division (which raises
ZeroDivisionError and therefore branches): divisions go through the ``_fdiv`` intrinsic,
a bare IEEE ``fdiv``, so callers need no ``error_model="numpy"``.

Rule for callers (same as in C): compute the function unconditionally and pick with
``rk_select``; ``v if v > 0 else a * rk_expm1(v)`` puts the call inside a branch.

Float32 arrays take _numba_mathf's float32 functions, except where a parameter is not a
float32 (softplus with such a beta): those kernels convert to float64, call these and round
once (all functions accept float32 arguments and widen them first). The smooth kernels are
compiled with LLVM's ``contract`` flag, as gcc contracts the C ones: on 10^6 values with
edge cases (AVX2 machine) every smooth kernel gave the Cython kernel's bits except
softplus's forward (0.2-0.4% of the elements differ, within the accuracy bound).
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_F64 = ir.DoubleType()


# ---------------------------------------------------------------- intrinsics (no checks)

@intrinsic
def _bits(typingctx, x):
    """Bit pattern of a float64 as int64 (LLVM bitcast)."""
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], _I64)
    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, u):
    """float64 with the given int64 bit pattern (LLVM bitcast)."""
    if u != types.int64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], _F64)
    return types.float64(types.int64), codegen


@intrinsic
def _fdiv(typingctx, a, b):
    """IEEE a / b (no ZeroDivisionError check, so no branch)."""
    if a != types.float64 or b != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.fdiv(args[0], args[1])
    return types.float64(types.float64, types.float64), codegen


@intrinsic
def _sel(typingctx, c, a, b):
    """c ? a : b as an LLVM select (both operands already computed)."""
    if not isinstance(c, types.Boolean) or a != b or not isinstance(a, types.Float):
        return None

    def codegen(context, builder, sig, args):
        return builder.select(args[0], args[1], args[2])
    return a(c, a, b), codegen


def _prefetch_intrinsic(write, doc):
    @intrinsic
    def prefetch(typingctx, a, i):
        if not isinstance(a, types.Array) or not isinstance(i, types.Integer):
            return None

        def codegen(context, builder, sig, args):
            arr = context.make_array(sig.args[0])(context, builder, args[0])
            i8p = ir.IntType(8).as_pointer()
            fn = builder.module.declare_intrinsic(
                "llvm.prefetch", [i8p], ir.FunctionType(ir.VoidType(), [i8p] + [_I32] * 3))
            ptr = builder.bitcast(builder.gep(arr.data, [args[1]]), i8p)
            builder.call(fn, [ptr, ir.Constant(_I32, int(write)), ir.Constant(_I32, 3),
                              ir.Constant(_I32, 1)])
            return context.get_dummy_value()
        return types.void(a, i), codegen
    prefetch.__doc__ = doc
    return prefetch


# llvm.prefetch of the cache line of a[i] (high locality, data cache; a hint: no fault,
# whatever i), for the rows of _numba_backend._fetched_row
rk_prefetch_write = _prefetch_intrinsic(True, "Prefetch the line of a[i] for writing.")
rk_prefetch_read = _prefetch_intrinsic(False, "Prefetch the line of a[i] for reading.")


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c with one rounding (llvm.fma: an FMA instruction where the CPU has one)."""
    if a != types.float64 or b != types.float64 or c != types.float64:
        return None

    def codegen(context, builder, sig, args):
        fn = builder.module.declare_intrinsic("llvm.fma", [_F64],
                                              ir.FunctionType(_F64, [_F64, _F64, _F64]))
        return builder.call(fn, args)
    return types.float64(types.float64, types.float64, types.float64), codegen


# ---------------------------------------------------------------- constants

_SHIFTER = 6755399441055744.0          # 1.5 * 2^52
_LOG2E = 1.4426950408889634
_LN2HI = 6.93147180369123816490e-01    # 0x1.62e42feep-1, 32 significant bits
_LN2LO = 1.90821492927058770002e-10    # ln 2 - _LN2HI
_BIAS = 1023 << 52
_LOG_OFF = 0x3FF0000000000000 - 0x3FE6A09E667F3BCD
_SQRTH_BITS = 0x3FE6A09E667F3BCD
_MANT = 0x000FFFFFFFFFFFFF
_TWO52_BITS = 0x4330000000000000
_INF = math.inf
_NAN = math.nan

# Inlined into the cached kernels of _numba_backend, so not cached themselves (caching them
# would also fail outright where no cache location is writable).
_jit = njit(inline="always")


@_jit
def rk_fma(a, b, c):
    """a * b + c rounded once."""
    return _fma(a, b, c)


@_jit
def rk_select(c, a, b):
    """Branch-free ``a if c else b`` for float arguments of the same type."""
    return _sel(c, a, b)


@_jit
def _pow2i(k):
    # 2^k for integral k in [-1022, 1023]: shifter trick, exponent field built by shift+add.
    b = _bits(k + _SHIFTER)
    return _from_bits((b << 52) + _BIAS)


# Constants of _exp_core, passed to it at run time: a kernel calls exp_consts() once, before
# its loop, and hands the copy down. Written as literals, they are LLVM constants, and a
# vectorised loop needs more of them than AVX2's 16 vector registers hold with its working
# values: LLVM then rematerialises each from the constant pool inside the loop, which
# Numba's large code model makes two instructions per constant per vector (movabsq of the
# pool address, vbroadcastsd), about 30 of the loop's 75. A copy made at run time is a
# value LLVM cannot fold: loaded once and, at worst, reloaded from the stack as one memory
# operand. The same values, so the same bits. Measured on a 2-core AMD EPYC (Zen 3, AVX2),
# one thread, n = 10**6, ns per element, the kernels with literals and with the copy
# compiled side by side in one process: float64 silu 3.23 -> 2.62 (its fast form in a plain
# loop 2.42 -> 1.89), gelu 6.21 -> 5.95, softplus 5.21 -> 5.16, gelu(tanh) 6.29 -> 6.21,
# silu' 4.65 -> 4.60, elu 2.21 -> 2.21, gelu' 9.63 -> 9.99 (the loops that keep other
# literal constants gain little); float32 (_numba_mathf's EXPF_CONSTS) silu 0.91 -> 0.73.
EXP_CONSTS = np.array([
    1.6059043836821613e-10,              # Taylor 1/13! ... 1/2! (degree 13, see vmath.h)
    2.08767569878681e-09,
    2.505210838544172e-08,
    2.755731922398589e-07,
    2.7557319223985893e-06,
    2.48015873015873e-05,
    1.984126984126984e-04,
    1.388888888888889e-03,
    8.333333333333333e-03,
    4.1666666666666664e-02,
    1.6666666666666666e-01,
    0.5,
    _LOG2E, _SHIFTER, _LN2HI, _LN2LO])


@_jit
def exp_consts():
    """A run-time copy of EXP_CONSTS for the kernel's calls to the exponentials (see there)."""
    return EXP_CONSTS.copy()


@_jit
def _exp_core(hi, lo, ec):
    # a = hi + lo = n*ln2 + r; returns n and expm1(r) as the pair (rh, corr), rh exact.
    # ec: exp_consts()
    kd = (hi + lo) * ec[12] + ec[13]
    n = kd - ec[13]
    rh = hi - n * ec[14]
    rl = lo - n * ec[15]
    r = rh + rl
    q = ec[0]
    for i in range(1, 12):          # a constant trip count: unrolled before vectorising
        q = q * r + ec[i]
    return n, rh, rl + (r * r) * q


@_jit
def _one_plus(rh, corr):
    # 1 + (rh + corr) with 1 + rh exact (Fast2Sum): one rounding only
    s = 1.0 + rh
    e = (1.0 - s) + rh
    return s + (e + corr)


@_jit
def _split_n1(n):
    return (n * 0.5 + _SHIFTER) - _SHIFTER


@_jit
def rk_exp_dd(hi, lo, ec):
    """exp(hi + lo), hi <= 0 clamped to >= -780 by the caller, as (eh, el, s2) with
    exp = (eh + el) * s2, eh + el normal, s2 to be applied last (see vmath.h rk__exp_dd)."""
    n, rh, corr = _exp_core(hi, lo, ec)
    n1 = _split_n1(n)
    eh, el = _exp_dd_scaled(rh, corr, _pow2i(n1))
    return eh, el, _pow2i(n - n1)


@_jit
def _exp_dd_scaled(rh, corr, s1):
    # (1 + rh + corr) s1 as eh + el (vmath.h rk__exp_dd_scaled)
    s = 1.0 + rh
    t = ((1.0 - s) + rh) + corr
    eu = s + t
    return eu * s1, (t - (eu - s)) * s1


@_jit
def rk_exp_dd_normal(hi, lo, ec):
    """rk_exp_dd for hi in [-669, 0], where eh and el are normal with s2 = 1: (eh, el)
    (vmath.h rk__exp_dd_normal)."""
    n, rh, corr = _exp_core(hi, lo, ec)
    return _exp_dd_scaled(rh, corr, _pow2i(n))


@_jit
def rk_exp(x, ec):
    x = float(x)
    xc = _sel(x > 710.0, 710.0, _sel(x < -746.0, -746.0, x))
    n, rh, corr = _exp_core(xc, 0.0, ec)
    n1 = _split_n1(n)
    e = _one_plus(rh, corr)
    return (e * _pow2i(n1)) * _pow2i(n - n1)


@_jit
def _expm1_mid(t, rh, corr):
    # moderate n, t = 2^n: (2^n - 1) + 2^n*rh summed exactly (TwoSum), then the small terms
    a = t - 1.0
    b = t * rh
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    return s + (err + t * corr)


@_jit
def rk_expm1(x, ec):
    x = float(x)
    xc = _sel(x > 710.0, 710.0, _sel(x < -45.0, -45.0, x))
    n, rh, corr = _exp_core(xc, 0.0, ec)
    n1 = _split_n1(n)
    s1 = _pow2i(n1)
    s2 = _pow2i(n - n1)
    mid = _expm1_mid(s1 * s2, rh, corr)
    # large n: 2^n * ((1 + p) - 2^-n)
    tinv = _pow2i(-_sel(n > 1000.0, 1000.0, n))
    big = (_one_plus(rh, corr - tinv) * s1) * s2
    y = _sel(n > 53.0, big, mid)
    return _sel(x == 0.0, x, y)


@_jit
def rk_expm1_neg(x, ec):
    """rk_expm1 for x <= 0 only (vmath.h rk_expm1_neg): the same bits, half the cost."""
    x = float(x)
    n, rh, corr = _exp_core(_sel(x < -45.0, -45.0, x), 0.0, ec)
    return _sel(x == 0.0, x, _expm1_mid(_pow2i(n), rh, corr))


@_jit
def rk_log1p_core(x):
    """rk_log1p without its special cases: the same bits for x in [0, 1] and NaN."""
    x = float(x)
    u = 1.0 + x
    bv = u - 1.0
    av = u - bv
    c = (1.0 - av) + (x - bv)            # 1 + x == u + c exactly
    iu = _bits(u) + _LOG_OFF
    k = (_from_bits((iu >> 52) | _TWO52_BITS) - 4503599627370496.0) - 1023.0
    m = _from_bits((iu & _MANT) + _SQRTH_BITS)
    f = m - 1.0
    cu = _fdiv(c, u)
    hfsq = 0.5 * f * f
    s = _fdiv(f, 2.0 + f)
    z = s * s
    R = 1.479819860511658591e-01         # fdlibm Lg7 .. Lg1
    R = R * z + 1.531383769920937332e-01
    R = R * z + 1.818357216161805012e-01
    R = R * z + 2.222219843214978396e-01
    R = R * z + 2.857142874366239149e-01
    R = R * z + 3.999999999940941908e-01
    R = R * z + 6.666666666666735130e-01
    R = R * z
    return k * _LN2HI - ((hfsq - (s * (hfsq + R) + (k * _LN2LO + cu))) - f)


@_jit
def rk_log1p(x):
    x = float(x)
    y = rk_log1p_core(x)
    y = _sel(x == _INF, x, y)
    y = _sel(x == -1.0, -_INF, y)
    y = _sel(x < -1.0, _NAN, y)
    return _sel(x == 0.0, x, y)
