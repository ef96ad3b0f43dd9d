#include "twinsim/service/access.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

#include "twinsim/common/json_depth.hpp"

namespace twinsim::service {

using nlohmann::json;

namespace {

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

#define TWINSIM_ADT "Microsoft.DigitalTwins/"

constexpr std::array<const char*, operation_count> actions{
    nullptr,                                                  // health
    TWINSIM_ADT "models/action",                              // add_models
    TWINSIM_ADT "models/read",                                // list_models
    TWINSIM_ADT "models/read",                                // get_model
    TWINSIM_ADT "models/write",                               // update_model (decommission)
    TWINSIM_ADT "models/delete",                              // delete_model
    TWINSIM_ADT "query/action",                               // query
    TWINSIM_ADT "digitaltwins/read",                          // get_twin
    TWINSIM_ADT "digitaltwins/write",                         // upsert_twin
    TWINSIM_ADT "digitaltwins/write",                         // update_twin
    TWINSIM_ADT "digitaltwins/delete",                        // delete_twin
    TWINSIM_ADT "digitaltwins/read",                          // get_component
    TWINSIM_ADT "digitaltwins/write",                         // update_component
    TWINSIM_ADT "digitaltwins/relationships/read",            // get_relationship
    TWINSIM_ADT "digitaltwins/relationships/write",           // upsert_relationship
    TWINSIM_ADT "digitaltwins/relationships/write",           // update_relationship
    TWINSIM_ADT "digitaltwins/relationships/delete",          // delete_relationship
    TWINSIM_ADT "digitaltwins/relationships/read",            // list_relationships
    TWINSIM_ADT "digitaltwins/relationships/read",            // list_incoming_relationships
    TWINSIM_ADT "digitaltwins/action",                        // publish_telemetry
    TWINSIM_ADT "digitaltwins/action",                        // publish_component_telemetry
    TWINSIM_ADT "eventroutes/read",                           // list_event_routes
    TWINSIM_ADT "eventroutes/read",                           // get_event_route
    TWINSIM_ADT "eventroutes/write",                          // upsert_event_route
    TWINSIM_ADT "eventroutes/delete",                         // delete_event_route
    TWINSIM_ADT "eventroutes/read",                           // list_endpoints (twinsim: the routes' endpoints)
    TWINSIM_ADT "eventroutes/read",                           // get_endpoint
    TWINSIM_ADT "eventroutes/write",                          // upsert_endpoint
    TWINSIM_ADT "eventroutes/delete",                         // delete_endpoint
    TWINSIM_ADT "digitaltwins/read",                          // event_stream (twinsim: the events of readable twins)
    TWINSIM_ADT "jobs/import/read",                           // list_import_jobs
    TWINSIM_ADT "jobs/import/read",                           // get_import_job
    TWINSIM_ADT "jobs/import/write",                          // add_import_job
    TWINSIM_ADT "jobs/import/delete",                         // delete_import_job
    TWINSIM_ADT "jobs/import/write",                          // cancel_import_job
    TWINSIM_ADT "jobs/deletions/read",                        // list_delete_jobs
    TWINSIM_ADT "jobs/deletions/read",                        // get_delete_job
    TWINSIM_ADT "jobs/deletions/write",                       // add_delete_job
    TWINSIM_ADT "digitaltwins/read",                          // list_results
    TWINSIM_ADT "digitaltwins/read",                          // get_results
    TWINSIM_ADT "digitaltwins/read",                          // compare_results
    TWINSIM_ADT "digitaltwins/read",                          // results_sparkline
};

const json& member(const json& object, const char* name) {
    static const json none;
    return object.contains(name) ? object.at(name) : none;
}

std::vector<std::string> string_list(const json& value, const std::string& where) {
    std::vector<std::string> out;
    if (value.is_null()) return out;
    if (!value.is_array()) throw AccessConfigError(where + ": expected an array of strings");
    for (const json& item : value) {
        if (!item.is_string() || item.get<std::string>().empty())
            throw AccessConfigError(where + ": expected an array of non-empty strings");
        out.push_back(item.get<std::string>());
    }
    return out;
}

void only_members(const json& object, std::initializer_list<const char*> allowed, const std::string& where) {
    for (auto it = object.begin(); it != object.end(); ++it) {
        const std::string& key = it.key();
        if (std::none_of(allowed.begin(), allowed.end(), [&key](const char* a) { return key == a; }))
            throw AccessConfigError(where + ": unknown member \"" + key + "\"");
    }
}

}  // namespace

const char* action_of(Operation operation) noexcept {
    const auto i = static_cast<std::size_t>(operation);
    return i < actions.size() ? actions[i] : nullptr;
}

bool action_matches(std::string_view pattern, std::string_view action) noexcept {
    // Iterative glob with one backtrack point: linear in practice, never recursive.
    std::size_t p = 0, a = 0, star = std::string_view::npos, mark = 0;
    while (a < action.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = a;
        } else if (p < pattern.size() && lower(pattern[p]) == lower(action[a])) {
            ++p;
            ++a;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            a = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

const std::vector<Role>& builtin_roles() {
    static const std::vector<Role> roles{
        {"Azure Digital Twins Data Owner", "bcd981a7-7f74-457b-83e1-cceb9e632ffe",
         {TWINSIM_ADT "digitaltwins/*", TWINSIM_ADT "digitaltwins/commands/*", TWINSIM_ADT "digitaltwins/relationships/*",
          TWINSIM_ADT "eventroutes/*", TWINSIM_ADT "jobs/*", TWINSIM_ADT "models/*", TWINSIM_ADT "query/*"}},
        {"Azure Digital Twins Data Reader", "d57506d4-4c8d-48b1-8587-93c323f6a5a3",
         {TWINSIM_ADT "digitaltwins/read", TWINSIM_ADT "digitaltwins/relationships/read", TWINSIM_ADT "eventroutes/read",
          TWINSIM_ADT "jobs/deletions/read", TWINSIM_ADT "jobs/import/read", TWINSIM_ADT "jobs/imports/read",
          TWINSIM_ADT "models/read", TWINSIM_ADT "query/action"}},
    };
    return roles;
}

#undef TWINSIM_ADT

namespace {

bool grants_action(const Grant& grant, std::string_view action) {
    return std::any_of(grant.role->actions.begin(), grant.role->actions.end(),
                       [&](const std::string& pattern) { return action_matches(pattern, action); });
}

}  // namespace

bool Caller::may(std::string_view action) const {
    return std::any_of(grants.begin(), grants.end(), [&](const Grant& g) { return grants_action(g, action); });
}

bool Caller::may_everywhere(std::string_view action) const {
    return std::any_of(grants.begin(), grants.end(), [&](const Grant& g) { return !g.scope && grants_action(g, action); });
}

bool Caller::may_on_twin(std::string_view action, std::string_view twin_id, std::string_view model,
                         const std::function<bool(std::string_view, std::string_view)>& is_a) const {
    for (const Grant& g : grants) {
        if (!grants_action(g, action)) continue;
        if (!g.scope) return true;
        const Scope& s = *g.scope;
        const bool model_ok = s.models.empty() || (!model.empty() && std::any_of(s.models.begin(), s.models.end(), [&](const std::string& m) {
                                                      return is_a(model, m);
                                                  }));
        const bool id_ok = s.id_prefixes.empty() || std::any_of(s.id_prefixes.begin(), s.id_prefixes.end(), [&](const std::string& p) {
                               return twin_id.substr(0, p.size()) == p;
                           });
        if (model_ok && id_ok) return true;
    }
    return false;
}

AccessPolicy AccessPolicy::load(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw IoError("cannot read the auth file " + file.string());
    std::ostringstream text;
    text << in.rdbuf();
    const std::string content = text.str();
    if (content.size() > (4u << 20)) throw AccessConfigError(file.string() + ": larger than 4 MiB");
    if (find_json_depth_excess(content)) throw AccessConfigError(file.string() + ": " + json_depth_reason());
    json config;
    try {
        config = json::parse(content);
    } catch (const json::parse_error& e) {
        throw AccessConfigError(file.string() + ": not JSON: " + e.what());
    }
    try {
        return from_json(config, file.parent_path());
    } catch (const AccessConfigError& e) {
        throw AccessConfigError(file.string() + ": " + e.what());
    } catch (const KeyError& e) {
        throw AccessConfigError(file.string() + ": /jwks: " + e.what());
    }
}

AccessPolicy AccessPolicy::from_json(const json& config, const std::filesystem::path& base) {
    if (!config.is_object()) throw AccessConfigError("the auth configuration must be a JSON object");
    only_members(config, {"audience", "issuers", "leewaySeconds", "jwks", "roles", "assignments"}, "/");
    AccessPolicy policy;
    if (const json& aud = member(config, "audience"); !aud.is_null()) {
        if (!aud.is_string() || aud.get<std::string>().empty()) throw AccessConfigError("/audience: expected a non-empty string");
        policy.rules_.audience = aud.get<std::string>();
    }
    policy.rules_.issuers = string_list(member(config, "issuers"), "/issuers");
    if (const json& leeway = member(config, "leewaySeconds"); !leeway.is_null()) {
        if (!leeway.is_number_integer() || leeway.get<long long>() < 0 || leeway.get<long long>() > 3600)
            throw AccessConfigError("/leewaySeconds: expected an integer from 0 to 3600");
        policy.rules_.leeway = std::chrono::seconds(leeway.get<long long>());
    }
    const json& jwks = member(config, "jwks");
    if (jwks.is_string()) {
        std::filesystem::path path = jwks.get<std::string>();
        if (path.is_relative()) path = base / path;
        policy.keys_ = KeySet::load(path);
    } else if (jwks.is_object()) {
        policy.keys_ = KeySet::from_jwks(jwks);
    } else {
        throw AccessConfigError("/jwks: expected the key set ({\"keys\": [...]}) or the path of a JWKS file");
    }
    if (policy.keys_.size() == 0) throw AccessConfigError("/jwks: no keys: no token could be verified");
    policy.roles_ = builtin_roles();
    const json& roles = member(config, "roles");
    if (!roles.is_null() && !roles.is_array()) throw AccessConfigError("/roles: expected an array");
    for (std::size_t i = 0; roles.is_array() && i < roles.size(); ++i) {
        const std::string where = "/roles/" + std::to_string(i);
        const json& r = roles[i];
        if (!r.is_object()) throw AccessConfigError(where + ": expected {\"name\", \"actions\"}");
        only_members(r, {"name", "actions"}, where);
        const json& name = member(r, "name");
        if (!name.is_string() || name.get<std::string>().empty()) throw AccessConfigError(where + "/name: expected a string");
        if (policy.find_role(name.get<std::string>())) throw AccessConfigError(where + "/name: the role exists already");
        Role role{name.get<std::string>(), {}, string_list(member(r, "actions"), where + "/actions")};
        if (role.actions.empty()) throw AccessConfigError(where + "/actions: a role needs at least one action");
        policy.roles_.push_back(std::move(role));
    }
    const json& assignments = member(config, "assignments");
    if (!assignments.is_null() && !assignments.is_array()) throw AccessConfigError("/assignments: expected an array");
    for (std::size_t i = 0; assignments.is_array() && i < assignments.size(); ++i) {
        const std::string where = "/assignments/" + std::to_string(i);
        const json& a = assignments[i];
        if (!a.is_object()) throw AccessConfigError(where + ": expected {\"subject\", \"role\", \"scope\"?}");
        only_members(a, {"subject", "role", "scope"}, where);
        const json& subject = member(a, "subject");
        const json& role = member(a, "role");
        if (!subject.is_string() || subject.get<std::string>().empty()) throw AccessConfigError(where + "/subject: expected a string");
        if (!role.is_string()) throw AccessConfigError(where + "/role: expected a role name");
        const Role* found = policy.find_role(role.get<std::string>());
        if (found == nullptr) throw AccessConfigError(where + "/role: no role named \"" + role.get<std::string>() + "\"");
        Assignment assignment{subject.get<std::string>(), static_cast<std::size_t>(found - policy.roles_.data()), std::nullopt};
        if (const json& scope = member(a, "scope"); !scope.is_null()) {
            if (!scope.is_object()) throw AccessConfigError(where + "/scope: expected {\"models\", \"idPrefixes\"}");
            only_members(scope, {"models", "idPrefixes"}, where + "/scope");
            Scope s{string_list(member(scope, "models"), where + "/scope/models"),
                    string_list(member(scope, "idPrefixes"), where + "/scope/idPrefixes")};
            if (s.models.empty() && s.id_prefixes.empty())
                throw AccessConfigError(where + "/scope: give models or idPrefixes (or leave the scope out)");
            assignment.scope = std::move(s);
        }
        policy.assignments_.push_back(std::move(assignment));
    }
    return policy;
}

const Role* AccessPolicy::find_role(std::string_view name_or_id) const {
    for (const Role& role : roles_)
        if (iequals(role.name, name_or_id) || (!role.id.empty() && iequals(role.id, name_or_id))) return &role;
    return nullptr;
}

Caller AccessPolicy::authenticate(std::optional<std::string_view> authorization) const {
    if (!authorization || authorization->empty())
        throw TokenError("missing", "the request has no Authorization header: send \"Authorization: Bearer <token>\"");
    std::string_view value = *authorization;
    if (value.size() < 7 || !iequals(value.substr(0, 7), "Bearer "))
        throw TokenError("missing", "the Authorization header must be \"Bearer <token>\"");
    value.remove_prefix(7);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    const TokenClaims claims = verify_token(value, keys_, rules_);
    Caller caller;
    caller.subject = claims.subject;
    for (const std::string& name : claims.roles)
        if (const Role* role = find_role(name)) caller.grants.push_back({role, std::nullopt});
    for (const Assignment& a : assignments_)
        if (!claims.subject.empty() && a.subject == claims.subject) caller.grants.push_back({&roles_[a.role], a.scope});
    return caller;
}

}  // namespace twinsim::service
