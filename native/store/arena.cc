// Creating, attaching and validating the arena segment: see arena.h.
#include "store/arena.h"

#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "store/store_error.h"

namespace sunray::store {

namespace {
uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
}  // namespace

uint32_t Arena::default_max_objects(uint64_t capacity) {
  uint64_t n = capacity / 8192;
  if (n < 1024) n = 1024;
  if (n > (1u << 18)) n = 1u << 18;
  return static_cast<uint32_t>(n);
}

uint64_t Arena::overhead_bytes(uint32_t max_objects, uint32_t max_clients) {
  uint64_t off = align_up(sizeof(ArenaHeader), 4096);
  off = align_up(off + ObjectTable::bytes_for(max_objects), 4096);
  off = align_up(off + PinTable::bytes_for(max_objects), 4096);
  off = align_up(off + uint64_t{max_clients} * sizeof(ClientSlot), 4096);
  return off;
}

Arena Arena::create(const ArenaOptions& opts) {
  uint32_t max_objects = opts.max_objects ? opts.max_objects : default_max_objects(opts.capacity);
  uint32_t max_clients = opts.max_clients ? opts.max_clients : kDefaultMaxClients;
  if (max_objects > (1u << 30))
    throw StoreError(StoreErrorCode::kInvalidOption,
                     "maxObjects " + std::to_string(max_objects) + " is too large (at most 2^30)");
  if (opts.spill_dir.size() >= kSpillDirMax)
    throw StoreError(StoreErrorCode::kInvalidOption,
                     "spillDir is longer than " + std::to_string(kSpillDirMax - 1) + " bytes");
  uint64_t overhead = overhead_bytes(max_objects, max_clients);
  uint64_t capacity = opts.capacity & ~(kBlockAlign - 1);
  if (capacity < kMinCapacity || capacity < overhead + kMinCapacity / 2)
    throw StoreError(StoreErrorCode::kInvalidOption,
                     "objectStoreMemory " + std::to_string(opts.capacity) +
                         " bytes is too small: the store needs at least " +
                         std::to_string(std::max(kMinCapacity, overhead + kMinCapacity / 2)) + " bytes (" +
                         std::to_string(overhead) + " for the tables of " + std::to_string(max_objects) +
                         " objects); raise objectStoreMemory or lower maxObjects");
  if (capacity - overhead > kMaxRegionSize)
    throw StoreError(StoreErrorCode::kInvalidOption, "objectStoreMemory is larger than the 1 TiB a store can hold");

  ShmSegment seg;
  try {
    seg = ShmSegment::create("sunray-store", capacity);
  } catch (const std::exception& e) {
    throw StoreError(StoreErrorCode::kSystem, std::string("cannot create the object store arena: ") + e.what());
  }
  // Back the header and the tables now; the data area is backed as it is used.
  if (int err = seg.allocate_backing(0, overhead))
    throw StoreError(StoreErrorCode::kObjectStoreFull, std::string("cannot back the object store's tables (") +
                                                           std::to_string(overhead) + " bytes): " + std::strerror(err) +
                                                           "; free memory or lower objectStoreMemory/maxObjects");

  uint8_t* base = seg.base();
  auto* h = new (base) ArenaHeader();
  h->version = kArenaLayoutVersion;
  h->header_size = sizeof(ArenaHeader);
  h->total_size = capacity;
  h->max_clients = max_clients;
  h->creator_pid = getpid();
  std::memcpy(h->spill_dir, opts.spill_dir.data(), opts.spill_dir.size());
  h->spill_limit = opts.spill_limit;
  for (size_t got = 0; got < kSpillSaltBytes;) {
    ssize_t n = getrandom(h->spill_salt + got, kSpillSaltBytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw StoreError(StoreErrorCode::kSystem, std::string("getrandom failed: ") + std::strerror(errno));
    got += static_cast<size_t>(n);
  }
  uint64_t off = align_up(sizeof(ArenaHeader), 4096);
  h->objects.entries_offset = off;
  h->objects.slots = ObjectTable::slots_for(max_objects);
  h->objects.max_objects = max_objects;
  off = align_up(off + ObjectTable::bytes_for(max_objects), 4096);
  h->pins.records_offset = off;
  h->pins.slots = PinTable::slots_for(max_objects);
  off = align_up(off + PinTable::bytes_for(max_objects), 4096);
  h->clients_offset = off;
  off = align_up(off + uint64_t{max_clients} * sizeof(ClientSlot), 4096);
  h->data_begin = off;
  h->data_end = capacity;
  // memfd pages read as zero: EMPTY slots, free clients, no pins. Just the lists:
  for (int i = 0; i < 2; ++i) h->state.lru_head[i] = h->state.lru_tail[i] = kNoSlot;
  h->state.committed = h->data_begin;
  h->state.high_water = h->data_begin;
  Allocator(base, &h->alloc).init(h->data_begin, h->data_end);
  // The first block header sits at data_begin: back its page now. The rest is backed by
  // the warmer or by the first allocations (and written once there, which a plain
  // fallocate here would not do).
  uint64_t first = std::min(kFirstCommit, h->data_end - h->data_begin);
  if (seg.allocate_backing(h->data_begin, first) == 0) {
    seg.prefault(h->data_begin, first);  // written once and mapped here, as the warmer does
    h->state.committed = h->data_begin + first;
  }

  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&h->mutex, &attr);
  pthread_mutexattr_destroy(&attr);
  // The magic last: a half-initialised arena is never taken for a good one (nobody can
  // attach before create() returns the fd anyway).
  std::memcpy(h->magic, kArenaMagic, sizeof(kArenaMagic));
  return Arena(std::move(seg));
}

Arena Arena::validate(ShmSegment seg) {
  if (seg.size() < sizeof(ArenaHeader))
    throw StoreError(StoreErrorCode::kArenaMismatch, "the segment is too small to be a sunray arena (" +
                                                         std::to_string(seg.size()) + " bytes): not a sunray arena");
  auto* h = reinterpret_cast<ArenaHeader*>(seg.base());
  if (std::memcmp(h->magic, kArenaMagic, sizeof(kArenaMagic)) != 0)
    throw StoreError(StoreErrorCode::kArenaMismatch,
                     "the segment does not start with the SUNRAYST magic: not a sunray arena");
  if (h->version != kArenaLayoutVersion || h->header_size != sizeof(ArenaHeader))
    throw StoreError(StoreErrorCode::kArenaMismatch, "the arena has layout version " + std::to_string(h->version) +
                                                         ", this build reads " + std::to_string(kArenaLayoutVersion) +
                                                         ": run the same sunray version in every process of the node");
  if (h->total_size != seg.size())
    throw StoreError(StoreErrorCode::kArenaMismatch,
                     "the arena's recorded size disagrees with the segment's: not a sunray arena");
  return Arena(std::move(seg));
}

Arena Arena::attach_fd(int fd) {
  try {
    return validate(ShmSegment::attach_fd(fd));
  } catch (const StoreError&) {
    throw;
  } catch (const std::exception& e) {
    throw StoreError(StoreErrorCode::kArenaMismatch, std::string("cannot attach the object store: ") + e.what());
  }
}

Arena Arena::attach_path(const std::string& path) {
  try {
    return validate(ShmSegment::attach_path(path));
  } catch (const StoreError&) {
    throw;
  } catch (const std::exception& e) {
    throw StoreError(StoreErrorCode::kArenaMismatch, std::string("cannot attach the object store: ") + e.what());
  }
}

}  // namespace sunray::store
