// twinsim-bench rul: remaining-useful-life accuracy on C-MAPSS in the data
// set's standard protocol (truth capped at 125 cycles, prediction at each
// test engine's last cycle): RMSE, the PHM08 score and the 90 % interval
// coverage of the prognostics model (models/equipment/prognostics.hpp),
// fitted on the training file alone, beside baselines measured in the same
// run on the same files: constant mean life, Weibull mean residual life
// (models/equipment/lifetime.hpp, fitted on the training lives), and
// ordinary least squares of the capped RUL on the informative sensors. Fit times are medians of
// interleaved rounds, wall and CPU (getrusage).

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.hpp"
#include "models/equipment/histories.hpp"
#include "models/equipment/lifetime.hpp"
#include "models/equipment/prognostics.hpp"

namespace twinsim::bench {

namespace {

using models::HistorySet;
using models::PrognosticsModel;

constexpr double cap = 125.0;

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::string cpu_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown";
}

double load_1min() {
    std::ifstream in("/proc/loadavg");
    double load = -1.0;
    in >> load;
    return load;
}

/// RMSE, PHM08 score and (when intervals are given) 90 % coverage against the capped truth.
nlohmann::json metrics(const std::vector<double>& predicted, const std::vector<double>& truth,
                       const std::vector<double>* lo = nullptr, const std::vector<double>* hi = nullptr) {
    double se = 0.0, score = 0.0, covered = 0.0;
    for (std::size_t i = 0; i < truth.size(); ++i) {
        const double t = std::min(truth[i], cap);
        const double d = std::min(predicted[i], cap) - t;
        se += d * d;
        score += d < 0.0 ? std::exp(-d / 13.0) - 1.0 : std::exp(d / 10.0) - 1.0;
        if (lo != nullptr) covered += (t >= (*lo)[i] && t <= (*hi)[i]) ? 1.0 : 0.0;
    }
    const double n = static_cast<double>(truth.size());
    nlohmann::json out = {{"rmse", std::sqrt(se / n)}, {"score", score}};
    if (lo != nullptr) out["coverage_90"] = covered / n;
    return out;
}

}  // namespace

int run_rul(const RulBenchOptions& options) {
    const std::filesystem::path data = std::filesystem::path(TWINSIM_SOURCE_DIR) / "scenarios/equipment/data";
    auto or_default = [&](const std::string& given, const char* bundled) {
        return given.empty() ? data / bundled : std::filesystem::path(given);
    };
    const std::filesystem::path train_file = or_default(options.train, "train_FD001.txt.gz");
    const std::filesystem::path test_file = or_default(options.test, "test_FD001.txt.gz");
    const std::filesystem::path truth_file = or_default(options.truth, "RUL_FD001.txt");
    HistorySet train, test;
    std::vector<double> truth;
    try {
        train = models::read_cmapss(train_file, true);
        test = models::read_cmapss(test_file, false);
        truth = models::read_rul_truth(truth_file);
    } catch (const std::exception& e) {
        std::cerr << "twinsim-bench rul: " << e.what() << "\n";
        return exit_failed;
    }
    if (truth.size() != test.units.size()) {
        std::cerr << "twinsim-bench rul: " << truth_file.string() << " has " << truth.size() << " values for "
                  << test.units.size() << " test units\n";
        return exit_failed;
    }

    // Interleaved rounds: the model's fit, then the OLS baseline's fit (the health indicator alone).
    std::vector<double> fit_wall, fit_cpu, ols_wall, ols_cpu;
    std::optional<PrognosticsModel> model;
    std::optional<models::HealthIndicator> ols;
    for (unsigned r = 0; r < options.rounds; ++r) {
        auto start = std::chrono::steady_clock::now();
        double c0 = cpu_seconds();
        model = PrognosticsModel::fit(train);
        fit_wall.push_back(seconds_since(start));
        fit_cpu.push_back(cpu_seconds() - c0);
        start = std::chrono::steady_clock::now();
        c0 = cpu_seconds();
        ols = models::HealthIndicator::fit(train);
        ols_wall.push_back(seconds_since(start));
        ols_cpu.push_back(cpu_seconds() - c0);
    }

    auto start = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    const std::vector<models::RulDistribution> predictions = model->predict(test);
    const double predict_wall = seconds_since(start), predict_cpu = cpu_seconds() - c0;
    std::vector<double> point, lo, hi;
    for (const models::RulDistribution& p : predictions) {
        point.push_back(p.capped_mean(cap));
        lo.push_back(p.capped_quantile(0.05, cap));
        hi.push_back(p.capped_quantile(0.95, cap));
    }

    // Baseline 1: constant mean life, RUL = mean training life - cycles run (>= 0).
    double mean_life = 0.0;
    for (const models::UnitHistory& u : train.units) mean_life += u.cycles.back();
    mean_life /= static_cast<double>(train.units.size());
    std::vector<double> mean_life_point;
    for (const models::UnitHistory& u : test.units) mean_life_point.push_back(std::max(mean_life - u.cycles.back(), 0.0));

    // Baseline 2: Weibull mean residual life E[T - t | T > t] at each test unit's age t, the
    // Weibull fitted by maximum likelihood on the training lives (all run to failure).
    std::vector<double> lives;
    for (const models::UnitHistory& u : train.units) lives.push_back(u.cycles.back());
    const models::WeibullFit weibull = models::fit_weibull(lives, std::vector<bool>(lives.size(), true));
    std::vector<double> weibull_point;
    for (const models::UnitHistory& u : test.units) weibull_point.push_back(weibull.life.mean_residual_life(u.cycles.back()));

    // Baseline 3: OLS of the capped RUL on the informative sensors, read at the last cycle.
    const HistorySet ordered = ols->reorder(test);
    std::vector<double> ols_point;
    for (const models::UnitHistory& u : ordered.units) {
        const std::size_t k = u.rows() - 1;
        const double h = ols->evaluate({u.settings.data() + k * ordered.setting_count(), ordered.setting_count()},
                                       {u.sensors.data() + k * ordered.sensor_count(), ordered.sensor_count()});
        ols_point.push_back(std::clamp(h * cap, 0.0, cap));
    }

    nlohmann::json m = metrics(point, truth, &lo, &hi);
    const Stats fw = stats(fit_wall), fc = stats(fit_cpu), ow = stats(ols_wall), oc = stats(ols_cpu);
    nlohmann::json out = {
        {"benchmark", "rul"},
        {"data", {{"train", train_file.string()}, {"test", test_file.string()}, {"truth", truth_file.string()},
                  {"train_units", train.units.size()}, {"test_units", test.units.size()}, {"train_rows", train.rows()}}},
        {"protocol", "truth capped at 125 cycles; prediction (the capped mean of the RUL distribution) at each test "
                     "unit's last cycle; 90 % interval = capped 5 % and 95 % quantiles; fitted on the training file alone"},
        {"twinsim", {{"rmse", m["rmse"]},
                     {"score", m["score"]},
                     {"coverage_90", m["coverage_90"]},
                     {"fit_seconds_median", fw.median},
                     {"fit_cpu_seconds_median", fc.median},
                     {"predict_seconds", predict_wall},
                     {"predict_cpu_seconds", predict_cpu},
                     {"informative_sensors", model->health_indicator().informative_sensors()},
                     {"conditions", model->health_indicator().condition_count()}}},
        {"baselines",
         {{"mean_life", metrics(mean_life_point, truth)},
          {"weibull_mean_residual_life", [&] {
               nlohmann::json b = metrics(weibull_point, truth);
               b["beta"] = weibull.life.beta();
               b["eta"] = weibull.life.eta();
               return b;
           }()},
          {"ols_sensors", [&] {
               nlohmann::json b = metrics(ols_point, truth);
               b["fit_seconds_median"] = ow.median;
               b["fit_cpu_seconds_median"] = oc.median;
               return b;
           }()}}},
        {"targets", {{"rmse", 16.0}, {"score", 400.0}, {"coverage_90", {0.85, 0.95}}, {"fit_seconds", 5.0}}},
        {"rounds", options.rounds},
        {"machine", {{"cpu", cpu_name()}, {"cores", std::thread::hardware_concurrency()}, {"load_1min", load_1min()}}}};
    std::cout << out.dump(2) << "\n";
    return exit_ok;
}

}  // namespace twinsim::bench
