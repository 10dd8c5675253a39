// The object table's probing, insertion and erase with tombstones: see
// object_table.h.
#include "store/object_table.h"

#include <bit>

namespace sunray::store {

uint32_t ObjectTable::slots_for(uint32_t max_objects) {
  // At most half full: probe chains stay short even with tombstones about.
  uint64_t want = uint64_t{max_objects} * 2;
  if (want < 16) want = 16;
  return static_cast<uint32_t>(std::bit_ceil(want));
}

uint32_t ObjectTable::find(const ObjectId& id) const {
  uint32_t mask = h_->slots - 1;
  uint32_t i = static_cast<uint32_t>(id.hash()) & mask;
  for (uint32_t n = 0; n < h_->slots; ++n, i = (i + 1) & mask) {
    const ObjectEntry& e = e_[i];
    if (e.state == kSlotEmpty) return kNoSlot;
    if (is_live(e.state) && id.equals(e.id)) return i;
  }
  return kNoSlot;
}

uint32_t ObjectTable::claim(const ObjectId& id) const {
  if (full()) return kNoSlot;
  uint32_t mask = h_->slots - 1;
  uint32_t i = static_cast<uint32_t>(id.hash()) & mask;
  for (uint32_t n = 0; n < h_->slots; ++n, i = (i + 1) & mask) {
    if (!is_live(e_[i].state)) return i;
  }
  return kNoSlot;
}

void ObjectTable::publish(uint32_t slot, ObjectState state) {
  ObjectEntry& e = e_[slot];
  if (!is_live(e.state)) {
    if (e.state == kSlotTombstone) --h_->tombstones;
    ++h_->live;
  }
  publish_state(&e.state, state);
}

void ObjectTable::erase(uint32_t slot) {
  uint32_t mask = h_->slots - 1;
  publish_state(&e_[slot].state, kSlotTombstone);
  --h_->live;
  ++h_->tombstones;
  // A tombstone that ends a chain is not needed by any lookup: clear it and
  // the tombstones before it.
  if (e_[(slot + 1) & mask].state != kSlotEmpty) return;
  uint32_t i = slot;
  while (e_[i].state == kSlotTombstone) {
    publish_state(&e_[i].state, kSlotEmpty);
    --h_->tombstones;
    i = (i - 1) & mask;
  }
}

void ObjectTable::recount() {
  uint32_t live = 0, tomb = 0;
  for (uint32_t i = 0; i < h_->slots; ++i) {
    if (is_live(e_[i].state))
      ++live;
    else if (e_[i].state == kSlotTombstone)
      ++tomb;
    else if (e_[i].state != kSlotEmpty)
      publish_state(&e_[i].state, kSlotTombstone), ++tomb;
  }
  h_->live = live;
  h_->tombstones = tomb;
}

}  // namespace sunray::store
