// The arena: one memfd-backed shared-memory segment per node holding the
// whole store. Everything in it is an offset from its base, never a pointer.
//
//   offset 0       ArenaHeader: magic, layout version, geometry, the robust
//                  process-shared mutex, the seal-epoch futex word (own cache
//                  line), the mutable store state (stats, LRU heads, allocator)
//   .object_table  ObjectEntry[slots]           (open addressing, see object_table.h)
//   .pin_table     PinRecord[pin slots]         (client, object) -> pin count
//   .clients       ClientSlot[max_clients]
//   .data_begin    the data area: 64-byte-aligned blocks (see allocator.h)
//
// The header and tables are backed (fallocate) at creation; the data area is
// backed in kCommitChunk steps as the allocator first hands out offsets past
// the `committed` watermark, so creating a 7 GiB arena is instant and a
// machine short of memory gives ObjectStoreFull instead of a later SIGBUS.
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "common/shm_segment.h"
#include "store/allocator.h"
#include "store/client_table.h"
#include "store/object_table.h"
#include "store/pin_table.h"

namespace sunray::store {

constexpr char kArenaMagic[8] = {'S', 'U', 'N', 'R', 'A', 'Y', 'S', 'T'};
constexpr uint32_t kArenaLayoutVersion = 4;
constexpr uint64_t kCommitChunk = 64ull << 20;
constexpr uint64_t kFirstCommit = 2ull << 20;
constexpr uint64_t kMinCapacity = 1ull << 20;
constexpr size_t kSpillDirMax = 512;
constexpr size_t kSpillSaltBytes = 16;

static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(std::atomic<uint64_t>::is_always_lock_free);

// Only touched under the arena mutex; a repair pass recomputes what it can.
struct StoreState {
  uint64_t committed;   // data area is backed by real pages up to this offset
  uint64_t high_water;  // the highest block end the allocator ever handed out (the warmer works ahead of it)
  uint64_t tick;        // LRU clock
  uint64_t spill_seq;
  // Two LRU lists of unpinned sealed objects (head = least recently used):
  // non-primary copies are evicted, primaries are spilled.
  uint32_t lru_head[2];
  uint32_t lru_tail[2];
  uint64_t lru_bytes[2];  // block bytes in each list: what eviction/spilling could free
  uint64_t objects_sealed;
  uint64_t objects_unsealed;
  uint64_t objects_spilled;
  uint64_t bytes_spilled_now;
  // Sealed objects with at least one pin (gets not yet released; delete-pending ones too):
  // how many, their data + metadata bytes and their block bytes (what unpinning gives back).
  uint64_t pinned_objects;
  uint64_t pinned_bytes;
  uint64_t pinned_block_bytes;
  uint64_t evicted;  // counters since creation
  uint64_t evicted_bytes;
  uint64_t spilled;
  uint64_t spilled_bytes;
  uint64_t restored;
  uint64_t restored_bytes;
  uint64_t repairs;
  uint64_t reaped_clients;
};

struct ArenaHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_size;
  uint64_t total_size;
  uint64_t data_begin;
  uint64_t data_end;
  uint64_t clients_offset;
  uint32_t max_clients;
  int32_t creator_pid;
  char spill_dir[kSpillDirMax];
  // Random bytes drawn at creation that every spill file name starts with: names nobody
  // outside the node's processes can predict (see spill.h).
  uint8_t spill_salt[kSpillSaltBytes];
  // Most bytes the spill directory may hold (objectSpillingLimit); 0 = no limit. Here rather
  // than in each process's options, so every process of the node obeys the same limit.
  uint64_t spill_limit;
  ObjectTableHeader objects;
  PinTableHeader pins;
  alignas(64) pthread_mutex_t mutex;
  alignas(64) std::atomic<uint32_t> seal_epoch;
  alignas(64) std::atomic<uint32_t> seal_waiters;
  alignas(64) StoreState state;
  AllocatorState alloc;
};

struct ArenaOptions {
  uint64_t capacity = 0;     // total segment size in bytes (header + tables + data)
  uint32_t max_objects = 0;  // 0: capacity / 8 KiB, within [1024, 1 << 18]
  uint32_t max_clients = kDefaultMaxClients;
  std::string spill_dir;     // where primaries go when the arena is full; "" disables spilling
  uint64_t spill_limit = 0;  // most bytes spilled at once (data + metadata); 0 = no limit
};

class Arena {
 public:
  static Arena create(const ArenaOptions& opts);
  static Arena attach_fd(int fd);
  static Arena attach_path(const std::string& path);

  uint8_t* base() const { return seg_.base(); }
  ArenaHeader* header() const { return reinterpret_cast<ArenaHeader*>(seg_.base()); }
  const ShmSegment& segment() const { return seg_; }
  ClientSlot* clients() const { return reinterpret_cast<ClientSlot*>(base() + header()->clients_offset); }
  uint64_t data_capacity() const { return header()->data_end - header()->data_begin; }

  static uint32_t default_max_objects(uint64_t capacity);
  // Bytes the header and tables take for these options (what capacity must exceed).
  static uint64_t overhead_bytes(uint32_t max_objects, uint32_t max_clients);

 private:
  explicit Arena(ShmSegment seg) : seg_(std::move(seg)) {}
  static Arena validate(ShmSegment seg);
  ShmSegment seg_;
};

}  // namespace sunray::store
