// The whole RealEstateCore ontology (shared/ontologies/RealEstateCore) parses
// and validates with no error.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>

#include "../test_support.hpp"
#include "twinsim/dtdl/parser.hpp"

TEST_CASE("RealEstateCore ontology parses without errors", "[ontology]") {
    const auto folder = twinsim::test::shared_path("ontologies/RealEstateCore");
    if (!folder) {
        twinsim::test::mark_skipped("RealEstateCore ontology not found (../shared/ontologies/RealEstateCore)");
        return;
    }
    const std::vector<std::filesystem::path> paths{*folder};
    const auto start = std::chrono::steady_clock::now();
    const auto docs = twinsim::dtdl::read_documents(paths);
    const auto result = twinsim::dtdl::parse(docs);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("RealEstateCore: %zu interfaces read and validated in %.3f s\n", result.interfaces.size(), seconds);
    for (const auto& d : result.errors()) UNSCOPED_INFO(d.to_string());
    CHECK(result.errors().empty());
    CHECK(result.unresolved.empty());
    CHECK(result.valid());
    CHECK(result.interfaces.size() == 767);
}
