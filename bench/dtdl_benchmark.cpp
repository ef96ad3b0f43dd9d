// `twinsim-bench dtdl`: how long parse + resolve + validate + flatten
// (ModelSet::compile) takes on the RealEstateCore ontology, read once into memory.
// Baseline, measured in the same run: plain JSON parsing of the same documents.
// It also times ModelSet::is_a (ns per call, over random pairs and over pairs
// where the answer is true) against an n-by-n bit matrix built here from the
// same ancestors: the representation ModelSet used before, kept as a baseline.
//
// `twinsim-bench dtdl --synthetic N`: a scaling check. It generates N valid
// DTDL v3 interfaces in memory and times ModelSet::compile on all N and on the
// first N/10 (a valid model on its own) in the same run; for linear cost the
// ratio of the two times is close to 10. model_heap_bytes is the heap the
// compiled ModelSet keeps (glibc's count; 0 elsewhere).

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "bench_support.hpp"
#include "twinsim/dtdl/model_set.hpp"
#include "twinsim/dtdl/parser.hpp"

namespace twinsim::bench {

namespace {

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

// ---- is_a -------------------------------------------------------------------------------------

using Pair = std::pair<dtdl::InterfaceIndex, dtdl::InterfaceIndex>;

// The former ModelSet representation: row d has bit b set when d is-a b.
class BitMatrix {
public:
    explicit BitMatrix(const dtdl::ModelSet& set) : n_(set.size()), words_((n_ + 63) / 64), bits_(n_ * words_, 0) {
        for (const auto& ci : set.interfaces()) {
            set_bit(ci.index, ci.index);
            for (auto a : ci.ancestors) set_bit(ci.index, a);
        }
    }
    // Not inlined, as ModelSet::is_a is not (another translation unit), so
    // the two are compared call for call.
    [[nodiscard]] [[gnu::noinline]] bool is_a(dtdl::InterfaceIndex d, dtdl::InterfaceIndex b) const noexcept {
        if (d >= n_ || b >= n_) return false;
        return ((bits_[d * words_ + b / 64] >> (b % 64)) & 1U) != 0;
    }

private:
    void set_bit(std::size_t d, std::size_t b) { bits_[d * words_ + b / 64] |= std::uint64_t{1} << (b % 64); }
    std::size_t n_;
    std::size_t words_;
    std::vector<std::uint64_t> bits_;
};

// Nanoseconds per lookup: the whole pair list, as many times as fit in about
// 0.1 s, best of `repeat`. `hits` is returned so the calls cannot be elided.
template <class IsA>
double ns_per_is_a(const std::vector<Pair>& pairs, int repeat, std::size_t& hits, IsA is_a) {
    std::vector<double> times;
    for (int r = 0; r < std::max(repeat, 3); ++r) {
        std::size_t calls = 0;
        const auto start = std::chrono::steady_clock::now();
        double elapsed = 0.0;
        do {
            std::size_t found = 0;
            for (const auto& [d, b] : pairs) found += is_a(d, b) ? 1U : 0U;
            hits = found;
            calls += pairs.size();
            elapsed = seconds_since(start);
        } while (elapsed < 0.1);
        times.push_back(elapsed * 1e9 / static_cast<double>(calls));
    }
    return stats(std::move(times)).min;
}

nlohmann::ordered_json time_is_a(const dtdl::ModelSet& set, int repeat) {
    constexpr std::size_t count = 1U << 20U;
    const std::size_t n = set.size();
    Random random(7);
    std::vector<Pair> any(count);
    std::vector<Pair> positive(count);
    for (std::size_t k = 0; k < count; ++k) {
        any[k] = {static_cast<dtdl::InterfaceIndex>(random.below(n)), static_cast<dtdl::InterfaceIndex>(random.below(n))};
        const auto& ci = set.at(static_cast<dtdl::InterfaceIndex>(random.below(n)));
        const std::size_t pick = random.below(ci.ancestors.size() + 1);  // an ancestor, or itself
        positive[k] = {ci.index, pick == ci.ancestors.size() ? ci.index : ci.ancestors[pick]};
    }
    std::size_t max_ancestors = 0;
    std::size_t pairs_total = 0;
    for (const auto& ci : set.interfaces()) {
        max_ancestors = std::max(max_ancestors, ci.ancestors.size());
        pairs_total += ci.ancestors.size() + 1;
    }
    const BitMatrix matrix(set);
    auto model_is_a = [&](dtdl::InterfaceIndex d, dtdl::InterfaceIndex b) { return set.is_a(d, b); };
    auto matrix_is_a = [&](dtdl::InterfaceIndex d, dtdl::InterfaceIndex b) { return matrix.is_a(d, b); };
    std::size_t hits_model = 0;
    std::size_t hits_matrix = 0;
    std::size_t hits_positive = 0;
    std::size_t hits_positive_matrix = 0;
    nlohmann::ordered_json out;
    out["pairs"] = count;
    out["random_ns_per_call"] = ns_per_is_a(any, repeat, hits_model, model_is_a);
    out["random_ns_per_call_bit_matrix"] = ns_per_is_a(any, repeat, hits_matrix, matrix_is_a);
    out["random_true_fraction"] = static_cast<double>(hits_model) / static_cast<double>(count);
    out["true_ns_per_call"] = ns_per_is_a(positive, repeat, hits_positive, model_is_a);
    out["true_ns_per_call_bit_matrix"] = ns_per_is_a(positive, repeat, hits_positive_matrix, matrix_is_a);
    out["max_ancestors"] = max_ancestors;
    out["bytes_sorted_spans"] = pairs_total * sizeof(dtdl::InterfaceIndex) + (n + 1) * sizeof(std::size_t);
    out["bytes_bit_matrix"] = n * ((n + 63) / 64) * sizeof(std::uint64_t);
    if (hits_model != hits_matrix || hits_positive != count || hits_positive_matrix != count)
        std::cerr << "twinsim-bench: is_a disagrees with the bit matrix\n";
    return out;
}

// Bytes of heap in use (glibc); 0 where unknown.
std::size_t heap_in_use() {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
    const struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
#else
    return 0;
#endif
}

struct Timing {
    std::size_t interfaces = 0;
    Stats seconds;
    std::size_t model_bytes = 0;  ///< heap held by the compiled ModelSet (after the parser's is freed)
};

Timing time_compile(std::span<const dtdl::Document> documents, int repeat) {
    std::vector<double> times;
    Timing out;
    for (int r = 0; r < repeat; ++r) {
        const std::size_t heap_before = heap_in_use();
        const auto start = std::chrono::steady_clock::now();
        const auto model = dtdl::ModelSet::compile(documents);
        times.push_back(seconds_since(start));
        const std::size_t heap_after = heap_in_use();
        out.model_bytes = heap_after > heap_before ? heap_after - heap_before : 0;
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
                                      {"seconds_per_interface", t.seconds.min / static_cast<double>(t.interfaces)},
                                      {"model_heap_bytes", t.model_bytes}};
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
    std::shared_ptr<const dtdl::ModelSet> model;
    for (int i = 0; i < options.repeat; ++i) {
        auto start = std::chrono::steady_clock::now();
        model = dtdl::ModelSet::compile(documents);
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
    out["is_a"] = time_is_a(*model, options.repeat);
    std::cout << out.dump() << '\n';
    return exit_ok;
}

}  // namespace twinsim::bench
