#include "twinsim/common/json_pointer.hpp"

namespace twinsim {

void append_pointer_token(std::string& pointer, std::string_view token) {
    pointer.push_back('/');
    for (const char c : token) {
        if (c == '~') pointer += "~0";
        else if (c == '/') pointer += "~1";
        else pointer.push_back(c);
    }
}

std::string escape_pointer_token(std::string_view token) {
    std::string out;
    out.reserve(token.size() + 1);
    append_pointer_token(out, token);
    out.erase(0, 1);
    return out;
}

std::optional<std::string> unescape_pointer_token(std::string_view escaped) {
    std::string out;
    out.reserve(escaped.size());
    for (std::size_t i = 0; i < escaped.size(); ++i) {
        const char c = escaped[i];
        if (c != '~') {
            out.push_back(c);
            continue;
        }
        if (i + 1 == escaped.size()) return std::nullopt;
        const char n = escaped[++i];
        if (n == '0') out.push_back('~');
        else if (n == '1') out.push_back('/');
        else return std::nullopt;
    }
    return out;
}

std::optional<std::vector<std::string>> split_pointer(std::string_view pointer) {
    std::vector<std::string> tokens;
    if (pointer.empty()) return tokens;
    if (pointer.front() != '/') return std::nullopt;
    std::size_t begin = 1;
    while (true) {
        const std::size_t end = pointer.find('/', begin);
        auto token = unescape_pointer_token(pointer.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
        if (!token) return std::nullopt;
        tokens.push_back(std::move(*token));
        if (end == std::string_view::npos) return tokens;
        begin = end + 1;
    }
}

}  // namespace twinsim
