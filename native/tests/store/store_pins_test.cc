// Pinned-byte accounting and the spill limit: exact counters through get,
// release, deferred delete, reaping and repair; full-store messages that name
// the pinned bytes and both full spaces; spills that never pass the limit.
#include <dirent.h>

#include <cstring>
#include <functional>
#include <string>

#include "store/store.h"
#include "tests/check.h"
#include "tests/store/store_test_util.h"

using namespace sunray::store;
using namespace sunray::store::testutil;

namespace {

std::unique_ptr<Store> store_with(uint64_t capacity, const std::string& spill, uint64_t spill_limit) {
  ArenaOptions o;
  o.capacity = capacity;
  o.spill_dir = spill;
  o.spill_limit = spill_limit;
  return Store::create(o);
}

void put(Store& s, uint32_t c, uint64_t n, uint64_t size) {
  uint64_t off = s.create(c, make_id(n), size, nullptr, 0, true);
  fill(s.base() + off, size, n);
  s.seal(c, make_id(n));
}

// The ObjectStoreFull message of fn (which must throw it).
std::string full_message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const StoreError& e) {
    CHECK(e.code() == StoreErrorCode::kObjectStoreFull);
    return e.what();
  }
  std::fprintf(stderr, "expected ObjectStoreFull\n");
  std::exit(1);
}

bool has(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return true;
  std::fprintf(stderr, "'%s' not in: %s\n", part.c_str(), text.c_str());
  return false;
}

uint64_t dir_bytes(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  uint64_t total = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    struct stat st {};
    if (stat((dir + "/" + e->d_name).c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_size);
  }
  closedir(d);
  return total;
}

}  // namespace

TEST(pinned_counters_are_exact) {
  auto s = store_with(4 << 20, "", 0);
  uint32_t a = s->register_client(), b = s->register_client();
  put(*s, a, 1, 1000);
  put(*s, a, 2, 5000);
  CHECK_EQ(s->stats().pinned, 0u);
  CHECK(s->get(a, make_id(1)).status == GetStatus::kReady);
  CHECK(s->get(b, make_id(1)).status == GetStatus::kReady);  // two pins, one object
  CHECK(s->get(b, make_id(2)).status == GetStatus::kReady);
  StoreStats st = s->stats();
  CHECK_EQ(st.pinned, 2u);
  CHECK_EQ(st.pinned_bytes, 6000u);
  check_store(*s);
  s->release(a, make_id(1));
  CHECK_EQ(s->stats().pinned_bytes, 6000u);  // b still pins it
  // A deferred delete stays pinned until the last release, then goes from the counters.
  s->remove(b, make_id(2));
  CHECK_EQ(s->stats().pinned_bytes, 6000u);
  s->release(b, make_id(2));
  CHECK_EQ(s->stats().pinned_bytes, 1000u);
  CHECK(!s->contains(make_id(2)));
  // Repair recomputes them from the pin records.
  s->repair_now();
  CHECK_EQ(s->stats().pinned, 1u);
  CHECK_EQ(s->stats().pinned_bytes, 1000u);
  check_store(*s);
  // Reaping a client drops what it pinned.
  s->reap_client(b);
  CHECK_EQ(s->stats().pinned, 0u);
  CHECK_EQ(s->stats().pinned_bytes, 0u);
  check_store(*s);
}

TEST(full_store_message_names_the_pinned_bytes) {
  auto s = store_with(4 << 20, "", 0);
  uint32_t c = s->register_client();
  const uint64_t size = 1 << 20;
  uint64_t n = 0;
  for (; n < 3; ++n) {
    put(*s, c, n, size);
    CHECK(s->get(c, make_id(n)).status == GetStatus::kReady);
  }
  std::string msg = full_message([&] { s->create(c, make_id(99), size, nullptr, 0, true); });
  CHECK(has(msg, std::to_string(3 * size) + " bytes (3.0 MiB) pinned in 3 object(s)"));
  CHECK(has(msg, "ref.release()"));
  CHECK(has(msg, "spill: disabled"));
  for (uint64_t i = 0; i < n; ++i) s->release(c, make_id(i));
  check_store(*s);
}

TEST(spills_stop_at_the_limit_and_both_full_is_said) {
  std::string dir = temp_spill_dir("limit");
  const uint64_t size = 300000, limit = 1 << 20;  // room for three spilled objects
  auto s = store_with(4 << 20, dir, limit);
  uint32_t c = s->register_client();
  uint64_t n = 0;
  std::string msg;
  try {
    for (; n < 100; ++n) put(*s, c, n, size);
  } catch (const StoreError& e) {
    CHECK(e.code() == StoreErrorCode::kObjectStoreFull);
    msg = e.what();
  }
  CHECK(n > 3 && n < 100);
  StoreStats st = s->stats();
  CHECK_EQ(st.spilled_now, 3u);
  CHECK_EQ(st.spilled_bytes_now, 3 * size);
  CHECK_EQ(st.spill_limit, limit);
  CHECK(dir_bytes(dir) <= limit);
  CHECK(has(msg, "and so is its spill space"));
  CHECK(has(msg, "limit " + std::to_string(limit) + " bytes"));
  CHECK(has(msg, "raise objectSpillingLimit"));
  check_store(*s);
  // Every object reads back, spilled ones included: a restore swaps with an object in memory.
  for (uint64_t i = 0; i < n; ++i) {
    GetResult g = s->get(c, make_id(i));
    CHECK(g.status == GetStatus::kReady);
    CHECK(verify(s->base() + g.data_offset, size, i));
    s->release(c, make_id(i));
    CHECK(s->stats().spilled_bytes_now <= limit);
  }
  check_store(*s);
  // Deleting objects makes room again.
  s->remove(c, make_id(0));
  s->remove(c, make_id(1));
  put(*s, c, 1000, size);
  check_store(*s);
  s->remove_spill_files();
  remove_dir(dir);
}

TEST(a_spill_too_big_for_the_room_left_skips_to_one_that_fits) {
  std::string dir = temp_spill_dir("skip");
  auto s = store_with(4 << 20, dir, 700000);
  uint32_t c = s->register_client();
  put(*s, c, 1, 500000);  // least recently used, and alone it fits the limit
  put(*s, c, 2, 400000);
  put(*s, c, 3, 300000);
  // Fill memory with small objects. Spilling takes 1 (500000) first; after it only 200000 bytes
  // of the limit are left, so 2 and 3 are skipped and small objects behind them go instead.
  uint64_t n = 10;
  try {
    for (; n < 200; ++n) put(*s, c, n, 100000);
  } catch (const StoreError& e) {
    CHECK(e.code() == StoreErrorCode::kObjectStoreFull);
  }
  StoreStats st = s->stats();
  CHECK(st.spilled_bytes_now <= 700000);
  CHECK(st.spilled_now >= 2);  // object 1, and small ones after it: 2 and 3 were skipped
  CHECK(s->contains(make_id(2)) && s->contains(make_id(3)));
  check_store(*s);
  s->remove_spill_files();
  remove_dir(dir);
}

TEST(the_limit_is_in_the_arena_for_every_process) {
  std::string dir = temp_spill_dir("shared-limit");
  auto s = store_with(4 << 20, dir, 12345678);
  auto other = Store::attach_fd(s->fd());
  CHECK_EQ(other->stats().spill_limit, 12345678u);
  remove_dir(dir);
}

TEST_MAIN()
