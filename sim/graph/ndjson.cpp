// Bulk import and export in the Azure Digital Twins import-job NDJSON format.
//
// Import runs the whole file inside TwinGraph::atomically: every line is
// parsed once and applied at once (models as one batch when their section
// ends), problems are collected instead of thrown, and at the end any problem
// throws ImportError, which rolls the graph back. A line whose failure follows
// from an earlier bad line (a twin of a model that failed, a relationship of a
// twin that failed) is not checked and not reported: only causes are.
//
// Import is a restore of recorded state: twins are created with
// TwinGraph::restore_twin / try_create_twin, which keep the $lastUpdateTime
// and per-property lastUpdateTime a line carries (the import's time where it
// carries none).
//
// Export writes models, then twins in index order, then each twin's outgoing
// relationships. Twins are written as get_twin returns them, times included,
// without $etag (ADT's format has none; import makes new ones). So a
// re-imported twin equals the original apart from its $etag, and
// export(import(export(g))) == export(g) byte for byte.

#include "twinsim/graph/ndjson.hpp"
#include "twinsim/graph/detail/messages.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <istream>
#include <map>
#include <optional>
#include <ostream>
#include <string_view>
#include <system_error>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "twinsim/common/error.hpp"
#include "twinsim/dtdl/diagnostic.hpp"
#include "twinsim/graph/detail/bulk_loader.hpp"
#include "twinsim/graph/detail/ndjson_reader.hpp"

namespace twinsim::graph {
namespace {

using nlohmann::json;
using detail::in_quotes;

enum class Section { none, header, models, twins, relationships, skipped };

constexpr const char* section_name(Section s) noexcept {
    switch (s) {
    case Section::header: return "Header";
    case Section::models: return "Models";
    case Section::twins: return "Twins";
    case Section::relationships: return "Relationships";
    case Section::none:
    case Section::skipped: break;
    }
    return "";
}

// Lets an unordered_set<std::string> be searched with a string_view.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;
template <class T>
using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

// A string member of a JSON object, or nullptr when absent or not a string.
const std::string* string_member(const json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_string()) return nullptr;
    return it->get_ptr<const std::string*>();
}

class Importer {
public:
    Importer(TwinGraph& graph, std::string source_name)
        : graph_(graph), source_name_(std::move(source_name)), before_(graph.snapshot()) {}

    ImportStats run(std::istream& in) {
        graph_.atomically([&](TwinGraph& graph) { import_all(graph, in); });
        return stats_;
    }

private:
    struct ModelLine {
        std::size_t line = 0;
        std::string id;
    };

    void problem(std::size_t line, Section section, std::string message) {
        problems_.push_back({line, section_name(section), std::move(message)});
    }

    void import_all(TwinGraph& graph, std::istream& in) {
        detail::NdjsonReader reader(in, source_name_);
        detail::ParsedBatch batch;
        {
            detail::BulkLoader loader(graph);
            loader_ = &loader;
            while (reader.next(batch)) {
                // A group of lines at a time, the cache hints for the index
                // lookups of the groups after it in flight meanwhile (prefetch).
                const std::size_t n = batch.lines.size();
                const std::size_t groups = (n + prefetch_group - 1) / prefetch_group;
                hinted_.assign(2 * n, std::nullopt);
                for (std::size_t step = 0; step < groups + prefetch_stages; ++step) {
                    prefetch(batch, step);
                    if (step < prefetch_stages) continue;
                    const std::size_t begin = (step - prefetch_stages) * prefetch_group;
                    const std::size_t end = std::min(n, begin + prefetch_group);
                    for (std::size_t k = begin; k < end; ++k) apply_line(graph, batch.lines[k], batch);
                }
            }
            loader_ = nullptr;
        }
        leave_section(graph);
        decommission(graph);
        stats_.lines = reader.lines();
        stats_.bytes = reader.bytes();
        if (!problems_.empty()) {
            std::stable_sort(problems_.begin(), problems_.end(),
                             [](const ImportProblem& a, const ImportProblem& b) { return a.line < b.line; });
            std::string message = summary();  // before the move below: argument order is unspecified
            throw ImportError(message, std::move(problems_));
        }
    }

    void apply_line(TwinGraph& graph, detail::ParsedLine& parsed, const detail::ParsedBatch& batch) {
        const std::size_t line = parsed.number;
        if (parsed.record != detail::RecordKind::none) {
            // The bulk-load fast path; whatever it cannot do for sure goes the
            // general way below, with the JSON the line parses to.
            if (parsed.record == detail::RecordKind::twin && section_ == Section::twins && fast_twin(parsed, batch)) return;
            if (parsed.record == detail::RecordKind::relationship && section_ == Section::relationships &&
                fast_relationship(parsed, batch))
                return;
            parsed.value = batch.to_json(parsed);
        }
        if (!parsed.error.empty()) {
            if (section_ != Section::skipped) problem(line, section_, parsed.error);
            return;
        }
        json& value = parsed.value;
        if (detail::is_section_marker(value)) {
            enter_section(graph, value, line);
            return;
        }
        switch (section_) {
        case Section::none:
            problem(line, section_, R"(a line before the first {"Section": ...} line)");
            break;
        case Section::header: header_line(value, line); break;
        case Section::models: model_line(value, std::move(parsed.text), line); break;
        case Section::twins: twin_line(graph, value, line); break;
        case Section::relationships: relationship_line(graph, value, line); break;
        case Section::skipped: break;
        }
    }

    void enter_section(TwinGraph& graph, const json& marker, std::size_t line) {
        leave_section(graph);
        const std::string* name = string_member(marker, "Section");
        Section next = Section::skipped;
        if (name != nullptr) {
            for (Section s : {Section::header, Section::models, Section::twins, Section::relationships}) {
                if (*name == section_name(s)) next = s;
            }
        }
        if (next == Section::skipped || marker.size() != 1) {
            problem(line, Section::none,
                    R"(not a section line: expected {"Section": "Header" | "Models" | "Twins" | "Relationships"}, got )" +
                        marker.dump(-1, ' ', false, json::error_handler_t::replace));
        } else if (next <= highest_) {
            problem(line, next,
                    std::string("section ") + section_name(next) + " after section " + section_name(highest_) +
                        ": each section appears at most once, in the order Header, Models, Twins, Relationships");
            next = Section::skipped;
        } else {
            highest_ = next;
        }
        // The lines of a bad section are not checked: their meaning is unknown.
        section_ = next;
        section_line_ = line;
        section_lines_ = 0;
    }

    void leave_section(TwinGraph& graph) {
        if (section_ == Section::header && section_lines_ == 0) {
            problem(section_line_, Section::header,
                    R"(the Header section has no header line ({"fileVersion", "author", "organization"}))");
        }
        if (section_ == Section::models) add_models(graph);
        section_ = Section::none;
    }

    // --- Header -----------------------------------------------------------------
    void header_line(const json& value, std::size_t line) {
        if (++section_lines_ > 1) {
            problem(line, Section::header, "the Header section holds one line; this is a second one");
            return;
        }
        header_line_ = line;
        if (!value.is_object()) {
            problem(line, Section::header, "the header line must be a JSON object");
            return;
        }
        std::vector<std::string> wrong;
        if (string_member(value, "fileVersion") == nullptr) wrong.emplace_back(R"("fileVersion" (a string) is required)");
        for (const char* key : {"author", "organization"}) {
            if (value.contains(key) && !value[key].is_string()) wrong.push_back(std::string(1, '"') + key + "\" must be a string");
        }
        // twinsim's extension: models to decommission once the twins are loaded
        // (export writes it so a decommissioned model survives a round trip).
        if (const auto it = value.find("decommissionedModels"); it != value.end()) {
            if (!it->is_array() || !std::all_of(it->begin(), it->end(), [](const json& v) { return v.is_string(); })) {
                wrong.emplace_back(R"("decommissionedModels" must be an array of model ids)");
            } else {
                for (const json& id : *it) decommissioned_.push_back(id.get<std::string>());
            }
        }
        for (std::string& message : wrong) problem(line, Section::header, std::move(message));
    }

    // --- Models -----------------------------------------------------------------
    void model_line(const json& value, std::string text, std::size_t line) {
        ++section_lines_;
        if (!value.is_object()) {
            problem(line, Section::models, "expected one DTDL interface (a JSON object) per line");
            return;
        }
        const std::string* id = string_member(value, "@id");
        if (id != nullptr) {
            const auto& existing = before_.models();
            if (existing && existing->find(*id)) {
                if (before_.get_model(*id).definition == value) return;  // already there, unchanged
                problem(line, Section::models,
                        "model " + *id + " already exists in the graph with a different definition "
                                         "(an existing model cannot be redefined)");
                return;
            }
        }
        std::string source = source_name_;
        source += ':';
        source += std::to_string(line);
        if (id != nullptr) file_models_.insert(*id);
        model_lines_.push_back({line, id != nullptr ? *id : std::string()});
        if (text.empty()) text = value.dump();
        documents_.push_back({std::move(source), std::move(text)});
    }

    void add_models(TwinGraph& graph) {
        if (documents_.empty()) return;
        try {
            stats_.models = graph.add_models(documents_).size();
        } catch (const dtdl::ModelError& e) {
            models_failed_ = true;
            report_model_error(e);
        } catch (const GraphError& e) {
            models_failed_ = true;
            problem(section_line_, Section::models, e.what());
        }
        documents_.clear();
    }

    // Every diagnostic goes to the line its document came from (several on
    // one line become one problem); an unresolved id goes to each model line
    // that mentions it.
    void report_model_error(const dtdl::ModelError& e) {
        StringMap<std::size_t> line_of_source;
        for (std::size_t i = 0; i < documents_.size(); ++i) line_of_source.emplace(documents_[i].source, model_lines_[i].line);
        std::map<std::size_t, std::vector<std::string>> by_line;
        for (const dtdl::Diagnostic& d : e.errors()) {
            const auto it = line_of_source.find(d.file);
            dtdl::Diagnostic shown = d;
            shown.file.clear();  // the line number says where
            by_line[it != line_of_source.end() ? it->second : section_line_].push_back(shown.to_string());
        }
        for (const std::string& id : e.unresolved()) {
            const std::string needle = '"' + id + '"';
            bool found = false;
            for (std::size_t i = 0; i < documents_.size(); ++i) {
                if (documents_[i].text.find(needle) != std::string::npos) {
                    by_line[model_lines_[i].line].push_back("refers to " + id + ", which neither this file nor the graph defines");
                    found = true;
                }
            }
            if (!found) by_line[section_line_].push_back("unresolved model id " + id);
        }
        if (by_line.empty()) by_line[section_line_].emplace_back(e.what());
        for (auto& [line, messages] : by_line) {
            std::string message;
            for (const std::string& m : messages) {
                if (!message.empty()) message += "; ";
                message += m;
            }
            problem(line, Section::models, std::move(message));
        }
    }

    // --- the bulk-load fast path ----------------------------------------------------
    // Lines per group of cache hints, and the stages of hints (BulkLoader):
    // at each step, stage s runs on the group s - 1 groups behind the newest,
    // and the group `prefetch_stages` behind is applied, so each hint has a
    // group's worth of work to arrive before the next stage reads it.
    static constexpr std::size_t prefetch_group = 8;
    static constexpr std::size_t prefetch_stages = 5;

    // The stages due at `step` for the records of `batch`: (1) index shards
    // of the ids, (2) their slots, (3) the twins found there, (4) their ids'
    // text and the relationship index's shard for the source found, (5) its
    // slot. hinted_[2k] and [2k + 1]: line k's source (or twin) and target
    // as stage 3 found them (hints only: earlier lines may change them).
    void prefetch(const detail::ParsedBatch& batch, std::size_t step) {
        const detail::BulkLoader& loader = *loader_;
        const std::size_t n = batch.lines.size();
        for (std::size_t stage = prefetch_stages; stage >= 1; --stage) {
            if (step + 1 < stage) continue;
            const std::size_t begin = (step + 1 - stage) * prefetch_group;
            if (begin >= n) continue;
            const std::size_t end = std::min(n, begin + prefetch_group);
            for (std::size_t k = begin; k < end; ++k) {
                const detail::ParsedLine& l = batch.lines[k];
                if (l.record == detail::RecordKind::none) continue;
                const bool rel = l.record == detail::RecordKind::relationship;
                switch (stage) {
                case 1:
                    loader.prefetch_twin_shard(l.hashes[0]);
                    if (rel) loader.prefetch_twin_shard(l.hashes[2]);
                    break;
                case 2:
                    loader.prefetch_twin_slot(l.hashes[0]);
                    if (rel) loader.prefetch_twin_slot(l.hashes[2]);
                    break;
                case 3:
                    if (!rel) break;
                    hinted_[2 * k] = loader.prefetch_twin(l.hashes[0]);
                    hinted_[2 * k + 1] = loader.prefetch_twin(l.hashes[2]);
                    break;
                case 4:
                    if (hinted_[2 * k]) {
                        loader.prefetch_twin_id(*hinted_[2 * k]);
                        loader.prefetch_relationship_shard(*hinted_[2 * k], l.hashes[1]);
                    }
                    if (hinted_[2 * k + 1]) loader.prefetch_twin_id(*hinted_[2 * k + 1]);
                    break;
                default:
                    if (hinted_[2 * k]) loader.prefetch_relationship_slot(*hinted_[2 * k], l.hashes[1]);
                    break;
                }
            }
        }
    }

    bool fast_twin(const detail::ParsedLine& parsed, const detail::ParsedBatch& batch) {
        const std::string_view id = batch.str(parsed.strings[0]);
        const std::string_view model = batch.str(parsed.strings[1]);
        if (id.empty()) return false;
        if (!failed_twins_.empty() && failed_twins_.find(id) != failed_twins_.end()) return false;
        if (models_failed_ && file_models_.find(model) != file_models_.end()) return false;
        if (!loader_->create_twin(id, parsed.hashes[0], model, batch.values_of(parsed), parsed.last_update,
                                  batch.times_of(parsed)))
            return false;
        ++stats_.twins;
        return true;
    }

    bool fast_relationship(const detail::ParsedLine& parsed, const detail::ParsedBatch& batch) {
        const std::string_view source = batch.str(parsed.strings[0]);
        const std::string_view id = batch.str(parsed.strings[1]);
        const std::string_view target = batch.str(parsed.strings[2]);
        const std::string_view name = batch.str(parsed.strings[3]);
        if (source.empty() || id.empty() || target.empty() || name.empty()) return false;
        if (!failed_twins_.empty() &&
            (failed_twins_.find(source) != failed_twins_.end() || failed_twins_.find(target) != failed_twins_.end()))
            return false;
        if (!loader_->create_relationship(source, parsed.hashes[0], id, parsed.hashes[1], target, parsed.hashes[2], name,
                                          batch.values_of(parsed)))
            return false;
        ++stats_.relationships;
        return true;
    }

    // --- Twins --------------------------------------------------------------------
    void twin_line(TwinGraph& graph, json& value, std::size_t line) {
        if (!value.is_object()) {
            problem(line, Section::twins, "expected a twin (a JSON object)");
            return;
        }
        const std::string* id_ptr = string_member(value, "$dtId");
        if (id_ptr == nullptr || id_ptr->empty()) {
            problem(line, Section::twins, R"(the twin has no "$dtId" (a non-empty string))");
            return;
        }
        std::string id = *id_ptr;
        const auto earlier = failed_twins_.empty() ? failed_twins_.end() : failed_twins_.find(id);
        if (earlier != failed_twins_.end()) {
            problem(line, Section::twins, "twin " + in_quotes(id) + " is defined twice in this file (also on line " +
                                              std::to_string(earlier->second) + ")");
            return;
        }
        value.erase("$etag");  // ADT import lines carry none; tolerate one from a GET
        // A twin of a model that failed to load cannot be checked.
        const auto metadata = value.find("$metadata");
        if (models_failed_ && metadata != value.end() && metadata->is_object()) {
            const std::string* model = string_member(*metadata, "$model");
            if (model != nullptr && file_models_.contains(*model)) {
                failed_twins_.emplace(std::move(id), line);
                return;
            }
        }
        try {
            graph.restore_twin(id, value);
            ++stats_.twins;
        } catch (const ConflictError& e) {
            // The twin exists (from the graph or an earlier line): its relationships can still be checked.
            problem(line, Section::twins,
                    before_.contains(id) ? "twin " + in_quotes(id) + " already exists in the graph"
                                         : "twin " + in_quotes(id) + " is defined twice in this file (" + e.what() + ")");
        } catch (const GraphError& e) {
            failed_twins_.emplace(id, line);
            problem(line, Section::twins, e.what());
        }
    }

    // --- Relationships --------------------------------------------------------------
    void relationship_line(TwinGraph& graph, json& value, std::size_t line) {
        if (!value.is_object()) {
            problem(line, Section::relationships, "expected a relationship (a JSON object)");
            return;
        }
        std::string missing;
        const std::string* fields[4] = {};
        const char* names[4] = {"$dtId", "$relationshipId", "$targetId", "$relationshipName"};
        for (int i = 0; i < 4; ++i) {
            fields[i] = string_member(value, names[i]);
            if (fields[i] == nullptr || fields[i]->empty()) {
                if (!missing.empty()) missing += ", ";
                missing += '"';
                missing += names[i];
                missing += '"';
            }
        }
        if (!missing.empty()) {
            problem(line, Section::relationships, "the relationship has no " + missing + " (non-empty strings)");
            return;
        }
        std::string source = *fields[0];
        std::string id = *fields[1];
        const std::string& target = *fields[2];
        // A relationship of a twin that failed cannot be checked.
        if (!failed_twins_.empty() && (failed_twins_.contains(source) || failed_twins_.contains(target))) return;
        if (const std::string* source_id = string_member(value, "$sourceId"); source_id != nullptr && *source_id != source) {
            problem(line, Section::relationships,
                    "relationship " + in_quotes(id) + ": \"$sourceId\" " + in_quotes(*source_id) + " differs from \"$dtId\" " +
                        in_quotes(source));
            return;
        }
        value.erase("$dtId");
        value.erase("$sourceId");
        value.erase("$etag");
        try {
            graph.upsert_relationship(source, id, value, WriteCondition{std::nullopt, true});
            ++stats_.relationships;
        } catch (const ConflictError& e) {
            problem(line, Section::relationships,
                    "relationship " + in_quotes(id) + " of twin " + in_quotes(source) +
                        (relationship_existed(source, id) ? " already exists in the graph"
                                                          : " is defined twice in this file (" + std::string(e.what()) + ")"));
        } catch (const GraphError& e) {
            problem(line, Section::relationships, "relationship " + in_quotes(id) + ": " + e.what());
        }
    }

    bool relationship_existed(std::string_view source, std::string_view id) const {
        try {
            (void)before_.get_relationship(source, id);
            return true;
        } catch (const NotFoundError&) {
            return false;
        }
    }

    void decommission(TwinGraph& graph) {
        for (const std::string& id : decommissioned_) {
            try {
                graph.decommission_model(id);
            } catch (const GraphError& e) {
                problem(header_line_, Section::header, std::string("decommissionedModels: ") + e.what());
            }
        }
    }

    std::string summary() const {
        constexpr std::size_t shown = 20;
        std::string message = source_name_ + ": " + std::to_string(problems_.size()) +
                              (problems_.size() == 1 ? " bad line" : " bad lines") + "; nothing was imported";
        for (std::size_t i = 0; i < problems_.size() && i < shown; ++i) {
            const ImportProblem& p = problems_[i];
            message += "\n  line " + std::to_string(p.line);
            if (!p.section.empty()) message += " (" + p.section + ")";
            message += ": " + p.message;
        }
        if (problems_.size() > shown) message += "\n  ... and " + std::to_string(problems_.size() - shown) + " more";
        return message;
    }

    TwinGraph& graph_;
    detail::BulkLoader* loader_ = nullptr;  // while import_all reads the lines
    std::vector<std::optional<TwinIndex>> hinted_;  // prefetch's stage 3 results, 2 per line of the batch
    std::string source_name_;
    Snapshot before_;  // the graph as it was: tells "already existed" from "twice in this file"
    ImportStats stats_;
    std::vector<ImportProblem> problems_;

    Section section_ = Section::none;
    Section highest_ = Section::none;
    std::size_t section_line_ = 0;
    std::size_t section_lines_ = 0;
    std::size_t header_line_ = 0;
    std::vector<std::string> decommissioned_;

    std::vector<dtdl::Document> documents_;
    std::vector<ModelLine> model_lines_;
    StringSet file_models_;
    bool models_failed_ = false;
    StringMap<std::size_t> failed_twins_;  // twins whose line failed (or could not be checked): their line
};

void write_line(std::ostream& out, const json& value) {
    out << value.dump() << '\n';
}

}  // namespace

ImportStats import_ndjson(TwinGraph& graph, std::istream& in, const std::string& source_name) {
    return Importer(graph, source_name).run(in);
}

ImportStats import_ndjson(TwinGraph& graph, const std::filesystem::path& file) {
    std::error_code ec;
    const auto status = std::filesystem::status(file, ec);
    if (std::filesystem::is_directory(status)) throw IoError("cannot read " + file.string() + ": it is a directory");
    if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
        // A device or a pipe may never end (/dev/zero, /dev/urandom).
        throw IoError("cannot read " + file.string() + ": not a regular file (a device, pipe or socket); "
                      "an import reads regular files only");
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) throw IoError("cannot read " + file.string() + ": " + std::strerror(errno));
    return import_ndjson(graph, in, file.string());
}

void export_ndjson(const Snapshot& snapshot, std::ostream& out) {
    std::vector<ModelInfo> models = snapshot.list_models();
    std::sort(models.begin(), models.end(), [](const ModelInfo& a, const ModelInfo& b) { return a.id < b.id; });

    json header = {{"fileVersion", "1.0.0"}, {"author", "twinsim"}, {"organization", ""}};
    json decommissioned = json::array();
    for (const ModelInfo& m : models) {
        if (m.decommissioned) decommissioned.push_back(m.id);
    }
    if (!decommissioned.empty()) header["decommissionedModels"] = std::move(decommissioned);

    out << R"({"Section":"Header"})" << '\n';
    write_line(out, header);
    out << R"({"Section":"Models"})" << '\n';
    for (const ModelInfo& m : models) write_line(out, m.definition);

    out << R"({"Section":"Twins"})" << '\n';
    const std::vector<TwinIndex> twins = snapshot.twins();
    for (TwinIndex t : twins) {
        json twin = snapshot.get_twin(t);
        twin.erase("$etag");  // import makes a new one
        write_line(out, twin);
    }

    out << R"({"Section":"Relationships"})" << '\n';
    for (TwinIndex t : twins) {
        for (RelationshipIndex r : snapshot.out_relationships(t)) {
            json relationship = snapshot.get_relationship(r);
            relationship.erase("$etag");
            relationship.erase("$sourceId");
            relationship["$dtId"] = snapshot.twin_id(t);
            write_line(out, relationship);
        }
    }
    out.flush();
    if (!out) throw IoError("cannot write the NDJSON export: the stream failed");
}

void export_ndjson(const Snapshot& snapshot, const std::filesystem::path& file) {
    std::filesystem::path temporary = file;
    temporary += ".tmp-" + std::to_string(::getpid());
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) throw IoError("cannot write " + file.string() + ": " + std::strerror(errno));
        try {
            try {
                export_ndjson(snapshot, out);
                out.close();
                if (!out) throw IoError("close failed");
            } catch (const IoError&) {
                throw IoError("cannot write " + file.string() + ": " + std::strerror(errno));
            }
        } catch (...) {
            out.close();
            std::error_code ignored;
            std::filesystem::remove(temporary, ignored);
            throw;
        }
    }
    std::error_code ec;
    std::filesystem::rename(temporary, file, ec);
    if (ec) {
        std::error_code ignored;
        std::filesystem::remove(temporary, ignored);
        throw IoError("cannot write " + file.string() + ": " + ec.message());
    }
}

}  // namespace twinsim::graph
