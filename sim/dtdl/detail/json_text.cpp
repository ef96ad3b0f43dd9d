#include "twinsim/dtdl/detail/json_text.hpp"

#include <algorithm>
#include <cstddef>
#include <unordered_map>

#include "twinsim/common/excerpt.hpp"
#include "twinsim/common/json_depth.hpp"
#include "twinsim/common/json_pointer.hpp"

namespace twinsim::dtdl::detail {
namespace {

// Line and column (1-based, column in bytes) of byte `offset`.
std::string position(std::string_view text, std::size_t offset) {
    std::size_t line = 1;
    std::size_t col = 1;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// Offset of the first byte that is not part of well-formed UTF-8, or npos.
std::size_t first_invalid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        unsigned min = 0;
        if (c < 0x80U) { ++i; continue; }
        if (c >= 0xC2U && c <= 0xDFU) { n = 1; min = 0x80U; }
        else if (c >= 0xE0U && c <= 0xEFU) { n = 2; min = 0x800U; }
        else if (c >= 0xF0U && c <= 0xF4U) { n = 3; min = 0x10000U; }
        else return i;
        unsigned cp = c & (0x3FU >> n);
        for (std::size_t k = 1; k <= n; ++k) {
            if (i + k >= s.size()) return i;
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0U) != 0x80U) return i;
            cp = (cp << 6U) | (cc & 0x3FU);
        }
        if (cp < min || cp > 0x10FFFFU || (cp >= 0xD800U && cp <= 0xDFFFU)) return i;
        i += n + 1;
    }
    return std::string_view::npos;
}

}  // namespace

std::optional<nlohmann::json> parse_json_text(std::string_view text, std::string& error) {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    if (auto bad = first_invalid_utf8(text); bad != std::string_view::npos) {
        error = "text is not valid UTF-8 (bad byte at " + position(text, bad) + ")";
        return std::nullopt;
    }
    if (const auto at = find_json_depth_excess(text)) {
        error = "the document " + json_depth_reason() + " (at " + position(text, *at) + ")";
        return std::nullopt;
    }
    try {
        return nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& e) {
        // In our words, with a short escaped excerpt of the line: nlohmann's
        // text quotes every byte of the token it read ("last read: ...").
        const std::size_t at = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
        if (at >= text.size()) {
            error = "malformed JSON at " + position(text, at) + ": the text ends before the JSON value does";
        } else {
            // The line holding `at` (a newline at `at` ends that line, it does not start the next).
            const std::size_t newline = at == 0 ? std::string_view::npos : text.rfind('\n', at - 1);
            const std::size_t start = newline == std::string_view::npos ? 0 : newline + 1;
            const std::size_t end = std::min(text.find('\n', at), text.size());
            error = "malformed JSON at " + position(text, at) + ": unexpected text \"" +
                    excerpt(text.substr(start, end - start), at - start) + "\"";
        }
        return std::nullopt;
    } catch (const nlohmann::json::exception&) {
        error = "malformed JSON";
        return std::nullopt;
    }
}

std::optional<DeepValue> find_deep_value(std::string_view text) {
    struct Frame {
        bool object = false;
        bool expect_key = false;   // object: the next string is a key
        bool key_is_id = false;    // object: the value being read belongs to "@id"
        std::size_t index = 0;     // array: the current item
        std::string key;           // object: the current member
        std::string id;            // object: its "@id", once read
    };
    std::vector<Frame> frames;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '"') {
            const std::size_t begin = i + 1;
            for (++i; i < text.size() && text[i] != '"'; ++i) {
                if (text[i] == '\\') ++i;
            }
            const std::string_view value = text.substr(begin, std::min(i, text.size()) - begin);
            if (frames.empty() || !frames.back().object) continue;
            Frame& f = frames.back();
            if (f.expect_key) {
                f.key.assign(value);
                f.expect_key = false;
                f.key_is_id = value == "@id";
            } else if (f.key_is_id) {
                f.id.assign(value);
            }
            continue;
        }
        switch (c) {
        case '[':
        case '{':
            if (frames.size() >= max_json_depth) {
                DeepValue out;
                out.position = position(text, i);
                for (const Frame& f : frames) {
                    out.pointer += '/';
                    out.pointer += f.object ? escape_pointer_token(f.key) : std::to_string(f.index);
                    if (!f.id.empty()) out.id = f.id;
                }
                return out;
            }
            frames.push_back(Frame{c == '{', c == '{', false, 0, {}, {}});
            break;
        case ']':
        case '}':
            if (!frames.empty()) frames.pop_back();
            break;
        case ',':
            if (!frames.empty()) {
                Frame& f = frames.back();
                if (f.object) {
                    f.expect_key = true;
                    f.key_is_id = false;
                } else {
                    ++f.index;
                }
            }
            break;
        default: break;
        }
    }
    return std::nullopt;
}

std::vector<std::size_t> object_lengths(std::string_view text, const std::vector<std::string>& pointers) {
    std::vector<std::size_t> out(pointers.size(), 0);
    std::unordered_map<std::string, std::size_t> wanted;
    for (std::size_t i = 0; i < pointers.size(); ++i) wanted.emplace(pointers[i], i);
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);

    // One frame per open object or array. `path` is always the JSON Pointer of
    // the value being read: a frame's own pointer is path[0, path_len), and the
    // segment after it names the current member or element.
    struct Frame {
        bool object;
        bool expect_key;        // object: the next string is a member name
        std::size_t path_len;
        std::size_t index;      // array: current element
        std::size_t start;      // offset of the opening bracket
        std::size_t match;      // index into `pointers`, or npos
    };
    constexpr auto none = static_cast<std::size_t>(-1);
    std::vector<Frame> stack;
    std::string path;
    std::size_t i = 0;
    const std::size_t n = text.size();
    while (i < n) {
        const char c = text[i];
        switch (c) {
        case '{': {
            auto it = wanted.find(path);
            stack.push_back({true, true, path.size(), 0, i, it == wanted.end() ? none : it->second});
            ++i;
            break;
        }
        case '[':
            stack.push_back({false, false, path.size(), 0, i, none});
            path += "/0";
            ++i;
            break;
        case '}':
        case ']': {
            if (stack.empty()) return out;  // not the JSON the precondition promises
            const Frame f = stack.back();
            stack.pop_back();
            path.resize(f.path_len);
            if (f.match != none) out[f.match] = i - f.start + 1;
            ++i;
            break;
        }
        case ',':
            if (!stack.empty()) {
                Frame& f = stack.back();
                if (f.object) {
                    f.expect_key = true;
                } else {
                    path.resize(f.path_len);
                    path += '/';
                    path += std::to_string(++f.index);
                }
            }
            ++i;
            break;
        case '"': {
            const std::size_t begin = i++;
            bool escaped = false;
            while (i < n && text[i] != '"') {
                if (text[i] == '\\') {
                    escaped = true;
                    ++i;
                }
                ++i;
            }
            ++i;  // closing quote
            if (stack.empty() || !stack.back().object || !stack.back().expect_key) break;
            Frame& f = stack.back();
            f.expect_key = false;
            std::string key;
            if (escaped) {
                // Rare: let nlohmann decode the escapes of the member name.
                try {
                    key = nlohmann::json::parse(text.substr(begin, i - begin)).get<std::string>();
                } catch (const nlohmann::json::exception&) {
                    return out;
                }
            } else {
                key.assign(text.substr(begin + 1, i - begin - 2));
            }
            path.resize(f.path_len);
            append_pointer_token(path, key);
            break;
        }
        default: ++i; break;  // whitespace, ':', numbers, true/false/null
        }
    }
    return out;
}

}  // namespace twinsim::dtdl::detail
