#pragma once
// Copy-on-write building blocks of the graph state (internal).
//
// A CowVector<T> is a vector split into fixed-size chunks: a shared_ptr to a
// directory (a vector of shared_ptr<Chunk>). Copying a CowVector copies one
// pointer. A write first "makes unique" the directory (copies it only when
// another CowVector shares it) and then the chunk (same rule), so after a
// snapshot a write copies one directory and one chunk, never the whole vector.
// A null chunk reads as default-constructed elements and is allocated on its
// first write, so sparse columns (sourceTime, optional properties) cost nothing
// until used.
//
// Thread safety. Snapshots hold copies of these objects and read them from
// any thread; only the graph's writer, under the graph mutex, mutates or
// creates new references to directories and chunks (snapshot() also runs
// under that mutex). Readers only ever *drop* references. Hence, seen from the
// writer, use_count() == 1 means "exclusively mine" and stays true: nobody can
// concurrently acquire a new reference. A reader dropping its reference at the
// same moment can only make the writer see a stale count > 1 and copy
// needlessly, never the reverse. The acquire fence after observing a count of
// 1 orders the writer's stores after the releasing decrement of the last
// reader (shared_ptr decrements with release semantics), so the reader's
// earlier loads of the chunk cannot see the writer's stores.
//
// Clones (TwinGraph::from_snapshot) add writers that share chunks with one
// another and with a snapshot that any thread may be reading or cloning from.
// The argument still holds because it rests on one fact only: a new reference
// to a directory or chunk can be made only by copying an existing reference
// (a shared_ptr, or a directory that contains one). A clone's directories
// start shared with the snapshot (count >= 2), so its first write to each
// copies it. When a writer sees use_count() == 1 on a directory reachable only
// from its own state, or on a chunk inside a directory it exclusively owns,
// no other thread holds a reference to copy from (the snapshot and the other
// clones hold their own, counted, references to whatever they share), so none
// can appear. Threads that copy the snapshot's state concurrently hold the
// snapshot's references while they do, keeping every count they can raise
// above 1. A stale count seen by a writer is only ever too high.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace twinsim::graph::detail {

/// What copy-on-write has copied (the measure of how much state a write after
/// a snapshot un-shares).
struct CopyCounter {
    std::uint64_t bytes = 0;   ///< bytes of chunks and directories copied (shallow sizeof)
    std::uint64_t chunks = 0;  ///< chunks copied
    std::uint64_t directories = 0;
};

/// True when `p` is not shared with any snapshot or saved state (see above).
template <class P>
[[nodiscard]] inline bool exclusively_owned(const std::shared_ptr<P>& p) noexcept {
    if (p.use_count() != 1) return false;
    std::atomic_thread_fence(std::memory_order_acquire);
    return true;
}

// 64 elements per chunk: a scattered write after a snapshot copies ~0.5-2 KB
// per column it touches; directories stay small enough (16 B per chunk) that
// un-sharing one is cheap.
template <class T, std::size_t ChunkBits = 6>
class CowVector {
public:
    static constexpr std::size_t chunk_size = std::size_t{1} << ChunkBits;
    static constexpr std::size_t mask = chunk_size - 1;
    struct Chunk {
        std::array<T, chunk_size> items{};
    };
    using Directory = std::vector<std::shared_ptr<Chunk>>;

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    /// Element i (default value when its chunk was never written). Precondition: i < size().
    [[nodiscard]] const T& operator[](std::size_t i) const noexcept {
        const Chunk* c = (*dir_)[i >> ChunkBits].get();
        return c ? c->items[i & mask] : default_value();
    }

    /// The chunk_size elements of chunk c (elements c * chunk_size ...), for
    /// loops over whole chunks without a directory lookup per element; a chunk
    /// never written reads as default elements; those past size() in the last
    /// chunk are unspecified. Precondition: c < (size() + mask) / chunk_size.
    [[nodiscard]] const T* chunk(std::size_t c) const noexcept {
        const Chunk* p = (*dir_)[c].get();
        return p ? p->items.data() : default_chunk().items.data();
    }

    /// Writable element i, un-sharing its directory and chunk first. Precondition: i < size().
    T& mut(std::size_t i, CopyCounter& counter) {
        Directory& d = own_directory(counter);
        std::shared_ptr<Chunk>& c = d[i >> ChunkBits];
        if (!c) {
            c = std::make_shared<Chunk>();
        } else if (!exclusively_owned(c)) {
            c = std::make_shared<Chunk>(*c);
            counter.bytes += sizeof(Chunk);
            ++counter.chunks;
        }
        return c->items[i & mask];
    }

    void set(std::size_t i, T value, CopyCounter& counter) { mut(i, counter) = std::move(value); }

    /// Grows (new elements read as default) or shrinks. Shrinking does not free chunks.
    void resize(std::size_t n, CopyCounter& counter) {
        const std::size_t chunks = (n + mask) >> ChunkBits;
        if (!dir_ || chunks > dir_->size()) {
            Directory& d = own_directory(counter);
            d.resize(chunks);
        }
        size_ = n;
    }

    void push_back(T value, CopyCounter& counter) {
        resize(size_ + 1, counter);
        mut(size_ - 1, counter) = std::move(value);
    }

    /// Heap bytes held by this vector (chunks it points to, shared or not).
    [[nodiscard]] std::size_t memory_bytes() const noexcept {
        if (!dir_) return 0;
        std::size_t n = dir_->capacity() * sizeof(std::shared_ptr<Chunk>);
        for (const auto& c : *dir_)
            if (c) n += sizeof(Chunk);
        return n;
    }

private:
    static const Chunk& default_chunk() noexcept {
        static const Chunk chunk{};
        return chunk;
    }

    static const T& default_value() noexcept {
        static const T value{};
        return value;
    }

    Directory& own_directory(CopyCounter& counter) {
        if (!dir_) {
            dir_ = std::make_shared<Directory>();
        } else if (!exclusively_owned(dir_)) {
            dir_ = std::make_shared<Directory>(*dir_);
            counter.bytes += dir_->size() * sizeof(std::shared_ptr<Chunk>);
            ++counter.directories;
        }
        return *dir_;
    }

    std::shared_ptr<Directory> dir_ = std::make_shared<Directory>();
    std::size_t size_ = 0;
};

/// A whole value shared copy-on-write (for small things: free lists, name tables).
template <class T>
class CowBox {
public:
    CowBox() : p_(std::make_shared<T>()) {}
    [[nodiscard]] const T& get() const noexcept { return *p_; }
    const T* operator->() const noexcept { return p_.get(); }
    T& mut(CopyCounter& counter) {
        if (!exclusively_owned(p_)) {
            p_ = std::make_shared<T>(*p_);
            counter.bytes += sizeof(T);
        }
        return *p_;
    }

private:
    std::shared_ptr<T> p_;
};

}  // namespace twinsim::graph::detail
