// `twinsim behaviours`: the behaviours a scenario's `behaviours:` section can
// bind, read from the one declaration each behaviour makes of itself
// (scenario::describe), as text or JSON.

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "model_input.hpp"
#include "scenario_commands.hpp"
#include "twinsim/scenario/behaviour.hpp"

namespace twinsim::cli {
namespace {

struct BehavioursOptions {
    std::string name;  ///< "" = every behaviour
    bool json = false;
};

// A parameter's default as a scenario would write it; "required" when it has none.
std::string default_text(const nlohmann::json& value) {
    if (value.is_null()) return "required";
    if (value.is_string()) return value.get<std::string>();
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void print_behaviour(std::ostream& out, const nlohmann::json& d) {
    out << d.at("name").get<std::string>() << "  ("
        << (d.at("interface").is_null() ? std::string("any twin") : "binds to " + d.at("interface").get<std::string>())
        << ")\n";
    if (const auto& text = d.at("description").get_ref<const std::string&>(); !text.empty()) out << "  " << text << '\n';
    if (const auto& events = d.at("events"); !events.empty()) {
        out << "  events:";
        for (const auto& e : events) out << ' ' << e.get<std::string>();
        out << '\n';
    }
    TextTable table({"parameter", "unit", "default", "description"});
    for (const auto& p : d.at("parameters")) {
        const std::string unit = p.at("unit").get<std::string>();
        table.add({p.at("name").get<std::string>(), unit.empty() ? "-" : unit, default_text(p.at("default")),
                   p.at("description").get<std::string>()});
    }
    if (!table.empty()) table.print(out, "  ");
}

int behaviours_command(const BehavioursOptions& options, const scenario::ModelRegistry& registry) {
    std::vector<const scenario::BehaviourModel*> listed;
    if (options.name.empty()) {
        listed = registry.list();
    } else if (const scenario::BehaviourModel* one = registry.find(options.name)) {
        listed.push_back(one);
    } else {
        std::string names;
        for (const scenario::BehaviourModel* b : registry.list()) names += (names.empty() ? "" : ", ") + std::string(b->name());
        std::cerr << "twinsim: error: no behaviour named \"" << options.name << "\" (there are: " << names << ")\n";
        return exit_usage;
    }
    if (options.json) {
        nlohmann::ordered_json report = nlohmann::ordered_json::array();
        for (const scenario::BehaviourModel* b : listed) report.push_back(nlohmann::ordered_json::parse(scenario::describe(*b).dump()));
        print_json(std::cout, report);
        return exit_valid;
    }
    bool first = true;
    for (const scenario::BehaviourModel* b : listed) {
        if (!first) std::cout << '\n';
        first = false;
        print_behaviour(std::cout, scenario::describe(*b));
    }
    return exit_valid;
}

}  // namespace

Command add_behaviours_command(CLI::App& app, const scenario::ModelRegistry& behaviours) {
    auto options = std::make_shared<BehavioursOptions>();
    CLI::App* command = app.add_subcommand(
        "behaviours",
        "List the behaviours a scenario's 'behaviours:' section can bind to twins: what each does, the DTDL "
        "interface it binds to, the events it handles and its parameters with units and defaults");
    command->add_option("NAME", options->name, "Show only this behaviour");
    command->add_flag("--json", options->json,
                      "Print a JSON array, one object per behaviour: name, description, interface (null: any twin), "
                      "events, parameters (name, unit, description, default, required, scenario_parameter, min or "
                      "greater_than, max, twin_property)");
    command->footer("Exit status: 0 listed; 2 no behaviour has that NAME.");
    return {command, [options, &behaviours] { return behaviours_command(*options, behaviours); }};
}

}  // namespace twinsim::cli
