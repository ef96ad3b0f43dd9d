#include "twinsim/scenario/detail/document.hpp"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <limits>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "twinsim/common/excerpt.hpp"
#include "twinsim/common/json_depth.hpp"
#include "twinsim/common/json_pointer.hpp"
#include "twinsim/scenario/errors.hpp"

namespace twinsim::scenario::detail {

namespace {

std::uint32_t line_of(const YAML::Mark& m) { return static_cast<std::uint32_t>(m.line + 1); }

/// What a yaml-cpp error means, in our words: the library's own text is
/// matched (never shown) against its documented messages (YAML::ErrorMsg).
std::string yaml_reason(const std::string& library_text) {
    namespace M = YAML::ErrorMsg;
    const auto is = [&](const char* known) { return library_text.rfind(known, 0) == 0; };
    if (is(M::END_OF_MAP) || is(M::END_OF_MAP_FLOW))
        return "a mapping is not closed where it should be (check the indentation, or a missing '}')";
    if (is(M::END_OF_SEQ) || is(M::END_OF_SEQ_FLOW))
        return "a list is not closed where it should be (check the indentation, or a missing ']')";
    if (is(M::MAP_VALUE)) return "a 'key: value' where none may stand (check the indentation or a missing '-')";
    if (is(M::MAP_KEY)) return "a mapping key where none may stand (check the indentation)";
    if (is(M::BLOCK_ENTRY)) return "a list item ('- ') where none may stand (check the indentation)";
    if (is(M::FLOW_END)) return "a closing bracket or brace without its opening one";
    if (is(M::TAB_IN_INDENTATION)) return "a tab in the indentation (YAML indents with spaces only)";
    if (is(M::EOF_IN_SCALAR)) return "the file ends inside a quoted string (a missing closing quote)";
    if (is(M::DOC_IN_SCALAR)) return "a document marker ('---' or '...') inside a string";
    if (is(M::CHAR_IN_SCALAR) || is(M::SINGLE_QUOTED_CHAR)) return "a character that may not stand in this string";
    if (is(M::INVALID_ESCAPE) || is(M::INVALID_HEX) || is(M::INVALID_UNICODE))
        return "an invalid escape sequence in a double-quoted string";
    if (is(M::UNKNOWN_ANCHOR) || is(M::ALIAS_NOT_FOUND)) return "an alias ('*name') refers to no anchor ('&name') before it";
    if (is(M::ANCHOR_NOT_FOUND) || is(M::CHAR_IN_ALIAS) || is(M::CHAR_IN_ANCHOR) || is(M::INVALID_ANCHOR) ||
        is(M::INVALID_ALIAS))
        return "an anchor ('&name') or alias ('*name') without a valid name";
    if (is(M::MULTIPLE_ANCHORS) || is(M::MULTIPLE_TAGS) || is(M::MULTIPLE_ALIASES) || is(M::ALIAS_CONTENT))
        return "a value with more than one anchor, tag or alias";
    if (is(M::CHAR_IN_BLOCK) || is(M::ZERO_INDENT_IN_BLOCK)) return "a block string ('|' or '>') with an invalid header";
    if (is(M::CHAR_IN_TAG_HANDLE) || is(M::TAG_WITH_NO_SUFFIX) || is(M::END_OF_VERBATIM_TAG) || is(M::INVALID_TAG))
        return "an invalid tag ('!...')";
    if (is(M::YAML_DIRECTIVE_ARGS) || is(M::YAML_VERSION) || is(M::YAML_MAJOR_VERSION) ||
        is(M::REPEATED_YAML_DIRECTIVE) || is(M::TAG_DIRECTIVE_ARGS) || is(M::REPEATED_TAG_DIRECTIVE))
        return "an invalid '%' directive";
    return "the text is not valid YAML here";
}

/// "<what> at column C near \"<excerpt of the line>\"", the column 1-based.
std::string yaml_error(std::string_view text, const YAML::Mark& mark, const std::string& what) {
    if (mark.is_null() || mark.pos < 0) return what;
    const auto pos = std::min<std::size_t>(static_cast<std::size_t>(mark.pos), text.size());
    std::size_t line_start = pos;
    while (line_start > 0 && text[line_start - 1] != '\n') --line_start;
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    const std::string_view content = text.substr(line_start, line_end - line_start);
    return what + " near \"" + excerpt(content, std::min(pos - line_start, content.size())) + "\"";
}

std::uint32_t column_of(const YAML::Mark& m) {
    return m.is_null() || m.column < 0 ? 0 : static_cast<std::uint32_t>(m.column + 1);
}

// A plain (unquoted, untagged) scalar typed by YAML 1.2's core schema.
nlohmann::ordered_json plain_scalar(const std::string& s) {
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    const char* first = s.data();
    const char* last = s.data() + s.size();
    const char* digits = (*first == '+' || *first == '-') ? first + 1 : first;
    if (digits != last && *digits >= '0' && *digits <= '9') {
        std::int64_t i = 0;
        const char* from = *first == '+' ? first + 1 : first;
        auto [p, ec] = std::from_chars(from, last, i);
        if (ec == std::errc() && p == last) return i;
    }
    if (digits != last && ((*digits >= '0' && *digits <= '9') || *digits == '.')) {
        char* end = nullptr;
        const double d = std::strtod(s.c_str(), &end);
        if (end == s.c_str() + s.size()) return d;
    }
    if (s == ".inf" || s == "+.inf" || s == ".Inf") return std::numeric_limits<double>::infinity();
    if (s == "-.inf" || s == "-.Inf") return -std::numeric_limits<double>::infinity();
    if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
    return s;
}

// Converts a YAML node tree, counting every node it produces: an alias is
// expanded where it is used, so a small file of nested aliases (a "billion
// laughs" bomb) would otherwise grow without bound.
class Converter {
public:
    Converter(LineMap& lines, const std::string& source) : lines_(lines), source_(source) {}

    nlohmann::ordered_json convert(const YAML::Node& node, const std::string& ptr, std::size_t depth) {
        if (++nodes_ > max_yaml_nodes) {
            throw ScenarioError(source_, line_of(node.Mark()), ptr,
                                "the document expands to more than the limit of " + std::to_string(max_yaml_nodes) +
                                    " values (max_yaml_nodes; aliases count once per use)");
        }
        switch (node.Type()) {
            case YAML::NodeType::Undefined:
            case YAML::NodeType::Null: return nullptr;
            case YAML::NodeType::Scalar:
                if (node.Tag() == "?") return plain_scalar(node.Scalar());
                return node.Scalar();  // quoted or tagged: a string
            case YAML::NodeType::Sequence: {
                check_depth(node, ptr, depth);
                auto out = nlohmann::ordered_json::array();
                std::size_t i = 0;
                for (const auto& item : node) {
                    const std::string child = ptr + "/" + std::to_string(i++);
                    lines_.emplace(child, line_of(item.Mark()));
                    out.push_back(convert(item, child, depth + 1));
                }
                return out;
            }
            case YAML::NodeType::Map: {
                check_depth(node, ptr, depth);
                auto out = nlohmann::ordered_json::object();
                for (const auto& kv : node) {
                    if (!kv.first.IsScalar())
                        throw ScenarioError(source_, line_of(kv.first.Mark()), "", "a mapping key must be a plain string");
                    const std::string key = kv.first.Scalar();
                    const std::string child = ptr + "/" + escape_pointer_token(key);
                    if (out.contains(key)) throw ScenarioError(source_, line_of(kv.first.Mark()), key, "duplicate key");
                    lines_.emplace(child, line_of(kv.first.Mark()));
                    out[key] = convert(kv.second, child, depth + 1);
                }
                return out;
            }
        }
        return nullptr;
    }

private:
    // `depth` counts the sequences and mappings around `node`.
    void check_depth(const YAML::Node& node, const std::string& ptr, std::size_t depth) const {
        if (depth >= max_json_depth) {
            throw ScenarioError(source_, line_of(node.Mark()), ptr, "the document " + json_depth_reason());
        }
    }

    LineMap& lines_;
    const std::string& source_;
    std::size_t nodes_ = 0;
};

// Walks JSON text that nlohmann has already accepted, noting where each value starts.
class JsonLines {
public:
    JsonLines(std::string_view text, LineMap& lines) : s_(text), lines_(lines) {}
    void run() {
        ws();
        lines_.emplace("", line_);
        value("");
    }

private:
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
            if (s_[i_] == '\n') ++line_;
            ++i_;
        }
    }
    std::string string() {
        std::string out;
        ++i_;  // opening quote
        while (i_ < s_.size() && s_[i_] != '"') {
            if (s_[i_] == '\\' && i_ + 1 < s_.size()) {
                ++i_;
                const char c = s_[i_];
                out += (c == 'n' ? '\n' : c == 't' ? '\t' : c);  // \uXXXX keys stay approximate
            } else {
                out += s_[i_];
            }
            ++i_;
        }
        ++i_;  // closing quote
        return out;
    }
    void value(const std::string& ptr) {
        ws();
        if (i_ >= s_.size()) return;
        const char c = s_[i_];
        if (c == '{') {
            ++i_;
            for (;;) {
                ws();
                if (i_ >= s_.size() || s_[i_] == '}') break;
                const std::uint32_t key_line = line_;
                const std::string child = ptr + "/" + escape_pointer_token(string());
                lines_.emplace(child, key_line);
                ws();
                ++i_;  // ':'
                value(child);
                ws();
                if (i_ < s_.size() && s_[i_] == ',') ++i_;
            }
            ++i_;
        } else if (c == '[') {
            ++i_;
            for (std::size_t k = 0;; ++k) {
                ws();
                if (i_ >= s_.size() || s_[i_] == ']') break;
                const std::string child = ptr + "/" + std::to_string(k);
                lines_.emplace(child, line_);
                value(child);
                ws();
                if (i_ < s_.size() && s_[i_] == ',') ++i_;
            }
            ++i_;
        } else if (c == '"') {
            (void)string();
        } else {
            while (i_ < s_.size() && std::string_view(",]} \t\r\n").find(s_[i_]) == std::string_view::npos) ++i_;
        }
    }

    std::string_view s_;
    LineMap& lines_;
    std::size_t i_ = 0;
    std::uint32_t line_ = 1;
};

}  // namespace

Document parse_yaml_document(std::string_view text, const std::string& source) {
    Document doc;
    try {
        const YAML::Node root = YAML::Load(std::string(text));
        doc.lines.emplace("", 1);
        doc.json = Converter(doc.lines, source).convert(root, "", 0);
    } catch (const YAML::DeepRecursion& e) {
        // yaml-cpp's own guard (2000 levels) fires before ours can.
        throw ScenarioError(source, line_of(e.mark), "", "the document " + json_depth_reason());
    } catch (const YAML::ParserException& e) {
        // In our words (the library's text is not for our users), with the
        // column and a short escaped excerpt of the line.
        throw ScenarioError(source, line_of(e.mark), column_of(e.mark), "",
                            yaml_error(text, e.mark, "YAML syntax error: " + yaml_reason(e.msg)));
    } catch (const YAML::Exception& e) {
        throw ScenarioError(source, line_of(e.mark), column_of(e.mark), "",
                            yaml_error(text, e.mark, "YAML error: " + yaml_reason(e.msg)));
    }
    return doc;
}

Document parse_json_document(std::string_view text, const std::string& source) {
    Document doc;
    if (const auto at = find_json_depth_excess(text)) {
        const auto line = static_cast<std::uint32_t>(1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(*at), '\n'));
        throw ScenarioError(source, line, "", "the document " + json_depth_reason());
    }
    try {
        doc.json = nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        // In our words, with a short escaped excerpt of the line: nlohmann's
        // text quotes every byte it read ("last read: ...").
        std::uint32_t line = 1;
        std::size_t line_start = 0;
        const std::size_t at = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
        for (std::size_t k = 0; k < at; ++k)
            if (text[k] == '\n') ++line, line_start = k + 1;
        std::size_t line_end = text.find('\n', line_start);
        if (line_end == std::string_view::npos) line_end = text.size();
        const std::string_view content = text.substr(line_start, line_end - line_start);
        throw ScenarioError(source, line, "",
                            "JSON syntax error at column " + std::to_string(at - line_start + 1) +
                                (at >= text.size() ? " (the text ends too early)" : "") + " near \"" +
                                excerpt(content, at - line_start) + "\"");
    }
    JsonLines(text, doc.lines).run();
    return doc;
}

}  // namespace twinsim::scenario::detail
