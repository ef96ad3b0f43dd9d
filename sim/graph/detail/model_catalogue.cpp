#include "twinsim/graph/detail/model_catalogue.hpp"

#include <algorithm>
#include <map>

#include "twinsim/graph/errors.hpp"

namespace twinsim::graph::detail {

using nlohmann::json;

namespace {

// Replaces the compiled models and their infos (sorted by id), and re-resolves
// every property table's interface (adding models re-indexes the ModelSet).
void install_models(GraphState& state, std::shared_ptr<const dtdl::ModelSet> models, std::vector<ModelInfo> infos) {
    std::sort(infos.begin(), infos.end(), [](const ModelInfo& a, const ModelInfo& b) { return a.id < b.id; });
    state.models = std::move(models);
    state.model_infos = std::make_shared<const std::vector<ModelInfo>>(std::move(infos));
    for (PropertyTable& t : state.tables) {
        const auto i = state.models->find(t.model_id);
        t.interface = i ? *i : no_index;
    }
}

}  // namespace

std::vector<dtdl::Document> stored_documents(const GraphState& state, std::string_view except) {
    std::vector<dtdl::Document> docs;
    for (const ModelInfo& m : *state.model_infos) {
        if (m.definition.is_null() || m.id == except) continue;
        docs.push_back(dtdl::Document{"<model " + m.id + ">", m.definition.dump()});
    }
    return docs;
}

std::vector<std::string> add_models(GraphState& state, std::span<const dtdl::Document> documents,
                                    const dtdl::ParseOptions& parse, const std::function<Timestamp()>& clock) {
    // Top-level interfaces of the new documents, with their definitions.
    std::map<std::string, json> defined;
    for (const dtdl::Document& d : documents) {
        json j = json::parse(d.text, nullptr, false);
        if (j.is_discarded()) continue;  // the DTDL parser reports it with line and column
        auto take = [&](const json& e) {
            if (!e.is_object()) return;
            auto id = e.find("@id");
            if (id == e.end() || !id->is_string()) return;
            const std::string& s = id->get_ref<const std::string&>();
            if (state.model_info(s) || state.models->find(s))
                throw ConflictError("ModelAlreadyExists", "model " + s + " (" + d.source +
                                                              ") already exists; a model cannot be redefined");
            defined.emplace(s, e);
        };
        if (j.is_array())
            for (const json& e : j) take(e);
        else
            take(j);
    }
    std::vector<dtdl::Document> all = stored_documents(state);
    all.insert(all.end(), documents.begin(), documents.end());
    auto models = dtdl::ModelSet::compile(all, parse);
    std::vector<ModelInfo> infos = *state.model_infos;
    std::vector<std::string> added;
    const Timestamp now = clock();
    for (const dtdl::CompiledInterface& ci : models->interfaces()) {
        const std::string& id = ci.definition->id;
        if (state.model_info(id)) continue;
        ModelInfo info;
        info.id = id;
        info.upload_time = now;
        auto d = defined.find(id);
        if (d != defined.end()) info.definition = d->second;  // inline interfaces travel inside their parent
        infos.push_back(std::move(info));
        added.push_back(id);
    }
    install_models(state, std::move(models), std::move(infos));
    return added;
}

void decommission_model(GraphState& state, std::string_view model_id) {
    if (!state.model_info(model_id)) throw NotFoundError("ModelNotFound", "model " + std::string(model_id) + " does not exist");
    auto infos = std::make_shared<std::vector<ModelInfo>>(*state.model_infos);
    for (ModelInfo& m : *infos)
        if (m.id == model_id) m.decommissioned = true;
    state.model_infos = std::move(infos);
}

void delete_model(GraphState& state, std::string_view model_id, const dtdl::ParseOptions& parse) {
    const ModelInfo* info = state.model_info(model_id);
    if (!info) throw NotFoundError("ModelNotFound", "model " + std::string(model_id) + " does not exist");
    const std::string id(model_id);
    if (info->definition.is_null())
        throw ConflictError("ModelReferencesNotDeleted",
                            "model " + id + " is defined inside another model; delete that model instead");
    const dtdl::InterfaceIndex self = *state.models->find(id);
    // Other models that extend it, use it as a component or name it as a relationship target.
    std::vector<std::string> users;
    for (const dtdl::CompiledInterface& ci : state.models->interfaces()) {
        if (ci.index == self) continue;
        bool uses = std::find(ci.bases.begin(), ci.bases.end(), self) != ci.bases.end();
        for (const dtdl::Content& c : ci.definition->contents)
            if ((c.kind == dtdl::ContentKind::component && c.component_interface == id) ||
                (c.kind == dtdl::ContentKind::relationship && c.target == id))
                uses = true;
        if (uses) users.push_back(ci.definition->id);
    }
    // Recompiling without it also catches references only the parser sees.
    std::shared_ptr<const dtdl::ModelSet> models;
    if (users.empty()) {
        try {
            models = dtdl::ModelSet::compile(stored_documents(state, id), parse);
        } catch (const dtdl::ModelError& e) {
            throw ConflictError("ModelReferencesNotDeleted",
                                "model " + id + " is still referenced by other models: " + e.what());
        }
    } else {
        std::string list;
        for (const auto& u : users) list += (list.empty() ? "" : ", ") + u;
        throw ConflictError("ModelReferencesNotDeleted", "model " + id + " is still used by " + list);
    }
    // Twins of it, or of interfaces defined inside it, block deletion.
    for (const PropertyTable& t : state.tables)
        if (t.live > 0 && !models->find(t.model_id))
            throw ConflictError("ModelReferencesNotDeleted", "model " + id + " still has " + std::to_string(t.live) +
                                                                 " twins of " + t.model_id);
    std::vector<ModelInfo> infos;
    for (const ModelInfo& m : *state.model_infos)
        if (models->find(m.id)) infos.push_back(m);
    install_models(state, std::move(models), std::move(infos));
}

}  // namespace twinsim::graph::detail
