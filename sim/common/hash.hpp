#pragma once
// FNV-1a, 64 bit: a fast, stable hash of bytes for checksums and content
// digests (not cryptographic: it tells data apart, it does not authenticate it).

#include <cstdint>
#include <string_view>

namespace twinsim {

inline constexpr std::uint64_t fnv1a64_offset = 0xcbf29ce484222325ULL;
inline constexpr std::uint64_t fnv1a64_prime = 0x100000001b3ULL;

/// Folds one byte into the running hash `h`.
[[nodiscard]] constexpr std::uint64_t fnv1a64_byte(std::uint64_t h, std::uint64_t byte) noexcept {
    return (h ^ byte) * fnv1a64_prime;
}

/// Folds `bytes` into the running hash `h` (start from fnv1a64_offset).
[[nodiscard]] constexpr std::uint64_t fnv1a64(std::string_view bytes, std::uint64_t h = fnv1a64_offset) noexcept {
    for (const char c : bytes) h = fnv1a64_byte(h, static_cast<unsigned char>(c));
    return h;
}

}  // namespace twinsim
