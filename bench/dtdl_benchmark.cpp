// `twinsim-bench dtdl`: how long parse + resolve + validate + flatten
// (ModelSet::compile) takes on the RealEstateCore ontology, read once into memory.
// Baseline, measured in the same run: plain JSON parsing of the same documents.
//
// `twinsim-bench dtdl --synthetic N`: a scaling check. It generates N valid
// DTDL v3 interfaces in memory and times ModelSet::compile on all N and on the
// first N/10 (a valid model on its own) in the same run; for linear cost the
// ratio of the two times is close to 10.

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench_support.hpp"
#include "twinsim/dtdl/model_set.hpp"
#include "twinsim/dtdl/parser.hpp"

namespace twinsim::bench {

namespace {

// Deterministic pseudo-random numbers (SplitMix64), so every run times the same model.
class Random {
public:
    explicit Random(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31U);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }

private:
    std::uint64_t state_;
};

// prefix + i + suffix, appended in place: GCC 12 at -O3 warns falsely
// (-Wrestrict) about "literal" + std::string.
std::string numbered(std::string_view prefix, std::size_t i, std::string_view suffix) {
    std::string s(prefix);
    s += std::to_string(i);
    s += suffix;
    return s;
}

std::string synthetic_id(std::size_t i) { return numbered("dtmi:twinsim:bench:I", i, ";1"); }

// N interfaces shaped like a real ontology. The first `mixins` have only
// Properties (they serve as second bases and as Component schemas); the others
// form a forest of single inheritance at most 8 deep, each also extending a
// mixin half the time, and hold about ten contents: Properties with standard,
// Enum (shared through "schemas"), Object and Map schemas, a Telemetry, a
// Command with request and response, a Relationship with a property, and a
// Component. Names carry the interface number, so inherited names never clash.
std::vector<dtdl::Document> synthetic_documents(std::size_t n) {
    using json = nlohmann::ordered_json;
    constexpr std::size_t mixins = 10;
    constexpr int max_level = 8;
    Random random(20240601);
    std::vector<int> level(n, 0);
    std::vector<std::size_t> parent(n, 0);
    std::vector<dtdl::Document> documents;
    documents.reserve(n);
    const json context = json::array({"dtmi:dtdl:context;3"});
    for (std::size_t i = 0; i < n; ++i) {
        const std::string p = numbered("i", i, "_");
        json in = {{"@context", context}, {"@id", synthetic_id(i)}, {"@type", "Interface"}, {"displayName", numbered("Interface ", i, "")}};
        json contents = json::array();
        contents.push_back({{"@type", "Property"}, {"name", p + "name"}, {"schema", "string"}, {"writable", true}});
        contents.push_back({{"@type", "Property"}, {"name", p + "value"}, {"schema", "double"}});
        if (i < mixins || n <= mixins) {
            contents.push_back({{"@type", "Property"}, {"name", p + "count"}, {"schema", "integer"}});
            in["contents"] = std::move(contents);
            documents.push_back({numbered("synthetic/", i, ".json"), in.dump()});
            continue;
        }
        json extends = json::array();
        if (i >= 2 * mixins) {
            std::size_t base = mixins + random.below(i - mixins);
            while (level[base] >= max_level) base = parent[base];
            parent[i] = base;
            level[i] = level[base] + 1;
            extends.push_back(synthetic_id(base));
        }
        if (random.below(2) == 0) extends.push_back(synthetic_id(random.below(mixins)));
        if (!extends.empty()) in["extends"] = std::move(extends);

        const std::string enum_id = numbered("dtmi:twinsim:bench:I", i, ":Mode;1");
        in["schemas"] = json::array({{{"@id", enum_id},
                                      {"@type", "Enum"},
                                      {"valueSchema", "integer"},
                                      {"enumValues", json::array({{{"name", "off"}, {"enumValue", 0}},
                                                                  {{"name", "on"}, {"enumValue", 1}},
                                                                  {{"name", "auto"}, {"enumValue", 2}}})}}});
        contents.push_back({{"@type", "Property"}, {"name", p + "mode"}, {"schema", enum_id}, {"writable", true}});
        contents.push_back({{"@type", "Property"},
                            {"name", p + "location"},
                            {"schema", {{"@type", "Object"},
                                        {"fields", json::array({{{"name", "x"}, {"schema", "double"}},
                                                                {{"name", "y"}, {"schema", "double"}},
                                                                {{"name", "label"}, {"schema", "string"}}})}}}});
        contents.push_back({{"@type", "Property"},
                            {"name", p + "tags"},
                            {"schema", {{"@type", "Map"},
                                        {"mapKey", {{"name", "key"}, {"schema", "string"}}},
                                        {"mapValue", {{"name", "value"}, {"schema", "string"}}}}}});
        contents.push_back({{"@type", "Telemetry"}, {"name", p + "reading"}, {"schema", "float"}});
        contents.push_back({{"@type", "Command"},
                            {"name", p + "reset"},
                            {"request", {{"name", "delay"}, {"schema", "duration"}}},
                            {"response", {{"name", "ok"}, {"schema", "boolean"}}}});
        contents.push_back({{"@type", "Relationship"},
                            {"name", p + "feeds"},
                            {"target", synthetic_id(mixins + random.below(i - mixins + 1))},
                            {"properties", json::array({{{"@type", "Property"}, {"name", "since"}, {"schema", "dateTime"}}})}});
        contents.push_back({{"@type", "Component"}, {"name", p + "part"}, {"schema", synthetic_id(random.below(mixins))}});
        contents.push_back({{"@type", "Property"}, {"name", p + "enabled"}, {"schema", "boolean"}});
        in["contents"] = std::move(contents);
        documents.push_back({numbered("synthetic/", i, ".json"), in.dump()});
    }
    return documents;
}

struct Timing {
    std::size_t interfaces = 0;
    Stats seconds;
};

Timing time_compile(std::span<const dtdl::Document> documents, int repeat) {
    std::vector<double> times;
    Timing out;
    for (int r = 0; r < repeat; ++r) {
        const auto start = std::chrono::steady_clock::now();
        const auto model = dtdl::ModelSet::compile(documents);
        times.push_back(seconds_since(start));
        out.interfaces = model->size();
    }
    out.seconds = stats(std::move(times));
    return out;
}

int run_synthetic(const DtdlOptions& options) {
    const auto n = static_cast<std::size_t>(options.synthetic);
    const std::vector<dtdl::Document> documents = synthetic_documents(n);
    const std::span<const dtdl::Document> all(documents);
    // The first tenth is a model on its own: every base, target and component schema comes earlier.
    const Timing tenth = time_compile(all.first(n / 10), options.repeat);
    const Timing full = time_compile(all, options.repeat);
    auto report = [](const Timing& t) {
        return nlohmann::ordered_json{{"interfaces", t.interfaces},
                                      {"seconds_min", t.seconds.min},
                                      {"seconds_median", t.seconds.median},
                                      {"seconds_per_interface", t.seconds.min / static_cast<double>(t.interfaces)}};
    };
    nlohmann::ordered_json out;
    out["benchmark"] = "dtdl-synthetic";
    out["repeat"] = options.repeat;
    out["full"] = report(full);
    out["tenth"] = report(tenth);
    out["seconds_ratio"] = tenth.seconds.min > 0.0 ? full.seconds.min / tenth.seconds.min : 0.0;
    out["linear_ratio"] = static_cast<double>(full.interfaces) / static_cast<double>(tenth.interfaces);
    std::cout << out.dump() << '\n';
    return exit_ok;
}

}  // namespace

int run_dtdl(const DtdlOptions& options) {
    if (options.synthetic > 0) return run_synthetic(options);
    constexpr double target_seconds = 0.3;
    const std::filesystem::path ontology = options.ontology.empty() ? default_ontology() : std::filesystem::path(options.ontology);
    if (skip_if_missing(ontology)) return exit_skipped;

    const auto read_start = std::chrono::steady_clock::now();
    const std::vector<std::filesystem::path> paths{ontology};
    const std::vector<dtdl::Document> documents = dtdl::read_documents(paths);
    const double read_seconds = seconds_since(read_start);
    std::size_t bytes = 0;
    for (const dtdl::Document& d : documents) bytes += d.text.size();

    std::vector<double> compile_times;
    std::vector<double> baseline_times;
    std::size_t interfaces = 0;
    for (int i = 0; i < options.repeat; ++i) {
        auto start = std::chrono::steady_clock::now();
        const auto model = dtdl::ModelSet::compile(documents);
        compile_times.push_back(seconds_since(start));
        interfaces = model->size();

        start = std::chrono::steady_clock::now();
        std::size_t values = 0;
        for (const dtdl::Document& d : documents) values += nlohmann::json::parse(d.text).size();
        baseline_times.push_back(seconds_since(start));
        if (values == 0) std::cerr << "twinsim-bench: the documents are empty\n";
    }
    const Stats compile = stats(compile_times);
    const Stats baseline = stats(baseline_times);

    nlohmann::ordered_json out;
    out["benchmark"] = "dtdl";
    out["ontology"] = ontology.string();
    out["interfaces"] = interfaces;
    out["documents"] = documents.size();
    out["bytes"] = bytes;
    out["repeat"] = options.repeat;
    out["seconds_min"] = compile.min;
    out["seconds_median"] = compile.median;
    out["target_seconds"] = target_seconds;
    out["meets_target"] = compile.median <= target_seconds;
    out["read_seconds"] = read_seconds;
    out["baseline"] = {{"name", "nlohmann::json::parse of the same documents"},
                       {"seconds_min", baseline.min},
                       {"seconds_median", baseline.median}};
    out["ratio_to_baseline"] = baseline.median > 0.0 ? compile.median / baseline.median : 0.0;
    std::cout << out.dump() << '\n';
    return exit_ok;
}

}  // namespace twinsim::bench
