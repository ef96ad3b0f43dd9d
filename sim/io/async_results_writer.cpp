#include "twinsim/io/async_results_writer.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

namespace twinsim::io {

namespace {

struct Block {
    std::string scenario;
    std::string series;
    std::uint32_t replication = 0;
    std::uint64_t first_time = 0;
    std::vector<double> values;
    std::vector<double> times;
};

/// Work that the caller waits for (defines, close).
struct Call {
    std::function<void(ResultsWriter&)> body;
    std::promise<void>* done = nullptr;
};

using Command = std::variant<Block, Call>;

/// Sort key: replications in order, summary rows (all_replications) last.
std::int64_t replication_key(std::int64_t replication) {
    return replication < 0 ? std::int64_t{1} << 40 : replication;
}

}  // namespace

struct AsyncResultsWriter::Impl {
    ResultsWriter writer;
    std::size_t capacity;
    std::mutex mutex;
    std::condition_variable not_empty;
    std::condition_variable not_full;
    std::deque<Command> queue;
    std::exception_ptr error;  // the first failure of the writer thread
    bool stopping = false;
    bool closed = false;
    // Held back until close() for a deterministic order (see the header).
    std::map<std::string, std::vector<EventRecord>> events;
    std::map<std::string, std::vector<KpiRow>> kpis;
    std::thread thread;

    Impl(std::filesystem::path path, const FileIdentity& identity, WriterOptions options, std::size_t queue_capacity)
        : writer(std::move(path), identity, options), capacity(std::max<std::size_t>(1, queue_capacity)) {}

    void run() {
        for (;;) {
            Command command;
            {
                std::unique_lock lock(mutex);
                not_empty.wait(lock, [&] { return !queue.empty() || stopping; });
                if (queue.empty()) return;
                command = std::move(queue.front());
                queue.pop_front();
            }
            not_full.notify_one();
            if (auto* block = std::get_if<Block>(&command)) {
                if (has_failed()) continue;  // drain: the file is already gone
                try {
                    writer.write_series_block(block->scenario, block->series, block->replication, block->first_time,
                                              block->values, block->times);
                } catch (...) {
                    fail(std::current_exception());
                }
            } else {
                Call& call = std::get<Call>(command);
                std::exception_ptr failure;
                if (has_failed()) {
                    std::lock_guard lock(mutex);
                    failure = error;
                } else {
                    try {
                        call.body(writer);
                    } catch (...) {
                        failure = std::current_exception();
                        // A failure that cost the file (a full disk in close(), an
                        // HDF5 error) is the writer's failure from now on, so later
                        // calls report it rather than "the results writer is closed".
                        if (!writer.is_open()) fail(failure);
                    }
                }
                if (failure)
                    call.done->set_exception(failure);
                else
                    call.done->set_value();
            }
        }
    }

    bool has_failed() {
        std::lock_guard lock(mutex);
        return error != nullptr;
    }

    void fail(std::exception_ptr failure) {
        writer.discard();
        std::lock_guard lock(mutex);
        if (!error) error = std::move(failure);
    }

    void rethrow_if_failed() {
        std::lock_guard lock(mutex);
        if (error) std::rethrow_exception(error);
    }

    void push(Command command) {
        std::unique_lock lock(mutex);
        not_full.wait(lock, [&] { return queue.size() < capacity || error != nullptr; });
        if (error) std::rethrow_exception(error);
        if (closed) throw ResultsError(writer.path().string() + ": the results writer is closed", writer.path().string());
        queue.push_back(std::move(command));
        lock.unlock();
        not_empty.notify_one();
    }

    /// Runs `body` on the writer thread and waits for it.
    void call(std::function<void(ResultsWriter&)> body) {
        std::promise<void> done;
        std::future<void> finished = done.get_future();
        {
            // Calls are not bounded by the capacity: they are rare and the caller waits anyway.
            std::lock_guard lock(mutex);
            if (error) std::rethrow_exception(error);
            if (closed) throw ResultsError(writer.path().string() + ": the results writer is closed", writer.path().string());
            queue.push_back(Call{std::move(body), &done});
        }
        not_empty.notify_one();
        finished.get();
    }

    void stop() {
        {
            std::lock_guard lock(mutex);
            stopping = true;
        }
        not_empty.notify_all();
        if (thread.joinable()) thread.join();
    }
};

AsyncResultsWriter::AsyncResultsWriter(std::filesystem::path path, const FileIdentity& identity, WriterOptions options,
                                       std::size_t queue_capacity)
    : impl_(std::make_unique<Impl>(std::move(path), identity, options, queue_capacity)) {
    impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

AsyncResultsWriter::~AsyncResultsWriter() {
    impl_->stop();
    impl_->writer.discard();  // no-op after a successful close()
}

const std::filesystem::path& AsyncResultsWriter::path() const noexcept { return impl_->writer.path(); }

void AsyncResultsWriter::define_scenario(const ScenarioDefinition& scenario) {
    impl_->call([scenario](ResultsWriter& writer) { writer.define_scenario(scenario); });
}

void AsyncResultsWriter::define_series(const std::string& scenario, const SeriesDefinition& series) {
    impl_->call([scenario, series](ResultsWriter& writer) { writer.define_series(scenario, series); });
}

void AsyncResultsWriter::mark_shard(const ShardIdentity& shard) {
    impl_->call([shard](ResultsWriter& writer) { writer.mark_shard(shard); });
}

void AsyncResultsWriter::write_shard_runs(const std::string& scenario, const ShardRuns& runs) {
    impl_->call([&scenario, &runs](ResultsWriter& writer) { writer.write_shard_runs(scenario, runs); });
}

void AsyncResultsWriter::write_series_block(const std::string& scenario, const std::string& series,
                                            std::uint32_t replication, std::uint64_t first_time,
                                            std::vector<double> values, std::vector<double> times) {
    impl_->push(Block{scenario, series, replication, first_time, std::move(values), std::move(times)});
}

void AsyncResultsWriter::append_events(const std::string& scenario, std::vector<EventRecord> events) {
    std::lock_guard lock(impl_->mutex);
    if (impl_->error) std::rethrow_exception(impl_->error);
    auto& held = impl_->events[scenario];
    held.insert(held.end(), std::make_move_iterator(events.begin()), std::make_move_iterator(events.end()));
}

void AsyncResultsWriter::write_kpis(const std::string& scenario, std::vector<KpiRow> kpis) {
    std::lock_guard lock(impl_->mutex);
    if (impl_->error) std::rethrow_exception(impl_->error);
    auto& held = impl_->kpis[scenario];
    held.insert(held.end(), std::make_move_iterator(kpis.begin()), std::make_move_iterator(kpis.end()));
}

void AsyncResultsWriter::close() {
    Impl& impl = *impl_;
    std::map<std::string, std::vector<EventRecord>> events;
    std::map<std::string, std::vector<KpiRow>> kpis;
    {
        std::lock_guard lock(impl.mutex);
        if (impl.closed) throw ResultsError(path().string() + ": the results writer is closed", path().string());
        events.swap(impl.events);
        kpis.swap(impl.kpis);
    }
    // Runs after every block queued before it (the queue is FIFO).
    impl.call([&](ResultsWriter& writer) {
        for (auto& [scenario, rows] : events) {
            std::stable_sort(rows.begin(), rows.end(),
                             [](const EventRecord& a, const EventRecord& b) { return a.replication < b.replication; });
            writer.append_events(scenario, rows);
        }
        for (auto& [scenario, rows] : kpis) {
            std::stable_sort(rows.begin(), rows.end(), [](const KpiRow& a, const KpiRow& b) {
                return replication_key(a.replication) < replication_key(b.replication);
            });
            writer.write_kpis(scenario, rows);
        }
        writer.close();
    });
    std::lock_guard lock(impl.mutex);
    impl.closed = true;
}

}  // namespace twinsim::io
