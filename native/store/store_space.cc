// Making room in the object store: backing the data area with pages as it
// fills, allocation that evicts secondary copies and spills primary ones (the
// least recently used first) when the store is full, and restoring spilled
// objects.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "store/spill.h"
#include "store/store.h"
#include "store/store_internal.h"

namespace sunray::store {

bool Store::ensure_committed(uint64_t end) {
  StoreState& s = hdr()->state;
  if (end <= s.committed) return true;
  // Backed, and mapped here: the process that allocates is the one about to write them.
  uint64_t target = std::min<uint64_t>(hdr()->data_end, (end + kCommitChunk - 1) & ~(kCommitChunk - 1));
  if (!back_range(s.committed, target)) {
    // Not a whole chunk: maybe just what this allocation needs.
    target = std::min<uint64_t>(hdr()->data_end, (end + (2ull << 20) - 1) & ~((2ull << 20) - 1));
    if (!back_range(s.committed, target)) return false;
  }
  // Only after the pages are really backed; atomic because the warmer reads it unlocked.
  std::atomic_ref<uint64_t>(s.committed).store(target, std::memory_order_release);
  return true;
}

namespace {
// "31457344 bytes (30.0 MiB)": exact for scripts, readable for people.
std::string bytes_text(uint64_t n) {
  std::string out = std::to_string(n) + " bytes";
  if (n >= (1ull << 20)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " (%.1f MiB)", static_cast<double>(n) / (1 << 20));
    out += buf;
  }
  return out;
}
}  // namespace

void Store::pinned_add(const ObjectEntry& e) {
  StoreState& s = hdr()->state;
  ++s.pinned_objects;
  s.pinned_bytes += e.data_size + e.metadata_size;
  s.pinned_block_bytes += Allocator::block_size_for(e.data_size + e.metadata_size);
}

void Store::pinned_sub(const ObjectEntry& e) {
  StoreState& s = hdr()->state;
  uint64_t bytes = e.data_size + e.metadata_size, blocks = Allocator::block_size_for(bytes);
  s.pinned_objects -= s.pinned_objects > 0 ? 1 : 0;
  s.pinned_bytes -= std::min(s.pinned_bytes, bytes);
  s.pinned_block_bytes -= std::min(s.pinned_block_bytes, blocks);
}

std::string Store::space_text() const {
  const StoreState& s = hdr()->state;
  Allocator a = alloc();
  uint64_t used = a.capacity() - a.free_bytes();
  uint64_t held = s.lru_bytes[kEvictList] + s.lru_bytes[kSpillList] + s.pinned_block_bytes;
  uint64_t unsealed = used > held ? used - held : 0;
  std::string out = "memory: capacity " + bytes_text(a.capacity()) + ", " + bytes_text(used) + " used, " +
                    bytes_text(a.free_bytes()) + " free (largest free block " + bytes_text(a.largest_free_block()) +
                    "), " + bytes_text(s.pinned_bytes) + " pinned in " + std::to_string(s.pinned_objects) +
                    " object(s) by views not yet released, " + bytes_text(unsealed) + " in " +
                    std::to_string(s.objects_unsealed) + " unsealed object(s); spill: ";
  if (!hdr()->spill_dir[0]) return out + "disabled (no spillDir)";
  out += bytes_text(s.bytes_spilled_now) + " in " + std::to_string(s.objects_spilled) + " file(s), limit ";
  return out + (hdr()->spill_limit ? bytes_text(hdr()->spill_limit) : "none");
}

uint64_t Store::spill_room(uint64_t credit) const {
  uint64_t limit = hdr()->spill_limit;
  if (limit == 0) return UINT64_MAX;
  uint64_t used = hdr()->state.bytes_spilled_now;
  used = used > credit ? used - credit : 0;
  return used >= limit ? 0 : limit - used;
}

uint64_t Store::spillable_block_bytes(uint64_t room) const {
  const StoreState& s = hdr()->state;
  if (hdr()->spill_limit == 0) return s.lru_bytes[kSpillList];
  // As the loop in allocate_locked spills: least recently used first, skipping what does not fit.
  ObjectTable t = table();
  uint64_t total = 0;
  for (uint32_t i = s.lru_head[kSpillList]; i != kNoSlot && room > 0; i = t.at(i).lru_next) {
    uint64_t bytes = t.at(i).data_size + t.at(i).metadata_size;
    if (bytes > room) continue;
    room -= bytes;
    total += Allocator::block_size_for(bytes);
  }
  return total;
}

uint64_t Store::allocate_locked(uint64_t payload, const ObjectId& for_id, uint64_t spill_credit) {
  Allocator a = alloc();
  StoreState& s = hdr()->state;
  const bool can_spill = hdr()->spill_dir[0] != 0;
  uint64_t need = Allocator::block_size_for(payload);
  auto full = [&](const std::string& why) {
    std::string advice;
    if (s.pinned_bytes > 0)
      advice += "; " + bytes_text(s.pinned_bytes) +
                " are pinned by views of get() results: release them (ref.release(), or `using` the ref; "
                "ObjectBuffer.release() in sunray/store) or drop the views so garbage collection unpins them";
    if (can_spill && hdr()->spill_limit && spill_room(spill_credit) < payload)
      advice += "; delete objects you no longer need (their refs), or raise objectSpillingLimit";
    advice += "; raise objectStoreMemory (init option) or release/delete objects";
    return StoreError(StoreErrorCode::kObjectStoreFull, "the object store is full" + why + ": asked for " +
                                                            bytes_text(payload) + " (object " + for_id.hex() + "); " +
                                                            space_text() + advice);
  };
  bool checked = false;
  uint32_t cursor = kNoSlot;  // where the search for the next object to spill goes on
  bool cursor_set = false;
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
    uint64_t room = can_spill ? spill_room(spill_credit) : 0;
    // Refuse before evicting anything when even evicting everything could not make room.
    if (!checked) {
      uint64_t spillable = can_spill ? spillable_block_bytes(room) : 0;
      uint64_t reachable = a.free_bytes() + s.lru_bytes[kEvictList] + spillable;
      if (reachable < need) {
        if (!can_spill) throw full(" (spilling is disabled: no spillDir)");
        if (spillable < s.lru_bytes[kSpillList]) throw full(" and so is its spill space (objectSpillingLimit)");
        throw full("");
      }
      checked = true;
    }
    if (s.lru_head[kEvictList] != kNoSlot) {
      evict_locked(s.lru_head[kEvictList]);
      continue;
    }
    if (can_spill) {
      uint32_t slot = cursor_set ? cursor : s.lru_head[kSpillList];
      ObjectTable t = table();
      while (slot != kNoSlot && t.at(slot).data_size + t.at(slot).metadata_size > room) slot = t.at(slot).lru_next;
      if (slot != kNoSlot) {
        cursor = t.at(slot).lru_next;
        cursor_set = true;
        spill_locked(slot);
        continue;
      }
      if (s.lru_head[kSpillList] != kNoSlot) throw full(" and so is its spill space (objectSpillingLimit)");
    }
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
  // Its own file goes once it is read back: its bytes count as spill room for the objects
  // spilled to make space for it (the files pass the limit by at most its size meanwhile).
  uint64_t off = allocate_locked(bytes, ObjectId::from(t.at(slot).id), bytes);
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
