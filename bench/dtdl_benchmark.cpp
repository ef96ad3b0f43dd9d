// `twinsim-bench dtdl`: how long parse + resolve + validate + flatten
// (ModelSet::compile) takes on the RealEstateCore ontology, read once into memory.
// Baseline, measured in the same run: plain JSON parsing of the same documents.

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "bench_support.hpp"
#include "twinsim/dtdl/model_set.hpp"
#include "twinsim/dtdl/parser.hpp"

namespace twinsim::bench {

int run_dtdl(const DtdlOptions& options) {
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
