// The single Catch2 test program. A test that cannot run because its data is
// absent calls mark_skipped(); the program then exits 4 so CTest shows it as
// skipped instead of counting it as a pass.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <iostream>
#include <vector>

#include "test_support.hpp"

namespace twinsim::test {
namespace {
std::vector<std::string>& skip_reasons() {
    static std::vector<std::string> reasons;
    return reasons;
}
}  // namespace

void mark_skipped(const std::string& reason) {
    std::cout << "SKIPPED: " << reason << '\n';
    skip_reasons().push_back(reason);
}

std::filesystem::path source_dir() { return TWINSIM_SOURCE_DIR; }

std::optional<std::filesystem::path> shared_path(const std::string& relative, const char* env_override) {
    if (env_override != nullptr) {
        if (const char* v = std::getenv(env_override); v != nullptr && *v != '\0') {
            std::filesystem::path p(v);
            if (std::filesystem::exists(p)) return p;
        }
    }
    auto p = source_dir().parent_path() / "shared" / relative;
    if (std::filesystem::exists(p)) return p;
    return std::nullopt;
}

}  // namespace twinsim::test

int main(int argc, char* argv[]) {
    const int failed = Catch::Session().run(argc, argv);
    if (failed == 0 && !twinsim::test::skip_reasons().empty()) return 4;
    return failed;
}
