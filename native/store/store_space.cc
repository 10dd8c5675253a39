// Making room in the object store: backing the data area with pages as it
// fills, allocation that evicts secondary copies and spills primary ones (the
// least recently used first) when the store is full, and restoring spilled
// objects.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "store/spill.h"
#include "store/store.h"
#include "store/store_internal.h"

namespace sunray::store {

bool Store::ensure_committed(uint64_t end) {
  StoreState& s = hdr()->state;
  if (end <= s.committed) return true;
  const ShmSegment& seg = arena_.segment();
  uint64_t target = std::min<uint64_t>(hdr()->data_end, (end + kCommitChunk - 1) & ~(kCommitChunk - 1));
  if (seg.allocate_backing(s.committed, target - s.committed) != 0) {
    // Not a whole chunk: maybe just what this allocation needs.
    target = std::min<uint64_t>(hdr()->data_end, (end + (2ull << 20) - 1) & ~((2ull << 20) - 1));
    if (seg.allocate_backing(s.committed, target - s.committed) != 0) return false;
  }
  // Map the fresh pages here: the process that allocates is the one about to write them.
  seg.prefault(s.committed, target - s.committed);
  mark_mapped(s.committed, target);
  // Only after the pages are really backed; atomic because the warmer reads it unlocked.
  std::atomic_ref<uint64_t>(s.committed).store(target, std::memory_order_release);
  return true;
}

uint64_t Store::allocate_locked(uint64_t payload, const ObjectId& for_id) {
  Allocator a = alloc();
  StoreState& s = hdr()->state;
  const bool can_spill = hdr()->spill_dir[0] != 0;
  uint64_t need = Allocator::block_size_for(payload);
  auto full = [&](const std::string& why) {
    uint64_t pinned_or_unsealed = a.capacity() - a.free_bytes() - s.lru_bytes[kEvictList] - s.lru_bytes[kSpillList];
    return StoreError(StoreErrorCode::kObjectStoreFull,
                      "the object store is full: asked for " + size_text(payload) + " (object " + for_id.hex() + "), " +
                          size_text(a.free_bytes()) + " free (largest free block " + size_text(a.largest_free_block()) +
                          ") of capacity " + size_text(a.capacity()) + ", " + size_text(pinned_or_unsealed) +
                          " held by pinned or unsealed objects" + why +
                          "; raise objectStoreMemory (init option) or release/delete objects");
  };
  bool checked = false;
  for (;;) {
    uint64_t off = a.allocate(payload);
    if (off) {
      if (ensure_committed(off + payload)) {
        if (off + payload > s.high_water)
          std::atomic_ref<uint64_t>(s.high_water).store(off + payload, std::memory_order_release);
        return off;
      }
      int err = errno;
      a.free(off);
      throw full(std::string(" (the system could not back more shared memory: ") + std::strerror(err) + ")");
    }
    // Refuse before evicting anything when even evicting everything could not make room.
    if (!checked) {
      uint64_t reachable = a.free_bytes() + s.lru_bytes[kEvictList] + (can_spill ? s.lru_bytes[kSpillList] : 0);
      if (reachable < need) throw full(can_spill ? "" : " (spilling is disabled: no spillDir)");
      checked = true;
    }
    if (s.lru_head[kEvictList] != kNoSlot)
      evict_locked(s.lru_head[kEvictList]);
    else if (can_spill && s.lru_head[kSpillList] != kNoSlot)
      spill_locked(s.lru_head[kSpillList]);
    else
      throw full(" (fragmented: no free block is large enough)");
  }
}

void Store::make_table_room(const ObjectId& for_id) {
  ObjectTable t = table();
  StoreState& s = hdr()->state;
  while (t.full()) {
    if (s.lru_head[kEvictList] == kNoSlot)
      throw StoreError(StoreErrorCode::kTooManyObjects,
                       "the object table is full: " + std::to_string(t.max_objects()) +
                           " objects are stored, so object " + for_id.hex() +
                           " cannot be added; raise maxObjects (init option) or release/delete objects");
    evict_locked(s.lru_head[kEvictList]);
  }
}

void Store::evict_locked(uint32_t slot) {
  ObjectEntry& e = table().at(slot);
  StoreState& s = hdr()->state;
  ++s.evicted;
  s.evicted_bytes += e.data_size + e.metadata_size;
  erase_locked(slot);
}

std::string Store::spill_file(uint32_t slot) const {
  const ObjectEntry& e = table().at(slot);
  return spill_path(hdr()->spill_dir, hdr()->spill_salt, kSpillSaltBytes, ObjectId::from(e.id).hex(), e.spill_seq);
}

void Store::spill_locked(uint32_t slot) {
  ObjectTable t = table();
  ObjectEntry& e = t.at(slot);
  StoreState& s = hdr()->state;
  uint64_t bytes = e.data_size + e.metadata_size;
  uint64_t seq = ++s.spill_seq;
  std::string path = spill_path(hdr()->spill_dir, hdr()->spill_salt, kSpillSaltBytes, ObjectId::from(e.id).hex(), seq);
  std::string err = spill_write(path, base() + e.data_offset, bytes);
  if (!err.empty())
    throw StoreError(StoreErrorCode::kObjectStoreFull,
                     "the object store is full and spilling failed: " + err +
                         "; raise objectStoreMemory (init option), free space in spillDir, or release/delete objects");
  lru_remove(slot);
  uint64_t off = e.data_offset;
  e.spill_seq = seq;
  publish_state(&e.state, kObjectSpilled);  // from here the entry no longer owns the block
  e.data_offset = 0;
  alloc().free(off);
  --s.objects_sealed;
  ++s.objects_spilled;
  s.bytes_spilled_now += bytes;
  ++s.spilled;
  s.spilled_bytes += bytes;
}

void Store::restore_locked(uint32_t slot) {
  ObjectTable t = table();
  StoreState& s = hdr()->state;
  uint64_t bytes = t.at(slot).data_size + t.at(slot).metadata_size;
  uint64_t off = allocate_locked(bytes, ObjectId::from(t.at(slot).id));
  ObjectEntry& e = t.at(slot);
  std::string path = spill_file(slot);
  std::string err = spill_read(path, base() + off, bytes);
  if (!err.empty()) {
    alloc().free(off);
    throw StoreError(StoreErrorCode::kSpillFailed, "cannot restore spilled object " + ObjectId::from(e.id).hex() +
                                                       ": " + err + " (was the spill directory cleaned?)");
  }
  e.data_offset = off;
  publish_state(&e.state, kObjectSealed);
  // Restored objects are back in memory: the file is no longer needed (a later spill writes a new one).
  spill_remove(path);
  --s.objects_spilled;
  s.bytes_spilled_now -= bytes;
  ++s.objects_sealed;
  ++s.restored;
  s.restored_bytes += bytes;
}

}  // namespace sunray::store
