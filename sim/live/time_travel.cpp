// Time travel: Store::snapshot_at and the checkpoint retention policy
// (docs/store.md, "Time travel").
#include "twinsim/live/time_travel.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "twinsim/live/detail/batch_codec.hpp"
#include "twinsim/live/detail/checkpoint_file.hpp"
#include "twinsim/live/detail/journal_reader.hpp"
#include "twinsim/live/store.hpp"

namespace twinsim::live {

namespace fs = std::filesystem;

std::vector<std::uint64_t> checkpoints_to_remove(std::vector<std::uint64_t> batches, std::size_t keep) {
    keep = std::max<std::size_t>(keep, 2);
    std::sort(batches.begin(), batches.end());
    batches.erase(std::unique(batches.begin(), batches.end()), batches.end());
    std::vector<std::uint64_t> removed;
    if (keep == 2) {
        // Only the newest and its fallback.
        if (batches.size() > 2) removed.assign(batches.begin(), batches.end() - 2);
        return removed;
    }
    if (batches.size() <= keep) return removed;
    // A grid over batches 0 .. newest of `keep - 2` cells at most, whose
    // width is a power of two (so a wider grid's cells are unions of the
    // narrower one's): each cell keeps its oldest checkpoint.
    const std::uint64_t newest = batches.back();
    const std::uint64_t cells = keep - 2;
    std::uint64_t width = 1;
    while ((newest + width - 1) / width > cells) width *= 2;
    std::uint64_t last_cell = ~std::uint64_t{0};
    for (std::size_t i = 0; i + 2 < batches.size(); ++i) {
        const std::uint64_t cell = batches[i] / width;
        if (cell == last_cell) {
            removed.push_back(batches[i]);
        } else {
            last_cell = cell;
        }
    }
    return removed;
}

namespace {

std::string quoted(const fs::path& p) { return "\"" + p.string() + "\""; }

std::string with_detail(const detail::JournalFailure& f) {
    return f.detail.empty() ? f.reason : f.reason + " (" + f.detail + ")";
}

}  // namespace

graph::Snapshot Store::snapshot_at(Timestamp t) {
    const fs::path dir = directory();
    const fs::path journal_file = dir / "journal.db";
    // The graph now and the last batch it holds, together: inside an (empty)
    // atomic group no batch can commit.
    graph::Snapshot now;
    std::uint64_t last = 0;
    graph_->atomically([&](graph::TwinGraph& g) {
        now = g.snapshot();
        // Group commit: batches the graph holds may still wait to be written
        // to the journal; write them (no batch can commit meanwhile).
        flush();
        last = stats().written_batch;
    });
    if (last == 0) return now;  // nothing was ever committed: the (empty) graph

    auto corrupt = [&](const std::string& why) -> StoreCorruptError {
        return StoreCorruptError(dir, "store " + quoted(dir) + ": time travel to " + format_timestamp(t) + ": " + why);
    };
    try {
        detail::JournalReader reader(journal_file);
        if (reader.committed_at(last) <= t.ns) return now;  // at or after the last batch: the current graph
        if (reader.committed_at(1) > t.ns) return graph::Snapshot();  // before the first batch: the empty graph
        // The batch B with time(B) <= t < time(B + 1), by bisection (batch
        // times follow the graph's clock, so they are non-decreasing).
        std::uint64_t lo = 1;      // time(lo) <= t
        std::uint64_t hi = last;   // time(hi) > t
        while (hi - lo > 1) {
            const std::uint64_t mid = lo + (hi - lo) / 2;
            if (reader.committed_at(mid) <= t.ns) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        const std::uint64_t target = lo;

        // The newest checkpoint at or before the target that reads back whole.
        const fs::path checkpoint_dir = dir / "checkpoints";
        std::vector<std::uint64_t> candidates;
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(checkpoint_dir, ec)) {
            const auto b = detail::checkpoint_batch(entry.path().filename().string());
            if (b && *b <= target) candidates.push_back(*b);
        }
        std::sort(candidates.rbegin(), candidates.rend());
        std::unique_ptr<graph::TwinGraph> g;
        std::uint64_t base = 0;
        for (const std::uint64_t b : candidates) {
            try {
                g = graph::TwinGraph::from_snapshot(detail::read_checkpoint(checkpoint_dir / detail::checkpoint_name(b), b));
                base = b;
                break;
            } catch (const std::exception&) {
                // Damaged, or removed by the retention policy since it was
                // listed: the one before it will do.
            }
        }
        if (!g) g = std::make_unique<graph::TwinGraph>();
        if (base == target) return g->snapshot();

        std::uint64_t expected = base + 1;
        reader.read_range(base, target, [&](const detail::JournalRow& row) {
            if (row.batch != expected)
                throw corrupt("the journal " + journal_file.string() + " is missing batch " + std::to_string(expected));
            detail::DecodedBatch decoded;
            try {
                decoded = detail::decode_batch(row.payload);
            } catch (const std::runtime_error& e) {
                throw corrupt("batch " + std::to_string(row.batch) + " of the journal " + journal_file.string() +
                              " cannot be read: " + e.what());
            }
            try {
                g->replay(decoded.recorded());
            } catch (const Error& e) {
                throw corrupt("batch " + std::to_string(row.batch) + " of the journal " + journal_file.string() +
                              " does not replay: " + e.what());
            }
            ++expected;
        });
        if (expected != target + 1)
            throw corrupt("the journal " + journal_file.string() + " is missing batch " + std::to_string(expected));
        return g->snapshot();
    } catch (const detail::JournalFailure& f) {
        if (f.corrupt) throw corrupt(with_detail(f) + ": " + journal_file.string());
        throw StoreError(dir, "store " + quoted(dir) + ": time travel to " + format_timestamp(t) + ": " + with_detail(f) +
                                  ": " + journal_file.string());
    }
}

}  // namespace twinsim::live
