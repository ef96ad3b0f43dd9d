#pragma once
// Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw,
// "Parallel random numbers: as easy as 1, 2, 3" (SC'11), written here from the
// published algorithm: ten rounds of two 32x32->64 multiplications, with the
// key bumped by the Weyl constants before every round after the first.
// Output is a pure function of (counter, key): no hidden state, so a stream's
// n-th value does not depend on what else ran before it.

#include <array>
#include <cstdint>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define TWINSIM_PHILOX_SSE2 1
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12's AVX-512 intrinsics initialise a register from itself
// (_mm512_undefined_epi32) and -Wuninitialized reports it at the header's lines.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#define TWINSIM_PHILOX_AVX2 1  // the AVX2 and AVX-512 versions: compiled for any x86-64 target, used when the CPU has them
#endif

namespace twinsim::kernel {

using PhiloxCounter = std::array<std::uint32_t, 4>;
using PhiloxKey = std::array<std::uint32_t, 2>;

/// N Philox4x32-10 blocks under one key, in place, with the N chains
/// interleaved round by round so their multiplications overlap.
template <unsigned N>
constexpr void philox4x32_10_batch(PhiloxCounter (&ctr)[N], PhiloxKey key) noexcept {
    constexpr std::uint32_t m0 = 0xD2511F53u;
    constexpr std::uint32_t m1 = 0xCD9E8D57u;
    constexpr std::uint32_t w0 = 0x9E3779B9u;
    constexpr std::uint32_t w1 = 0xBB67AE85u;
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            key[0] += w0;
            key[1] += w1;
        }
        for (unsigned b = 0; b < N; ++b) {
            const std::uint64_t p0 = std::uint64_t{m0} * ctr[b][0];
            const std::uint64_t p1 = std::uint64_t{m1} * ctr[b][2];
            ctr[b] = PhiloxCounter{static_cast<std::uint32_t>(p1 >> 32) ^ ctr[b][1] ^ key[0],
                                   static_cast<std::uint32_t>(p1),
                                   static_cast<std::uint32_t>(p0 >> 32) ^ ctr[b][3] ^ key[1],
                                   static_cast<std::uint32_t>(p0)};
        }
    }
}

/// One Philox4x32-10 block: 128 random bits for a 128-bit counter and a 64-bit key
/// (the batch of one).
[[nodiscard]] constexpr PhiloxCounter philox4x32_10(PhiloxCounter ctr, PhiloxKey key) noexcept {
    PhiloxCounter one[1] = {ctr};
    philox4x32_10_batch<1>(one, key);
    return one[0];
}

/// The 64-bit words of blocks n .. n + B - 1 of the sub-stream `substream`
/// under `key`, in stream order: block n + b (counter {lo(n+b), hi(n+b),
/// lo(s), hi(s)}) gives (out1:out0) then (out3:out2). The portable version:
/// B scalar chains, interleaved round by round.
template <unsigned B>
inline void philox_words_scalar(std::uint64_t n, std::uint64_t substream, PhiloxKey key,
                                std::uint64_t (&out)[2 * B]) noexcept {
    PhiloxCounter ctr[B];
    for (unsigned b = 0; b < B; ++b) {
        const std::uint64_t c = n + b;
        ctr[b] = PhiloxCounter{static_cast<std::uint32_t>(c), static_cast<std::uint32_t>(c >> 32),
                               static_cast<std::uint32_t>(substream), static_cast<std::uint32_t>(substream >> 32)};
    }
    philox4x32_10_batch<B>(ctr, key);
    for (unsigned b = 0; b < B; ++b) {
        out[2 * b] = (std::uint64_t{ctr[b][1]} << 32) | ctr[b][0];
        out[2 * b + 1] = (std::uint64_t{ctr[b][3]} << 32) | ctr[b][2];
    }
}

#if defined(TWINSIM_PHILOX_SSE2)
/// philox_words_scalar with SSE2 (baseline x86-64): the same words, in the
/// same order, B (even) blocks at once. Each 128-bit register holds one
/// counter word of two blocks, in the low halves of its 64-bit lanes, so
/// pmuludq (32x32->64 on those low halves) does a round's multiplication for
/// two blocks at once and the high product is a 64-bit shift away: no
/// shuffles inside the rounds. The high halves of the lanes collect garbage
/// that pmuludq ignores and the final packing masks off.
template <unsigned B>
inline void philox_words_sse2(std::uint64_t n, std::uint64_t substream, PhiloxKey key,
                              std::uint64_t (&out)[2 * B]) noexcept {
    static_assert(B % 2 == 0, "two blocks per register");
    constexpr unsigned P = B / 2;
    const auto lo = [](std::uint64_t v) { return static_cast<long long>(v & 0xffffffffu); };
    const auto hi = [](std::uint64_t v) { return static_cast<long long>(v >> 32); };
    const __m128i m0 = _mm_set1_epi64x(0xD2511F53);
    const __m128i m1 = _mm_set1_epi64x(0xCD9E8D57);
    const __m128i w0 = _mm_set1_epi64x(0x9E3779B9);
    const __m128i w1 = _mm_set1_epi64x(0xBB67AE85);
    __m128i k0 = _mm_set1_epi64x(static_cast<long long>(key[0]));
    __m128i k1 = _mm_set1_epi64x(static_cast<long long>(key[1]));
    // Pair p holds blocks n + 2p (lane 0) and n + 2p + 1 (lane 1).
    __m128i c0[P], c1[P], c2[P], c3[P];
    for (unsigned p = 0; p < P; ++p) {
        c0[p] = _mm_set_epi64x(lo(n + 2 * p + 1), lo(n + 2 * p));
        c1[p] = _mm_set_epi64x(hi(n + 2 * p + 1), hi(n + 2 * p));
        c2[p] = _mm_set1_epi64x(lo(substream));
        c3[p] = _mm_set1_epi64x(hi(substream));
    }
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 = _mm_add_epi32(k0, w0);  // the high halves stay 0 + 0
            k1 = _mm_add_epi32(k1, w1);
        }
        for (unsigned p = 0; p < P; ++p) {
            const __m128i p0 = _mm_mul_epu32(c0[p], m0), p1 = _mm_mul_epu32(c2[p], m1);
            // (c1 ^ k0) does not wait for the multiplication: one xor on the chain, not two.
            c0[p] = _mm_xor_si128(_mm_srli_epi64(p1, 32), _mm_xor_si128(c1[p], k0));
            c2[p] = _mm_xor_si128(_mm_srli_epi64(p0, 32), _mm_xor_si128(c3[p], k1));
            c1[p] = p1;
            c3[p] = p0;
        }
    }
    const __m128i low = _mm_set1_epi64x(0xffffffff);
    auto* dst = reinterpret_cast<__m128i*>(out);
    for (unsigned p = 0; p < P; ++p) {
        const __m128i w01 = _mm_or_si128(_mm_slli_epi64(c1[p], 32), _mm_and_si128(c0[p], low));
        const __m128i w23 = _mm_or_si128(_mm_slli_epi64(c3[p], 32), _mm_and_si128(c2[p], low));
        _mm_storeu_si128(dst + 2 * p, _mm_unpacklo_epi64(w01, w23));      // block n + 2p
        _mm_storeu_si128(dst + 2 * p + 1, _mm_unpackhi_epi64(w01, w23));  // block n + 2p + 1
    }
}
#endif

#if defined(TWINSIM_PHILOX_AVX2)
/// philox_words_sse2 with AVX2: the same words, in the same order, B (a
/// multiple of four) blocks at once, four per 256-bit register (one block per
/// 64-bit lane, the counter word in its low half; vpmuludq ignores the high
/// halves, which the final packing drops). Compiled for AVX2 whatever the
/// build's target: call it only when philox_avx2_available().
template <unsigned B>
[[gnu::target("avx2")]] void philox_words_avx2(std::uint64_t n, std::uint64_t substream, PhiloxKey key,
                                                std::uint64_t (&out)[2 * B]) noexcept {
    static_assert(B % 4 == 0, "four blocks per register");
    constexpr unsigned Q = B / 4;
    const __m256i m0 = _mm256_set1_epi64x(0xD2511F53);
    const __m256i m1 = _mm256_set1_epi64x(0xCD9E8D57);
    const __m256i w0 = _mm256_set1_epi64x(0x9E3779B9);
    const __m256i w1 = _mm256_set1_epi64x(0xBB67AE85);
    __m256i k0 = _mm256_set1_epi64x(static_cast<long long>(key[0]));
    __m256i k1 = _mm256_set1_epi64x(static_cast<long long>(key[1]));
    // Quad q holds blocks n + 4q .. n + 4q + 3 (lanes 0 .. 3): the 64-bit
    // block numbers, whose low halves are counter word 0 and whose high
    // halves, shifted down, are word 1 (64-bit adds carry into them).
    const __m256i s = _mm256_set1_epi64x(static_cast<long long>(substream));
    const __m256i s_hi = _mm256_srli_epi64(s, 32);
    __m256i c0[Q], c1[Q], c2[Q], c3[Q];
    for (unsigned q = 0; q < Q; ++q) {
        const auto b = static_cast<long long>(n + 4 * q);
        c0[q] = _mm256_add_epi64(_mm256_set1_epi64x(b), _mm256_set_epi64x(3, 2, 1, 0));
        c1[q] = _mm256_srli_epi64(c0[q], 32);
        c2[q] = s;
        c3[q] = s_hi;
    }
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 = _mm256_add_epi32(k0, w0);  // the high halves stay 0 + 0
            k1 = _mm256_add_epi32(k1, w1);
        }
        for (unsigned q = 0; q < Q; ++q) {
            const __m256i p0 = _mm256_mul_epu32(c0[q], m0), p1 = _mm256_mul_epu32(c2[q], m1);
            // (c1 ^ k0) does not wait for the multiplication: one xor on the chain, not two.
            c0[q] = _mm256_xor_si256(_mm256_srli_epi64(p1, 32), _mm256_xor_si256(c1[q], k0));
            c2[q] = _mm256_xor_si256(_mm256_srli_epi64(p0, 32), _mm256_xor_si256(c3[q], k1));
            c1[q] = p1;
            c3[q] = p0;
        }
    }
    auto* dst = reinterpret_cast<__m256i*>(out);
    for (unsigned q = 0; q < Q; ++q) {
        // Lane b: w01 = (out1:out0), w23 = (out3:out2) of block n + 4q + b
        // (the odd 32-bit elements from the shifted out1/out3, the even from out0/out2).
        const __m256i w01 = _mm256_blend_epi32(c0[q], _mm256_slli_epi64(c1[q], 32), 0xAA);
        const __m256i w23 = _mm256_blend_epi32(c2[q], _mm256_slli_epi64(c3[q], 32), 0xAA);
        const __m256i even = _mm256_unpacklo_epi64(w01, w23);  // blocks b = 0 | 2
        const __m256i odd = _mm256_unpackhi_epi64(w01, w23);   // blocks b = 1 | 3
        _mm256_storeu_si256(dst + 2 * q, _mm256_permute2x128_si256(even, odd, 0x20));      // blocks 0, 1
        _mm256_storeu_si256(dst + 2 * q + 1, _mm256_permute2x128_si256(even, odd, 0x31));  // blocks 2, 3
    }
}

/// philox_words_avx2 with AVX-512F: B (a multiple of eight) blocks at once,
/// eight per 512-bit register; the same words in the same order. Half the
/// instructions of the AVX2 version for the same rounds.
template <unsigned B>
[[gnu::target("avx512f")]] void philox_words_avx512(std::uint64_t n, std::uint64_t substream, PhiloxKey key,
                                                    std::uint64_t (&out)[2 * B]) noexcept {
    static_assert(B % 8 == 0, "eight blocks per register");
    constexpr unsigned O = B / 8;
    const __m512i m0 = _mm512_set1_epi64(0xD2511F53);
    const __m512i m1 = _mm512_set1_epi64(0xCD9E8D57);
    const __m512i w0 = _mm512_set1_epi64(0x9E3779B9);
    const __m512i w1 = _mm512_set1_epi64(0xBB67AE85);
    __m512i k0 = _mm512_set1_epi64(static_cast<long long>(key[0]));
    __m512i k1 = _mm512_set1_epi64(static_cast<long long>(key[1]));
    const __m512i s = _mm512_set1_epi64(static_cast<long long>(substream));
    const __m512i s_hi = _mm512_srli_epi64(s, 32);
    __m512i c0[O], c1[O], c2[O], c3[O];
    for (unsigned o = 0; o < O; ++o) {
        const auto b = static_cast<long long>(n + 8 * o);
        c0[o] = _mm512_add_epi64(_mm512_set1_epi64(b), _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0));
        c1[o] = _mm512_srli_epi64(c0[o], 32);
        c2[o] = s;
        c3[o] = s_hi;
    }
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 = _mm512_add_epi32(k0, w0);
            k1 = _mm512_add_epi32(k1, w1);
        }
        for (unsigned o = 0; o < O; ++o) {
            const __m512i p0 = _mm512_mul_epu32(c0[o], m0), p1 = _mm512_mul_epu32(c2[o], m1);
            c0[o] = _mm512_xor_si512(_mm512_srli_epi64(p1, 32), _mm512_xor_si512(c1[o], k0));
            c2[o] = _mm512_xor_si512(_mm512_srli_epi64(p0, 32), _mm512_xor_si512(c3[o], k1));
            c1[o] = p1;
            c3[o] = p0;
        }
    }
    // Lane b of w01 / w23: (out1:out0) / (out3:out2) of block n + 8o + b;
    // block b's two words go to out[2b], out[2b + 1].
    const __m512i low = _mm512_set1_epi64(0xffffffff);
    const __m512i first = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
    const __m512i second = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
    for (unsigned o = 0; o < O; ++o) {
        const __m512i w01 = _mm512_or_si512(_mm512_slli_epi64(c1[o], 32), _mm512_and_si512(c0[o], low));
        const __m512i w23 = _mm512_or_si512(_mm512_slli_epi64(c3[o], 32), _mm512_and_si512(c2[o], low));
        _mm512_storeu_si512(out + 16 * o, _mm512_permutex2var_epi64(w01, first, w23));       // blocks 0 .. 3
        _mm512_storeu_si512(out + 16 * o + 8, _mm512_permutex2var_epi64(w01, second, w23));  // blocks 4 .. 7
    }
}

/// Whether the running CPU should use philox_words_avx512: it has AVX-512F
/// and is an AMD one (Zen 4 and later run 512-bit instructions at full clock;
/// some Intel server cores lower the clock of the whole core for a while
/// after 512-bit multiplications, which would slow everything else down).
[[nodiscard]] inline bool philox_avx512_preferred() noexcept {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_is("amd");
}
/// Whether the running CPU has AVX2 (a load and a bit test).
[[nodiscard]] inline bool philox_avx2_available() noexcept { return __builtin_cpu_supports("avx2"); }
#endif

/// The words of blocks n .. n + B - 1 (see philox_words_scalar), by the
/// widest version the running CPU has and B allows: AVX-512 (see
/// philox_avx512_preferred; B a multiple of 8), AVX2 (B a multiple of 4),
/// SSE2 (B even; baseline on x86-64), else the scalar chains. All give the
/// same words (the tests compare each with single blocks).
template <unsigned B>
inline void philox_words(std::uint64_t n, std::uint64_t substream, PhiloxKey key,
                         std::uint64_t (&out)[2 * B]) noexcept {
#if defined(TWINSIM_PHILOX_AVX2)
    if constexpr (B % 8 == 0) {
        if (philox_avx512_preferred()) {
            philox_words_avx512<B>(n, substream, key, out);
            return;
        }
    }
    if constexpr (B % 4 == 0) {
        if (philox_avx2_available()) {
            philox_words_avx2<B>(n, substream, key, out);
            return;
        }
    }
#endif
#if defined(TWINSIM_PHILOX_SSE2)
    if constexpr (B % 2 == 0) {
        philox_words_sse2<B>(n, substream, key, out);
        return;
    }
#endif
    philox_words_scalar<B>(n, substream, key, out);
}

}  // namespace twinsim::kernel
