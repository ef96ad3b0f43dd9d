#include "twinsim/query/lexer.hpp"

#include <algorithm>
#include <cstddef>

#include "twinsim/query/parser.hpp"

namespace twinsim::query {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0U) == 0x80U; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80U) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800U) {
        out.push_back(static_cast<char>(0xC0U | (cp >> 6U)));
        out.push_back(static_cast<char>(0x80U | (cp & 0x3FU)));
    } else if (cp < 0x10000U) {
        out.push_back(static_cast<char>(0xE0U | (cp >> 12U)));
        out.push_back(static_cast<char>(0x80U | ((cp >> 6U) & 0x3FU)));
        out.push_back(static_cast<char>(0x80U | (cp & 0x3FU)));
    } else {
        out.push_back(static_cast<char>(0xF0U | (cp >> 18U)));
        out.push_back(static_cast<char>(0x80U | ((cp >> 12U) & 0x3FU)));
        out.push_back(static_cast<char>(0x80U | ((cp >> 6U) & 0x3FU)));
        out.push_back(static_cast<char>(0x80U | (cp & 0x3FU)));
    }
}

// Offending text in messages is cut short so a runaway string does not flood them.
std::string clip(std::string_view text) {
    constexpr std::size_t limit = 40;
    if (text.size() <= limit) return std::string(text);
    std::size_t cut = limit;
    while (cut > 0 && is_continuation(text[cut])) --cut;
    std::string out(text.substr(0, cut));
    out += "...";
    return out;
}

class Lexer {
public:
    explicit Lexer(std::string_view text) : text_(text) {}

    std::vector<Token> run() {
        std::vector<Token> tokens;
        tokens.reserve(text_.size() / 3 + 2);
        for (;;) {
            skip_space();
            Token tok;
            tok.pos = pos();
            if (i_ >= text_.size()) {
                tok.kind = TokenKind::end;
                tok.text = text_.substr(text_.size());
                tokens.push_back(std::move(tok));
                return tokens;
            }
            const std::size_t start = i_;
            tok.kind = scan(tok);
            tok.text = text_.substr(start, i_ - start);
            tokens.push_back(std::move(tok));
        }
    }

private:
    [[nodiscard]] SourcePos pos() const { return SourcePos{line_, column_, static_cast<std::uint32_t>(i_)}; }
    [[nodiscard]] char peek(std::size_t k = 0) const { return i_ + k < text_.size() ? text_[i_ + k] : '\0'; }

    void advance(std::size_t n = 1) {
        for (; n > 0 && i_ < text_.size(); --n, ++i_) {
            const char c = text_[i_];
            if (c == '\n') {
                ++line_;
                column_ = 1;
            } else if (!is_continuation(c)) {
                ++column_;
            }
        }
    }

    void skip_space() {
        while (i_ < text_.size()) {
            const char c = text_[i_];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
                advance();
                continue;
            }
            const std::size_t n = unicode_space_length(text_.substr(i_));
            if (n == 0) break;
            advance(n);
        }
    }

    // The byte length of a non-ASCII Unicode White_Space character (U+0085,
    // U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000)
    // at the start of `s`, or 0. ADT's own samples put U+202F between tokens.
    static std::size_t unicode_space_length(std::string_view s) {
        const auto b = [&](std::size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0U; };
        if (b(0) == 0xC2U && (b(1) == 0x85U || b(1) == 0xA0U)) return 2;
        if (b(0) == 0xE1U && b(1) == 0x9AU && b(2) == 0x80U) return 3;  // U+1680
        if (b(0) == 0xE2U && b(1) == 0x80U &&
            ((b(2) >= 0x80U && b(2) <= 0x8AU) || b(2) == 0xA8U || b(2) == 0xA9U || b(2) == 0xAFU)) {
            return 3;  // U+2000..U+200A, U+2028, U+2029, U+202F
        }
        if (b(0) == 0xE2U && b(1) == 0x81U && b(2) == 0x9FU) return 3;  // U+205F
        if (b(0) == 0xE3U && b(1) == 0x80U && b(2) == 0x80U) return 3;  // U+3000
        return 0;
    }

    TokenKind single(TokenKind kind, std::size_t length = 1) {
        advance(length);
        return kind;
    }

    TokenKind scan(Token& tok) {
        const char c = peek();
        if (is_name_start(c)) {
            while (is_name_char(peek())) advance();
            return TokenKind::identifier;
        }
        if (is_digit(c)) return scan_number(tok);
        switch (c) {
        case '\'':
        case '"': return scan_string(tok);
        case '[':
            // `[[[x]]]` in MATCH is '[' followed by the escaped name [[x]].
            if (peek(1) == '[' && peek(2) != '[') return scan_escaped(tok);
            return single(TokenKind::lbracket);
        case ']': return single(TokenKind::rbracket);
        case '(': return single(TokenKind::lparen);
        case ')': return single(TokenKind::rparen);
        case ',': return single(TokenKind::comma);
        case '.': return peek(1) == '.' ? single(TokenKind::dotdot, 2) : single(TokenKind::dot);
        case '*': return single(TokenKind::star);
        case ':': return single(TokenKind::colon);
        case '|': return single(TokenKind::pipe);
        case '-': return single(TokenKind::minus);
        case '=': return single(TokenKind::eq);
        case '!':
            if (peek(1) == '=') return single(TokenKind::ne, 2);
            break;
        case '<':
            if (peek(1) == '=') return single(TokenKind::le, 2);
            if (peek(1) == '>') return single(TokenKind::ne, 2);
            return single(TokenKind::lt);
        case '>':
            if (peek(1) == '=') return single(TokenKind::ge, 2);
            return single(TokenKind::gt);
        default: break;
        }
        std::size_t n = 1;
        while (i_ + n < text_.size() && is_continuation(text_[i_ + n])) ++n;
        std::string ch(text_.substr(i_, n));
        std::string message = "unexpected character '";
        message += ch;
        message += '\'';
        throw_syntax_error(tok.pos, message, std::move(ch), "a name, value, operator or punctuation");
    }

    TokenKind scan_number(const Token& tok) {
        const std::size_t start = i_;
        bool bad = false;
        while (is_digit(peek())) advance();
        if (peek() == '.' && peek(1) != '.') {
            advance();
            if (!is_digit(peek())) bad = true;
            while (is_digit(peek())) advance();
        }
        if (!bad && (peek() == 'e' || peek() == 'E')) {
            advance();
            if (peek() == '+' || peek() == '-') advance();
            if (!is_digit(peek())) bad = true;
            while (is_digit(peek())) advance();
        }
        if (is_name_char(peek()) || (peek() == '.' && is_digit(peek(1))) || (bad && peek() == '.')) {
            bad = true;
            while (is_name_char(peek()) || peek() == '.') advance();
        }
        if (bad) {
            std::string text(text_.substr(start, i_ - start));
            std::string message = "malformed number '";
            message += text;
            message += '\'';
            throw_syntax_error(tok.pos, message, std::move(text), "a number such as 12, -3.5 or 2e-3");
        }
        return TokenKind::number;
    }

    TokenKind scan_string(Token& tok) {
        const char quote = peek();
        const std::size_t start = i_;
        advance();
        std::string& out = tok.value;
        for (;;) {
            if (i_ >= text_.size()) {
                throw_syntax_error(tok.pos, "unterminated string", clip(text_.substr(start)),
                                   std::string(1, quote) + " to close the string");
            }
            const char c = peek();
            if (c == quote) {
                advance();
                return TokenKind::string;
            }
            if (c != '\\') {
                // Copy a run of plain characters at once.
                std::size_t j = i_ + 1;
                while (j < text_.size() && text_[j] != quote && text_[j] != '\\') ++j;
                out.append(text_.substr(i_, j - i_));
                advance(j - i_);
                continue;
            }
            const SourcePos escape_pos = pos();
            advance();
            const char e = peek();
            switch (e) {
            case '\'':
            case '"':
            case '\\':
            case '/': out.push_back(e); break;
            case 'b': out.push_back('\b'); break;
            case 'f': out.push_back('\f'); break;
            case 'n': out.push_back('\n'); break;
            case 'r': out.push_back('\r'); break;
            case 't': out.push_back('\t'); break;
            case 'u': {
                advance();
                std::uint32_t cp = read_hex4(escape_pos);
                if (cp >= 0xD800U && cp <= 0xDBFFU && peek() == '\\' && peek(1) == 'u') {
                    advance(2);
                    const std::uint32_t low = read_hex4(escape_pos);
                    if (low < 0xDC00U || low > 0xDFFFU) bad_escape(escape_pos, "an unpaired UTF-16 surrogate");
                    cp = 0x10000U + ((cp - 0xD800U) << 10U) + (low - 0xDC00U);
                } else if (cp >= 0xD800U && cp <= 0xDFFFU) {
                    bad_escape(escape_pos, "an unpaired UTF-16 surrogate");
                }
                append_utf8(out, cp);
                continue;
            }
            default: bad_escape(escape_pos, "an unknown escape");
            }
            advance();
        }
    }

    std::uint32_t read_hex4(SourcePos escape_pos) {
        std::uint32_t cp = 0;
        for (int k = 0; k < 4; ++k) {
            const int h = hex_value(peek());
            if (h < 0) bad_escape(escape_pos, "a \\u escape without 4 hex digits");
            cp = (cp << 4U) | static_cast<std::uint32_t>(h);
            advance();
        }
        return cp;
    }

    [[noreturn]] void bad_escape(SourcePos at, const char* what) const {
        const std::size_t from = at.offset;
        std::size_t to = std::min(text_.size(), std::max<std::size_t>(i_ + 1, from + 2));
        while (to < text_.size() && is_continuation(text_[to])) ++to;
        std::string token(text_.substr(from, to - from));
        std::string message = what;
        message += " '";
        message += token;
        message += "' in a string";
        throw_syntax_error(at, message, std::move(token),
                           "one of \\' \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX");
    }

    TokenKind scan_escaped(Token& tok) {
        const std::size_t start = i_;
        advance(2);
        const std::size_t close = text_.find("]]", i_);
        if (close == std::string_view::npos) {
            throw_syntax_error(tok.pos, "unterminated [[name]]", clip(text_.substr(start)), "]] to close the name");
        }
        tok.value.assign(text_.substr(i_, close - i_));
        if (tok.value.empty()) {
            throw_syntax_error(tok.pos, "empty [[ ]] name", "[[]]", "a name between [[ and ]]");
        }
        advance(close + 2 - i_);
        return TokenKind::escaped_name;
    }

    std::string_view text_;
    std::size_t i_ = 0;
    std::uint32_t line_ = 1;
    std::uint32_t column_ = 1;
};

}  // namespace

void throw_syntax_error(SourcePos pos, std::string_view message, std::string token, std::string expected) {
    std::string full = "line ";
    full += std::to_string(pos.line);
    full += ", column ";
    full += std::to_string(pos.column);
    full += ": ";
    full += message;
    throw QueryError(full, pos, std::move(token), std::move(expected));
}

std::vector<Token> tokenize(std::string_view text) { return Lexer(text).run(); }

std::string describe(const Token& token) {
    if (token.kind == TokenKind::end) return "end of query";
    std::string out = "'";
    out += clip(token.text);
    out += '\'';
    return out;
}

}  // namespace twinsim::query
