#pragma once
// Digital Twin Model Identifiers: syntax, version and limits (reference/dtdl/DTMI_README.md).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace twinsim::dtdl {

/// A DTMI split into its parts. "dtmi:com:example:Thermostat;1.2" has
/// path "com:example:Thermostat", major 1, minor 2.
struct Dtmi {
    std::string path;                    ///< segments joined by ':' (no scheme)
    std::optional<std::uint32_t> major;  ///< absent for an unversioned DTMI
    std::optional<std::uint32_t> minor;  ///< DTDL v3 only

    /// Parses any syntactically valid DTMI (versioned or not, with or without a
    /// fragment). Returns nullopt when `text` is not a DTMI; never throws.
    static std::optional<Dtmi> parse(std::string_view text);
};

/// True when `text` conforms to the DTMI syntax rules (any version form).
[[nodiscard]] bool is_dtmi(std::string_view text);

}  // namespace twinsim::dtdl
