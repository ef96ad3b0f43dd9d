// Compiling validated DTDL interfaces into the immutable ModelSet: dense
// indices, inheritance resolved once, sorted ancestor sets for is_a and
// property layouts.

#include "twinsim/dtdl/model_set.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>

namespace twinsim::dtdl {

const char* to_string(ColumnType t) noexcept {
    switch (t) {
        case ColumnType::boolean: return "boolean";
        case ColumnType::int64: return "int64";
        case ColumnType::float64: return "float64";
        case ColumnType::string: return "string";
        case ColumnType::json: return "json";
    }
    return "unknown";
}

namespace {

// Binary search in an index sorted by name; `name_of(i)` gives the i-th name.
template <class NameOf>
std::optional<std::uint32_t> find_sorted(const std::vector<std::uint32_t>& order, std::string_view name,
                                         NameOf name_of) {
    auto it = std::lower_bound(order.begin(), order.end(), name,
                               [&](std::uint32_t i, std::string_view n) { return name_of(i) < n; });
    if (it == order.end() || name_of(*it) != name) return std::nullopt;
    return *it;
}

template <class NameOf>
std::vector<std::uint32_t> sorted_by_name(std::size_t n, NameOf name_of) {
    std::vector<std::uint32_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
    std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return name_of(a) < name_of(b); });
    return order;
}

ColumnType column_type_of(const Schema* schema) {
    // A property always has a schema once validated; json is the safe column
    // for anything unexpected because it can hold every value.
    if (schema == nullptr) return ColumnType::json;
    switch (schema->kind) {
        case SchemaKind::boolean: return ColumnType::boolean;
        case SchemaKind::integer:
        case SchemaKind::long_: return ColumnType::int64;
        case SchemaKind::double_:
        case SchemaKind::float_: return ColumnType::float64;
        case SchemaKind::string:
        case SchemaKind::date:
        case SchemaKind::date_time:
        case SchemaKind::duration:
        case SchemaKind::time: return ColumnType::string;
        case SchemaKind::enum_:
            return schema->enum_value_schema == SchemaKind::string ? ColumnType::string : ColumnType::int64;
        default: return ColumnType::json;  // Object, Map, Array, geospatial
    }
}

[[noreturn]] void broken_precondition(const Interface& in, std::string message) {
    Diagnostic d;
    d.file = in.file;
    d.id = in.id;
    d.message = std::move(message);
    throw ModelError({std::move(d)}, {});
}

}  // namespace

ModelSet::~ModelSet() = default;

const PropertySlot* PropertyLayout::find(std::string_view name) const {
    if (by_name.size() != slots.size()) {
        for (const auto& s : slots)
            if (s.name == name) return &s;
        return nullptr;
    }
    auto i = find_sorted(by_name, name, [&](std::uint32_t k) -> std::string_view { return slots[k].name; });
    return i ? &slots[*i] : nullptr;
}

const Content* CompiledInterface::find(std::string_view name) const {
    if (contents_by_name.size() != contents.size()) {
        for (const Content* c : contents)
            if (c->name == name) return c;
        return nullptr;
    }
    auto i = find_sorted(contents_by_name, name,
                         [&](std::uint32_t k) -> std::string_view { return contents[k]->name; });
    return i ? contents[*i] : nullptr;
}

std::shared_ptr<const ModelSet> ModelSet::compile(std::span<const Document> documents, const ParseOptions& options) {
    ParseResult result = parse(documents, options);
    if (!result.valid()) throw ModelError(result.errors(), std::move(result.unresolved));
    std::vector<Diagnostic> warnings;
    for (auto& d : result.diagnostics)
        if (d.severity == Severity::warning) warnings.push_back(std::move(d));
    return from_interfaces(std::move(result.interfaces), std::move(warnings));
}

std::shared_ptr<const ModelSet> ModelSet::from_files(std::span<const std::filesystem::path> paths,
                                                     const ParseOptions& options) {
    const std::vector<Document> documents = read_documents(paths);
    return compile(documents, options);
}

std::shared_ptr<const ModelSet> ModelSet::from_interfaces(std::vector<Interface> interfaces,
                                                          std::vector<Diagnostic> warnings) {
    // The constructor is private, so make_shared cannot reach it.
    std::shared_ptr<ModelSet> set(new ModelSet());
    set->warnings_ = std::move(warnings);

    // Sorting by DTMI makes indices independent of document order. The vector
    // is never resized afterwards, so Interface/Content pointers stay valid.
    std::sort(interfaces.begin(), interfaces.end(),
              [](const Interface& a, const Interface& b) { return a.id < b.id; });
    set->definitions_ = std::move(interfaces);
    const auto& defs = set->definitions_;
    const std::size_t n = defs.size();

    set->by_id_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (!set->by_id_.emplace(defs[i].id, static_cast<InterfaceIndex>(i)).second)
            broken_precondition(defs[i], "interface '" + defs[i].id + "' is defined more than once");
    }

    auto& compiled = set->compiled_;
    compiled.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const Interface& in = defs[i];
        auto& ci = compiled[i];
        ci.index = static_cast<InterfaceIndex>(i);
        ci.definition = &in;
        ci.bases.reserve(in.extends.size());
        for (const auto& base : in.extends) {
            auto it = set->by_id_.find(base);
            if (it == set->by_id_.end())
                broken_precondition(in, "interface '" + in.id + "' extends '" + base + "', which is not in the set");
            ci.bases.push_back(it->second);
        }
        for (const auto& c : in.contents) {
            if (c.kind == ContentKind::component && !set->by_id_.contains(c.component_interface))
                broken_precondition(in, "component '" + c.name + "' of '" + in.id + "' uses interface '" +
                                            c.component_interface + "', which is not in the set");
        }
    }

    // Base-first linearisation of every interface (see PropertyLayout), by an
    // iterative DFS so a deep hierarchy cannot overflow the stack. `state`
    // detects cycles: 0 unvisited, 1 on the current path, 2 emitted.
    std::vector<std::uint8_t> state(n, 0);
    std::vector<InterfaceIndex> order;
    std::vector<std::pair<InterfaceIndex, std::size_t>> stack;  // (interface, next base to visit)
    // Only the entries touched are reset afterwards, keeping the whole build
    // proportional to the sum of ancestor counts rather than n squared.
    auto linearise = [&](InterfaceIndex root) {
        for (InterfaceIndex k : order) state[k] = 0;
        order.clear();
        stack.assign(1, {root, 0});
        state[root] = 1;
        while (!stack.empty()) {
            auto& [cur, next] = stack.back();
            const auto& bases = compiled[cur].bases;
            if (next < bases.size()) {
                const InterfaceIndex b = bases[next++];
                if (state[b] == 1)
                    broken_precondition(defs[root], "interface '" + defs[root].id +
                                                        "' inherits from itself through '" + defs[b].id + "'");
                if (state[b] == 0) {
                    state[b] = 1;
                    stack.emplace_back(b, 0);  // invalidates cur/next; the loop re-reads back()
                }
                continue;
            }
            state[cur] = 2;
            order.push_back(cur);
            stack.pop_back();
        }
    };

    set->is_a_offsets_.reserve(n + 1);
    set->is_a_offsets_.push_back(0);
    std::vector<InterfaceIndex> queue;
    std::vector<std::uint8_t> seen(n, 0);
    std::unordered_map<std::string_view, const Content*> names;

    for (std::size_t i = 0; i < n; ++i) {
        auto& ci = compiled[i];
        const auto self = static_cast<InterfaceIndex>(i);

        // Ancestors nearest first: breadth-first over bases in declaration order.
        seen[i] = 1;
        queue.assign(ci.bases.begin(), ci.bases.end());
        for (std::size_t q = 0; q < queue.size(); ++q) {
            const InterfaceIndex a = queue[q];
            if (seen[a] != 0) continue;
            seen[a] = 1;
            ci.ancestors.push_back(a);
            queue.insert(queue.end(), compiled[a].bases.begin(), compiled[a].bases.end());
        }

        seen[i] = 0;
        for (InterfaceIndex a : ci.ancestors) seen[a] = 0;

        auto& flat = set->is_a_ancestors_;
        const auto first = static_cast<std::ptrdiff_t>(flat.size());
        flat.push_back(self);
        flat.insert(flat.end(), ci.ancestors.begin(), ci.ancestors.end());
        std::sort(flat.begin() + first, flat.end());
        set->is_a_offsets_.push_back(flat.size());

        // Flattened contents. Each interface appears once in the linearisation,
        // so a diamond's shared base contributes its contents once.
        linearise(self);
        names.clear();
        for (InterfaceIndex k : order) {
            for (const Content& c : defs[k].contents) {
                auto [it, inserted] = names.emplace(c.name, &c);
                if (!inserted)
                    broken_precondition(defs[i], "interface '" + defs[i].id + "' has two contents named '" + c.name +
                                                     "' (from '" + defs[k].id + "' and another interface)");
                ci.contents.push_back(&c);
                if (c.kind != ContentKind::property) continue;
                PropertySlot slot;
                slot.name = c.name;
                slot.column = static_cast<std::uint32_t>(ci.layout.slots.size());
                slot.type = column_type_of(c.schema.get());
                slot.property = &c;
                slot.declared_in = defs[k].id;
                slot.writable = c.writable;
                ci.layout.slots.push_back(std::move(slot));
            }
        }
        ci.contents_by_name = sorted_by_name(
            ci.contents.size(), [&](std::uint32_t k) -> std::string_view { return ci.contents[k]->name; });
        ci.layout.by_name = sorted_by_name(
            ci.layout.slots.size(), [&](std::uint32_t k) -> std::string_view { return ci.layout.slots[k].name; });
    }
    set->is_a_ancestors_.resize(set->is_a_ancestors_.size() + is_a_scan_width - 1, 0);  // see is_a()
    return set;
}

std::optional<InterfaceIndex> ModelSet::find(std::string_view dtmi) const {
    auto it = by_id_.find(dtmi);
    if (it == by_id_.end()) return std::nullopt;
    return it->second;
}

const CompiledInterface& ModelSet::get(std::string_view dtmi) const {
    if (auto i = find(dtmi)) return compiled_[*i];
    throw Error("unknown interface '" + std::string(dtmi) + "': it is not in this model set of " +
                std::to_string(compiled_.size()) + " interfaces");
}

bool ModelSet::is_a(InterfaceIndex derived, InterfaceIndex base) const noexcept {
    if (derived >= compiled_.size() || base >= compiled_.size()) return false;
    const InterfaceIndex* first = is_a_ancestors_.data() + is_a_offsets_[derived];
    std::size_t len = is_a_offsets_[derived + 1] - is_a_offsets_[derived];
    if (len <= is_a_scan_width) {
        // The common case (RealEstateCore has at most 9): compare a fixed-width
        // window, masked to the span, so neither the loop nor the answer
        // branches and the compiler vectorises it. The array is padded so the
        // window never reads past its end.
        using Lanes = std::uint32_t __attribute__((vector_size(16)));  // GCC/Clang vector extension
        static_assert(is_a_scan_width == 16);
        const auto n = static_cast<std::uint32_t>(len);
        Lanes hit{};
        for (std::uint32_t k = 0; k < 16; k += 4) {
            Lanes v;
            std::memcpy(&v, first + k, sizeof v);
            const Lanes lane{k, k + 1, k + 2, k + 3};
            hit |= static_cast<Lanes>(v == base) & static_cast<Lanes>(lane < n);
        }
        return (hit[0] | hit[1] | hit[2] | hit[3]) != 0;
    }
    // Lower-bound search without a data-dependent branch (the compiler emits
    // a conditional move): the span is never empty, as it holds `derived`.
    while (len > 1) {
        const std::size_t half = len / 2;
        first = first[half] <= base ? first + half : first;
        len -= half;
    }
    return *first == base;
}

bool ModelSet::is_a(std::string_view derived, std::string_view base) const {
    const auto d = find(derived);
    const auto b = find(base);
    return d && b && is_a(*d, *b);
}

}  // namespace twinsim::dtdl
