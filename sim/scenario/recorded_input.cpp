#include "twinsim/scenario/recorded_input.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

namespace twinsim::scenario {
namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

std::string when(Timestamp t) { return format_timestamp(t, TimestampPrecision::nanoseconds); }

std::string seconds_text(double s) {
    std::ostringstream out;
    out << s;
    return out.str();
}

std::string describe(const std::string& twin, const std::string& property, std::optional<Timestamp> time,
                     const std::string& reason) {
    std::string text;
    if (!twin.empty()) text = twin + (property.empty() ? std::string() : "." + property);
    if (time) text += (text.empty() ? "" : " at ") + when(*time);
    return text.empty() ? reason : text + ": " + reason;
}

/// A recorded value as a number: JSON number or boolean; NaN for anything else.
double numeric(const std::string& text) {
    if (text.empty()) return nan;  // a Delete
    double x = 0.0;
    const char* first = text.data();
    const char* last = first + text.size();
    const auto [ptr, ec] = std::from_chars(first, last, x);
    if (ec == std::errc() && ptr == last) return x;
    if (text == "true") return 1.0;
    if (text == "false") return 0.0;
    const nlohmann::json value = nlohmann::json::parse(text, nullptr, false);
    if (value.is_number()) return value.get<double>();
    if (value.is_boolean()) return value.get<bool>() ? 1.0 : 0.0;
    return nan;
}

}  // namespace

RecordedInputError::RecordedInputError(std::string twin, std::string property, std::optional<Timestamp> time,
                                       const std::string& reason)
    : Error(describe(twin, property, time, reason)), twin_(std::move(twin)), property_(std::move(property)), time_(time) {}

RecordedHistory::RecordedHistory(const io::HistoryTables& tables) : source_(tables.source) {
    struct Row {
        std::int64_t time;
        double value;
    };
    std::map<std::pair<std::string, std::string>, std::vector<Row>, std::less<>> rows;
    const auto& p = tables.property_updates;
    // The latest model recorded for each twin, by time.
    std::map<std::string, std::pair<std::int64_t, std::string>, std::less<>> models;
    auto note_model = [&](const std::string& twin, std::int64_t t, const std::string& model) {
        if (model.empty()) return;
        auto [it, added] = models.try_emplace(twin, t, model);
        if (!added && t >= it->second.first) it->second = {t, model};
    };
    // A row stands at its source time when it has one (a reading ingested after the fact: the
    // BMS's timestamp, not the moment the store took it), else at the time it was recorded.
    auto instant = [](std::int64_t recorded, std::int64_t source) { return source != io::no_time ? source : recorded; };
    for (std::size_t i = 0; i < p.time_ns.size(); ++i) {
        if (!p.relationship_id[i].empty()) continue;  // a relationship's property
        const std::int64_t t = instant(p.time_ns[i], p.source_time_ns[i]);
        note_model(p.id[i], t, p.model_id[i]);
        auto& series = rows[{p.id[i], p.key[i]}];
        series.push_back({t, p.action[i] == "Delete" ? nan : numeric(p.value[i])});
        auto& s = series_[{p.id[i], p.key[i]}];
        s.model_id = p.model_id[i];
        if (!p.unit[i].empty()) s.unit = p.unit[i];
    }
    const auto& te = tables.telemetry;
    for (std::size_t i = 0; i < te.time_ns.size(); ++i) {
        rows[{te.id[i], te.key[i]}].push_back({instant(te.time_ns[i], te.source_time_ns[i]), numeric(te.value[i])});
        auto& s = series_[{te.id[i], te.key[i]}];
        s.model_id = te.model_id[i];
        if (!te.unit[i].empty()) s.unit = te.unit[i];
        // Telemetry's ModelId may be a component's model: it does not name the twin's.
        models.try_emplace(te.id[i], std::numeric_limits<std::int64_t>::min(), std::string());
    }
    const auto& tl = tables.twin_lifecycle;
    for (std::size_t i = 0; i < tl.time_ns.size(); ++i) note_model(tl.twin_id[i], tl.time_ns[i], tl.model_id[i]);
    for (auto& [key, list] : rows) {
        std::stable_sort(list.begin(), list.end(), [](const Row& a, const Row& b) { return a.time < b.time; });
        RecordedSeries& s = series_.at(key);
        s.time_ns.reserve(list.size());
        s.value.reserve(list.size());
        for (const Row& r : list) {
            s.time_ns.push_back(r.time);
            s.value.push_back(r.value);
        }
        rows_ += list.size();
    }
    for (auto& [twin, m] : models) twins_.emplace(twin, m.second);
}

RecordedHistory RecordedHistory::read_file(const std::filesystem::path& path) {
    io::HistoryTables tables = io::read_history_file(path);
    if (tables.source.empty()) tables.source = path.string();
    RecordedHistory h(tables);
    h.source_ = path.string();
    return h;
}

const RecordedSeries* RecordedHistory::find(std::string_view twin, std::string_view key) const {
    const auto it = series_.find(std::pair<std::string, std::string>(twin, key));
    return it == series_.end() ? nullptr : &it->second;
}

std::vector<double> resample(const RecordedHistory& history, std::string_view twin, std::string_view key,
                             Timestamp window_start, std::span<const double> times, Interpolation interpolation,
                             const GapPolicy& gaps, bool before_instant) {
    const RecordedSeries* s = history.find(twin, key);
    if (s == nullptr)
        throw RecordedInputError(std::string(twin), std::string(key), window_start,
                                 "the history (" + history.source() + ") holds no recorded value of this property");
    std::vector<double> out(times.size(), nan);
    const std::vector<std::int64_t>& tn = s->time_ns;
    const std::size_t n = tn.size();
    std::size_t next = 0;  // first row after the current instant
    for (std::size_t k = 0; k < times.size(); ++k) {
        const std::int64_t at = window_start.ns + static_cast<std::int64_t>(std::llround(times[k] * 1e9));
        while (next < n && (before_instant ? tn[next] < at : tn[next] <= at)) ++next;
        std::string why;
        if (next == 0) {
            why = "no value was recorded at or before this time (the first is at " + when(Timestamp{tn[0]}) + ")";
        } else {
            const std::size_t i = next - 1;
            const double held = s->value[i];
            const double age = static_cast<double>(at - tn[i]) * 1e-9;
            if (std::isnan(held)) {
                why = "the value recorded at " + when(Timestamp{tn[i]}) + " is not a number (or the property was deleted)";
            } else if (interpolation == Interpolation::linear && at > tn[i] && next < n && !std::isnan(s->value[next]) &&
                       static_cast<double>(tn[next] - tn[i]) * 1e-9 <= gaps.max_gap) {
                const double w = static_cast<double>(at - tn[i]) / static_cast<double>(tn[next] - tn[i]);
                out[k] = held + w * (s->value[next] - held);
                continue;
            } else if (age <= gaps.max_gap) {
                out[k] = held;
                continue;
            } else {
                why = "the last value, recorded at " + when(Timestamp{tn[i]}) + ", is " + seconds_text(age) +
                      " s old and the gap policy holds a value at most " + seconds_text(gaps.max_gap) + " s (max_gap)";
            }
        }
        if (gaps.action == GapAction::refuse)
            throw RecordedInputError(std::string(twin), std::string(key), Timestamp{at}, "no recorded value: " + why);
    }
    return out;
}

void check_history_graph(const RecordedHistory& history, const graph::Snapshot& graph,
                         std::span<const std::string> mapped) {
    const auto& twins = history.twin_models();
    if (!twins.empty() && std::none_of(twins.begin(), twins.end(), [&](const auto& t) { return graph.contains(t.first); })) {
        std::string some;
        std::size_t shown = 0;
        for (const auto& [id, model] : twins) {
            if (shown++ == 3) break;
            some += (some.empty() ? "" : ", ") + ("\"" + id + "\"");
        }
        throw RecordedInputError({}, {}, std::nullopt,
                                 "the history (" + history.source() + ") is from another graph: none of its " +
                                     std::to_string(twins.size()) + " twins (" + some +
                                     (twins.size() > 3 ? ", ..." : "") + ") is in the scenario's graph");
    }
    for (const std::string& id : mapped) {
        const auto t = graph.find(id);
        if (!t)
            throw RecordedInputError(id, {}, std::nullopt,
                                     "the twin is not in the scenario's graph: the history (" + history.source() +
                                         ") is from another graph, or the mapping names the wrong twin");
        const auto it = twins.find(id);
        if (it == twins.end() || it->second.empty()) continue;  // resample() reports a missing series
        const std::string& model = graph.models()->at(graph.twin_model(*t)).definition->id;
        if (it->second != model)
            throw RecordedInputError(id, {}, std::nullopt,
                                     "the history (" + history.source() + ") records this twin as a " + it->second +
                                         " but the scenario's graph has a " + model + ": the history is from another graph");
    }
}

std::optional<Interpolation> interpolation_from_name(std::string_view name) {
    if (name == "step") return Interpolation::step;
    if (name == "linear") return Interpolation::linear;
    return std::nullopt;
}

std::optional<GapAction> gap_action_from_name(std::string_view name) {
    if (name == "refuse") return GapAction::refuse;
    if (name == "model") return GapAction::model;
    return std::nullopt;
}

std::string_view name_of(Interpolation interpolation) noexcept {
    return interpolation == Interpolation::step ? "step" : "linear";
}

std::string_view name_of(GapAction action) noexcept { return action == GapAction::refuse ? "refuse" : "model"; }

}  // namespace twinsim::scenario
