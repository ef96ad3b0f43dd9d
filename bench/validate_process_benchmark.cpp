// `twinsim-bench validate-process`: wall time of the whole `twinsim validate
// <ontology>` process (start-up, reading, compiling, report), as a user sees it.
// Baseline, measured in the same run: `twinsim --version` (process start-up alone).

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_support.hpp"

extern char** environ;

namespace twinsim::bench {
namespace {

/// Runs `args` (the program looked up on PATH when it has no slash) with stdout and stderr sent to /dev/null; returns its exit status
/// (128 + signal when killed). Throws std::runtime_error when it cannot start.
int run_quietly(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    const int spawned = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) throw std::runtime_error("cannot run " + args[0] + ": " + std::strerror(spawned));

    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw std::runtime_error("waitpid failed: " + std::string(std::strerror(errno)));
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/// Wall times of `repeat` runs; throws when a run exits with a status other than 0.
std::vector<double> time_runs(const std::vector<std::string>& args, int repeat) {
    std::vector<double> times;
    for (int i = 0; i < repeat; ++i) {
        const auto start = std::chrono::steady_clock::now();
        const int status = run_quietly(args);
        times.push_back(seconds_since(start));
        if (status != 0) {
            std::string command;
            for (const std::string& a : args) command += (command.empty() ? "" : " ") + a;
            throw std::runtime_error("'" + command + "' exited with status " + std::to_string(status));
        }
    }
    return times;
}

}  // namespace

int run_validate_process(const ProcessOptions& options) {
    constexpr double target_seconds = 0.5;
    const std::filesystem::path ontology = options.ontology.empty() ? default_ontology() : std::filesystem::path(options.ontology);
    if (skip_if_missing(ontology)) return exit_skipped;
    if (options.cli.empty()) {
        std::cerr << "twinsim-bench: --cli PATH (the twinsim program) is required\n";
        return exit_usage;
    }
    try {
        const Stats validate = stats(time_runs({options.cli, "validate", ontology.string()}, options.repeat));
        const Stats baseline = stats(time_runs({options.cli, "--version"}, options.repeat));
        nlohmann::ordered_json out;
        out["benchmark"] = "validate_process";
        out["cli"] = options.cli;
        out["ontology"] = ontology.string();
        out["repeat"] = options.repeat;
        out["seconds_min"] = validate.min;
        out["seconds_median"] = validate.median;
        out["target_seconds"] = target_seconds;
        out["meets_target"] = validate.median <= target_seconds;
        out["baseline"] = {{"name", "twinsim --version (process start-up)"},
                           {"seconds_min", baseline.min},
                           {"seconds_median", baseline.median}};
        std::cout << out.dump() << '\n';
        return exit_ok;
    } catch (const std::runtime_error& e) {
        std::cerr << "twinsim-bench: " << e.what() << '\n';
        return exit_failed;
    }
}

}  // namespace twinsim::bench
