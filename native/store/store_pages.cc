// The data area's pages: warming them ahead of the allocator (the creating process's
// Warmer thread calls warm_step) and mapping an object's pages into this process before
// it writes or reads the object in bulk (map_range). Both exist because on the VMs we
// measured a page's first touch costs 10-50x the copy into it: a fault per 4 KiB page
// (0.3-1.8 GB/s where memcpy runs at 18), while the kernel populating a whole range at
// once (MADV_POPULATE_*) runs at 1.5-3.5 GB/s for new pages and 8-13 GB/s for pages
// another process already backed.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "store/store.h"
#include "store/store_internal.h"
#include "store/store_lock.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

namespace sunray::store {

namespace {
inline uint64_t load(const uint64_t& v) { return std::atomic_ref<const uint64_t>(v).load(std::memory_order_acquire); }
}  // namespace

void Store::init_page_map() {
  uint64_t chunks = (hdr()->data_end - hdr()->data_begin + kPageChunk - 1) / kPageChunk;
  mapped_ = std::make_unique<std::atomic<uint64_t>[]>((chunks + 63) / 64);
  // Transparent huge pages for the data area where the kernel gives them to shared memory
  // (shmem_enabled "advise" or "within_size"): a fault or populate then maps 2 MiB at once.
  // Best effort: with "never" (the machines measured here) this changes nothing.
  long page = sysconf(_SC_PAGESIZE);
  uint64_t from = (hdr()->data_begin + kPageChunk - 1) & ~(kPageChunk - 1);
  uint64_t to = hdr()->data_end & ~static_cast<uint64_t>(page - 1);
  if (to > from) (void)madvise(base() + from, to - from, MADV_HUGEPAGE);
}

Store::~Store() = default;

uint64_t Store::warmed_end() const { return load(hdr()->state.committed); }

uint64_t Store::warm_target(uint64_t window) const {
  const ArenaHeader* h = hdr();
  uint64_t used_end = std::max(h->data_begin, load(h->state.high_water));
  return std::min(h->data_end, used_end + std::min(window, h->data_end - h->data_begin));
}

bool Store::back_range(uint64_t from, uint64_t to) {
  if (to <= from) return true;
  const ShmSegment& seg = arena_.segment();
  // Backed first (fallocate: ENOSPC here rather than SIGBUS later), then written once and
  // mapped here by the kernel. No lock: a process committing the same range meanwhile
  // does the same harmless work.
  if (seg.allocate_backing(from, to - from) != 0) return false;
  seg.prefault(from, to - from);
  mark_mapped(from, to);
  return true;
}

void Store::advance_committed(uint64_t from, uint64_t to) {
  Lock lock(*this);
  uint64_t& committed = hdr()->state.committed;
  if (committed >= from && committed < to) std::atomic_ref<uint64_t>(committed).store(to, std::memory_order_release);
}

void Store::mark_mapped(uint64_t from, uint64_t to) {
  uint64_t begin = hdr()->data_begin;
  if (to <= from) return;
  // Only chunks wholly inside [from, to): a partly mapped chunk still faults its rest.
  uint64_t first = (from - begin + kPageChunk - 1) / kPageChunk;
  uint64_t last = (to - begin) / kPageChunk;  // exclusive
  if (to == hdr()->data_end) last = (to - begin + kPageChunk - 1) / kPageChunk;
  for (uint64_t c = first; c < last; ++c) mapped_[c / 64].fetch_or(uint64_t{1} << (c % 64), std::memory_order_relaxed);
}

void Store::map_range(uint64_t offset, uint64_t len) {
  if (len < kMapRangeMin) return;
  const uint64_t begin = hdr()->data_begin;
  const uint64_t committed = load(hdr()->state.committed);
  const uint64_t end = std::min(offset + len, committed);
  long page = sysconf(_SC_PAGESIZE);
  uint64_t c = (offset - begin) / kPageChunk;
  const uint64_t c_end = (end - begin + kPageChunk - 1) / kPageChunk;
  while (c < c_end) {
    if (is_mapped(c)) {
      ++c;
      continue;
    }
    uint64_t run = c;
    while (run < c_end && !is_mapped(run)) ++run;
    uint64_t from = begin + c * kPageChunk;
    uint64_t to = std::min(begin + run * kPageChunk, committed);
    from &= ~static_cast<uint64_t>(page - 1);
    // READ, not WRITE: on a shared mapping the pages come in writable either way, and
    // a read populate maps 16 present pages per fault where a write populate maps one.
    if (to > from && madvise(base() + from, to - from, MADV_POPULATE_READ) == 0) mark_mapped(from, to);
    c = run;
  }
}

}  // namespace sunray::store
