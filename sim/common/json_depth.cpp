#include "twinsim/common/json_depth.hpp"

namespace twinsim {

std::string json_depth_reason() {
    return "nests arrays and objects deeper than the limit of " + std::to_string(max_json_depth) + " levels";
}

std::optional<std::size_t> find_json_depth_excess(std::string_view text) noexcept {
    std::size_t depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;  // the escaped character cannot end the string
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        switch (c) {
        case '"': in_string = true; break;
        case '[':
        case '{':
            if (++depth > max_json_depth) return i;
            break;
        case ']':
        case '}':
            if (depth > 0) --depth;
            break;
        default: break;
        }
    }
    return std::nullopt;
}

}  // namespace twinsim
