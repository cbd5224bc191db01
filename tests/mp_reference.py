"""mpmath oracles for the smooth activations, and ULP measurement against them.

Written from the contract (PyTorch's definitions), not from ``relukit.reference``: every
value is evaluated at ``DPS`` significant decimal digits (~200 bits) from the exact binary
value of its float input, then rounded correctly (to nearest, ties to even, with gradual
underflow and overflow to infinity) to float32 or float64.

ULP error of a computed ``got`` against the exact value ``v``::

    err = |got - v| / ulp(r),   r = v correctly rounded to the dtype,
                                ulp(r) = np.spacing(|r|) (the subnormal spacing below the
                                         smallest normal)

measured exactly: the oracle keeps ``r``, ``ulp(r)`` and ``resid = (v - r) / ulp(r)``
(|resid| <= 1/2), and ``err = |(got - r) / ulp(r) - resid|`` (``got - r`` is exact in
float64 whenever the error is small). Matching infinities count as 0; an infinity or NaN
where a finite value is expected counts as ``inf``. Zeros compare numerically here (the
sign of a zero result is checked separately, see :func:`zero_sign_mismatches`).

Parameters (alpha, beta, threshold) are taken as the exact values of the Python floats
given; SELU's constants are the 32-digit decimals of the contract, exactly.
"""
import math

import mpmath
import numpy as np

DPS = 60

with mpmath.workdps(DPS):
    SELU_ALPHA = mpmath.mpf("1.6732632423543772848170429916717")
    SELU_SCALE = mpmath.mpf("1.0507009873554804934193349852946")
    SELU_NEGCOEF = SELU_ALPHA * SELU_SCALE
    GELU_C = mpmath.mpf("0.044715")
    SQRT_2_OVER_PI = mpmath.sqrt(2 / mpmath.pi)
    INV_SQRT_2PI = 1 / mpmath.sqrt(2 * mpmath.pi)
    SQRT2 = mpmath.sqrt(2)

# precision bits, minimum normal exponent, maximum exponent
_FORMAT = {np.dtype(np.float32): (24, -126, 127), np.dtype(np.float64): (53, -1022, 1023)}

# Beyond these |arguments| the activations are saturated far past any float's resolution
# (and mpmath's erfc cannot take them): the exact value is replaced by an equivalent one
# that rounds identically in both formats.
_HUGE = 1e6
_TINY_EXP = -10 ** 6            # 2**_TINY_EXP: far below half the smallest subnormal


def mpf(x):
    """The exact value of a float (a numpy scalar or Python float) as an mpf."""
    return mpmath.mpf(float(x))


# --------------------------------------------------------------------------------------
# forward definitions (arguments: exact mpf x, Python float parameters)
# --------------------------------------------------------------------------------------
def elu(x, alpha=1.0):
    return x if x > 0 else mpf(alpha) * mpmath.expm1(x)


def selu(x):
    return SELU_SCALE * x if x > 0 else SELU_NEGCOEF * mpmath.expm1(x)


def celu(x, alpha=1.0):
    a = mpf(alpha)
    neg = a * mpmath.expm1(x / a)
    return max(x, 0) + min(neg, 0)


def _above_threshold(x, beta, threshold):
    # The switch is decided on beta * x rounded to double, as the kernels (which evaluate
    # in double for both dtypes) do; it differs from the exact product's decision only for
    # x within an ulp of threshold / beta with beta not a power of two.
    return float(beta) * float(x) > float(threshold)


def softplus(x, beta=1.0, threshold=20.0):
    b = mpf(beta)
    z = b * x
    if _above_threshold(x, beta, threshold):
        return x
    if z < -_HUGE:                              # log1p(exp(z)) = exp(z) (1 - exp(z)/2 ...)
        return mpmath.ldexp(mpmath.mpf(1) if b > 0 else mpmath.mpf(-1), _TINY_EXP)
    return mpmath.log1p(mpmath.exp(z)) / b


def silu(x):
    if x < -_HUGE:                              # x e^x: far below the smallest subnormal
        return mpmath.ldexp(mpmath.mpf(-1), _TINY_EXP)
    return x / (1 + mpmath.exp(-x))


def gelu(x, approximate="none"):
    if approximate == "none":
        if x < -_HUGE:
            return mpmath.ldexp(mpmath.mpf(-1), _TINY_EXP)
        if x > _HUGE:                           # x (1 - Phi(-x)): rounds to x
            return x
        return x * mpmath.erfc(-x / SQRT2) / 2
    u2 = 2 * SQRT_2_OVER_PI * (x + GELU_C * x ** 3)
    if u2 < -_HUGE:
        return mpmath.ldexp(mpmath.mpf(-1), _TINY_EXP)
    if u2 > _HUGE:
        return x
    return x / (1 + mpmath.exp(-u2))           # 0.5 x (1 + tanh(u)) without cancellation


FORWARD = {"elu": elu, "selu": selu, "celu": celu, "softplus": softplus, "silu": silu,
           "gelu": gelu}


# --------------------------------------------------------------------------------------
# derivatives: in terms of the OUTPUT y for elu/selu/celu/softplus (what their backward
# sees), in terms of the input x for all
# --------------------------------------------------------------------------------------
def elu_grad_y(y, alpha=1.0):
    return mpmath.mpf(1) if y > 0 else y + mpf(alpha)


def selu_grad_y(y):
    return SELU_SCALE if y > 0 else y + SELU_NEGCOEF


def celu_grad_y(y, alpha=1.0):
    return mpmath.mpf(1) if y > 0 else (y + mpf(alpha)) / mpf(alpha)


def softplus_grad_y(y, beta=1.0, threshold=20.0):
    z = mpf(beta) * y
    if _above_threshold(y, beta, threshold):
        return mpmath.mpf(1)
    return -mpmath.expm1(-z)                    # sigmoid(beta x) = 1 - exp(-beta y)


GRAD_FROM_OUTPUT = {"elu": elu_grad_y, "selu": selu_grad_y, "celu": celu_grad_y,
                    "softplus": softplus_grad_y}


def elu_grad_x(x, alpha=1.0):
    return mpmath.mpf(1) if x > 0 else mpf(alpha) * mpmath.exp(x)


def selu_grad_x(x):
    return SELU_SCALE if x > 0 else SELU_NEGCOEF * mpmath.exp(x)


def celu_grad_x(x, alpha=1.0):
    return mpmath.mpf(1) if x > 0 else mpmath.exp(x / mpf(alpha))


def _sigmoid(z):
    return 1 / (1 + mpmath.exp(-z))


def softplus_grad_x(x, beta=1.0, threshold=20.0):
    z = mpf(beta) * x
    return mpmath.mpf(1) if _above_threshold(x, beta, threshold) else _sigmoid(z)


def silu_grad(x):
    if x < -_HUGE:
        return mpmath.ldexp(mpmath.mpf(-1), _TINY_EXP)
    if x > _HUGE:
        return mpmath.mpf(1)
    s, t = _sigmoid(x), _sigmoid(-x)
    return s * (1 + x * t)


def gelu_grad(x, approximate="none"):
    if approximate == "none":
        if abs(x) > _HUGE:
            return mpmath.ldexp(mpmath.mpf(-1), _TINY_EXP) if x < 0 else mpmath.mpf(1)
        return mpmath.erfc(-x / SQRT2) / 2 + x * INV_SQRT_2PI * mpmath.exp(-x * x / 2)
    u2 = 2 * SQRT_2_OVER_PI * (x + GELU_C * x ** 3)
    if abs(u2) > _HUGE:
        return mpmath.ldexp(mpmath.mpf(-1), _TINY_EXP) if x < 0 else mpmath.mpf(1)
    du2 = 2 * SQRT_2_OVER_PI * (1 + 3 * GELU_C * x * x)
    s, t = _sigmoid(u2), _sigmoid(-u2)
    return s + x * du2 * s * t


GRAD_FROM_X = {"elu": elu_grad_x, "selu": selu_grad_x, "celu": celu_grad_x,
               "softplus": softplus_grad_x, "silu": silu_grad, "gelu": gelu_grad}


def derivative_root(name, approximate="none"):
    """The x < 0 where silu' or gelu' crosses zero (the activation's minimum)."""
    with mpmath.workdps(DPS):
        if name == "silu":
            return float(mpmath.findroot(silu_grad, -1.28))
        return float(mpmath.findroot(lambda x: gelu_grad(x, approximate), -0.75))


# --------------------------------------------------------------------------------------
# correct rounding and ULP errors
# --------------------------------------------------------------------------------------
def round_exact(v, dtype):
    """``(r, ulp, resid)``: the mpf ``v`` rounded to nearest-even in ``dtype`` (as a Python
    float, signed zero / infinity included), the spacing at ``r`` and ``(v - r) / ulp``."""
    p, emin, emax = _FORMAT[np.dtype(dtype)]
    qmin = emin - p + 1                              # exponent of the smallest subnormal
    if v == 0:
        return 0.0, math.ldexp(1.0, qmin), 0.0
    sign, man, exp, bc = v._mpf_
    e = exp + bc - 1                                 # floor(log2 |v|)
    if e < qmin - 2:                                 # below a quarter of the smallest subnormal
        m, q = 0, qmin
    elif e > emax + 1:
        m, q = None, None
    else:
        q = max(e - p + 1, qmin)
        if exp >= q:
            m = man << (exp - q)
        else:
            sh = q - exp
            m = man >> sh
            rem = man - (m << sh)
            half = 1 << (sh - 1)
            if rem > half or (rem == half and (m & 1)):
                m += 1
    inf = m is None or m.bit_length() - 1 + q > emax
    if inf:
        return (-math.inf if sign else math.inf), math.inf, math.nan
    r = math.ldexp(float(m), q)                      # exact: m has at most p + 1 bits
    er = (m.bit_length() - 1 + q) if m else qmin
    ulp = math.ldexp(1.0, max(er - p + 1, qmin))
    r = -r if sign else r
    with mpmath.workdps(DPS):
        resid = float((v - mpmath.mpf(r)) / ulp)
    return r, ulp, resid


class Exact:
    """Correctly rounded values of one op at an array of points (flat float64 arrays)."""

    def __init__(self, values, dtype):
        out = [round_exact(v, dtype) for v in values]
        self.dtype = np.dtype(dtype)
        self.r = np.array([o[0] for o in out], np.float64)
        self.ulp = np.array([o[1] for o in out], np.float64)
        self.resid = np.array([o[2] for o in out], np.float64)

    @property
    def rounded(self):
        return self.r.astype(self.dtype)

    def ulp_errors(self, got):
        """Per-element ULP error of ``got`` (any shape, flattened in C order)."""
        g = np.asarray(got, dtype=np.float64).ravel()
        assert g.shape == self.r.shape
        with np.errstate(all="ignore"):
            err = np.abs((g - self.r) / self.ulp - self.resid)
        inf_r = np.isinf(self.r)
        err[inf_r] = np.where(g[inf_r] == self.r[inf_r], 0.0, np.inf)
        err[~inf_r & ~np.isfinite(g)] = np.inf
        return err

    def zero_sign_mismatches(self, got):
        """Indices where the correctly rounded result is a zero and ``got`` is the zero of
        the other sign (e.g. a negative tail that underflows to +0.0 instead of -0.0)."""
        g = np.asarray(got, dtype=np.float64).ravel()
        return np.flatnonzero((self.r == 0) & (g == 0) & (np.signbit(self.r) != np.signbit(g)))


def exact(fn, xs, dtype, *params):
    """:class:`Exact` of ``fn(mpf(x), *params)`` for every x of ``xs``."""
    with mpmath.workdps(DPS):
        values = [fn(mpf(x), *params) for x in np.asarray(xs).ravel()]
    return Exact(values, dtype)


def exact_product(fn, grads, xs, dtype, *params):
    """:class:`Exact` of ``grad * fn(mpf(x), *params)`` (the exact backward with an upstream
    gradient)."""
    with mpmath.workdps(DPS):
        values = [mpf(g) * fn(mpf(x), *params)
                  for g, x in zip(np.asarray(grads).ravel(), np.asarray(xs).ravel())]
    return Exact(values, dtype)


def output_error(name, x, y, *params):
    """``|y - f(x)|`` as a float, for a forward output ``y`` of the elu family or softplus
    at ``x``, computed without cancelling ``y`` against ``f(x)`` where both are near
    -alpha (there ``y + alpha`` and ``alpha exp(x)`` are compared instead)."""
    out = []
    with mpmath.workdps(DPS):
        for xv, yv in zip(np.asarray(x).ravel(), np.asarray(y).ravel()):
            xm, ym = mpf(xv), mpf(yv)
            if not mpmath.isfinite(ym):
                out.append(math.inf)
                continue
            if name == "softplus":
                d = ym - softplus(xm, *params)
            elif xm > 0:
                d = ym - FORWARD[name](xm, *params)
            elif name == "elu":
                a = mpf(params[0] if params else 1.0)
                d = (ym + a) - a * mpmath.exp(xm)
            elif name == "selu":
                d = (ym + SELU_NEGCOEF) - SELU_NEGCOEF * mpmath.exp(xm)
            else:                                   # celu
                a = mpf(params[0] if params else 1.0)
                d = (ym + a) - a * mpmath.exp(xm / a)
            out.append(float(abs(d)))
    return np.array(out)
