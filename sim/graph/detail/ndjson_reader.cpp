#include "twinsim/graph/detail/ndjson_reader.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "twinsim/common/excerpt.hpp"
#include "twinsim/common/json_depth.hpp"
#include "twinsim/graph/detail/bulk_loader.hpp"
#include "twinsim/graph/detail/line_reader.hpp"

namespace twinsim::graph::detail {
namespace {

namespace od = simdjson::ondemand;

constexpr std::size_t batch_lines = 1024;  // lines handed over at once
constexpr std::size_t queue_batches = 16;  // bounds memory: the producer waits beyond this

// Parses the bulk shapes of twin and relationship lines with simdjson
// On-Demand (see ndjson_reader.hpp). Any doubt returns false with the batch
// as it was, and the line goes to nlohmann::json.
class FastParser {
public:
    bool parse(RecordKind kind, std::string_view text, ParsedLine& line, ParsedBatch& batch) {
        const std::size_t arena_size = batch.arena.size();
        const std::size_t values_size = batch.values.size();
        const std::size_t times_size = batch.times.size();
        line.first_value = static_cast<std::uint32_t>(values_size);
        line.first_time = static_cast<std::uint32_t>(times_size);
        const bool ok = kind == RecordKind::twin ? twin(text, line, batch) : relationship(text, line, batch);
        if (ok) {
            line.record = kind;
            if (kind == RecordKind::twin) {
                line.hashes[0] = BulkHashes::twin(batch.str(line.strings[0]));
            } else {
                line.hashes[0] = BulkHashes::twin(batch.str(line.strings[0]));
                line.hashes[1] = BulkHashes::relationship_id(batch.str(line.strings[1]));
                line.hashes[2] = BulkHashes::twin(batch.str(line.strings[2]));
            }
            line.value_count = static_cast<std::uint32_t>(batch.values.size() - values_size);
            line.time_count = static_cast<std::uint32_t>(batch.times.size() - times_size);
        } else {
            batch.arena.resize(arena_size);
            batch.values.resize(values_size);
            batch.times.resize(times_size);
            batch.time_texts.resize(times_size);
            name_offsets_.resize(values_size);
            string_offsets_.resize(values_size);
            time_name_offsets_.resize(times_size);
            line.value_count = 0;
            line.time_count = 0;
            line.last_update.reset();
        }
        return ok;
    }

private:
    bool start(std::string_view text, od::object& object) {
        // simdjson reads up to SIMDJSON_PADDING bytes past the end.
        if (padded_.size() < text.size() + simdjson::SIMDJSON_PADDING) padded_.resize(text.size() + simdjson::SIMDJSON_PADDING);
        std::memcpy(padded_.data(), text.data(), text.size());
        std::memset(padded_.data() + text.size(), 0, simdjson::SIMDJSON_PADDING);
        if (parser_.iterate(padded_.data(), text.size(), padded_.size()).get(document_) != simdjson::SUCCESS) return false;
        return document_.get_object().get(object) == simdjson::SUCCESS;
    }

    // Nothing but whitespace after the object.
    bool finished() { return document_.current_location().error() == simdjson::OUT_OF_BOUNDS; }

    static ArenaString add(ParsedBatch& batch, std::string_view s) {
        if (batch.arena.size() + s.size() > UINT32_MAX) throw std::length_error("NDJSON batch too large");
        const ArenaString out{static_cast<std::uint32_t>(batch.arena.size()), static_cast<std::uint32_t>(s.size())};
        batch.arena.append(s);
        return out;
    }

    static bool string_value(od::value& v, ParsedBatch& batch, ArenaString& out) {
        std::string_view s;
        if (v.get_string().get(s) != simdjson::SUCCESS) return false;
        out = add(batch, s);
        return true;
    }

    // A number, typed as nlohmann::json types it: integers without a sign are
    // unsigned, with one signed; anything else (a float written without '.',
    // 'e' or 'E', a big integer) is left to nlohmann. Or a string.
    bool scalar_value(std::string_view key, od::value& v, ParsedBatch& batch) {
        // The name's offset for now (the string's too); pointed into the arena
        // when the batch is complete.
        const ArenaString name = add(batch, key);  // before the value is unescaped
        ScalarValue out;
        ArenaString text;
        od::json_type type;
        if (v.type().get(type) != simdjson::SUCCESS) return false;
        if (type == od::json_type::string) {
            if (!string_value(v, batch, text)) return false;
            out.kind = ScalarValue::Kind::string;
        } else if (type == od::json_type::number) {
            if (!number(v, out)) return false;
        } else {
            return false;
        }
        batch.values.push_back(out);
        name_offsets_.push_back(name);
        string_offsets_.push_back(text);
        return true;
    }

    static bool number(od::value& v, ScalarValue& out) {
        const std::string_view token = v.raw_json_token();
        od::number n;
        if (v.get_number().get(n) != simdjson::SUCCESS) return false;
        switch (n.get_number_type()) {
        case od::number_type::floating_point_number:
            if (token.find_first_of(".eE") == std::string_view::npos) return false;
            out.kind = ScalarValue::Kind::floating;
            out.f = n.get_double();
            break;
        case od::number_type::signed_integer:
            if (!token.empty() && token.front() == '-') {
                out.kind = ScalarValue::Kind::integer;
                out.i = n.get_int64();
            } else {
                out.kind = ScalarValue::Kind::unsigned_integer;
                out.u = static_cast<std::uint64_t>(n.get_int64());
            }
            break;
        case od::number_type::unsigned_integer:
            out.kind = ScalarValue::Kind::unsigned_integer;
            out.u = n.get_uint64();
            break;
        default: return false;
        }
        return true;
    }

    // An RFC 3339 date-time string (anything else is left to nlohmann and the
    // general path, which reports it).
    static bool time_value(od::value& v, ParsedBatch& batch, ArenaString& text, std::optional<Timestamp>& out) {
        std::string_view s;
        if (v.get_string().get(s) != simdjson::SUCCESS) return false;
        out = parse_timestamp(s);
        if (!out) return false;
        text = add(batch, s);
        return true;
    }

    // "<p>": {"lastUpdateTime"?, "sourceTime"?} in a twin's $metadata (at least one).
    bool property_times(std::string_view name, od::value& v, ParsedBatch& batch) {
        const ArenaString stored_name = add(batch, name);  // before the entry's own keys are unescaped
        od::object entry;
        if (v.get_object().get(entry) != simdjson::SUCCESS) return false;
        PropertyTimes times;
        TimeTexts texts;
        for (auto member : entry) {
            od::field field;
            std::string_view key;
            if (std::move(member).get(field) != simdjson::SUCCESS || field.unescaped_key().get(key) != simdjson::SUCCESS)
                return false;
            od::value value = field.value();
            if (key == "lastUpdateTime" && !times.last_update) {
                if (!time_value(value, batch, texts.last_update, times.last_update)) return false;
            } else if (key == "sourceTime" && !times.source_time) {
                if (!time_value(value, batch, texts.source_time, times.source_time)) return false;
            } else {
                return false;
            }
        }
        if (!times.last_update && !times.source_time) return false;
        batch.times.push_back(times);
        batch.time_texts.push_back(texts);
        time_name_offsets_.push_back(stored_name);
        return true;
    }

public:
    /// Points the names of the batch's values and times into its (now final) arena.
    void finish(ParsedBatch& batch) {
        for (std::size_t k = 0; k < batch.values.size(); ++k) {
            batch.values[k].name = batch.str(name_offsets_[k]);
            if (batch.values[k].kind == ScalarValue::Kind::string) batch.values[k].s = batch.str(string_offsets_[k]);
        }
        for (std::size_t k = 0; k < batch.times.size(); ++k) batch.times[k].name = batch.str(time_name_offsets_[k]);
        name_offsets_.clear();
        string_offsets_.clear();
        time_name_offsets_.clear();
    }

private:
    bool rollback_names(std::size_t values_size) {
        name_offsets_.resize(values_size);
        string_offsets_.resize(values_size);
        return false;
    }

    bool twin(std::string_view text, ParsedLine& line, ParsedBatch& batch) {
        const std::size_t values_size = batch.values.size();
        od::object object;
        if (!start(text, object)) return false;
        bool id = false;
        bool metadata = false;
        for (auto member : object) {
            od::field field;
            if (std::move(member).get(field) != simdjson::SUCCESS) return rollback_names(values_size);
            std::string_view key;
            if (field.unescaped_key().get(key) != simdjson::SUCCESS) return rollback_names(values_size);
            od::value value = field.value();
            if (key.empty() || key.front() != '$') {
                if (!scalar_value(key, value, batch)) return rollback_names(values_size);
            } else if (key == "$dtId" && !id) {
                if (!string_value(value, batch, line.strings[0])) return rollback_names(values_size);
                id = true;
            } else if (key == "$metadata" && !metadata) {
                od::object md;
                if (value.get_object().get(md) != simdjson::SUCCESS) return rollback_names(values_size);
                bool model = false;
                for (auto entry : md) {
                    od::field f;
                    std::string_view k;
                    if (std::move(entry).get(f) != simdjson::SUCCESS || f.unescaped_key().get(k) != simdjson::SUCCESS)
                        return rollback_names(values_size);
                    od::value v = f.value();
                    if (k == "$model" && !model) {
                        if (!string_value(v, batch, line.strings[1])) return rollback_names(values_size);
                        model = true;
                    } else if (k == "$lastUpdateTime" && !line.last_update) {
                        if (!time_value(v, batch, line.strings[2], line.last_update)) return rollback_names(values_size);
                    } else if (k.empty() || k.front() == '$' || !property_times(k, v, batch)) {
                        return rollback_names(values_size);
                    }
                }
                if (!model) return rollback_names(values_size);
                metadata = true;
            } else {
                return rollback_names(values_size);
            }
        }
        if (!id || !metadata || !finished()) return rollback_names(values_size);
        return true;
    }

    bool relationship(std::string_view text, ParsedLine& line, ParsedBatch& batch) {
        static constexpr std::string_view names[4] = {"$dtId", "$relationshipId", "$targetId", "$relationshipName"};
        const std::size_t values_size = batch.values.size();
        od::object object;
        if (!start(text, object)) return false;
        bool seen[4] = {};
        for (auto member : object) {
            od::field field;
            if (std::move(member).get(field) != simdjson::SUCCESS) return rollback_names(values_size);
            std::string_view key;
            if (field.unescaped_key().get(key) != simdjson::SUCCESS) return rollback_names(values_size);
            od::value value = field.value();
            if (key.empty() || key.front() != '$') {
                if (!scalar_value(key, value, batch)) return rollback_names(values_size);
                continue;
            }
            std::size_t k = 0;
            while (k < 4 && key != names[k]) ++k;
            if (k == 4 || seen[k] || !string_value(value, batch, line.strings[k])) return rollback_names(values_size);
            seen[k] = true;
        }
        if (!(seen[0] && seen[1] && seen[2] && seen[3]) || !finished()) return rollback_names(values_size);
        return true;
    }

    od::parser parser_;
    od::document document_;
    std::vector<char> padded_;
    std::vector<ArenaString> name_offsets_;       // of the batch's values, in order
    std::vector<ArenaString> string_offsets_;     // of the batch's values' strings (unused for numbers)
    std::vector<ArenaString> time_name_offsets_;  // of the batch's times, in order
};

}  // namespace

nlohmann::json ParsedBatch::to_json(const ParsedLine& line) const {
    nlohmann::json out = nlohmann::json::object();
    if (line.record == RecordKind::twin) {
        out["$dtId"] = str(line.strings[0]);
        nlohmann::json& metadata = out["$metadata"] = nlohmann::json::object({{"$model", str(line.strings[1])}});
        if (line.last_update) metadata["$lastUpdateTime"] = str(line.strings[2]);
        const std::span<const PropertyTimes> line_times = times_of(line);
        for (std::size_t k = 0; k < line_times.size(); ++k) {
            const TimeTexts& texts = time_texts[line.first_time + k];
            nlohmann::json entry = nlohmann::json::object();
            if (line_times[k].last_update) entry["lastUpdateTime"] = str(texts.last_update);
            if (line_times[k].source_time) entry["sourceTime"] = str(texts.source_time);
            metadata[std::string(line_times[k].name)] = std::move(entry);  // a repeated name: the last wins, as in parse
        }
    } else if (line.record == RecordKind::relationship) {
        out["$dtId"] = str(line.strings[0]);
        out["$relationshipId"] = str(line.strings[1]);
        out["$targetId"] = str(line.strings[2]);
        out["$relationshipName"] = str(line.strings[3]);
    }
    for (const ScalarValue& v : values_of(line)) out[std::string(v.name)] = v.to_json();  // a repeated name: the last wins, as in parse
    return out;
}

bool is_section_marker(const nlohmann::json& value) {
    // Size first: twin and relationship lines (millions) then cost no lookup.
    return value.is_object() && value.size() <= 2 && value.contains("Section") && !value.contains("$dtId") &&
           !value.contains("@id");
}

NdjsonReader::NdjsonReader(std::istream& in, std::string source_name)
    : producer_([this, &in, name = std::move(source_name)] { produce(in, name); }) {}

NdjsonReader::~NdjsonReader() {
    {
        const std::lock_guard lock(mutex_);
        stop_ = true;
    }
    changed_.notify_all();
    producer_.join();
}

void NdjsonReader::produce(std::istream& in, const std::string& source_name) {
    try {
        LineReader reader(in, source_name);
        FastParser fast;
        bool in_models = false;            // only to keep the raw text of DTDL documents
        RecordKind records = RecordKind::none;  // the fast path of the current section
        bool more = true;
        while (more) {
            ParsedBatch batch;
            {
                const std::lock_guard lock(mutex_);
                if (!spare_.empty()) {
                    batch = std::move(spare_.back());
                    spare_.pop_back();
                }
            }
            batch.lines.clear();
            batch.arena.clear();
            batch.values.clear();
            batch.times.clear();
            batch.time_texts.clear();
            batch.lines.reserve(batch_lines);
            // On the heap from the start (never in the small-string buffer), so
            // moving the batch keeps the names' views valid.
            batch.arena.reserve(std::size_t{1} << 16);
            std::string_view text;
            while (batch.lines.size() < batch_lines && (more = reader.next(text))) {
                if (text.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank lines are allowed
                ParsedLine& line = batch.lines.emplace_back();
                line.number = reader.line_number();
                if (records != RecordKind::none && fast.parse(records, text, line, batch)) continue;
                // Refused before parsing: a deep value would make every later
                // copy, dump and validation recurse past the stack.
                if (const auto at = find_json_depth_excess(text)) {
                    line.error = "the line " + json_depth_reason() + " (column " + std::to_string(*at + 1) + ")";
                    continue;
                }
                try {
                    line.value = nlohmann::json::parse(text.data(), text.data() + text.size());
                } catch (const nlohmann::json::parse_error& e) {
                    // In our words, naming the one character where reading failed:
                    // nlohmann's text quotes every byte of the token it read.
                    const std::size_t at = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
                    line.error = "malformed JSON: ";
                    line.error += at >= text.size() ? "the line ends before the JSON value does"
                                                    : "unexpected character \"" + excerpt(text.substr(at, 1)) +
                                                          "\" at column " + std::to_string(at + 1);
                    continue;
                }
                if (is_section_marker(line.value)) {
                    const auto name = line.value.find("Section");
                    const std::string_view section =
                        name->is_string() ? std::string_view(name->get_ref<const std::string&>()) : std::string_view();
                    in_models = section == "Models";
                    records = section == "Twins" ? RecordKind::twin
                              : section == "Relationships" ? RecordKind::relationship
                                                           : RecordKind::none;
                } else if (in_models) {
                    line.text = text;
                }
            }
            fast.finish(batch);
            std::unique_lock lock(mutex_);
            changed_.wait(lock, [&] { return stop_ || ready_.size() < queue_batches; });
            if (stop_) return;
            if (!batch.lines.empty()) ready_.push_back(std::move(batch));
            if (!more) {
                lines_ = reader.line_number();
                bytes_ = reader.bytes();
                finished_ = true;
            }
            lock.unlock();
            changed_.notify_all();
        }
    } catch (...) {
        {
            const std::lock_guard lock(mutex_);
            failure_ = std::current_exception();
            finished_ = true;
        }
        changed_.notify_all();
    }
}

bool NdjsonReader::next(ParsedBatch& batch) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !ready_.empty() || finished_; });
    if (!ready_.empty()) {
        if (spare_.size() < queue_batches) spare_.push_back(std::move(batch));
        batch = std::move(ready_.front());
        ready_.pop_front();
        lock.unlock();
        changed_.notify_all();
        return true;
    }
    if (failure_) std::rethrow_exception(failure_);
    return false;
}

}  // namespace twinsim::graph::detail
