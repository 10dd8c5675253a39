// The pin table's probing, counting and erase: see pin_table.h.
#include "store/pin_table.h"

#include <bit>
#include <cstring>

namespace sunray::store {

uint32_t PinTable::slots_for(uint32_t max_objects) {
  uint64_t want = uint64_t{max_objects} * 2;
  if (want < 1024) want = 1024;
  return static_cast<uint32_t>(std::bit_ceil(want));
}

uint32_t PinTable::start(uint32_t client, uint32_t object) const {
  uint64_t k = (uint64_t{client} << 32 | object) * 0x9E3779B97F4A7C15ull;
  return static_cast<uint32_t>(k >> 32) & (h_->slots - 1);
}

PinRecord* PinTable::find(uint32_t client, uint32_t object) const {
  uint32_t mask = h_->slots - 1;
  uint32_t i = start(client, object);
  for (uint32_t n = 0; n < h_->slots; ++n, i = (i + 1) & mask) {
    PinRecord& r = r_[i];
    if (r.client_plus1 == 0) return nullptr;
    if (r.client_plus1 == client + 1 && r.object == object) return &r;
  }
  return nullptr;
}

PinRecord* PinTable::find_or_insert(uint32_t client, uint32_t object) {
  if (PinRecord* r = find(client, object)) return r;
  if (h_->live + 1 > h_->slots / 4 * 3) return nullptr;
  uint32_t mask = h_->slots - 1;
  uint32_t i = start(client, object);
  for (uint32_t n = 0; n < h_->slots; ++n, i = (i + 1) & mask) {
    PinRecord& r = r_[i];
    if (r.client_plus1 == 0 || r.client_plus1 == kPinTombstone) {
      if (r.client_plus1 == kPinTombstone) --h_->tombstones;
      r.object = object;
      r.count = 0;
      r.client_plus1 = client + 1;
      ++h_->live;
      return &r;
    }
  }
  return nullptr;
}

void PinTable::erase(PinRecord* r) {
  uint32_t mask = h_->slots - 1;
  uint32_t i = static_cast<uint32_t>(r - r_);
  r->client_plus1 = kPinTombstone;
  r->count = 0;
  --h_->live;
  ++h_->tombstones;
  if (r_[(i + 1) & mask].client_plus1 != 0) return;
  while (r_[i].client_plus1 == kPinTombstone) {
    r_[i].client_plus1 = 0;
    --h_->tombstones;
    i = (i - 1) & mask;
  }
}

void PinTable::clear() {
  std::memset(r_, 0, uint64_t{h_->slots} * sizeof(PinRecord));
  h_->live = 0;
  h_->tombstones = 0;
}

}  // namespace sunray::store
