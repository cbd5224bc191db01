"""Which instruction-set level this CPU runs, for choosing a build of the core at import.

Compiled without any -march flag, so importing it is safe on every CPU. The checks ask the
CPU (cpuid) and the operating system (xgetbv: whether it saves the AVX / AVX-512 registers
on a context switch) through the compiler's ``__builtin_cpu_supports``.
"""

cdef extern from *:
    """
    #if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    #define RK_X86 1
    static int rk_cpu_level(void)
    {
        __builtin_cpu_init();
    #if !defined(__clang__) && __GNUC__ >= 12
        /* The psABI level names check every feature of the level, OS support included. */
        if (__builtin_cpu_supports("x86-64-v4")) return 2;
        if (__builtin_cpu_supports("x86-64-v3")) return 1;
    #else
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
                && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq")
                && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2")
                && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2"))
            return 2;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
                && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2"))
            return 1;
    #endif
        return 0;
    }
    #else
    #define RK_X86 0
    static int rk_cpu_level(void) { return 0; }
    #endif
    """
    int rk_cpu_level()
    int RK_X86

X86 = bool(RK_X86)
LEVELS = ("baseline", "avx2", "avx512")


def supported_levels():
    """The levels of ``LEVELS`` this CPU and OS can run, lowest first (["baseline"] off x86)."""
    return list(LEVELS[: rk_cpu_level() + 1])
