// Rules that span elements: reference resolution and referenceability, paths to
// self, inheritance limits, name uniqueness over inherited contents, schema
// depth, Component nesting, Enum and Object member uniqueness, and the DTDL v3
// limits on an Interface's descendant values and on its JSON text.

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "twinsim/dtdl/detail/json_text.hpp"
#include "twinsim/dtdl/detail/model_graph.hpp"

namespace twinsim::dtdl::detail {
namespace {

std::string cls_rule(const Node& n) { return "Class" + std::string(class_name(n.cls)); }

const MemberSpec* member_for_slot(const Node& n, Slot s) {
    const auto& spec = metamodel(n.version)[static_cast<std::size_t>(n.cls)];
    for (const auto& m : spec.members)
        if (m.slot == s) return &m;
    return nullptr;
}

std::string slot_term(const Node& n, Slot s) {
    const auto* m = member_for_slot(n, s);
    return m ? std::string(m->term) : std::string("?");
}

// DTDL v3, "Limits and exclusions".
constexpr std::size_t max_descendant_values = 100000;
constexpr std::size_t max_extends_values = 1024;
constexpr std::size_t max_interface_text_bytes = std::size_t{1} << 20U;  // 1 MiB

// The members whose values the v3 limit of 100000 counts.
bool counted_slot(Slot s) noexcept {
    switch (s) {
    case Slot::contents:
    case Slot::fields:
    case Slot::enum_values:
    case Slot::request:
    case Slot::response:
    case Slot::properties:
    case Slot::schema:
    case Slot::element_schema:
    case Slot::map_value: return true;
    default: return false;
    }
}

std::string upper(std::string s) {
    if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
    return s;
}

class GraphChecker {
public:
    explicit GraphChecker(ModelGraph& g)
        : g_(g),
          flat_(g.nodes.size()),
          flat_done_(g.nodes.size(), 0),
          flat_seen_(g.nodes.size(), -1),
          first_component_(g.nodes.size(), unknown),
          extends_depth_(g.nodes.size(), unknown),
          extends_state_(g.nodes.size(), 0),
          schema_depth_(g.nodes.size(), unknown),
          on_path_(g.nodes.size(), 0),
          v2_clean_(g.nodes.size(), unknown),
          v2_query_(g.nodes.size(), -1),
          schema_seen_(g.nodes.size(), -1),
          own_values_(g.nodes.size(), 0),
          own_done_(g.nodes.size(), 0),
          successors_(g.nodes.size()),
          reached_by_(g.nodes.size(), -1),
          root_seen_(g.nodes.size(), -1),
          hierarchy_seen_(g.nodes.size(), -1) {}

    void run() {
        paths_to_self();
        for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
            const int idx = static_cast<int>(i);
            switch (g_.nodes[i].cls) {
            case Cls::Interface: interface_rules(idx); break;
            case Cls::Component: component_rules(idx); break;
            case Cls::Array:
            case Cls::Map:
            case Cls::Object: schema_depth_rules(idx); break;
            case Cls::Enum: enum_rules(idx); break;
            case Cls::Property: property_rules(idx); break;
            case Cls::Relationship: unique_names(idx, Slot::properties, "PropertyNameUniqueAmongRelationshipProperties"); break;
            default: break;
            }
            if (g_.nodes[i].cls == Cls::Object) unique_names(idx, Slot::fields, "PropertyNameUniqueAmongObjectFields");
        }
    }

private:
    // Every rule below runs once per element and may follow references into
    // other elements. To stay near-linear in model size, results that do not
    // depend on where a walk started are memoised per element, scratch buffers
    // are allocated once per model (never per element), and counts against a
    // limit stop once the limit is exceeded.
    static constexpr int unknown = -2;

    ModelGraph& g_;
    std::vector<std::vector<int>> flat_;   // flattened contents per interface
    std::vector<char> flat_done_;          // 0 = not yet, 1 = in progress, 2 = done
    std::vector<int> flat_seen_;           // flattened: the interface whose list last took each content
    std::vector<int> first_component_;     // per interface: first Component among its flattened contents, -1 none
    std::unordered_map<std::string, int> names_;  // interface_rules scratch: name -> content

    // extends_depth: the exact depth of elements whose "extends" closure has no
    // cycle; extends_state_ marks elements of the current walk (1 on the path,
    // 2 finished) and is reset through extends_touched_ after each walk, where
    // extends_walk_depth_ keeps the cycle-dependent depths for that walk only.
    std::vector<int> extends_depth_;
    std::vector<char> extends_state_;
    std::vector<int> extends_touched_;
    std::unordered_map<int, int> extends_walk_depth_;

    std::vector<int> schema_depth_;        // schema_depth: exact depth of elements whose schema tree has no cycle
    std::vector<char> on_path_;            // schema_depth: elements on the current path
    std::vector<int> v2_clean_;            // v2_clean: 1 clean, 0 not, memoised where no cycle is reached
    std::vector<int> v2_query_;            // v2_clean: the query that last visited each element
    int v2_queries_ = 0;
    std::vector<int> schema_seen_;         // property_rules: the Property whose walk last reached each element

    // descendant_values: per partition root (an Interface, or any element
    // referenced across partitions), the values counted in its own partition,
    // and the other partitions' roots it reaches.
    std::vector<std::size_t> own_values_;
    std::vector<char> own_done_;
    std::vector<std::vector<int>> successors_;
    std::vector<int> reached_by_;          // own_values: the root whose walk last reached each node
    std::vector<int> root_seen_;           // too_many_descendant_values: the interface whose walk last reached each root
    std::vector<int> hierarchy_seen_;      // too_many_extends_values: the interface whose walk last reached each one
    std::vector<int> todo_;                // own_values / too_many_extends_values scratch
    std::vector<int> roots_;               // too_many_descendant_values scratch

    Node& node(int i) { return g_.nodes[static_cast<std::size_t>(i)]; }

    // NoPathToSelf: a cycle through inclusion or referential inclusion.
    void paths_to_self() {
        const std::size_t n = g_.nodes.size();
        std::vector<char> color(n, 0);
        struct Frame {
            int node;
            std::size_t slot = 0;
            std::size_t item = 0;
        };
        std::vector<Frame> stack;
        std::vector<char> reported(n, 0);
        for (std::size_t root = 0; root < n; ++root) {
            if (color[root] != 0) continue;
            stack.push_back({static_cast<int>(root)});
            color[root] = 1;
            while (!stack.empty()) {
                auto& f = stack.back();
                auto& refs = node(f.node).refs;
                if (f.slot >= refs.size()) {
                    color[static_cast<std::size_t>(f.node)] = 2;
                    stack.pop_back();
                    continue;
                }
                auto& items = refs[f.slot].second;
                if (f.item >= items.size()) {
                    ++f.slot;
                    f.item = 0;
                    continue;
                }
                const Slot slot = refs[f.slot].first;
                const Ref& r = items[f.item++];
                if (r.node < 0) continue;
                const auto c = static_cast<std::size_t>(r.node);
                if (color[c] == 1) {
                    if (reported[c] == 0) {
                        reported[c] = 1;
                        const Node& target = node(r.node);
                        std::string rule = "NoPathToSelf";
                        if (slot == Slot::extends) rule = "ClassInterfacePropertiesExtendsSelfReference";
                        else if (slot == Slot::schema || slot == Slot::element_schema)
                            rule = cls_rule(target) + "PropertiesElementSchemaSchemaSelfReference";
                        g_.error(target, target.path, rule,
                                 "element " + (target.id.empty() ? std::string("at ") + target.path : target.id) +
                                     " has a path to itself (through \"" + slot_term(node(f.node), slot) + "\")");
                    }
                    continue;
                }
                if (color[c] == 0) {
                    color[c] = 1;
                    stack.push_back({r.node});
                }
            }
        }
    }

    // Calls f(b) for each Interface that interface i extends.
    template <typename F>
    void for_each_base(int i, F&& f) {
        if (const auto* ext = node(i).find(Slot::extends))
            for (const auto& r : *ext)
                if (r.node >= 0 && node(r.node).cls == Cls::Interface) f(r.node);
    }

    // Longest chain of "extends" from i (cycles cut). Within one walk each
    // element is computed once; an element whose closure reaches no cycle
    // (`exact` stays true) has the same depth from every walk, so it is kept
    // for all of them.
    int depth(int i, bool& exact) {
        const auto k = static_cast<std::size_t>(i);
        if (extends_depth_[k] != unknown) return extends_depth_[k];
        if (extends_state_[k] == 1) {
            exact = false;
            return 0;
        }
        if (extends_state_[k] == 2) {  // finished in this walk, but cycle-dependent
            exact = false;
            return extends_walk_depth_.at(i);
        }
        extends_state_[k] = 1;
        extends_touched_.push_back(i);
        int d = 0;
        bool all_exact = true;
        for_each_base(i, [&](int b) { d = std::max(d, 1 + depth(b, all_exact)); });
        extends_state_[k] = 2;
        if (all_exact) extends_depth_[k] = d;
        else extends_walk_depth_[i] = d;
        exact = exact && all_exact;
        return d;
    }

    int extends_depth(int i) {
        bool exact = true;
        const int d = depth(i, exact);
        for (int t : extends_touched_) extends_state_[static_cast<std::size_t>(t)] = 0;
        extends_touched_.clear();
        extends_walk_depth_.clear();
        return d;
    }

    // Contents of interface i including those inherited, each element once.
    const std::vector<int>& flattened(int i) {
        auto& done = flat_done_[static_cast<std::size_t>(i)];
        auto& out = flat_[static_cast<std::size_t>(i)];
        if (done != 0) return out;
        done = 1;
        // The bases first (recursively), so the marks below are this interface's alone.
        for_each_base(i, [&](int b) {
            if (flat_done_[static_cast<std::size_t>(b)] != 1) (void)flattened(b);  // 1: a cycle, reported elsewhere
        });
        auto take = [&](int c) {
            auto& seen = flat_seen_[static_cast<std::size_t>(c)];
            if (seen == i) return;
            seen = i;
            out.push_back(c);
        };
        if (const auto* contents = node(i).find(Slot::contents))
            for (const auto& r : *contents)
                if (r.node >= 0) take(r.node);
        for_each_base(i, [&](int b) {
            if (flat_done_[static_cast<std::size_t>(b)] != 2) return;  // a cycle, reported elsewhere
            for (int c : flat_[static_cast<std::size_t>(b)]) take(c);
        });
        done = 2;
        return out;
    }

    // The first Component among the flattened contents of interface i, or -1.
    int first_component(int i) {
        auto& memo = first_component_[static_cast<std::size_t>(i)];
        if (memo == unknown) {
            memo = -1;
            for (int c : flattened(i))
                if (node(c).cls == Cls::Component) {
                    memo = c;
                    break;
                }
        }
        return memo;
    }

    // Whether b belongs to the partition of root r (see Node::partition).
    bool same_partition(int r, int b) {
        const Node& x = node(r);
        const Node& y = node(b);
        return x.partition == y.partition;  // partitions are unique across documents
    }

    // The values of the counted members (counted_slot) over the elements that
    // root r reaches through those members and "extends" without leaving its
    // partition; the roots of other partitions it reaches go to successors_[r].
    // References across partitions only reach Interfaces and top-level
    // elements (DependencyReferenceable), which start their own partitions, so
    // a partition is only ever entered at its root and these counts do not
    // depend on where a walk came from.
    std::size_t own_values(int r) {
        const auto k = static_cast<std::size_t>(r);
        if (own_done_[k] != 0) return own_values_[k];
        own_done_[k] = 1;
        std::size_t total = 0;
        todo_.clear();
        todo_.push_back(r);
        reached_by_[k] = r;
        while (!todo_.empty()) {
            const int n = todo_.back();
            todo_.pop_back();
            for (const auto& [slot, refs] : node(n).refs) {
                const bool counted = counted_slot(slot);
                if (!counted && slot != Slot::extends) continue;
                if (counted) total += refs.size();
                for (const auto& ref : refs) {
                    if (ref.node < 0) continue;
                    if (!same_partition(r, ref.node)) {
                        successors_[k].push_back(ref.node);
                        continue;
                    }
                    auto& seen = reached_by_[static_cast<std::size_t>(ref.node)];
                    if (seen == r) continue;
                    seen = r;
                    todo_.push_back(ref.node);
                }
            }
        }
        own_values_[k] = total;
        return total;
    }

    // Whether the number of values of the counted members (counted_slot) over
    // the union of all paths of those members from interface i, following
    // "extends" too (from i and from any interface reached, e.g. a Component's
    // schema) without counting its values, exceeds max_descendant_values. Each
    // element is visited once, so a schema referenced from two places counts
    // once: it is one path segment in the union. The union is the sum of
    // own_values() over the partition roots reached; the walk over them stops
    // as soon as the limit is exceeded.
    bool too_many_descendant_values(int i) {
        roots_.clear();
        roots_.push_back(i);
        root_seen_[static_cast<std::size_t>(i)] = i;
        std::size_t total = 0;
        for (std::size_t next = 0; next < roots_.size(); ++next) {
            const int r = roots_[next];
            total += own_values(r);
            if (total > max_descendant_values) return true;
            for (const int b : successors_[static_cast<std::size_t>(r)]) {
                auto& seen = root_seen_[static_cast<std::size_t>(b)];
                if (seen == i) continue;
                seen = i;
                roots_.push_back(b);
            }
        }
        return false;
    }

    // Whether the "extends" values of interface i and of every interface in its
    // hierarchy (each counted once) exceed max_extends_values. Every interface
    // reached but i comes from one such value, so the walk stops after at most
    // max_extends_values + 1 of them.
    bool too_many_extends_values(int i) {
        std::size_t total = 0;
        todo_.clear();
        todo_.push_back(i);
        hierarchy_seen_[static_cast<std::size_t>(i)] = i;
        for (std::size_t next = 0; next < todo_.size(); ++next) {
            const int k = todo_[next];
            if (const auto* e = node(k).find(Slot::extends)) total += e->size();
            if (total > max_extends_values) return true;
            for_each_base(k, [&](int b) {
                auto& seen = hierarchy_seen_[static_cast<std::size_t>(b)];
                if (seen == i) return;
                seen = i;
                todo_.push_back(b);
            });
        }
        return false;
    }

    void interface_rules(int i) {
        Node& n = node(i);
        if (n.version == 3 && too_many_descendant_values(i))
            g_.error(n, n.path, "ClassInterfacePropertiesDescendantValuesMaxCount",
                     std::string("interface ") + (n.id.empty() ? std::string("at ") + n.path : n.id) + " holds more than " +
                         std::to_string(max_descendant_values) +
                         " values of contents/fields/enumValues/request/response/properties/schema/elementSchema/mapValue"
                         " (own, nested and inherited through extends); at most " +
                         std::to_string(max_descendant_values) + " allowed");
        const auto* ext = n.find(Slot::extends);
        if (ext != nullptr) check_max_count(n, Slot::extends, ext->size());
        if (ext != nullptr && !ext->empty()) {
            const int d = extends_depth(i);
            if (d > 10)
                g_.error(n, n.path + "/extends", "ClassInterfacePropertiesExtendsMaxDepth",
                         "the chain of \"extends\" is " + std::to_string(d) + " deep; at most 10 allowed");
            if (n.version == 3 && too_many_extends_values(i))
                g_.error(n, n.path + "/extends", "ClassInterfacePropertiesExtendsMaxCount",
                         "the \"extends\" hierarchy holds more than " + std::to_string(max_extends_values) +
                             " values; at most " + std::to_string(max_extends_values) + " allowed");
        }
        const auto& contents = flattened(i);
        check_max_count(n, Slot::contents, contents.size(), " (own and inherited)");
        auto& names = names_;
        names.clear();
        for (int c : contents) {
            const Node& cn = node(c);
            if (!cn.has_name) continue;
            auto [it, inserted] = names.emplace(cn.name, c);
            if (!inserted) {
                const Node& other = node(it->second);
                const bool own_c = cn.parent == i;
                g_.error(n, own_c ? cn.path + "/name" : n.path, cls_rule(cn) + "PropertyNameUniqueAmongInterfaceContents",
                         "name \"" + cn.name + "\" is used by two contents of interface " + n.id +
                             (own_c && other.parent == i ? "" : " (including inherited ones: " + other.nearest_id + " and " + cn.nearest_id + ")"));
            }
        }
        for (int c : contents) {
            const Node& cn = node(c);
            if (!cn.value_annotation || cn.parent != i) continue;
            const Node* annotated = nullptr;
            if (cn.annotates.empty()) {
                g_.error(cn, cn.path, "ValueAnnotationAnnotatesRequired", "a ValueAnnotation needs \"annotates\"");
            } else if (const auto it = names.find(cn.annotates); it == names.end() || cn.annotates == cn.name) {
                g_.error(cn, cn.path + "/annotates", "ValueAnnotationAnnotatesSibling",
                         "\"annotates\" names \"" + cn.annotates + "\", which is no other content of the interface");
            } else if (const Node& t = node(it->second); t.cls != Cls::Property && t.cls != Cls::Telemetry) {
                g_.error(cn, cn.path + "/annotates", "ValueAnnotationAnnotatesPropertyOrTelemetry",
                         "\"annotates\" names \"" + cn.annotates + "\", a " + std::string(class_name(t.cls)) +
                             "; only a Property or Telemetry can be annotated");
            } else {
                annotated = &t;
            }
            if (!cn.override_) continue;
            if (cn.overrides.empty()) g_.error(cn, cn.path, "OverrideOverridesRequired", "an Override needs \"overrides\"");
            else if (annotated != nullptr) override_rules(cn, *annotated);
        }
        for (int c : contents) {
            const Node& cn = node(c);
            if (cn.override_ && !cn.value_annotation && cn.parent == i)
                g_.error(cn, cn.path, "OverrideRequiresValueAnnotation", "Override may co-type only a Property also co-typed ValueAnnotation");
        }
    }

    // Overriding v1: "overrides" (already resolved to an extension property's
    // term by the reader) must be a property the annotated element's co-types
    // define, from an extension of the Override's own DTDL version.
    void override_rules(const Node& o, const Node& annotated) {
        const std::string& p = o.overrides;
        if (annotated.informal) return;  // an undefined extension may define it
        const bool defined = (p == "unit" && annotated.semantic) || (p == "annotates" && annotated.value_annotation) ||
                             (p == "overrides" && annotated.override_);
        if (!defined) {
            g_.error(o, o.path + "/overrides", "OverrideOverridesPropertyOfAnnotated",
                     "\"overrides\" names \"" + p + "\", which is no extension property of \"" + annotated.name +
                         "\" (its co-types do not define it)");
        } else if (annotated.version != o.version) {
            g_.error(o, o.path + "/overrides", "OverrideOverridesExtensionVersion",
                     "\"" + annotated.name + "\" is a DTDL v" + std::to_string(annotated.version) + " element whose \"" + p +
                         "\" comes from DTDL v" + std::to_string(annotated.version) + "; an Override in DTDL v" +
                         std::to_string(o.version) + " may only override properties of DTDL v" + std::to_string(o.version) +
                         " extensions");
        }
    }

    // The metamodel's count limit of member `slot` (MemberSpec::max_count, DTDL
    // v2 only), checked against `count` values; `counted` says what counts.
    void check_max_count(const Node& n, Slot slot, std::size_t count, std::string_view counted = "") {
        const MemberSpec* m = member_for_slot(n, slot);
        if (m == nullptr || m->max_count <= 0 || count <= static_cast<std::size_t>(m->max_count)) return;
        const std::string term(m->term);
        g_.error(n, n.path + "/" + term, cls_rule(n) + "Property" + upper(term) + "MaxCount",
                 "a DTDL v" + std::to_string(n.version) + " " + std::string(class_name(n.cls)) + " may hold at most " +
                     std::to_string(m->max_count) + " values in \"" + term + "\"" + std::string(counted) + ", found " +
                     std::to_string(count));
    }

    void component_rules(int i) {
        const Node& n = node(i);
        const auto* schema = n.find(Slot::schema);
        if (schema == nullptr) return;
        for (const auto& r : *schema) {
            if (r.node < 0 || node(r.node).cls != Cls::Interface) continue;
            if (const int c = first_component(r.node); c >= 0) {
                g_.error(n, r.path, "ClassComponentPropertiesSchemaContentsExcludeComponent",
                         "component \"" + n.name + "\" has schema " + node(r.node).id +
                             ", which itself contains component \"" + node(c).name + "\"; components cannot nest");
                return;
            }
        }
    }

    // Longest count of "schema"/"elementSchema" members along paths from i
    // (paths through an element already on the path are cut). An element from
    // which no cycle is reachable (`exact` stays true) has the same depth on
    // every path, so it is computed once.
    int schema_depth(int i, bool& exact) {
        const auto k = static_cast<std::size_t>(i);
        if (schema_depth_[k] != unknown) return schema_depth_[k];
        if (on_path_[k] != 0) {
            exact = false;
            return 0;
        }
        on_path_[k] = 1;
        int best = 0;
        bool all_exact = true;
        for (const auto& [slot, refs] : node(i).refs) {
            const int w = (slot == Slot::schema || slot == Slot::element_schema) ? 1 : 0;
            if (slot != Slot::schema && slot != Slot::element_schema && slot != Slot::fields && slot != Slot::map_value &&
                slot != Slot::map_key && slot != Slot::enum_values)
                continue;
            for (const auto& r : refs) {
                if (r.node >= 0) best = std::max(best, w + schema_depth(r.node, all_exact));
                else if (r.standard) best = std::max(best, w);  // a standard schema ends the path
            }
        }
        on_path_[k] = 0;
        if (all_exact) schema_depth_[k] = best;
        exact = exact && all_exact;
        return best;
    }

    void schema_depth_rules(int i) {
        // Only the outermost complex schema of a nest needs the check.
        const Node& n = node(i);
        if (n.parent >= 0) {
            const Cls pc = node(n.parent).cls;
            if (pc == Cls::Array || pc == Cls::Field || pc == Cls::MapValue) return;
        }
        bool exact = true;
        const int d = schema_depth(i, exact);
        if (d > 5)
            g_.error(n, n.path, cls_rule(n) + "PropertiesElementSchemaSchemaMaxDepth",
                     "schemas nest " + std::to_string(d) + " levels deep (\"schema\"/\"elementSchema\"); at most 5 allowed");
    }

    void enum_rules(int i) {
        const Node& n = node(i);
        const auto* values = n.find(Slot::enum_values);
        if (values == nullptr) return;
        check_max_count(n, Slot::enum_values, values->size());
        std::unordered_set<std::string> names;
        std::set<std::string> literal_values;
        for (const auto& r : *values) {
            if (r.node < 0) continue;
            const Node& v = node(r.node);
            if (v.cls != Cls::EnumValue) continue;
            if (v.has_name && !names.insert(v.name).second)
                g_.error(v, v.path + "/name", "ClassEnumValuePropertyNameUniqueAmongEnumEnumValues",
                         "enum value name \"" + v.name + "\" is used twice in the Enum");
            if (v.enum_value == nullptr || n.value_schema.empty()) continue;
            const nlohmann::json* lit = v.enum_value;
            bool obj_ok = true;
            if (lit->is_object()) {
                // representational value object
                auto it = lit->find("@value");
                bool keys_ok = it != lit->end();
                for (auto k = lit->begin(); k != lit->end(); ++k)
                    keys_ok = keys_ok && (k.key() == "@value" || k.key() == "@type");
                if (auto t = lit->find("@type"); t != lit->end()) {
                    const std::string want = n.value_schema == "integer" ? "integer" : "string";
                    keys_ok = keys_ok && t->is_string() &&
                              (t->get_ref<const std::string&>() == "xsd:" + want ||
                               t->get_ref<const std::string&>() == "http://www.w3.org/2001/XMLSchema#" + want);
                }
                obj_ok = keys_ok;
                lit = keys_ok ? &*it : nullptr;
            }
            const bool want_int = n.value_schema == "integer";
            if (!obj_ok || lit == nullptr || (want_int ? !lit->is_number_integer() : !lit->is_string())) {
                g_.error(v, v.enum_value_path, std::string("ClassEnumValuePropertyEnumValue") + (want_int ? "Integer" : "String"),
                         std::string("enumValue must be ") + (want_int ? "an integer" : "a string") +
                             " because the Enum's valueSchema is " + n.value_schema);
                continue;
            }
            const std::string key = lit->dump();
            if (!literal_values.insert(key).second)
                g_.error(v, v.enum_value_path, "ClassEnumValuePropertyEnumValueUniqueAmongEnumEnumValues",
                         "enumValue " + key + " is used twice in the Enum");
        }
    }

    void unique_names(int i, Slot slot, const char* rule_suffix) {
        const Node& n = node(i);
        const auto* items = n.find(slot);
        if (items == nullptr) return;
        check_max_count(n, slot, items->size());
        std::unordered_set<std::string> names;
        for (const auto& r : *items) {
            if (r.node < 0) continue;
            const Node& c = node(r.node);
            if (c.has_name && !names.insert(c.name).second)
                g_.error(c, c.path + "/name", cls_rule(c) + rule_suffix, "name \"" + c.name + "\" is used twice");
        }
    }

    static bool v2_schema_slot(Slot slot) noexcept {
        return slot == Slot::schema || slot == Slot::element_schema || slot == Slot::fields || slot == Slot::map_value;
    }

    // Whether the schema tree below element i (not i itself) holds neither an
    // Array nor a geospatial schema. Within one query (`query`) each element is
    // visited once; the answer is kept per element unless it depended on an
    // element met earlier in the same query (`exact`), which only a cycle causes.
    bool v2_clean(int i, int query, bool& exact) {
        const auto k = static_cast<std::size_t>(i);
        if (v2_clean_[k] != unknown) return v2_clean_[k] == 1;
        if (v2_query_[k] == query) {
            exact = false;
            return true;
        }
        v2_query_[k] = query;
        bool clean = true;
        bool all_exact = true;
        for (const auto& [slot, refs] : node(i).refs) {
            if (!v2_schema_slot(slot)) continue;
            for (const auto& r : refs) {
                if (r.standard && is_geospatial(*r.standard)) clean = false;
                else if (r.node >= 0) clean = node(r.node).cls != Cls::Array && v2_clean(r.node, query, all_exact);
                if (!clean) break;
            }
            if (!clean) break;
        }
        // A finding is final; only "clean" can be an artefact of a cut cycle.
        if (!clean || all_exact) v2_clean_[k] = clean ? 1 : 0;
        exact = exact && (all_exact || !clean);
        return clean;
    }

    // DTDL v2: a Property's schema tree may hold neither Arrays nor geospatial
    // schemas. The walk reports the first offender it meets; it skips the
    // elements known to hold none (which changes neither the order in which it
    // meets the others nor which is first).
    void property_rules(int i) {
        const Node& p = node(i);
        if (p.version != 2) return;
        todo_.clear();
        todo_.push_back(i);
        schema_seen_[static_cast<std::size_t>(i)] = i;
        while (!todo_.empty()) {
            const int k = todo_.back();
            todo_.pop_back();
            for (const auto& [slot, refs] : node(k).refs) {
                if (!v2_schema_slot(slot)) continue;
                for (const auto& r : refs) {
                    if (r.standard && is_geospatial(*r.standard) && k != i) {
                        g_.error(p, r.path, "ClassPropertyPropertiesSchemaExcludeArrayImplicant",
                                 "a DTDL v2 Property's schema cannot contain a geospatial schema");
                        return;
                    }
                    if (r.node < 0) continue;
                    if (node(r.node).cls == Cls::Array) {
                        g_.error(p, r.path, "ClassPropertyPropertiesSchemaExcludeArray",
                                 "a DTDL v2 Property's schema cannot contain an Array");
                        return;
                    }
                    auto& seen = schema_seen_[static_cast<std::size_t>(r.node)];
                    if (seen == i) continue;
                    seen = i;
                    bool exact = true;
                    if (!v2_clean(r.node, v2_queries_++, exact)) todo_.push_back(r.node);
                }
            }
        }
    }
};

}  // namespace

std::vector<std::string> link_references(ModelGraph& g) {
    g.by_id.clear();
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        if (n.id.empty()) continue;
        auto [it, inserted] = g.by_id.emplace(n.id, static_cast<int>(i));
        if (!inserted)
            g.error(n, n.path + "/@id", "Class" + std::string(class_name(n.cls)) + "IdDuplicate",
                    "\"@id\" " + n.id + " is already used by the element at " + g.sources[static_cast<std::size_t>(g.nodes[static_cast<std::size_t>(it->second)].doc)] +
                        g.nodes[static_cast<std::size_t>(it->second)].path);
    }
    std::set<std::string> unresolved;
    for (auto& n : g.nodes) {
        for (auto& [slot, refs] : n.refs) {
            for (auto& r : refs) {
                if (r.id.empty()) continue;
                auto it = g.by_id.find(r.id);
                if (it == g.by_id.end()) {
                    unresolved.insert(r.id);
                    continue;
                }
                r.node = it->second;
                const Node& t = g.nodes[static_cast<std::size_t>(r.node)];
                const MemberSpec* m = member_for_slot(n, slot);
                if (m == nullptr) continue;
                bool ok = std::find(m->classes.begin(), m->classes.end(), t.cls) != m->classes.end();
                if (t.version == 3 && n.version == 2) ok = false;
                if (t.version == 2 && n.version == 3 && !m->allow_v2) ok = false;
                const std::string rule = "Class" + std::string(class_name(n.cls)) + "Property" + upper(std::string(m->term));
                if (!ok) {
                    std::string expected;
                    for (auto c : m->classes) expected += (expected.empty() ? "" : " or ") + std::string(class_name(c));
                    g.error(n, r.path, rule + "TypeConformance",
                            r.id + " is a DTDL v" + std::to_string(t.version) + " " + std::string(class_name(t.cls)) +
                                "; \"" + std::string(m->term) + "\" of a DTDL v" + std::to_string(n.version) + " " +
                                std::string(class_name(n.cls)) + " needs " + expected +
                                (n.version == 2 ? " of DTDL v2" : ""));
                    r.node = -1;
                    continue;
                }
                const bool referenceable = t.top_level || t.cls == Cls::Interface || t.partition == n.partition;
                if (!referenceable) {
                    g.error(n, r.path, "DependencyReferenceable",
                            r.id + " is defined inside another interface and cannot be referenced from here");
                    r.node = -1;
                }
            }
        }
    }
    return {unresolved.begin(), unresolved.end()};
}

std::vector<std::string> unresolved_ids(const ModelGraph& g) {
    std::unordered_set<std::string_view> ids;
    for (const auto& n : g.nodes)
        if (!n.id.empty()) ids.insert(n.id);
    std::set<std::string> out;
    for (const auto& n : g.nodes)
        for (const auto& [slot, refs] : n.refs)
            for (const auto& r : refs)
                if (!r.id.empty() && ids.count(r.id) == 0) out.insert(r.id);
    return {out.begin(), out.end()};
}

void check_graph(ModelGraph& graph) {
    GraphChecker checker(graph);
    checker.run();
}

void check_interface_text_sizes(ModelGraph& g, int doc, std::string_view text) {
    // No Interface can be longer than its document: most documents need no scan.
    if (text.size() <= max_interface_text_bytes) return;
    std::vector<int> interfaces;
    std::vector<std::string> pointers;
    std::unordered_map<int, std::size_t> position;  // node -> index in `interfaces`
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
        const Node& n = g.nodes[i];
        if (n.doc != doc || n.cls != Cls::Interface) continue;
        position.emplace(static_cast<int>(i), interfaces.size());
        interfaces.push_back(static_cast<int>(i));
        pointers.push_back(n.path);
    }
    if (interfaces.empty()) return;
    const std::vector<std::size_t> lengths = object_lengths(text, pointers);
    // An Interface's own text excludes its descendant Interfaces: subtract each
    // one from its nearest Interface ancestor (whose span already excludes
    // deeper ones in turn).
    std::vector<std::size_t> own = lengths;
    for (std::size_t k = 0; k < interfaces.size(); ++k) {
        for (int p = g.nodes[static_cast<std::size_t>(interfaces[k])].parent; p >= 0; p = g.nodes[static_cast<std::size_t>(p)].parent) {
            if (g.nodes[static_cast<std::size_t>(p)].cls != Cls::Interface) continue;
            if (auto it = position.find(p); it != position.end() && own[it->second] >= lengths[k]) own[it->second] -= lengths[k];
            break;
        }
    }
    for (std::size_t k = 0; k < interfaces.size(); ++k) {
        const Node& n = g.nodes[static_cast<std::size_t>(interfaces[k])];
        if (n.version != 3 || own[k] <= max_interface_text_bytes) continue;
        g.error(n, n.path, "ClassInterfaceJsonTextMaxSize",
                std::string("the JSON text of interface ") + (n.id.empty() ? std::string("at ") + (n.path.empty() ? "/" : n.path) : n.id) +
                    " is " + std::to_string(own[k]) + " bytes (braces included, descendant interfaces excluded); at most " +
                    std::to_string(max_interface_text_bytes) + " bytes (1 MiB) allowed");
    }
}

}  // namespace twinsim::dtdl::detail
