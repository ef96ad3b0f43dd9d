#pragma once
// JSON Patch (RFC 6902) restricted to the operations Azure Digital Twins
// accepts — add, replace, remove — applied to a plain JSON document (internal).

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace twinsim::graph::detail {

/// A patch that is malformed or does not apply; the message names the
/// operation (by position) and the path.
class PatchError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct PatchOp {
    enum class Kind : std::uint8_t { add, replace, remove } kind = Kind::add;
    std::string path;                 ///< the JSON Pointer as written
    std::vector<std::string> tokens;  ///< unescaped reference tokens
    nlohmann::json value;             ///< add/replace only
};

/// Checks the shape of a patch: an array of {"op","path"[,"value"]} with op in
/// add/replace/remove. Throws PatchError.
[[nodiscard]] std::vector<PatchOp> parse_patch(const nlohmann::json& patch);

/// Applies the operations in order to `doc` (RFC 6902: add creates or
/// overwrites a member, inserts into an array at an index or "-"; replace and
/// remove need an existing target; the parent of every target must exist).
/// Throws PatchError; `doc` may then be partly changed (callers patch a copy).
void apply_patch(nlohmann::json& doc, const std::vector<PatchOp>& ops);

/// A patch turning object `before` into object `after`, member by member
/// (add / replace / remove at "/<member>"), members in `after`'s order then removals.
[[nodiscard]] nlohmann::json diff_members(const nlohmann::json& before, const nlohmann::json& after,
                                          const std::string& prefix = {});

}  // namespace twinsim::graph::detail
