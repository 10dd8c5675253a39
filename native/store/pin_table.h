// Who pins what: one open-addressing hash in shared memory keyed by
// (client slot, object slot) -> count. A dead client's pins can be found and
// dropped; the object entry keeps only the total.
#pragma once

#include <cstdint>

namespace sunray::store {

struct PinRecord {
  uint32_t client_plus1;  // 0 = empty, kPinTombstone = erased
  uint32_t object;
  uint32_t count;
  uint32_t reserved;
};

struct PinTableHeader {
  uint64_t records_offset;
  uint32_t slots;  // power of two
  uint32_t live;
  uint32_t tombstones;
  uint32_t reserved;
};

class PinTable {
 public:
  static constexpr uint32_t kPinTombstone = 0xFFFFFFFFu;

  PinTable(uint8_t* base, PinTableHeader* h) : h_(h), r_(reinterpret_cast<PinRecord*>(base + h->records_offset)) {}
  static uint32_t slots_for(uint32_t max_objects);
  static uint64_t bytes_for(uint32_t max_objects) { return uint64_t{slots_for(max_objects)} * sizeof(PinRecord); }

  // The record of (client, object), or nullptr.
  PinRecord* find(uint32_t client, uint32_t object) const;
  // Finds or creates the record; nullptr when the table is too full.
  PinRecord* find_or_insert(uint32_t client, uint32_t object);
  void erase(PinRecord* r);
  uint32_t slots() const { return h_->slots; }
  PinRecord& at(uint32_t i) const { return r_[i]; }
  void clear();

 private:
  uint32_t start(uint32_t client, uint32_t object) const;
  PinTableHeader* h_;
  PinRecord* r_;
};

}  // namespace sunray::store
