#pragma once
// Who may do what on the REST service (docs/service.md, "Authentication and
// roles"): bearer tokens checked against a JWKS (jwt.hpp), ADT's data-plane
// roles with ADT's names and action lists (Azure Digital Twins Data Owner,
// Data Reader), custom roles made of action patterns, and role assignments
// from the token's "roles" claim or from the auth file, keyed by subject.
// Beyond ADT, an assignment in the file may carry a scope that limits it to
// twins of some models or with some id prefixes.

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "twinsim/common/error.hpp"
#include "twinsim/service/jwt.hpp"
#include "twinsim/service/rest_api.hpp"

namespace twinsim::service {

/// An auth file that cannot be used; the message names the member and why.
class AccessConfigError : public Error {
public:
    using Error::Error;
};

/// ADT's action for an operation ("Microsoft.DigitalTwins/digitaltwins/read",
/// ...), or nullptr for one that needs none (health).
[[nodiscard]] const char* action_of(Operation operation) noexcept;

/// True when `action` matches `pattern`: '*' stands for any run of
/// characters (slashes included); ASCII case is ignored, as Azure does.
[[nodiscard]] bool action_matches(std::string_view pattern, std::string_view action) noexcept;

struct Role {
    std::string name;
    std::string id;                    ///< ADT's role definition id for the built-in roles
    std::vector<std::string> actions;  ///< patterns
};

/// Azure Digital Twins Data Owner and Data Reader, with ADT's ids and actions.
[[nodiscard]] const std::vector<Role>& builtin_roles();

/// Twins an assignment applies to: of one of `models` (or a model derived
/// from one) when models is not empty, and with an id starting with one of
/// `id_prefixes` when that is not empty (both, when both are given).
struct Scope {
    std::vector<std::string> models;
    std::vector<std::string> id_prefixes;
};

struct Grant {
    const Role* role = nullptr;
    std::optional<Scope> scope;  ///< nullopt: the whole instance (as in ADT)
};

/// An authenticated caller and what it was granted.
struct Caller {
    std::string subject;
    std::vector<Grant> grants;

    /// Some grant (scoped or not) allows `action`.
    [[nodiscard]] bool may(std::string_view action) const;
    /// An instance-wide grant allows `action`.
    [[nodiscard]] bool may_everywhere(std::string_view action) const;
    /// A grant allows `action` on the twin `twin_id` whose model is `model`
    /// (empty when unknown); `is_a(model, base)` answers model inheritance.
    [[nodiscard]] bool may_on_twin(std::string_view action, std::string_view twin_id, std::string_view model,
                                   const std::function<bool(std::string_view, std::string_view)>& is_a) const;
};

/// The auth configuration (`twinsim serve --auth FILE`):
/// {"audience": "https://digitaltwins.azure.net", "issuers": [...],
///  "leewaySeconds": 60, "jwks": {"keys": [...]} or "path/to/jwks.json",
///  "roles": [{"name", "actions": [...]}],
///  "assignments": [{"subject", "role", "scope": {"models": [...], "idPrefixes": [...]}}]}
class AccessPolicy {
public:
    /// Throws AccessConfigError (a member of the wrong type, an unknown
    /// member, an unknown role, a bad key set), IoError (unreadable file).
    [[nodiscard]] static AccessPolicy load(const std::filesystem::path& file);
    /// `base` resolves a relative "jwks" path.
    [[nodiscard]] static AccessPolicy from_json(const nlohmann::json& config, const std::filesystem::path& base);

    /// Verifies "Bearer <token>" and gathers the caller's grants: the roles
    /// its "roles" claim names (by name or id, case-insensitive; unknown
    /// names are ignored) and the file's assignments to its subject. Throws
    /// TokenError (missing or malformed header: reason "missing").
    [[nodiscard]] Caller authenticate(std::optional<std::string_view> authorization) const;

    [[nodiscard]] const TokenRules& rules() const noexcept { return rules_; }
    [[nodiscard]] const std::vector<Role>& roles() const noexcept { return roles_; }

private:
    struct Assignment {
        std::string subject;
        std::size_t role = 0;
        std::optional<Scope> scope;
    };
    const Role* find_role(std::string_view name_or_id) const;
    TokenRules rules_;
    KeySet keys_;
    std::vector<Role> roles_;  ///< built-in, then custom
    std::vector<Assignment> assignments_;
};

}  // namespace twinsim::service
