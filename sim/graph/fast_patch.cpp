// TwinGraph's fast path for the JSON Patches that ingestion sends nearly
// always: "add"/"replace" of plain values (numbers, strings, booleans) of
// top-level or component properties, and "add"/"replace" of a top-level
// property's /$metadata/<p>/sourceTime. The general path (twin_writes.cpp,
// update_twin) renders the whole twin as JSON, applies the patch to it and
// checks the result against the model from scratch; for these patches the
// outcome is known from the patched cells alone. The fast path checks the
// same things the general path would find wrong and writes exactly what it
// would write (values, lastUpdateTime, sourceTime, components' times, etag,
// $lastUpdateTime, event). Whenever it is not sure — an unusual shape, a
// value the model refuses, a failed condition — it changes nothing and
// returns false, and the general path then does the work or reports the
// exact error. tests/cpp/graph/fast_patch_test.cpp compares the two.
#include <array>
#include <string_view>

#include "twinsim/dtdl/value_validation.hpp"
#include "twinsim/graph/detail/graph_writer.hpp"
#include "twinsim/graph/detail/twin_json.hpp"
#include "twinsim/graph/detail/undo_log.hpp"

namespace twinsim::graph {

using namespace detail;
using nlohmann::json;

namespace {

struct FastOp {
    enum class Target : std::uint8_t { property, component_property, source_time };
    Target target = Target::property;
    std::string_view top;  ///< property, component or (source_time) property name
    std::string_view sub;  ///< the component's property
    const json* value = nullptr;
    std::uint32_t column = 0;  ///< property and source_time
    std::int64_t time = 0;     ///< source_time
};

constexpr std::size_t max_fast_ops = 8;

// Splits "/a/b/..." into at most 4 tokens; false for anything a plain token
// cannot be (no leading '/', escapes, more than 4 tokens).
bool split_plain(std::string_view path, std::array<std::string_view, 4>& tokens, std::size_t& n) {
    if (path.empty() || path.front() != '/' || path.find('~') != std::string_view::npos) return false;
    n = 0;
    std::size_t start = 1;
    while (true) {
        if (n == tokens.size()) return false;
        const std::size_t slash = path.find('/', start);
        tokens[n++] = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (slash == std::string_view::npos) return true;
        start = slash + 1;
    }
}

bool plain_name(std::string_view t) noexcept { return !t.empty() && t.front() != '$'; }

bool plain_value(const json& v) noexcept { return v.is_number() || v.is_string() || v.is_boolean(); }

bool primitive_column(dtdl::ColumnType t) noexcept {
    return t == dtdl::ColumnType::float64 || t == dtdl::ColumnType::int64 || t == dtdl::ColumnType::boolean ||
           t == dtdl::ColumnType::string;
}

}  // namespace

bool TwinGraph::Impl::try_fast_patch(std::string_view id, const json& patch, const std::optional<std::string>& if_match) {
    if (!options.patch_fast_path || !patch.is_array()) return false;
    const auto& items = patch.get_ref<const json::array_t&>();
    if (items.empty() || items.size() > max_fast_ops) return false;
    const auto found = state.find_twin(id);
    if (!found) return false;
    const TwinIndex t = *found;
    const TwinMeta meta = state.twin_meta[t];
    if (if_match && *if_match != "*" && *if_match != format_etag(meta.etag)) return false;
    const PropertyTable& table = state.tables[meta.table];
    const dtdl::CompiledInterface& model = state.models->at(table.interface);
    const json* comps = state.components[t].get();

    std::array<FastOp, max_fast_ops> ops;
    std::size_t n_ops = 0;
    bool any_component = false;
    for (const json& item : items) {
        if (!item.is_object()) return false;
        const auto& members = item.get_ref<const json::object_t&>();
        const auto op = members.find("op");
        const auto path = members.find("path");
        const auto value = members.find("value");
        if (op == members.end() || path == members.end() || value == members.end()) return false;
        if (!op->second.is_string() || !path->second.is_string() || !plain_value(value->second)) return false;
        const std::string& name = op->second.get_ref<const std::string&>();
        const bool replace = name == "replace";
        if (!replace && name != "add") return false;
        std::array<std::string_view, 4> tk;
        std::size_t n = 0;
        if (!split_plain(path->second.get_ref<const std::string&>(), tk, n)) return false;
        FastOp f;
        f.value = &value->second;
        if (n == 1 && plain_name(tk[0])) {
            const dtdl::PropertySlot* slot = model.layout.find(tk[0]);
            if (slot == nullptr || !primitive_column(slot->type)) return false;
            if (!dtdl::validate_value(*slot->property->schema, value->second).empty()) return false;
            if (replace && !table.columns[slot->column].has(meta.row)) return false;  // "nothing to replace"
            f.target = FastOp::Target::property;
            f.top = tk[0];
            f.column = slot->column;
        } else if (n == 2 && plain_name(tk[0]) && plain_name(tk[1])) {
            const dtdl::Content* c = model.find(tk[0]);
            if (c == nullptr || c->kind != dtdl::ContentKind::component || comps == nullptr) return false;
            const dtdl::Content* pc = state.models->get(c->component_interface).find(tk[1]);
            if (pc == nullptr || pc->kind != dtdl::ContentKind::property || !pc->schema) return false;
            if (!dtdl::validate_value(*pc->schema, value->second).empty()) return false;
            const auto stored = comps->find(tk[0]);
            if (stored == comps->end() || !stored->is_object()) return false;
            if (replace && !stored->contains(tk[1])) return false;
            f.target = FastOp::Target::component_property;
            f.top = tk[0];
            f.sub = tk[1];
            any_component = true;
        } else if (n == 3 && tk[0] == "$metadata" && plain_name(tk[1]) && tk[2] == "sourceTime") {
            const dtdl::PropertySlot* slot = model.layout.find(tk[1]);
            if (slot == nullptr || !value->second.is_string()) return false;
            const auto time = parse_timestamp(value->second.get_ref<const std::string&>());
            if (!time) return false;
            const Column& c = table.columns[slot->column];
            if (replace && (!c.has(meta.row) || c.source_time_at(meta.row) == no_time)) return false;
            f.target = FastOp::Target::source_time;
            f.top = tk[1];
            f.column = slot->column;
            f.time = time->ns;
        } else {
            return false;
        }
        // The same target twice: the general path's order of effects decides.
        for (std::size_t k = 0; k < n_ops; ++k)
            if (ops[k].target == f.target && ops[k].top == f.top && ops[k].sub == f.sub) return false;
        ops[n_ops++] = f;
    }
    // A sourceTime needs its property set once the patch is applied.
    for (std::size_t k = 0; k < n_ops; ++k) {
        if (ops[k].target != FastOp::Target::source_time) continue;
        bool set = table.columns[ops[k].column].has(meta.row);
        for (std::size_t j = 0; j < n_ops && !set; ++j)
            set = ops[j].target == FastOp::Target::property && ops[j].column == ops[k].column;
        if (!set) return false;
    }

    // Everything is checked: write. A touched property gets `now` as its
    // lastUpdateTime; one whose only change is its sourceTime keeps its time.
    const Timestamp now = clock();
    const bool log = undo != nullptr && undo->recording();
    if (log) undo->twin_meta(t, meta);
    PropertyTable& wtable = state.tables[meta.table];
    for (std::size_t k = 0; k < n_ops; ++k) {
        const FastOp& f = ops[k];
        if (f.target == FastOp::Target::component_property) continue;
        Column& c = wtable.columns[f.column];
        if (log) undo->cell(meta.table, f.column, meta.row, c);
        if (f.target == FastOp::Target::property) {
            set_cell(c, meta.row, *f.value);
            c.last_update.set(meta.row, now.ns, copies);
        } else {
            c.set_source_time(meta.row, f.time, copies);
        }
    }
    if (any_component) {
        if (log) undo->components(t, state.components[t]);
        json updated = *comps;
        const std::string now_text = format_timestamp(now);
        for (std::size_t k = 0; k < n_ops; ++k) {
            const FastOp& f = ops[k];
            if (f.target != FastOp::Target::component_property) continue;
            json& component = updated[std::string(f.top)];
            const std::string sub(f.sub);
            component[sub] = *f.value;
            json& md = component["$metadata"];
            md[sub]["lastUpdateTime"] = now_text;
            md["$lastUpdateTime"] = now_text;
        }
        state.components.set(t, std::make_shared<const json>(std::move(updated)), copies);
    }
    TwinMeta& m = state.twin_meta.mut(t, copies);
    m.etag = ++state.etag_counter;
    m.last_update = now.ns;
    if (want_events())
        emit(ChangeType::twin_update, std::string(id), {}, json{{"modelId", table.model_id}, {"patch", patch}}, now);
    return true;
}

}  // namespace twinsim::graph
