// The object table alone, over a plain buffer.
#include "store/object_table.h"

#include <vector>

#include "tests/check.h"
#include "tests/store/store_test_util.h"

using namespace sunray::store;
using sunray::store::testutil::make_id;

namespace {
struct Table {
  explicit Table(uint32_t max_objects) {
    h.max_objects = max_objects;
    h.slots = ObjectTable::slots_for(max_objects);
    h.entries_offset = 64;
    mem.assign(64 + ObjectTable::bytes_for(max_objects), 0);
  }
  ObjectTable table() { return ObjectTable(mem.data(), &h); }
  std::vector<uint8_t> mem;
  ObjectTableHeader h{};
};

uint32_t insert(ObjectTable& t, const ObjectId& id) {
  uint32_t slot = t.claim(id);
  if (slot == kNoSlot) return slot;
  std::memcpy(t.at(slot).id, id.bytes.data(), kObjectIdSize);
  t.publish(slot, kObjectSealed);
  return slot;
}
}  // namespace

TEST(insert_find_erase) {
  Table tb(1000);
  ObjectTable t = tb.table();
  for (uint64_t i = 0; i < 1000; ++i) CHECK(insert(t, make_id(i)) != kNoSlot);
  CHECK_EQ(t.live(), 1000u);
  for (uint64_t i = 0; i < 1000; ++i) CHECK(t.find(make_id(i)) != kNoSlot);
  CHECK_EQ(t.find(make_id(5000)), kNoSlot);
  for (uint64_t i = 0; i < 1000; i += 2) t.erase(t.find(make_id(i)));
  for (uint64_t i = 0; i < 1000; ++i) CHECK_EQ(t.find(make_id(i)) != kNoSlot, i % 2 == 1);
  CHECK_EQ(t.live(), 500u);
}

TEST(full_table_refuses) {
  Table tb(64);
  ObjectTable t = tb.table();
  for (uint64_t i = 0; i < 64; ++i) CHECK(insert(t, make_id(i)) != kNoSlot);
  CHECK(t.full());
  CHECK_EQ(t.claim(make_id(999)), kNoSlot);
  t.erase(t.find(make_id(3)));
  CHECK(insert(t, make_id(999)) != kNoSlot);
}

TEST(tombstones_stay_bounded_under_churn) {
  Table tb(1024);
  ObjectTable t = tb.table();
  // Keep ~half the table live and churn through many ids: lookups must keep
  // working, tombstones are reused, and the chain-end cleanup keeps them down.
  for (uint64_t i = 0; i < 512; ++i) insert(t, make_id(i));
  for (uint64_t i = 512; i < 200000; ++i) {
    CHECK(insert(t, make_id(i)) != kNoSlot);
    uint32_t old = t.find(make_id(i - 512));
    CHECK(old != kNoSlot);
    t.erase(old);
  }
  CHECK_EQ(t.live(), 512u);
  for (uint64_t i = 200000 - 512; i < 200000; ++i) CHECK(t.find(make_id(i)) != kNoSlot);
  CHECK_EQ(t.find(make_id(1)), kNoSlot);
  uint32_t tomb = 0;
  for (uint32_t i = 0; i < t.slots(); ++i) tomb += t.at(i).state == kSlotTombstone;
  std::fprintf(stderr, "tombstones after churn: %u of %u slots\n", tomb, t.slots());
  CHECK(tomb + t.live() < t.slots());
  t.recount();
  CHECK_EQ(t.live(), 512u);
}

TEST_MAIN()
