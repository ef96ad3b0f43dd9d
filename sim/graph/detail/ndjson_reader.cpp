#include "twinsim/graph/detail/ndjson_reader.hpp"

#include <string_view>
#include <utility>

#include "twinsim/graph/detail/line_reader.hpp"

namespace twinsim::graph::detail {
namespace {

constexpr std::size_t batch_lines = 1024;  // lines handed over at once
constexpr std::size_t queue_batches = 16;  // bounds memory: the producer waits beyond this

}  // namespace

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
        bool in_models = false;  // only to keep the raw text of DTDL documents
        bool more = true;
        while (more) {
            std::vector<ParsedLine> batch;
            batch.reserve(batch_lines);
            std::string_view text;
            while (batch.size() < batch_lines && (more = reader.next(text))) {
                if (text.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank lines are allowed
                ParsedLine& line = batch.emplace_back();
                line.number = reader.line_number();
                try {
                    line.value = nlohmann::json::parse(text.data(), text.data() + text.size());
                } catch (const nlohmann::json::parse_error& e) {
                    line.error = e.what();
                    continue;
                }
                if (is_section_marker(line.value)) {
                    const auto name = line.value.find("Section");
                    in_models = name->is_string() && name->get_ref<const std::string&>() == "Models";
                } else if (in_models) {
                    line.text = text;
                }
            }
            std::unique_lock lock(mutex_);
            changed_.wait(lock, [&] { return stop_ || ready_.size() < queue_batches; });
            if (stop_) return;
            if (!batch.empty()) ready_.push_back(std::move(batch));
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

bool NdjsonReader::next(std::vector<ParsedLine>& batch) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !ready_.empty() || finished_; });
    if (!ready_.empty()) {
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
