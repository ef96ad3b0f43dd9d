// `twinsim rules add|remove|list --store DIR`: the live rule sets a durable
// store keeps (DIR/rules/), which `twinsim ingest --store DIR` and
// twinsim.open_store run. A thin shell over models/rules/live_rules.hpp: the
// checks and the files are the library's.

#include <CLI/CLI.hpp>
#include <iostream>
#include <filesystem>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "graph_input.hpp"
#include "model_input.hpp"
#include "models/rules/live_rules.hpp"
#include "twinsim/live/store.hpp"
#include "twinsim/live/store_lock.hpp"

namespace twinsim::cli {
namespace {

struct RulesCommandOptions {
    std::string store;
    std::string file;  ///< add
    std::string id;    ///< remove
    bool json = false;
};

int run_add(const RulesCommandOptions& o) {
    LoadedGraph loaded;
    try {
        loaded = open_existing_store(o.store, false);
    } catch (const live::StoreError& e) {
        return report_store_error(e);
    }
    try {
        const std::string id = models::keep_rule_file(o.store, o.file, loaded.target().snapshot());
        if (o.json) {
            print_json(std::cout, nlohmann::ordered_json{{"id", id}, {"source", o.file}});
        } else {
            std::cout << "added " << id << " (" << o.file << ") to the store " << o.store
                      << ": it runs whenever the store is opened\n";
        }
    } catch (const models::RuleFileError& e) {
        std::cerr << "twinsim: invalid rules: " << e.what() << '\n';
        return exit_invalid;
    }
    return exit_valid;
}

// list and remove only read or change DIR/rules/: they take the store's lock
// (so no process that has the store open runs or edits its rules meanwhile)
// without opening it, which would replay its journal.
std::optional<int> lock_store(const std::string& directory, std::optional<live::StoreLock>& lock) {
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::path(directory) / "journal.db", ec)) {
        std::cerr << "twinsim: error: " << directory << " is not a store (no journal.db in it)\n";
        return exit_usage;
    }
    try {
        lock.emplace(directory);
    } catch (const live::StoreError& e) {
        return report_store_error(e);
    }
    return std::nullopt;
}

int run_remove(const RulesCommandOptions& o) {
    std::optional<live::StoreLock> lock;
    if (const auto refused = lock_store(o.store, lock)) return *refused;
    try {
        models::remove_kept_rule_set(o.store, o.id);
    } catch (const models::RuleFileError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return exit_invalid;
    }
    std::cout << "removed " << o.id << " from the store " << o.store << '\n';
    return exit_valid;
}

int run_list(const RulesCommandOptions& o) {
    std::optional<live::StoreLock> lock;
    if (const auto refused = lock_store(o.store, lock)) return *refused;
    std::vector<models::LiveRuleSetInfo> sets;
    try {
        sets = models::kept_rule_sets(o.store);
    } catch (const models::RuleFileError& e) {
        std::cerr << "twinsim: error: " << e.what() << '\n';
        return exit_invalid;
    }
    if (o.json) {
        nlohmann::ordered_json out = nlohmann::ordered_json::array();
        for (const auto& s : sets)
            out.push_back({{"id", s.id}, {"source", s.source}, {"clock", models::to_string(s.clock)}, {"rules", s.rules}});
        print_json(std::cout, out);
        return exit_valid;
    }
    if (sets.empty()) std::cout << "the store " << o.store << " keeps no rule sets\n";
    for (const auto& s : sets) {
        std::cout << s.id << "  " << s.source << "  (clock " << models::to_string(s.clock) << ")\n";
        for (const std::string& r : s.rules) std::cout << "    " << r << '\n';
    }
    return exit_valid;
}

}  // namespace

Command add_rules_command(CLI::App& app) {
    auto options = std::make_shared<RulesCommandOptions>();
    CLI::App* command = app.add_subcommand(
        "rules", "Manage the live rule sets a durable store keeps and runs (models/rules/rules.md, 'Live rules')");
    command->require_subcommand(1);
    auto* add = command->add_subcommand("add", "Check a rule file against the store's models and twins, then keep it");
    add->add_option("--store", options->store, "The store's directory")->required();
    add->add_option("FILE", options->file, "The rule file (YAML or JSON)")->required();
    add->add_flag("--json", options->json, "Print {id, source}");
    auto* remove = command->add_subcommand("remove", "Stop keeping a rule set");
    remove->add_option("--store", options->store, "The store's directory")->required();
    remove->add_option("ID", options->id, "The rule set's id (twinsim rules list)")->required();
    auto* list = command->add_subcommand("list", "List the kept rule sets and their rules");
    list->add_option("--store", options->store, "The store's directory")->required();
    list->add_flag("--json", options->json, "Print [{id, source, clock, rules}]");
    command->footer("Exit status: 0 done; 1 a rule file the models refuse (file, line, group, rule, field and reason "
                    "are printed) or an unknown id; 2 usage error, unreadable file or a store that cannot be opened.");
    return {command, [options, add, remove, list] {
                if (add->parsed()) return run_add(*options);
                if (remove->parsed()) return run_remove(*options);
                if (list->parsed()) return run_list(*options);
                return exit_usage;
            }};
}

}  // namespace twinsim::cli
