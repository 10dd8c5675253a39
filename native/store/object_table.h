// The object table: open addressing (linear probing) in shared memory, keyed
// by the 28-byte ObjectId. Slots never move (pins and LRU links name them by
// index), so erase leaves a tombstone; a tombstone followed by an empty slot
// is itself turned back into an empty slot, which keeps probe chains short.
//
// Crash safety: an entry is filled first and its state published last, so a
// process killed mid-insert leaves an EMPTY/TOMBSTONE slot with some bytes in it.
#pragma once

#include <atomic>
#include <cstdint>

#include "store/object_id.h"

namespace sunray::store {

enum ObjectState : uint32_t {
  kSlotEmpty = 0,
  kSlotTombstone = 1,
  kObjectCreated = 2,  // unsealed: writable by its creator only
  kObjectSealed = 3,
  kObjectSpilled = 4,  // sealed, bytes in a spill file, no arena space
};

constexpr uint32_t kNoSlot = 0xFFFFFFFFu;

struct ObjectEntry {
  uint8_t id[kObjectIdSize];
  uint32_t state;
  uint64_t data_offset;  // payload offset from the arena base; 0 while spilled
  uint64_t data_size;
  uint64_t metadata_size;  // metadata follows the data in the same allocation
  uint64_t lru_tick;       // last time it became unpinned; orders LRU rebuilds
  uint64_t spill_seq;      // which spill this is (names the file); 0 = never spilled
  uint32_t creator;        // client slot of the creator
  uint32_t pins;           // sum over clients (the pin table has the per-client counts)
  uint32_t lru_prev;       // slot indices in one of the two LRU lists; kNoSlot = none
  uint32_t lru_next;
  uint8_t primary;         // spill rather than evict
  uint8_t delete_pending;  // delete once the last pin goes
  uint8_t in_lru;
  uint8_t reserved;
};
static_assert(sizeof(ObjectEntry) == 96);

struct ObjectTableHeader {
  uint64_t entries_offset;
  uint32_t slots;  // power of two
  uint32_t max_objects;
  uint32_t live;
  uint32_t tombstones;
};

class ObjectTable {
 public:
  ObjectTable(uint8_t* base, ObjectTableHeader* h)
      : h_(h), e_(reinterpret_cast<ObjectEntry*>(base + h->entries_offset)) {}

  static uint32_t slots_for(uint32_t max_objects);
  static uint64_t bytes_for(uint32_t max_objects) { return uint64_t{slots_for(max_objects)} * sizeof(ObjectEntry); }

  uint32_t find(const ObjectId& id) const;
  // Claims a slot for id (which must be absent), state still EMPTY/TOMBSTONE:
  // the caller fills it and then publish()es. kNoSlot when the table is full.
  uint32_t claim(const ObjectId& id) const;
  void publish(uint32_t slot, ObjectState state);
  void erase(uint32_t slot);

  ObjectEntry& at(uint32_t slot) const { return e_[slot]; }
  uint32_t slots() const { return h_->slots; }
  uint32_t live() const { return h_->live; }
  uint32_t max_objects() const { return h_->max_objects; }
  bool full() const { return h_->live >= h_->max_objects; }
  static bool is_live(uint32_t state) { return state >= kObjectCreated; }
  // Recounts live and tombstones (repair after a crash).
  void recount();

 private:
  ObjectTableHeader* h_;
  ObjectEntry* e_;
};

inline void publish_state(uint32_t* word, uint32_t value) {
  std::atomic_ref<uint32_t>(*word).store(value, std::memory_order_release);
}

}  // namespace sunray::store
