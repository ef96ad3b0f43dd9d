// A scenario's base: and base_models: stay inside the scenario file's folder
// tree unless the caller allows more, name regular files (or model folders)
// only, and their errors never carry the content of what they point at.

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "twinsim/dtdl/parser.hpp"
#include "twinsim/scenario/input_paths.hpp"
#include "twinsim/scenario/scenario_spec.hpp"

using namespace twinsim;
using namespace twinsim::scenario;
namespace fs = std::filesystem;

namespace {

struct Tree {
    fs::path root = fs::temp_directory_path() / ("twinsim-paths-" + std::to_string(::getpid()));
    fs::path folder = root / "scenarios";
    fs::path secret = root / "secret.txt";
    Tree() {
        fs::remove_all(root);
        fs::create_directories(folder / "graphs");
        std::ofstream(secret) << "TOKEN-hunter2-do-not-print\n";
        std::ofstream(folder / "graphs" / "base.ndjson") << "{\"Section\": \"Header\"}\n";
        fs::create_symlink(secret, folder / "graphs" / "escape.ndjson");
    }
    ~Tree() { fs::remove_all(root); }
    [[nodiscard]] ScenarioSpec spec(const std::string& base) const {
        return scenario_from_yaml("name: m\nbase: \"" + base + "\"\nstart: 2026-01-01T00:00:00Z\nhorizon: 60\n",
                                  (folder / "s.yaml").string());
    }
    [[nodiscard]] ScenarioError refused(const std::string& base, const InputPathOptions& options = {}) const {
        const ScenarioSpec s = spec(base);
        try {
            (void)resolve_input_path(s, folder, s.base, "/base", "base", options);
        } catch (const ScenarioError& e) {
            CHECK_THAT(e.what(), !Catch::Contains("hunter2"));
            return e;
        }
        FAIL("accepted " << base);
        return ScenarioError("", 0, "", "");
    }
};

}  // namespace

TEST_CASE("a relative path inside the scenario's folder resolves against it", "[input_paths]") {
    const Tree t;
    const ScenarioSpec s = t.spec("graphs/base.ndjson");
    CHECK(resolve_input_path(s, t.folder, s.base, "/base", "base") == fs::canonical(t.folder / "graphs" / "base.ndjson"));
    CHECK(resolve_input_path(s, t.folder, "graphs/../graphs/base.ndjson", "/base", "base") ==
          fs::canonical(t.folder / "graphs" / "base.ndjson"));
}

TEST_CASE("an absolute base path is refused by default", "[input_paths]") {
    const Tree t;
    const auto e = t.refused(t.secret.string());
    CHECK(e.line() == 2);
    CHECK(e.field() == "base");
    CHECK_THAT(e.reason(), Catch::Contains("an absolute path outside the scenario's folder") &&
                               Catch::Contains("is not allowed") && Catch::Contains("--allow-outside-paths"));
    // An absolute path into the scenario's own tree is where it leads: inside.
    const ScenarioSpec s = t.spec("x");
    CHECK_NOTHROW(resolve_input_path(s, t.folder, (t.folder / "graphs" / "base.ndjson").string(), "/base", "base"));
}

TEST_CASE("a ../ path that leaves the scenario's folder is refused", "[input_paths]") {
    const Tree t;
    const auto e = t.refused("../secret.txt");
    CHECK(e.field() == "base");
    CHECK_THAT(e.reason(), Catch::Contains("leads outside the scenario's folder"));
}

TEST_CASE("a symbolic link that leads out of the scenario's folder is refused", "[input_paths]") {
    const Tree t;
    CHECK_THAT(t.refused("graphs/escape.ndjson").reason(), Catch::Contains("leads outside the scenario's folder"));
}

TEST_CASE("a trusted folder's tree is allowed besides the scenario's, and nothing else", "[input_paths]") {
    const Tree t;
    fs::create_directories(t.root / "models");
    std::ofstream(t.root / "models" / "m.json") << "{}";
    InputPathOptions trusting;
    trusting.trusted_folders = {t.root / "models"};
    trusting.allow_folder = true;
    const ScenarioSpec s = t.spec("../models");
    CHECK(resolve_input_path(s, t.folder, "../models", "/base_models/0", "base_models[0]", trusting) ==
          fs::canonical(t.root / "models"));
    CHECK_THAT(t.refused("../secret.txt", trusting).reason(), Catch::Contains("leads outside"));
}

TEST_CASE("paths outside the folder are accepted when the caller allows them", "[input_paths]") {
    const Tree t;
    InputPathOptions allow;
    allow.allow_outside = true;
    const ScenarioSpec s = t.spec("../secret.txt");
    CHECK(resolve_input_path(s, t.folder, s.base, "/base", "base", allow) == fs::canonical(t.secret));
    CHECK(resolve_input_path(s, t.folder, t.secret.string(), "/base", "base", allow) == fs::canonical(t.secret));
    CHECK(resolve_input_path(s, t.folder, "graphs/escape.ndjson", "/base", "base", allow) == fs::canonical(t.secret));
}

TEST_CASE("devices, FIFOs and folders are never read as a base graph", "[input_paths]") {
    const Tree t;
    InputPathOptions allow;
    allow.allow_outside = true;
    CHECK_THAT(t.refused("/dev/zero", allow).reason(), Catch::Contains("is not a regular file"));
    REQUIRE(::mkfifo((t.folder / "pipe").c_str(), 0600) == 0);
    CHECK_THAT(t.refused("pipe").reason(), Catch::Contains("is not a regular file"));
    CHECK_THAT(t.refused("graphs").reason(), Catch::Contains("is a folder"));
    InputPathOptions folders;
    folders.allow_folder = true;
    const ScenarioSpec s = t.spec("graphs");
    CHECK(resolve_input_path(s, t.folder, "graphs", "/base_models/0", "base_models[0]", folders) ==
          fs::canonical(t.folder / "graphs"));
}

TEST_CASE("a missing path and a symbolic link loop say which", "[input_paths]") {
    const Tree t;
    CHECK_THAT(t.refused("graphs/nope.ndjson").reason(), Catch::Contains("no such file or folder"));
    fs::create_symlink(t.folder / "loop-b", t.folder / "loop-a");
    fs::create_symlink(t.folder / "loop-a", t.folder / "loop-b");
    CHECK_THAT(t.refused("loop-a").reason(), Catch::Contains("a loop of symbolic links"));
}

TEST_CASE("DTDL folders: a symbolic link loop, an empty folder and an unreadable file are clear IoErrors", "[input_paths]") {
    const Tree t;
    const fs::path models = t.folder / "models";
    fs::create_directories(models / "sub");
    // An empty folder (or one without *.json, e.g. a mistyped path) is not a valid model set.
    {
        const std::vector<fs::path> paths{models};
        CHECK_THROWS_WITH(dtdl::read_documents(paths), Catch::Contains("holds no *.json file"));
    }
    // A link back to an ancestor is a loop, named as one.
    std::ofstream(models / "a.json") << "{}";
    fs::create_directory_symlink(models, models / "sub" / "back");
    {
        const std::vector<fs::path> paths{models};
        CHECK_THROWS_AS(dtdl::read_documents(paths), IoError);
        CHECK_THROWS_WITH(dtdl::read_documents(paths), Catch::Contains("a loop of symbolic links"));
    }
    fs::remove(models / "sub" / "back");
    // A path that is itself a loop.
    fs::create_symlink(t.folder / "m-b", t.folder / "m-a");
    fs::create_symlink(t.folder / "m-a", t.folder / "m-b");
    {
        const std::vector<fs::path> paths{t.folder / "m-a"};
        CHECK_THROWS_WITH(dtdl::read_documents(paths), Catch::Contains("a loop of symbolic links"));
    }
    // The OS's reason when a path cannot be examined.
    {
        const std::vector<fs::path> paths{t.folder / std::string(5000, 'x')};
        CHECK_THROWS_WITH(dtdl::read_documents(paths), Catch::Contains("File name too long"));
    }
    // ... and when a file cannot be opened (root reads anything: checked as another user only).
    if (::geteuid() != 0) {
        fs::permissions(models / "a.json", fs::perms::none);
        const std::vector<fs::path> paths{models / "a.json"};
        CHECK_THROWS_WITH(dtdl::read_documents(paths), Catch::Contains("Permission denied"));
    }
}
