// The DTDL specification's own conformance suite (shared/conformance/dtdl):
// every case must be judged valid/invalid as the suite says, and cases naming
// unresolved identifiers must report exactly those.

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "../test_support.hpp"
#include "twinsim/dtdl/parser.hpp"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct Outcome {
    std::size_t total = 0;
    std::size_t passed = 0;
    std::vector<std::string> failures;
};

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary | std::ios::ate);
    const auto size = in.tellg();
    std::string text(size > 0 ? static_cast<std::size_t>(size) : 0U, '\0');
    in.seekg(0);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    return text;
}

Outcome run_version(const fs::path& folder) {
    Outcome out;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(folder))
        if (e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        std::string text = read_text(file);
        if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
        const json cases = json::parse(text);
        std::size_t index = 0;
        for (const auto& c : cases) {
            ++out.total;
            twinsim::dtdl::ParseOptions options;
            for (const auto& o : c.value("options", json::array()))
                if (o == "AllowUndefinedExtensions") options.allow_undefined_extensions = true;
            std::vector<twinsim::dtdl::Document> docs;
            for (const auto& input : c.at("input")) docs.push_back({"", input.dump()});
            const auto result = twinsim::dtdl::parse(docs, options);
            const bool expected_valid = c.at("valid").get<bool>();
            bool ok = result.valid() == expected_valid;
            std::string expected_ids;
            if (c.contains("expect") && c["expect"].contains("unresolvedIdentifiers")) {
                std::set<std::string> want;
                for (const auto& id : c["expect"]["unresolvedIdentifiers"]) want.insert(id.get<std::string>());
                const std::set<std::string> got(result.unresolved.begin(), result.unresolved.end());
                ok = ok && want == got;
                for (const auto& id : want) expected_ids += " " + id;
            }
            if (ok) {
                ++out.passed;
            } else {
                std::string first = "(no diagnostic)";
                for (const auto& d : result.diagnostics)
                    if (d.severity == twinsim::dtdl::Severity::error) {
                        first = d.to_string();
                        break;
                    }
                std::string unresolved;
                for (const auto& id : result.unresolved) unresolved += " " + id;
                out.failures.push_back(file.filename().string() + " #" + std::to_string(index) + ": expected " +
                                       (expected_valid ? "valid" : "invalid") +
                                       (expected_ids.empty() ? "" : " unresolved{" + expected_ids + " }") + ", got " +
                                       (result.valid() ? "valid" : "invalid") +
                                       (unresolved.empty() ? "" : " unresolved{" + unresolved + " }") + "; " + first);
            }
            ++index;
        }
    }
    return out;
}

std::optional<fs::path> suite_folder() {
    if (const char* env = std::getenv("TWINSIM_DTDL_CONFORMANCE"); env != nullptr && fs::is_directory(env)) return fs::path(env);
    const fs::path p = fs::path(TWINSIM_SOURCE_DIR) / ".." / "shared" / "conformance" / "dtdl";
    if (fs::is_directory(p)) return p;
    return std::nullopt;
}

void check_version(const char* version) {
    const auto folder = suite_folder();
    if (!folder) {
        twinsim::test::mark_skipped("DTDL conformance suite not found (set TWINSIM_DTDL_CONFORMANCE or provide ../shared)");
        return;
    }
    const fs::path dir = *folder / version;
    if (!fs::is_directory(dir)) {
        twinsim::test::mark_skipped("DTDL conformance suite has no folder " + dir.string());
        return;
    }
    const Outcome o = run_version(dir);
    for (const auto& f : o.failures) std::printf("  disagrees: %s\n", f.c_str());
    const double rate = o.total == 0 ? 0.0 : 100.0 * static_cast<double>(o.passed) / static_cast<double>(o.total);
    std::printf("DTDL %s conformance: %zu/%zu (%.2f%%)\n", version, o.passed, o.total, rate);
    REQUIRE(o.total > 0);
    REQUIRE(rate >= 99.0);
}

}  // namespace

TEST_CASE("DTDL v2 conformance suite", "[conformance]") { check_version("v2"); }
TEST_CASE("DTDL v3 conformance suite", "[conformance]") { check_version("v3"); }
