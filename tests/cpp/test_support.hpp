#pragma once
// Helpers shared by the C++ tests.

#include <filesystem>
#include <optional>
#include <string>

namespace twinsim::test {

/// Records that a test could not run (e.g. shared/ is absent). If no test
/// failed, the test program then exits with code 4, which CTest reports as
/// "skipped" rather than "passed". The reason is printed.
void mark_skipped(const std::string& reason);

/// The repository root (compile-time TWINSIM_SOURCE_DIR).
std::filesystem::path source_dir();

/// The shared/ folder beside the repository (../shared), or the value of
/// environment variable `env_override` when set; nullopt when neither exists.
std::optional<std::filesystem::path> shared_path(const std::string& relative, const char* env_override = nullptr);

}  // namespace twinsim::test
