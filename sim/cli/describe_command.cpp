// `twinsim describe`: validate a model set, then show what each interface defines.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model_input.hpp"
#include "twinsim/dtdl/model_summary.hpp"

namespace twinsim::cli {

using namespace twinsim::dtdl;  // model summaries and the DTDL types they describe
namespace {

struct DescribeOptions : ModelInputOptions {
    std::vector<std::string> interfaces;  ///< only these (all when empty)
};

/// Rows of cells printed as aligned columns, two spaces apart. A column that is
/// empty in every row takes no room; a cell longer than `max_aligned` overflows
/// its column instead of widening it (one long enum should not push every row).
class Table {
public:
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    void print(std::ostream& out, const std::string& indent) const {
        std::vector<std::size_t> widths;
        for (const auto& row : rows_) {
            widths.resize(std::max(widths.size(), row.size()), 0);
            for (std::size_t i = 0; i < row.size(); ++i) {
                if (row[i].size() <= max_aligned) widths[i] = std::max(widths[i], row[i].size());
            }
        }
        for (const auto& row : rows_) {
            std::string line = indent;
            for (std::size_t i = 0; i < row.size(); ++i) {
                if (widths[i] == 0 && row[i].empty()) continue;
                if (line.size() > indent.size()) line.append(2, ' ');
                line += row[i];
                if (row[i].size() < widths[i]) line.append(widths[i] - row[i].size(), ' ');
            }
            while (line.size() > indent.size() && line.back() == ' ') line.pop_back();
            out << line << '\n';
        }
    }
    [[nodiscard]] bool empty() const noexcept { return rows_.empty(); }

private:
    static constexpr std::size_t max_aligned = 32;
    std::vector<std::vector<std::string>> rows_;
};

/// "double", or "double [Temperature, degreeCelsius]" with semantic type and unit.
std::string typed(const dtdl::SchemaPtr& schema, const dtdl::Annotations& annotations) {
    std::string text = describe_schema(schema);
    if (const std::string semantic = semantic_text(annotations); !semantic.empty()) text += " [" + semantic + "]";
    return text;
}

std::string payload_text(const std::optional<dtdl::CommandPayload>& payload) {
    return payload ? payload->name + ": " + describe_schema(payload->schema) : std::string();
}

/// How inherited contents name the ancestor declaring them: the last segment of
/// its DTMI with the version ("Equipment;1"), or the whole DTMI when two
/// ancestors share that segment.
std::map<std::string, std::string> ancestor_short_names(const dtdl::ModelSet& model, const dtdl::CompiledInterface& iface) {
    std::map<std::string, std::string> names;
    std::map<std::string, int> uses;
    for (const dtdl::InterfaceIndex a : iface.ancestors) {
        const std::string& id = model.at(a).definition->id;
        const std::string last = id.substr(id.rfind(':') + 1);
        names[id] = last;
        ++uses[last];
    }
    for (auto& [id, name] : names) {
        if (uses[name] > 1) name = id;
    }
    return names;
}

void print_interface(std::ostream& out, const dtdl::ModelSet& model, const dtdl::CompiledInterface& iface) {
    const dtdl::Interface& definition = *iface.definition;
    out << definition.id;
    if (const std::string name = localized(definition.annotations.display_name); !name.empty()) {
        out << "  \"" << name << '"';
    }
    out << '\n';
    const auto id_list = [&](const std::vector<dtdl::InterfaceIndex>& indices) {
        std::string text;
        for (const std::string& id : interface_ids(model, indices)) text += (text.empty() ? "" : ", ") + id;
        return text;
    };
    if (!iface.bases.empty()) out << "  extends:   " << id_list(iface.bases) << '\n';
    if (!iface.ancestors.empty()) out << "  ancestors: " << id_list(iface.ancestors) << '\n';

    const std::map<std::string, std::string> short_names = ancestor_short_names(model, iface);
    Table properties, telemetry, commands, relationships, components;
    for (const dtdl::Content* content : iface.contents) {
        const std::string declarer = declared_in(model, iface, content->name);
        const std::string origin = declarer == definition.id ? std::string() : "(from " + short_names.at(declarer) + ")";
        switch (content->kind) {
            case dtdl::ContentKind::property:
                properties.add({content->name, content->writable ? "writable" : "",
                                typed(content->schema, content->annotations), origin});
                break;
            case dtdl::ContentKind::telemetry:
                telemetry.add({content->name, typed(content->schema, content->annotations), origin});
                break;
            case dtdl::ContentKind::command: {
                std::string signature = "(" + payload_text(content->request) + ")";
                if (content->response) signature += " -> " + payload_text(content->response);
                commands.add({content->name + signature, origin});
                break;
            }
            case dtdl::ContentKind::relationship: {
                std::string props;
                for (const dtdl::Content& p : content->properties) {
                    props += (props.empty() ? "{" : ", ") + p.name + ": " + describe_schema(p.schema);
                }
                if (!props.empty()) props += "}";
                relationships.add({content->name, content->writable ? "writable" : "",
                                   "-> " + (content->target.empty() ? "any" : content->target),
                                   "[" + multiplicity_text(*content) + "]", props, origin});
                break;
            }
            case dtdl::ContentKind::component:
                components.add({content->name, content->component_interface, origin});
                break;
        }
    }
    const auto section = [&out](const char* title, const Table& table) {
        if (table.empty()) return;
        out << "  " << title << ":\n";
        table.print(out, "    ");
    };
    section("properties", properties);
    section("telemetry", telemetry);
    section("commands", commands);
    section("relationships", relationships);
    section("components", components);
}

int run_describe(const DescribeOptions& options) {
    const LoadedModel loaded = load_model(options);
    if (!loaded.valid()) {
        if (options.json) {
            nlohmann::ordered_json report = report_json(loaded);
            report["interfaces"] = nlohmann::ordered_json::array();
            print_json(std::cout, report);
        } else {
            print_report(std::cout, loaded);
        }
        return exit_invalid;
    }
    const dtdl::ModelSet& model = *loaded.model;

    std::vector<const dtdl::CompiledInterface*> selected;
    for (const std::string& id : options.interfaces) {
        const auto index = model.find(id);
        if (!index) {
            std::cerr << "twinsim describe: no interface " << id << " in the model set\n";
            return exit_usage;
        }
        selected.push_back(&model.at(*index));
    }
    if (options.interfaces.empty()) {
        for (const dtdl::CompiledInterface& iface : model.interfaces()) selected.push_back(&iface);
    }

    if (options.json) {
        nlohmann::ordered_json report = report_json(loaded);
        nlohmann::ordered_json& list = report["interfaces"] = nlohmann::ordered_json::array();
        for (const dtdl::CompiledInterface* iface : selected) list.push_back(interface_json(model, *iface));
        print_json(std::cout, report);
        return exit_valid;
    }
    for (const dtdl::Diagnostic& d : loaded.warnings) std::cout << "warning: " << d.to_string() << '\n';
    for (const dtdl::CompiledInterface* iface : selected) {
        print_interface(std::cout, model, *iface);
        std::cout << '\n';
    }
    std::cout << summary_line(loaded) << '\n';
    return exit_valid;
}

}  // namespace

Command add_describe_command(CLI::App& app) {
    auto options = std::make_shared<DescribeOptions>();
    CLI::App* command = app.add_subcommand(
        "describe",
        "Validate DTDL files and folders, then show what each interface defines: bases and ancestors, "
        "properties, telemetry, commands, relationships and components (inherited ones say where they come from)");
    add_model_input_options(*command, *options);
    command->add_option("-i,--interface", options->interfaces, "Describe only this interface (DTMI); repeatable");
    command->footer("Exit status: 0 valid, 1 invalid or incomplete, 2 usage error, unreadable input or unknown interface.");
    return {command, [options] { return run_describe(*options); }};
}

}  // namespace twinsim::cli
