#include "peer_process.hpp"

#include <array>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

namespace twinsim::bench {

std::string shell_quoted(std::string_view word) {
    std::string quoted = "'";
    for (const char c : word) {
        if (c == '\'') {
            quoted += "'\\''";
        } else {
            quoted += c;
        }
    }
    quoted += '\'';
    return quoted;
}

nlohmann::json run_peer_json(const std::vector<std::string>& words, std::string& error,
                             std::string_view environment) {
    std::string command(environment);
    for (const std::string& word : words) {
        if (!command.empty()) command += ' ';
        command += shell_quoted(word);
    }
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    if (!pipe) {
        error = "cannot start " + command;
        return nullptr;
    }
    std::string output;
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe.get()) != nullptr) output += buffer.data();
    if (pclose(pipe.release()) != 0) {
        error = "the peer failed (" + command + "): " + output.substr(0, 2000);
        return nullptr;
    }
    try {
        return nlohmann::json::parse(output);
    } catch (const nlohmann::json::exception&) {
        error = "the peer printed no JSON (" + command + "): " + output.substr(0, 2000);
        return nullptr;
    }
}

}  // namespace twinsim::bench
