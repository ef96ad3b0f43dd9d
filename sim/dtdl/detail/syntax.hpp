#pragma once
// Hand-written checks for the regular expressions of the DTDL specifications
// (DTMI, element names, language tags): std::regex is far too slow for the
// hundreds of thousands of checks a large ontology needs.

#include <string_view>

namespace twinsim::dtdl::detail {

/// The shape of a string that passed DTMI syntax.
struct DtmiShape {
    bool valid = false;
    bool has_version = false;
    bool has_minor = false;
    bool has_fragment = false;
};

/// Checks `text` against the DTMI syntax (user segments, optional ";major[.minor]",
/// optional "#fragment"). Never throws.
[[nodiscard]] DtmiShape dtmi_shape(std::string_view text) noexcept;

/// ^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$ — a DTMI segment and an element name.
[[nodiscard]] bool is_segment(std::string_view text) noexcept;

/// ^[a-z]{2,4}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$
[[nodiscard]] bool is_language_tag(std::string_view text) noexcept;

/// Number of Unicode code points in valid UTF-8 text (the specification's "characters").
[[nodiscard]] std::size_t utf8_length(std::string_view text) noexcept;

}  // namespace twinsim::dtdl::detail
