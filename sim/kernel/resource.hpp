#pragma once
// A limited resource (crews, machines, docks): `capacity` identical units,
// granted first come, first served. `co_await r.acquire()` takes a unit or
// waits in the FIFO queue; `r.release()` hands the unit straight to the
// longest waiter (resumed at the current time) or returns it to the pool.
// Statistics are time-averaged over simulated time since construction or the
// last reset_statistics() (e.g. after a warm-up).

#include <algorithm>
#include <coroutine>
#include <cstddef>
#include <cstdint>

#include "twinsim/kernel/errors.hpp"
#include "twinsim/kernel/process.hpp"
#include "twinsim/kernel/simulator.hpp"

namespace twinsim::kernel {

struct ResourceStatistics {
    double utilisation = 0.0;        ///< time-average of busy units / capacity
    double mean_queue_length = 0.0;  ///< time-average of waiting processes
    double mean_wait = 0.0;          ///< mean time from acquire() to grant, over grants
    double max_wait = 0.0;
    std::uint64_t grants = 0;        ///< acquisitions granted (immediately or after waiting)
    std::uint64_t waited = 0;        ///< of which had to queue
    double elapsed = 0.0;            ///< simulated seconds covered
};

class Resource {
public:
    /// Throws KernelError when capacity is 0.
    Resource(Simulator& sim, std::size_t capacity) : sim_(sim), capacity_(capacity), since_(sim.now()), last_(sim.now()) {
        if (capacity == 0) throw KernelError("Resource: the capacity must be at least 1");
    }
    Resource(const Resource&) = delete;
    Resource& operator=(const Resource&) = delete;

    class Awaiter {
    public:
        explicit Awaiter(Resource& r) noexcept : resource_(r) {}
        /// A free unit with nobody queued is taken without suspending.
        bool await_ready() noexcept {
            if (resource_.in_use_ < resource_.capacity_ && resource_.queue_.size == 0) {
                resource_.advance();
                ++resource_.in_use_;
                resource_.record_grant(0.0, false);
                return true;
            }
            return false;
        }
        void await_suspend(std::coroutine_handle<> h) noexcept {
            resource_.advance();
            node_.handle = h;
            node_.since = resource_.sim_.now();
            resource_.queue_.push(&node_);
        }
        void await_resume() const noexcept {}

    private:
        Resource& resource_;
        detail::WaitNode node_;
    };

    /// `co_await acquire()`: resumes holding one unit.
    [[nodiscard]] Awaiter acquire() noexcept { return Awaiter(*this); }

    /// Returns one unit. Throws KernelError when no unit is in use.
    void release() {
        if (in_use_ == 0) throw KernelError("Resource::release: no unit is in use");
        advance();
        if (queue_.size > 0) {
            detail::WaitNode* next = queue_.pop();
            record_grant(sim_.now() - next->since, true);
            sim_.schedule_resume(next->handle, 0.0);  // the unit passes over directly
        } else {
            --in_use_;
        }
    }

    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::size_t in_use() const noexcept { return in_use_; }
    [[nodiscard]] std::size_t queue_length() const noexcept { return queue_.size; }

    /// Statistics up to now.
    [[nodiscard]] ResourceStatistics statistics() const noexcept {
        ResourceStatistics s;
        const double now = sim_.now();
        const double span = now - since_;
        const double busy = busy_area_ + static_cast<double>(in_use_) * (now - last_);
        const double queued = queue_area_ + static_cast<double>(queue_.size) * (now - last_);
        s.elapsed = span;
        if (span > 0.0) {
            s.utilisation = busy / (span * static_cast<double>(capacity_));
            s.mean_queue_length = queued / span;
        }
        s.grants = grants_;
        s.waited = waited_;
        s.mean_wait = grants_ > 0 ? wait_sum_ / static_cast<double>(grants_) : 0.0;
        s.max_wait = max_wait_;
        return s;
    }
    /// Starts the statistics afresh from now (current occupancy carries on).
    void reset_statistics() noexcept {
        since_ = last_ = sim_.now();
        busy_area_ = queue_area_ = wait_sum_ = max_wait_ = 0.0;
        grants_ = waited_ = 0;
    }

private:
    void advance() noexcept {
        const double now = sim_.now();
        const double dt = now - last_;
        busy_area_ += static_cast<double>(in_use_) * dt;
        queue_area_ += static_cast<double>(queue_.size) * dt;
        last_ = now;
    }
    void record_grant(double wait, bool queued) noexcept {
        ++grants_;
        if (queued) ++waited_;
        wait_sum_ += wait;
        max_wait_ = std::max(max_wait_, wait);
    }

    Simulator& sim_;
    std::size_t capacity_;
    std::size_t in_use_ = 0;
    detail::WaitQueue queue_;
    double since_;
    double last_;
    double busy_area_ = 0.0;
    double queue_area_ = 0.0;
    double wait_sum_ = 0.0;
    double max_wait_ = 0.0;
    std::uint64_t grants_ = 0;
    std::uint64_t waited_ = 0;
};

}  // namespace twinsim::kernel
