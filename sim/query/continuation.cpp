// Continuation tokens: base64url of {"q": text, "o": offset, "v": version}, so a
// page of results resumes where the last one ended, on the same graph version.
#include "twinsim/query/detail/executor.hpp"

#include <algorithm>

#include "twinsim/query/parser.hpp"

namespace twinsim::query {
namespace detail {
namespace {

constexpr char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view in) {
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char ch : in) {
        acc = (acc << 8) | static_cast<unsigned char>(ch);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += b64[(acc >> bits) & 63U];
        }
    }
    if (bits > 0) out += b64[(acc << (6 - bits)) & 63U];
    return out;
}

std::optional<std::string> unbase64url(std::string_view in) {
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        const char* p = std::find(b64, b64 + 64, c);
        if (p == b64 + 64) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFFU);
        }
    }
    return out;
}

}  // namespace

std::string continuation_token(std::string_view text, std::size_t offset, std::uint64_t version) {
    const json t = {{"q", text}, {"o", offset}, {"v", version}};
    return base64url(t.dump());
}

}  // namespace detail

using nlohmann::json;

QueryResult continue_query(const graph::Snapshot& snapshot, std::string_view continuation_token, const QueryOptions& options) {
    const auto bad = [] { return QueryError("invalid continuation token"); };
    const auto raw = detail::unbase64url(continuation_token);
    if (!raw) throw bad();
    json t = json::parse(*raw, nullptr, false);
    if (!t.is_object() || !t.contains("q") || !t["q"].is_string() || !t.contains("o") ||
        !t["o"].is_number_unsigned() || !t.contains("v") || !t["v"].is_number_unsigned())
        throw bad();
    if (t["v"].get<std::uint64_t>() != snapshot.version())
        throw QueryError(std::string("the continuation token belongs to another version of the graph (version ") +
                         std::to_string(t["v"].get<std::uint64_t>()) + ", this snapshot is version " +
                         std::to_string(snapshot.version()) + "): run the query again");
    Query q = parse_query(t["q"].get<std::string>());
    if (q.text.empty()) q.text = t["q"].get<std::string>();
    detail::check_result_names(q);
    return detail::execute(q, snapshot, options, t["o"].get<std::size_t>());
}

}  // namespace twinsim::query
