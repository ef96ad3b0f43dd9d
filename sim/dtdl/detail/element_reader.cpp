// Reading DTDL elements from JSON: contexts, "@type", "@id" and every member,
// validated against the metamodel tables. Rules that need other elements are
// left to graph_rules.cpp.

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <unordered_set>

#include "twinsim/common/json_pointer.hpp"
#include "twinsim/dtdl/detail/model_graph.hpp"
#include "twinsim/dtdl/detail/spec_tables.hpp"
#include "twinsim/dtdl/detail/syntax.hpp"

namespace twinsim::dtdl::detail {
namespace {

using json = nlohmann::json;

const std::unordered_set<std::string_view>& reserved(int version) {
    static const auto make = [](const std::vector<ReservedString>& rows) {
        std::unordered_set<std::string_view> s;
        for (const auto& r : rows) {
            s.insert(r.term);
            s.insert(r.dtmi);
        }
        return s;
    };
    static const std::unordered_set<std::string_view> v2 = make(reserved_strings_v2());
    static const std::unordered_set<std::string_view> v3 = make(reserved_strings_v3());
    return version == 2 ? v2 : v3;
}

bool class_exists(Cls c, int version) noexcept {
    if (version == 2) return c != Cls::CommandRequest && c != Cls::CommandResponse;
    return c != Cls::CommandPayload;
}

// The class an "@type" string names in `version`, by term or DTMI.
std::optional<Cls> material_class(std::string_view s, int version) {
    for (int i = 0; i < class_count; ++i) {
        const auto c = static_cast<Cls>(i);
        if (!class_exists(c, version)) continue;
        const auto name = class_name(c);
        if (s == name) return c;
        constexpr std::string_view prefix = "dtmi:dtdl:class:";
        if (s.size() == prefix.size() + name.size() + 2 && s.substr(0, prefix.size()) == prefix &&
            s.substr(prefix.size(), name.size()) == name && s[prefix.size() + name.size()] == ';' &&
            s.back() == static_cast<char>('0' + version))
            return c;
    }
    return std::nullopt;
}

// "name" or "dtmi:dtdl:property:name;3" -> "name" (for this version); else empty.
std::string_view member_term(std::string_view key, int version) {
    constexpr std::string_view prefix = "dtmi:dtdl:property:";
    if (key.substr(0, prefix.size()) != prefix) return key.find(':') == std::string_view::npos ? key : "";
    auto rest = key.substr(prefix.size());
    auto semi = rest.find(';');
    if (semi == std::string_view::npos || rest.substr(semi + 1) != (version == 2 ? "2" : "3")) return "";
    return rest.substr(0, semi);
}

std::optional<SchemaKind> standard_schema(std::string_view s, int version) {
    static constexpr std::array<std::pair<std::string_view, SchemaKind>, 16> table = {{
        {"boolean", SchemaKind::boolean}, {"date", SchemaKind::date}, {"dateTime", SchemaKind::date_time},
        {"double", SchemaKind::double_}, {"duration", SchemaKind::duration}, {"float", SchemaKind::float_},
        {"integer", SchemaKind::integer}, {"long", SchemaKind::long_}, {"string", SchemaKind::string},
        {"time", SchemaKind::time}, {"point", SchemaKind::point}, {"multiPoint", SchemaKind::multi_point},
        {"lineString", SchemaKind::line_string}, {"multiLineString", SchemaKind::multi_line_string},
        {"polygon", SchemaKind::polygon}, {"multiPolygon", SchemaKind::multi_polygon},
    }};
    const char v = version == 2 ? '2' : '3';
    for (const auto& [term, kind] : table) {
        if (s == term) return kind;
        const std::string_view prefix = is_geospatial(kind) ? "dtmi:standard:schema:geospatial:" : "dtmi:dtdl:instance:Schema:";
        if (s.size() == prefix.size() + term.size() + 2 && s.substr(0, prefix.size()) == prefix &&
            s.substr(prefix.size(), term.size()) == term && s[s.size() - 2] == ';' && s.back() == v)
            return kind;
    }
    return std::nullopt;
}

std::string describe(const json& v) {
    switch (v.type()) {
    case json::value_t::string: return "string \"" + v.get_ref<const std::string&>() + "\"";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::null: return "null";
    default: return "a number";
    }
}

// The active context of an element, combined from its own "@context" and its ancestors'.
struct Context {
    int version = 0;                       ///< DTDL version, 0 = none given
    std::vector<std::string> values;       ///< one per de-versioned value, lowest in hierarchy wins
    ExtMask extensions = 0;
    bool undefined = false;                ///< an extension nobody defines is in force
};

std::string_view deversioned(std::string_view s) { return s.substr(0, s.find(';')); }

class Reader {
public:
    Reader(ModelGraph& g, int doc, bool allow) : g_(g), doc_(doc), allow_(allow) {}

    void read_root() {
        const json& root = g_.roots[static_cast<std::size_t>(doc_)];
        if (root.is_object()) {
            read_top(root, "");
        } else if (root.is_array()) {
            if (root.empty()) root_error("", "the document is an empty array; expected an Interface object or an array of them");
            std::size_t i = 0;
            for (const auto& item : root) {
                std::string path(1, '/');
                path += std::to_string(i++);
                if (item.is_object()) read_top(item, path);
                else root_error(path, "array element is " + describe(item) + "; expected an Interface object");
            }
        } else {
            root_error("", "the document root is " + describe(root) + "; expected an Interface object or an array of them");
        }
    }

private:
    ModelGraph& g_;
    int doc_;
    bool allow_;

    void root_error(const std::string& path, std::string message) {
        g_.report(Severity::error, doc_, "", path, "RootArrayOrObj", std::move(message));
    }

    void read_top(const json& obj, const std::string& path) {
        Context none;
        ElementSite site{.path = path, .parent = -1, .parent_slot = Slot::contents, .top_level = true,
                         .allowed = {Cls::Interface}, .allow_v2 = true, .context = &none, .nearest_id = "",
                         .partition = -1, .in_schemas = false};
        (void)read_element(obj, site);
    }

    struct ElementSite {
        std::string path;
        int parent;
        Slot parent_slot;
        bool top_level;
        std::vector<Cls> allowed;
        bool allow_v2;
        const Context* context;
        std::string nearest_id;
        int partition;
        bool in_schemas;
    };

    // ---- @context -------------------------------------------------------------------------------
    Context read_context(const json& obj, const ElementSite& site, Node& n) {
        Context ctx = *site.context;
        auto it = obj.find("@context");
        const std::string cpath = site.path + "/@context";
        if (it == obj.end()) {
            if (site.top_level)
                g_.error(n, site.path, "TopLevelDtdlContext",
                         "a top-level element must have an \"@context\" including \"dtmi:dtdl:context;3\" (or ;2)");
            return ctx;
        }
        std::vector<std::string> values;
        if (it->is_string()) {
            values.push_back(it->get<std::string>());
        } else if (it->is_array()) {
            for (const auto& v : *it) {
                if (!v.is_string()) {
                    g_.error(n, cpath, "ContextArrayAllStrings", "\"@context\" array holds " + describe(v) + "; expected strings");
                    continue;
                }
                values.push_back(v.get<std::string>());
            }
        } else {
            g_.error(n, cpath, "ContextStringOrArray", "\"@context\" is " + describe(*it) + "; expected a string or an array of strings");
            return ctx;
        }
        n.contexts = values;
        int own_version = 0;
        bool seen_non_dtdl = false;
        int dtdl_count = 0;
        std::unordered_set<std::string> seen;
        std::unordered_set<std::string_view> seen_dev;
        for (const auto& v : values) {
            const auto shape = dtmi_shape(v);
            if (!shape.valid || !shape.has_version || shape.has_fragment) {
                g_.error(n, cpath, "ContextDtmiWithVersion", "context \"" + v + "\" is not a DTMI with a version");
                continue;
            }
            if (!seen.insert(v).second)
                g_.warning(n, cpath, "ContextUniqueValues", "context \"" + v + "\" is listed more than once");
            else if (!seen_dev.insert(deversioned(v)).second)
                g_.warning(n, cpath, "ContextRepeatsDeversionedValue", "context \"" + v + "\" repeats another version of the same context");
            if (deversioned(v) == "dtmi:dtdl:context") {
                ++dtdl_count;
                const auto ver = v.substr(v.find(';') + 1);
                if (ver == "2") own_version = 2;
                else if (ver == "3") own_version = 3;
                else {
                    g_.error(n, cpath, "ContextDtmiWithVersion", "\"" + v + "\" is not a DTDL version this parser knows (2 or 3)");
                    own_version = -1;
                }
                if (seen_non_dtdl) {
                    const bool central_first = values.front() == "dtmi:iotcentral:context;2" && own_version == 2 &&
                                               values.size() >= 2 && values[1] == v;
                    if (central_first)
                        g_.warning(n, cpath, "ContextDtdlPrecedesOrOnlyException",
                                   "\"dtmi:iotcentral:context;2\" should not precede \"dtmi:dtdl:context;2\"");
                    else
                        g_.error(n, cpath, "ContextDtdlPrecedesOrOnly",
                                 "\"" + v + "\" must precede every extension context");
                }
            } else {
                seen_non_dtdl = true;
            }
        }
        if (dtdl_count > 1) g_.warning(n, cpath, "ContextDtdlOnlyOne", "\"@context\" should name only one DTDL context");
        if (own_version != 0) ctx.version = own_version;
        if (site.top_level && own_version <= 0 && dtdl_count == 0)
            g_.error(n, cpath, "TopLevelDtdlContext",
                     "a top-level element's \"@context\" must include \"dtmi:dtdl:context;3\" (or ;2)");
        // Combine: the lowest (and, within one member, the last) value per de-versioned id wins.
        for (const auto& v : values) {
            if (deversioned(v) == "dtmi:dtdl:context" || !dtmi_shape(v).valid) continue;
            auto dv = deversioned(v);
            bool replaced = false;
            for (auto& existing : ctx.values)
                if (deversioned(existing) == dv) {
                    existing = v;
                    replaced = true;
                }
            if (!replaced) ctx.values.push_back(v);
        }
        return ctx;
    }

    void settle_extensions(Context& ctx, Node& n, const std::string& cpath, bool own_context) {
        ctx.extensions = 0;
        ctx.undefined = false;
        for (const auto& v : ctx.values) {
            if (auto e = find_extension(v, ctx.version)) {
                ctx.extensions |= bit(*e);
            } else {
                ctx.undefined = true;
                if (!allow_ && own_context)
                    g_.error(n, cpath, "ContextDefinedLanguageExtension",
                             "extension context \"" + v + "\" is not defined for DTDL v" + std::to_string(ctx.version) +
                                 " (known: QuantitativeTypes, Historization, Annotation, Overriding v1; "
                                 "or allow undefined extensions)");
            }
        }
    }

    // ---- element --------------------------------------------------------------------------------
    int read_element(const json& obj, const ElementSite& site) {
        const int index = static_cast<int>(g_.nodes.size());
        g_.nodes.emplace_back();
        {
            Node& n = g_.nodes.back();
            n.doc = doc_;
            n.path = site.path;
            n.parent = site.parent;
            n.parent_slot = site.parent_slot;
            n.top_level = site.top_level;
            n.nearest_id = site.nearest_id;
        }
        // Identify the element first so diagnostics can name it.
        if (auto id = obj.find("@id"); id != obj.end() && id->is_string()) {
            g_.nodes[static_cast<std::size_t>(index)].nearest_id = id->get<std::string>();
        }
        Context ctx = read_context(obj, site, g_.nodes[static_cast<std::size_t>(index)]);
        if (ctx.version <= 0) ctx.version = 3;  // already reported; keep checking as v3
        settle_extensions(ctx, g_.nodes[static_cast<std::size_t>(index)], site.path + "/@context", obj.contains("@context"));
        Node* n = &g_.nodes[static_cast<std::size_t>(index)];
        n->version = ctx.version;

        const auto& meta = metamodel(ctx.version);
        // ---- @type
        std::vector<std::string> types;
        auto type_it = obj.find("@type");
        const std::string tpath = site.path + "/@type";
        std::string expected;
        for (auto c : site.allowed) expected += (expected.empty() ? "" : " or ") + std::string(class_name(c));
        // Field, MapKey, MapValue, EnumValue and command payloads may omit "@type": their member implies it.
        const bool type_implied = site.allowed.size() == 1 &&
                                  (site.allowed[0] == Cls::Field || site.allowed[0] == Cls::MapKey ||
                                   site.allowed[0] == Cls::MapValue || site.allowed[0] == Cls::EnumValue ||
                                   site.allowed[0] == Cls::CommandPayload || site.allowed[0] == Cls::CommandRequest ||
                                   site.allowed[0] == Cls::CommandResponse);
        if (type_it == obj.end()) {
            if (type_implied) types.emplace_back(class_name(site.allowed[0]));
            else g_.error(*n, site.path, "RequiredProperties", "element has no \"@type\"; expected " + expected);
        } else if (type_it->is_string()) {
            types.push_back(type_it->get<std::string>());
        } else if (type_it->is_array()) {
            for (const auto& t : *type_it) {
                if (t.is_string()) types.push_back(t.get<std::string>());
                else g_.error(*n, tpath, "TypeStringOrArray", "\"@type\" holds " + describe(t) + "; expected strings");
            }
        } else {
            g_.error(*n, tpath, "TypeStringOrArray", "\"@type\" is " + describe(*type_it) + "; expected a string or an array of strings");
        }
        std::optional<Cls> cls;
        std::vector<std::string> material_terms;
        for (const auto& t : types) {
            if (auto c = material_class(t, ctx.version)) {
                if (!cls) cls = c;
                else if (*cls != *c) {
                    g_.error(*n, tpath, "TypeIncludesIrrelevantDtmiOrTerm",
                             "\"@type\" names two element classes, " + std::string(class_name(*cls)) + " and " +
                                 std::string(class_name(*c)));
                    continue;
                }
                material_terms.push_back(t);
            }
        }
        if (!cls) {
            if (type_it != obj.end())
                g_.error(*n, tpath, site.top_level ? "TopLevelRootable" : "TypeIncludesMaterial",
                         "\"@type\" does not name an element class; expected " + expected);
            // Nothing more can be checked without a class; keep the node as a placeholder.
            n->cls = site.allowed.empty() ? Cls::Interface : site.allowed.front();
            n->informal = true;
            mark_invalid_class(index);
            return index;
        }
        n->cls = *cls;
        bool class_ok = false;
        for (auto c : site.allowed) class_ok = class_ok || c == *cls;
        if (!class_ok || (!site.allow_v2 && ctx.version == 2 && site.context->version == 3) ||
            (site.context->version == 2 && ctx.version == 3)) {
            g_.error(*n, tpath, site.top_level ? "TopLevelRootable" : "TypeConformance",
                     "element is a DTDL v" + std::to_string(ctx.version) + " " + std::string(class_name(*cls)) +
                         "; expected " + expected + (site.context->version == 2 ? " of DTDL v2" : ""));
        }
        if (material_terms.size() > 1) {
            if (material_terms[0] != material_terms[1])
                g_.warning(*n, tpath, "TypeIncludesTermAndDtmi", "\"@type\" should not give both the term and the DTMI of its class");
            else
                g_.warning(*n, tpath, "TypeDuplicatesMaterial", "\"@type\" repeats its class");
        } else if (material_terms.size() == 1 && material_terms[0].find(':') != std::string::npos) {
            g_.warning(*n, tpath, "TypePreferTermToDtmi", "the term \"" + std::string(class_name(*cls)) + "\" is preferred over its DTMI");
        }
        const ClassSpec& spec = meta[static_cast<std::size_t>(*cls)];
        const std::string rule_class = "Class" + std::string(class_name(*cls));

        // co-types
        bool undefined_cotype = false;
        bool v2_informal = false;
        std::vector<std::pair<std::string, std::string>> deferred_type_errors;  // (rule, message)
        for (const auto& t : types) {
            if (material_class(t, ctx.version)) continue;
            if (auto ct = find_cotype(t, ctx.version, ctx.extensions)) {
                if (!cotype_applies(*ct, *cls, ctx.version)) {
                    g_.error(*n, tpath, rule_class + "TypeIncludesIrrelevantDtmiOrTerm",
                             "\"" + t + "\" cannot co-type a " + std::string(class_name(*cls)));
                    continue;
                }
                if (ct->kind == CotypeKind::semantic) {
                    if (n->semantic && n->semantic->row != ct->row)
                        g_.error(*n, tpath, rule_class + "MultipleSemanticTypes",
                                 "\"@type\" names two semantic types, " + std::string(n->semantic->term) + " and " + t);
                    n->semantic = ct;
                } else if (ct->kind == CotypeKind::value_annotation) {
                    n->value_annotation = true;
                } else if (ct->kind == CotypeKind::override_) {
                    n->override_ = true;
                }
                n->cotypes.push_back(t);
                continue;
            }
            if (ctx.version == 2 && t.substr(0, 5) != "dtmi:" && reserved(2).count(t) == 0) {
                // DTDL v2 MAY co-type with undefined terms and non-DTMI IRIs: informally co-typed.
                v2_informal = true;
                n->cotypes.push_back(t);
                continue;
            }
            if (t.find(':') != std::string::npos && t.substr(0, 5) != "dtmi:") {
                g_.error(*n, tpath, rule_class + "TypeIncludesNotDtmiNorTerm", "\"@type\" value \"" + t + "\" is neither a term nor a DTMI");
                continue;
            }
            if (t.substr(0, 5) == "dtmi:" && !dtmi_shape(t).valid) {
                g_.error(*n, tpath, rule_class + "TypeIncludesInvalidDtmi", "\"@type\" value \"" + t + "\" is not a valid DTMI");
                continue;
            }
            if (reserved(ctx.version).count(t) != 0 || t.substr(0, 5) == "dtmi:") {
                // A reserved string or a DTMI: only an extension in force could make it relevant.
                undefined_cotype = true;
                n->cotypes.push_back(t);
                if (!ctx.undefined)
                    deferred_type_errors.emplace_back(rule_class + "TypeIncludesIrrelevantDtmiOrTerm",
                                                      "\"@type\" value \"" + t + "\" is not allowed on a " + std::string(class_name(*cls)));
                continue;
            }
            // Undefined term or DTMI: acceptable only while an undefined extension is in force.
            undefined_cotype = true;
            n->cotypes.push_back(t);
            if (!ctx.undefined)
                deferred_type_errors.emplace_back(rule_class + "TypeIncludesUndefinedTerm",
                                                  "\"@type\" value \"" + t + "\" is not defined by any extension in the active context");
        }
        n->informal = (undefined_cotype && ctx.undefined) || v2_informal;
        for (auto& [rule, msg] : deferred_type_errors) g_.error(*n, tpath, rule, msg);

        // ---- @id
        std::string id;
        if (auto it = obj.find("@id"); it != obj.end()) {
            const std::string ipath = site.path + "/@id";
            if (it->is_array()) {
                g_.error(*n, ipath, rule_class + "IdNotArray", "\"@id\" must be a single DTMI string, not an array");
            } else if (!it->is_string()) {
                g_.error(*n, ipath, "DtmiIsString", "\"@id\" is " + describe(*it) + "; expected a DTMI string");
            } else {
                id = it->get<std::string>();
                const auto shape = dtmi_shape(id);
                if (!shape.valid || shape.has_fragment || (ctx.version == 2 && (!shape.has_version || shape.has_minor))) {
                    g_.error(*n, ipath, ctx.version == 2 ? "DtmiRegexRequiredScalarVersion" : "DtmiRegex",
                             "\"" + id + "\" is not a valid DTDL v" + std::to_string(ctx.version) + " DTMI" +
                                 (ctx.version == 2 ? " (dtmi:<segments>;<major version>)" : " (dtmi:<segments>[;<major>[.<minor>]])"));
                    id.clear();
                } else if (id.substr(0, 10) == "dtmi:dtdl:" || id.substr(0, 14) == "dtmi:standard:") {
                    g_.error(*n, ipath, "DtmiReservedPrefixes", "\"" + id + "\" uses a reserved prefix (dtmi:dtdl: or dtmi:standard:)");
                    id.clear();
                } else if (id.size() > 2048) {
                    g_.error(*n, ipath, "DtmiLength", "\"@id\" is longer than 2048 characters");
                    id.clear();
                } else if (*cls == Cls::Interface && id.size() > 128) {
                    g_.error(*n, ipath, "ClassInterfaceIdLong", "an Interface \"@id\" must not exceed 128 characters");
                }
            }
        } else if (spec.id_required || (site.in_schemas && spec.id_required_in_schemas)) {
            g_.error(*n, site.path, rule_class + (spec.id_required ? "RequiredProperties" : "IdRequired"),
                     "a " + std::string(class_name(*cls)) + (spec.id_required ? "" : " in \"schemas\"") + " must have an \"@id\"");
        }
        n->id = id;
        if (!id.empty()) n->nearest_id = id;
        n->partition = (site.top_level || *cls == Cls::Interface || site.partition < 0) ? g_.new_partition() : site.partition;

        // ---- members
        std::vector<const MemberSpec*> present;
        std::vector<std::string_view> ext_seen;
        for (auto it = obj.begin(); it != obj.end(); ++it) {
            const std::string& key = it.key();
            if (key == "@context" || key == "@id" || key == "@type") continue;
            n = &g_.nodes[static_cast<std::size_t>(index)];
            const std::string mpath = site.path + "/" + escape_pointer_token(key);
            if (!key.empty() && key[0] == '@') {
                if (ctx.version == 2 && key != "@graph") {
                    g_.warning(*n, mpath, rule_class + "InvalidKeywords", "keyword \"" + key + "\" should not be used here");
                    continue;
                }
                g_.error(*n, mpath, rule_class + (key == "@graph" ? "GraphKeyword" : "InvalidKeywords"),
                         "keyword \"" + key + "\" is not allowed here (only @context, @id, @type)");
                continue;
            }
            const auto term = member_term(key, ctx.version);
            const MemberSpec* m = term.empty() ? nullptr : find_member(spec, term);
            if (m != nullptr) {
                bool dup = false;
                for (auto* p : present) dup = dup || p == m;
                if (dup) {
                    g_.error(*n, mpath, rule_class + "Property" + upper(m->term) + "TermAndDtmi",
                             "member \"" + std::string(m->term) + "\" is given both as a term and as a DTMI");
                    continue;
                }
                present.push_back(m);
                if (key != term)
                    g_.warning(*n, mpath, rule_class + "Property" + upper(m->term) + "Term",
                               "the term \"" + std::string(m->term) + "\" is preferred over its DTMI");
                if (m->deprecated)
                    g_.warning(*n, mpath, rule_class + "Property" + upper(m->term) + "Deprecated",
                               "member \"" + std::string(m->term) + "\" is deprecated");
                read_member(index, *m, *it, mpath, ctx, rule_class);
                continue;
            }
            if (auto ext = extension_member(key, ctx.version, ctx.extensions); !ext.empty()) {
                if (std::find(ext_seen.begin(), ext_seen.end(), ext) != ext_seen.end()) {
                    g_.error(*n, mpath, rule_class + "CotypePropertyTermAndDtmi",
                             "member \"" + std::string(ext) + "\" is given both as a term and as a DTMI");
                    continue;
                }
                ext_seen.push_back(ext);
                if (read_extension_member(index, ext, *it, mpath, rule_class, ctx)) continue;
            }
            if (n->informal && ctx.version == 2) continue;  // v2 MAY add any member to an informally co-typed element
            if (key.find(':') != std::string::npos && key.substr(0, 5) != "dtmi:") {
                g_.error(*n, mpath, rule_class + "PropertyNotDtmiNorTerm", "member name \"" + key + "\" is neither a term nor a DTMI");
                continue;
            }
            if (key.substr(0, 5) == "dtmi:" && !dtmi_shape(key).valid) {
                g_.error(*n, mpath, rule_class + "PropertyInvalidDtmi", "member name \"" + key + "\" is not a valid DTMI");
                continue;
            }
            if (n->informal) continue;  // an undefined extension may define it
            const bool reserved_or_dtmi = key.substr(0, 5) == "dtmi:" || reserved(ctx.version).count(key) != 0;
            g_.error(*n, mpath,
                     rule_class + (reserved_or_dtmi ? "PropertyFormallyIrrelevantDtmiOrTerm" : "PropertyFormallyUndefinedTerm"),
                     "member \"" + key + "\" is not allowed on a " + std::string(class_name(*cls)) +
                         (reserved_or_dtmi ? "" : " (not defined by DTDL or any extension in the active context)"));
        }
        n = &g_.nodes[static_cast<std::size_t>(index)];
        for (const auto& m : spec.members) {
            if (!m.required) continue;
            bool found = false;
            for (auto* p : present) found = found || p == &m;
            if (!found)
                g_.error(*n, site.path, rule_class + "RequiredProperties",
                         "a " + std::string(class_name(*cls)) + " must have member \"" + std::string(m.term) + "\"");
        }
        check_semantics(index, site.path, rule_class);
        return index;
    }

    static std::string upper(std::string_view term) {
        std::string s(term);
        if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
        return s;
    }

    void mark_invalid_class(int index) { g_.nodes[static_cast<std::size_t>(index)].partition = g_.new_partition(); }

    // v2 semantic types and QuantitativeTypes: unit required and matching, schema numeric.
    void check_semantics(int index, const std::string& path, const std::string& rule_class) {
        Node& n = g_.nodes[static_cast<std::size_t>(index)];
        if (!n.semantic) {
            if (!n.unit.empty() && !n.informal)
                g_.error(n, path + "/unit", rule_class + "PropertyFormallyIrrelevantDtmiOrTerm",
                         "\"unit\" is only allowed together with a semantic type in \"@type\"");
            return;
        }
        if (n.unit.empty()) {
            if (n.version == 2)
                g_.error(n, path, rule_class + "CotypePropertyPresent",
                         "semantic type " + std::string(n.semantic->term) + " requires a \"unit\"");
        } else if (!unit_fits(*n.semantic, n.unit, n.version)) {
            g_.error(n, path + "/unit", rule_class + "CotypePropertyValueMatchesCotype",
                     "unit \"" + n.unit + "\" is not a unit of semantic type " + std::string(n.semantic->term));
        }
        const auto* schema = n.find(Slot::schema);
        if (schema != nullptr && schema->size() == 1) {
            const auto& r = schema->front();
            const bool numeric = r.standard && (*r.standard == SchemaKind::double_ || *r.standard == SchemaKind::float_ ||
                                                *r.standard == SchemaKind::integer || *r.standard == SchemaKind::long_);
            if (!numeric)
                g_.error(n, path + "/schema", rule_class + "CotypeRequiresPropertySchemaValue",
                         "semantic type " + std::string(n.semantic->term) + " requires a numeric schema (double, float, integer or long)");
        }
    }

    bool read_extension_member(int index, std::string_view ext, const json& v, const std::string& mpath,
                               const std::string& rule_class, const Context& ctx) {
        Node& n = g_.nodes[static_cast<std::size_t>(index)];
        auto single_string = [&](std::string& out) {
            const json* s = &v;
            if (v.is_array() && v.size() == 1) s = &v[0];
            if (!s->is_string()) {
                g_.error(n, mpath, rule_class + "CotypePropertyPresent", std::string(1, '"').append(ext).append("\" must be a string"));
                return;
            }
            out = s->get<std::string>();
        };
        if (ext == "unit") {
            if (!n.semantic) return false;
            single_string(n.unit);
            if (!n.unit.empty() && !is_known_unit(n.unit, n.version))
                g_.error(n, mpath, rule_class + "CotypePropertyValueFromTable", "\"" + n.unit + "\" is not a known unit");
            return true;
        }
        if (ext == "annotates") {
            if (!n.value_annotation) return false;
            single_string(n.annotates);
            return true;
        }
        if (ext == "overrides") {
            if (!n.override_) return false;
            // The term or IRI of an extension property (Overriding v1), kept as its
            // term; whether the annotated element has it is checked in graph_rules.cpp.
            single_string(n.overrides);
            if (n.overrides.empty()) return true;
            if (const auto term = extension_member(n.overrides, n.version, ctx.extensions); !term.empty())
                n.overrides = std::string(term);
            else if (!ctx.undefined)
                g_.error(n, mpath, "OverrideOverridesExtensionProperty",
                         "\"overrides\" is \"" + n.overrides +
                             "\", which names no extension property defined in the active context");
            return true;
        }
        return false;
    }

    // ---- literal values ---------------------------------------------------------------------------
    // A representational string/integer/boolean: bare value or {"@value": ..., "@type": ...}.
    const json* representational(const Node& n, const json& v, const std::string& path, json::value_t want,
                                 std::string_view kind, std::string_view xsd) {
        const std::string rule = "Representational" + std::string(kind);
        auto type_ok = [&](const json& x) {
            if (want == json::value_t::number_integer)
                return x.is_number_integer();
            if (want == json::value_t::string) return x.is_string();
            return x.is_boolean();
        };
        if (type_ok(v)) return &v;
        if (!v.is_object()) {
            g_.error(n, path, rule + "OrObject", "value is " + describe(v) + "; expected a " + lower(kind) + " or a value object");
            return nullptr;
        }
        const json* value = nullptr;
        bool ok = true;
        for (auto it = v.begin(); it != v.end(); ++it) {
            const auto& k = it.key();
            if (k.empty() || k[0] != '@') {
                g_.error(n, path, rule + "OnlyKeywords", "value object member \"" + k + "\" does not start with '@'");
                ok = false;
            } else if (k == "@value") {
                value = &*it;
            } else if (k == "@type") {
                const json* t = it->is_array() && it->size() == 1 ? &(*it)[0] : &*it;
                if (!t->is_string() || (t->get_ref<const std::string&>() != "xsd:" + std::string(xsd) &&
                                        t->get_ref<const std::string&>() != "http://www.w3.org/2001/XMLSchema#" + std::string(xsd))) {
                    g_.error(n, path, rule + "Type" + std::string(kind), "value object \"@type\" must be \"xsd:" + std::string(xsd) + "\"");
                    ok = false;
                }
            } else if (n.version == 2 && k != "@id" && k != "@context" && k != "@graph") {
                g_.warning(n, path, rule + "OnlyValueAndType", "value object member \"" + k + "\" is ignored");
            } else {
                g_.error(n, path, n.version == 2 ? rule + "NoIdContextGraph" : rule + "OnlyValueAndType",
                         "value object may hold only \"@value\" and \"@type\", not \"" + k + "\"");
                ok = false;
            }
        }
        if (value == nullptr) {
            g_.error(n, path, rule + "HasValue", "value object has no \"@value\"");
            return nullptr;
        }
        if (!type_ok(*value)) {
            g_.error(n, path, rule + "Value" + std::string(kind), "\"@value\" is " + describe(*value) + "; expected a " + lower(kind));
            return nullptr;
        }
        if (!v.contains("@type")) g_.warning(n, path, rule + "HasType", "value object should have an \"@type\"");
        return ok ? value : nullptr;
    }

    static std::string lower(std::string_view s) {
        std::string r(s);
        if (!r.empty()) r[0] = static_cast<char>(r[0] - 'A' + 'a');
        return r;
    }

    // Unwraps "value or array of at most/exactly one value"; returns nullptr (reported) when absent/bad.
    const json* single(const Node& n, const json& v, const std::string& path, const std::string& rule, bool exactly_one,
                       std::string& item_path) {
        item_path = path;
        if (!v.is_array()) return &v;
        if (v.size() > 1 || (exactly_one && v.empty())) {
            g_.error(n, path, rule, std::string("expected ") + (exactly_one ? "exactly one value" : "at most one value") +
                                        ", found an array of " + std::to_string(v.size()));
            return nullptr;
        }
        if (v.empty()) return nullptr;
        item_path = path + "/0";
        return &v[0];
    }

    void read_langstring(int index, const MemberSpec& m, const json& v, const std::string& path, const std::string& rule_m,
                         LocalizedText& out) {
        const Node& n = g_.nodes[static_cast<std::size_t>(index)];
        auto check_len = [&](const std::string& s, const std::string& p) {
            if (m.max_length != 0 && utf8_length(s) > m.max_length)
                g_.error(n, p, rule_m + "StringLength",
                         "text is " + std::to_string(utf8_length(s)) + " characters; at most " + std::to_string(m.max_length) + " allowed");
        };
        if (v.is_string()) {
            out["en"] = v.get<std::string>();
            check_len(out["en"], path);
            return;
        }
        if (v.is_object()) {
            for (auto it = v.begin(); it != v.end(); ++it) {
                if (!is_language_tag(it.key()))
                    g_.error(n, path, "LocalizableStringObjectMemberNameRegex", "\"" + it.key() + "\" is not a language code");
                if (!it->is_string()) {
                    g_.error(n, path + "/" + escape_pointer_token(it.key()), "LocalizableStringObjectMemberValueString",
                             "localized text is " + describe(*it) + "; expected a string");
                    continue;
                }
                out[it.key()] = it->get<std::string>();
                check_len(out[it.key()], path + "/" + escape_pointer_token(it.key()));
            }
            return;
        }
        if (!v.is_array()) {
            g_.error(n, path, "LocalizableStringOrArrayOrObject", "value is " + describe(v) + "; expected a string, array or language map");
            return;
        }
        int defaults = 0;
        std::unordered_set<std::string> languages;
        std::size_t i = 0;
        for (const auto& item : v) {
            const std::string ip = path + "/" + std::to_string(i++);
            if (item.is_string()) {
                ++defaults;
                out["en"] = item.get<std::string>();
                check_len(out["en"], ip);
                continue;
            }
            if (!item.is_object()) {
                g_.error(n, ip, "LocalizableStringArrayElementStringOrObject", "array element is " + describe(item) + "; expected a string or object");
                continue;
            }
            const json* value = nullptr;
            std::string lang;
            bool has_lang = false;
            for (auto it = item.begin(); it != item.end(); ++it) {
                const auto& k = it.key();
                if (k.empty() || k[0] != '@') {
                    g_.error(n, ip, "LocalizableStringArrayElementOnlyKeywords", "member \"" + k + "\" does not start with '@'");
                } else if (k == "@value") {
                    value = &*it;
                } else if (k == "@language") {
                    has_lang = true;
                    if (!it->is_string() || !is_language_tag(it->get_ref<const std::string&>())) {
                        g_.error(n, ip, "LocalizableStringArrayElementLanguageValueRegex", "\"@language\" is not a language code");
                    } else {
                        lang = it->get<std::string>();
                        if (!languages.insert(lang).second)
                            g_.error(n, ip, "LocalizableStringArrayElementLanguageValueUnique", "language \"" + lang + "\" appears twice");
                    }
                } else if (n.version == 2 && (k == "@id" || k == "@context" || k == "@graph")) {
                    g_.error(n, ip, "LocalizableStringArrayElementNoIdContextGraph", "member \"" + k + "\" is not allowed");
                } else if (n.version == 2) {
                    g_.warning(n, ip, "LocalizableStringArrayElementOnlyValueAndLanguage", "member \"" + k + "\" is ignored");
                } else {
                    g_.error(n, ip, "LocalizableStringArrayElementOnlyValueAndLanguage", "member \"" + k + "\" is not allowed");
                }
            }
            if (value == nullptr) {
                g_.error(n, ip, "LocalizableStringArrayElementHasValue", "language-tagged value has no \"@value\"");
                continue;
            }
            if (!value->is_string()) {
                g_.error(n, ip, "LocalizableStringArrayElementValueString", "\"@value\" is " + describe(*value) + "; expected a string");
                continue;
            }
            if (!has_lang) g_.warning(n, ip, "LocalizableStringArrayElementHasLanguage", "language-tagged value should have \"@language\"");
            if (!has_lang || lang == "en") ++defaults;
            const std::string key = has_lang && !lang.empty() ? lang : "en";
            out[key] = value->get<std::string>();
            check_len(out[key], ip);
        }
        if (defaults > 1)
            g_.error(n, path, "LocalizableStringArrayOnlyOneDefault", "more than one value in the default language");
    }

    void read_member(int index, const MemberSpec& m, const json& v, const std::string& path, const Context& ctx,
                     const std::string& rule_class) {
        const std::string rule_m = rule_class + "Property" + upper(m.term);
        Node* n = &g_.nodes[static_cast<std::size_t>(index)];
        std::string ip;
        switch (m.kind) {
        case ValueKind::string: {
            const json* item = single(*n, v, path, rule_m + "String", m.required, ip);
            if (item == nullptr) return;
            const json* s = representational(*n, *item, ip, json::value_t::string, "String", "string");
            if (s == nullptr) return;
            const auto& text = s->get_ref<const std::string&>();
            if (m.max_length != 0 && utf8_length(text) > m.max_length)
                g_.error(*n, ip, rule_m + "StringLength",
                         "\"" + std::string(m.term) + "\" is " + std::to_string(utf8_length(text)) + " characters; at most " +
                             std::to_string(m.max_length) + " allowed");
            if (m.name_pattern && !is_segment(text))
                g_.error(*n, ip, rule_m + "Pattern",
                         "\"" + text + "\" is not a valid name (letters, digits and underscores, starting with a letter, not ending with '_')");
            if (m.slot == Slot::name) {
                n->name = text;
                n->has_name = true;
            } else if (m.slot == Slot::comment) {
                n->comment = text;
            }
            return;
        }
        case ValueKind::langstring:
            read_langstring(index, m, v, path, rule_m, m.slot == Slot::display_name ? n->display_name : n->description);
            return;
        case ValueKind::boolean: {
            const json* item = single(*n, v, path, rule_m + "Boolean", false, ip);
            if (item == nullptr) return;
            if (const json* b = representational(*n, *item, ip, json::value_t::boolean, "Boolean", "boolean")) n->writable = b->get<bool>();
            return;
        }
        case ValueKind::integer: {
            const json* item = single(*n, v, path, rule_m + "Integer", false, ip);
            if (item == nullptr) return;
            const json* i = representational(*n, *item, ip, json::value_t::number_integer, "Integer", "integer");
            if (i == nullptr) return;
            const auto value = i->is_number_unsigned() && i->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)
                                   ? INT64_MAX
                                   : i->get<std::int64_t>();
            if (m.min_value && value < *m.min_value)
                g_.error(*n, ip, rule_m + (m.min_value == m.max_value ? "ExactValue" : "MinValue"),
                         "\"" + std::string(m.term) + "\" is " + std::to_string(value) + "; must be at least " + std::to_string(*m.min_value));
            else if (m.max_value && value > *m.max_value)
                g_.error(*n, ip, rule_m + (m.min_value == m.max_value ? "ExactValue" : "MaxValue"),
                         "\"" + std::string(m.term) + "\" is " + std::to_string(value) + "; must be at most " + std::to_string(*m.max_value));
            (m.slot == Slot::min_multiplicity ? n->min_multiplicity : n->max_multiplicity) = value;
            return;
        }
        case ValueKind::literal: {
            const json* item = single(*n, v, path, rule_m + "SpecificValues", m.required, ip);
            if (item == nullptr) return;
            bool ok = false;
            if (item->is_string())
                for (auto lit : m.literals) ok = ok || item->get_ref<const std::string&>() == lit;
            if (!ok) {
                std::string allowed;
                for (auto lit : m.literals) allowed += (allowed.empty() ? "\"" : ", \"") + std::string(lit) + "\"";
                g_.error(*n, ip, rule_m + "SpecificValues", "value is " + describe(*item) + "; expected one of " + allowed);
                return;
            }
            const auto& s = item->get_ref<const std::string&>();
            if (m.slot == Slot::value_schema) n->value_schema = s.find("integer") != std::string::npos ? "integer" : "string";
            if (m.slot == Slot::schema) n->slot(Slot::schema).push_back(Ref{-1, "", SchemaKind::string, ip});
            return;
        }
        case ValueKind::dtmi: {
            const json* item = single(*n, v, path, rule_m + "IsDtmi", false, ip);
            if (item == nullptr) return;
            const auto shape = item->is_string() ? dtmi_shape(item->get_ref<const std::string&>()) : DtmiShape{};
            if (!shape.valid || shape.has_fragment || (ctx.version == 2 && (!shape.has_version || shape.has_minor))) {
                g_.error(*n, ip, rule_m + "IsDtmi", "\"" + std::string(m.term) + "\" is " + describe(*item) + "; expected a DTMI");
                return;
            }
            n->target = item->get<std::string>();
            return;
        }
        case ValueKind::enum_value: {
            const json* item = single(*n, v, path, rule_m + "Integer", true, ip);
            if (item == nullptr) return;
            n->enum_value = item;
            n->enum_value_path = ip;
            return;
        }
        case ValueKind::elements:
        case ValueKind::schema: break;
        }
        // Elements, dependent references and (for schema members) standard schema strings.
        std::vector<std::pair<const json*, std::string>> items;
        if (v.is_array()) {
            std::size_t i = 0;
            for (const auto& item : v) items.emplace_back(&item, path + "/" + std::to_string(i++));
            if (!m.many && (v.size() > 1 || (m.required && v.empty()))) {
                g_.error(*n, path, rule_m + "Element", std::string("expected ") + (m.required ? "exactly one" : "at most one") +
                                                          " value, found " + std::to_string(v.size()));
                return;
            }
        } else {
            items.emplace_back(&v, path);
        }
        int count = 0;
        for (const auto& [item, item_path] : items) {
            n = &g_.nodes[static_cast<std::size_t>(index)];
            if (item->is_object()) {
                ElementSite child{.path = item_path, .parent = index, .parent_slot = m.slot, .top_level = false,
                                  .allowed = m.classes, .allow_v2 = m.allow_v2, .context = &ctx,
                                  .nearest_id = n->nearest_id, .partition = n->partition,
                                  .in_schemas = m.slot == Slot::schemas};
                const int child_index = read_element(*item, child);
                g_.nodes[static_cast<std::size_t>(index)].slot(m.slot).push_back(Ref{child_index, "", std::nullopt, item_path});
                ++count;
                continue;
            }
            if (!item->is_string()) {
                g_.error(*n, item_path, rule_m + "Element", "value is " + describe(*item) + "; expected " +
                                                               (m.kind == ValueKind::schema ? "a schema name, " : "") +
                                                               "an element or a DTMI reference");
                continue;
            }
            const auto& s = item->get_ref<const std::string&>();
            if (m.kind == ValueKind::schema) {
                if (auto kind = standard_schema(s, ctx.version)) {
                    if (m.no_geospatial && is_geospatial(*kind)) {
                        g_.error(*n, item_path, rule_m + "ImpliedExclusion", "a DTDL v2 Property cannot have geospatial schema \"" + s + "\"");
                        continue;
                    }
                    if (s.find(':') != std::string::npos)
                        g_.warning(*n, item_path, "ValuePrimitiveSchemaTerm", "the term of schema \"" + s + "\" is preferred over its DTMI");
                    n->slot(m.slot).push_back(Ref{-1, "", kind, item_path});
                    ++count;
                    continue;
                }
                if (auto kind = extension_schema(s, ctx.extensions)) {
                    if (m.no_geospatial && *kind == SchemaKind::point) {
                        g_.error(*n, item_path, rule_m + "ImpliedExclusion", "a DTDL v2 Property cannot have geospatial schema \"" + s + "\"");
                        continue;
                    }
                    n->slot(m.slot).push_back(Ref{-1, "", kind, item_path});
                    ++count;
                    continue;
                }
            }
            const auto shape = dtmi_shape(s);
            if (!shape.valid || shape.has_fragment || s.substr(0, 10) == "dtmi:dtdl:" || s.substr(0, 14) == "dtmi:standard:" ||
                (ctx.version == 2 && !shape.has_version)) {
                if (n->informal && m.kind == ValueKind::schema && s.find(':') == std::string::npos &&
                    reserved(ctx.version).count(s) == 0) {
                    // a term an undefined extension may define
                    ++count;
                    continue;
                }
                g_.error(*n, item_path, rule_m + "Element",
                         "\"" + s + "\" is not " + (m.kind == ValueKind::schema ? "a known schema or " : "") +
                             "a DTMI reference to " + expected_of(m));
                continue;
            }
            n->slot(m.slot).push_back(Ref{-1, s, std::nullopt, item_path});
            ++count;
        }
        n = &g_.nodes[static_cast<std::size_t>(index)];
        if (m.min_count > 0 && count < m.min_count)
            g_.error(*n, path, rule_m + "MinCount", "\"" + std::string(m.term) + "\" needs at least " + std::to_string(m.min_count) + " value(s)");
    }

    static std::string expected_of(const MemberSpec& m) {
        std::string s;
        for (auto c : m.classes) s += (s.empty() ? "" : " or ") + std::string(class_name(c));
        return s;
    }
};

}  // namespace

void read_document(ModelGraph& graph, int doc, bool allow_undefined_extensions) {
    Reader reader(graph, doc, allow_undefined_extensions);
    reader.read_root();
}

}  // namespace twinsim::dtdl::detail
