/*
 * Streaming (non-temporal) stores for out-of-place outputs larger than the caches.
 *
 * An ordinary store to a line that is not in the cache first reads the line from memory
 * (read for ownership), so y = f(x) out of place moves three bytes per byte of output: x in,
 * y in, y out. A non-temporal store writes whole lines without reading them: two bytes.
 * The kernels are plain C loops the compiler vectorises, so instead of a streaming copy of
 * every kernel, run_flat (core.pxi) computes a chunk into a small buffer that stays in L1
 * and streams that buffer to y with rk_stream_copy.
 *
 * Measured (relu float32, one thread, AMD EPYC with AVX-512 and a 32 MiB L3, a C harness,
 * best of 30, loaded machine): n = 2.5e5 plain 35.5 us / chunked-NT 43.2 us (0.82x: the
 * output fits in L2 and NT stores bypass it); n = 1e6 175 / 148 us (1.18x); 4e6 1100 / 973 us
 * (1.13x); 1e7 3128 / 2411 us (1.30x). Hence the 4 MiB threshold (STREAM_MIN_BYTES).
 */
#ifndef RELUKIT_STREAM_H
#define RELUKIT_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__) || defined(__AVX__) || defined(__SSE2__)
#include <immintrin.h>
#define RK_HAVE_STREAM 1
#else
#define RK_HAVE_STREAM 0
#endif

/* Copy `bytes` from src to dst with non-temporal stores for the 64-byte-aligned body of
 * dst (head and tail with ordinary stores); src may have any alignment. */
static inline void rk_stream_copy(const void *src, void *dst, size_t bytes)
{
#if RK_HAVE_STREAM
    char *d = (char *)dst;
    const char *s = (const char *)src;
    size_t head = (64 - ((uintptr_t)d & 63)) & 63;
    if (head > bytes)
        head = bytes;
    memcpy(d, s, head);
    d += head; s += head; bytes -= head;
    for (; bytes >= 64; bytes -= 64, d += 64, s += 64) {
#if defined(__AVX512F__)
        _mm512_stream_si512((void *)d, _mm512_loadu_si512((const void *)s));
#elif defined(__AVX__)
        _mm256_stream_si256((__m256i *)d, _mm256_loadu_si256((const __m256i *)s));
        _mm256_stream_si256((__m256i *)(d + 32), _mm256_loadu_si256((const __m256i *)(s + 32)));
#else
        for (int k = 0; k < 64; k += 16)
            _mm_stream_si128((__m128i *)(d + k), _mm_loadu_si128((const __m128i *)(s + k)));
#endif
    }
    memcpy(d, s, bytes);
#else
    memcpy(dst, src, bytes);
#endif
}

/* Non-temporal stores are weakly ordered: fence before another thread (or the caller)
 * may read the output. */
static inline void rk_stream_fence(void)
{
#if RK_HAVE_STREAM
    _mm_sfence();
#endif
}

#endif
