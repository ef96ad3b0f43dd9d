#pragma once
// The byte-level pieces journal payload formats 2 and 3 share (internal to
// the store; docs/store.md, "Journal schema"): LEB128 varints, zigzag for
// signed ones, and a bounds-checked reader whose errors name the format.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace twinsim::live::detail {

[[nodiscard]] inline std::uint64_t zigzag(std::int64_t v) noexcept {
    return (static_cast<std::uint64_t>(v) << 1U) ^ static_cast<std::uint64_t>(v >> 63);
}
[[nodiscard]] inline std::int64_t unzigzag(std::uint64_t v) noexcept {
    return static_cast<std::int64_t>(v >> 1U) ^ -static_cast<std::int64_t>(v & 1U);
}
/// Appends v as a LEB128 varint (7 bits a byte, low bits first).
inline void put_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7FU) | 0x80U));
        v >>= 7U;
    }
    out.push_back(static_cast<char>(v));
}

/// Reads a payload of format `Version`. Every read is bounds-checked; a
/// failure throws std::runtime_error "its payload (format version N) ...".
template <int Version>
class PayloadReader {
public:
    explicit PayloadReader(std::string_view bytes) : p_(bytes.data()), end_(bytes.data() + bytes.size()) {}

    [[noreturn]] static void bad(const std::string& why) {
        throw std::runtime_error("its payload (format version " + std::to_string(Version) + ") " + why);
    }
    std::uint8_t u8() {
        if (p_ == end_) bad("ends in the middle of a record");
        return static_cast<std::uint8_t>(*p_++);
    }
    std::uint64_t varint() {
        std::uint64_t v = 0;
        for (unsigned shift = 0; shift < 64; shift += 7) {
            const std::uint8_t b = u8();
            v |= static_cast<std::uint64_t>(b & 0x7FU) << shift;
            if ((b & 0x80U) == 0) return v;
        }
        bad("has a number longer than 64 bits");
    }
    std::int64_t svarint() { return unzigzag(varint()); }
    /// A count of items of at least `min_bytes` each: refused when the rest cannot hold them.
    std::uint64_t count(std::uint64_t min_bytes) {
        const std::uint64_t n = varint();
        if (n > left() / std::max<std::uint64_t>(min_bytes, 1)) bad("has a count larger than its size");
        return n;
    }
    /// `n` raw bytes. Precondition: n <= left() (a count() checked it).
    std::string_view take(std::uint64_t n) {
        const std::string_view s(p_, n);
        p_ += n;
        return s;
    }
    /// length:varint, then that many bytes.
    std::string text() { return std::string(take(count(1))); }
    /// 8 raw bytes, an IEEE 754 double (little-endian, as the machine).
    double float64() {
        if (left() < 8) bad("ends in the middle of a number");
        double d = 0;
        std::memcpy(&d, p_, 8);
        p_ += 8;
        return d;
    }
    [[nodiscard]] std::uint64_t left() const noexcept { return static_cast<std::uint64_t>(end_ - p_); }
    [[nodiscard]] bool at_end() const noexcept { return p_ == end_; }

private:
    const char* p_;
    const char* end_;
};

}  // namespace twinsim::live::detail
