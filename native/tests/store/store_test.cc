// Store lifecycle, every refused call, eviction order, spilling, repair.
#include "store/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "store/spill.h"
#include "tests/check.h"
#include "tests/store/store_test_util.h"

using namespace sunray::store;
using namespace sunray::store::testutil;

namespace {

std::unique_ptr<Store> small_store(uint64_t capacity = 4 << 20, const std::string& spill = "",
                                   uint32_t max_objects = 0) {
  ArenaOptions o;
  o.capacity = capacity;
  o.spill_dir = spill;
  o.max_objects = max_objects;
  return Store::create(o);
}

StoreErrorCode error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const StoreError& e) {
    return e.code();
  }
  std::fprintf(stderr, "expected a StoreError\n");
  std::exit(1);
}

uint64_t put(Store& s, uint32_t c, uint64_t n, uint64_t size, bool primary = true) {
  uint64_t off = s.create(c, make_id(n), size, nullptr, 0, primary);
  fill(s.base() + off, size, n);
  s.seal(c, make_id(n));
  return off;
}

int count_files(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  int n = 0;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

}  // namespace

TEST(lifecycle) {
  auto s = small_store();
  uint32_t c = s->register_client();
  const uint8_t meta[] = {1, 2, 3};
  uint64_t off = s->create(c, make_id(1), 100, meta, 3);
  CHECK_EQ(off % 64, 0u);
  CHECK(!s->contains(make_id(1)));
  CHECK(s->get(c, make_id(1)).status == GetStatus::kOwnUnsealed);
  uint32_t other = s->register_client();
  CHECK(s->get(other, make_id(1)).status == GetStatus::kUnsealed);
  fill(s->base() + off, 100, 1);
  uint32_t epoch = s->seal_epoch();
  s->seal(c, make_id(1));
  CHECK(s->seal_epoch() != epoch);
  CHECK(s->contains(make_id(1)));
  GetResult g = s->get(other, make_id(1));
  CHECK(g.status == GetStatus::kReady);
  CHECK_EQ(g.data_offset, off);
  CHECK_EQ(g.data_size, 100u);
  CHECK_EQ(g.metadata_size, 3u);
  CHECK(verify(s->base() + g.data_offset, 100, 1));
  CHECK_EQ(std::memcmp(s->base() + g.data_offset + 100, meta, 3), 0);
  CHECK_EQ(s->stats().pinned, 1u);
  s->release(other, make_id(1));
  CHECK_EQ(s->stats().pinned, 0u);
  s->remove(c, make_id(1));
  CHECK(!s->contains(make_id(1)));
  CHECK(s->get(c, make_id(1)).status == GetStatus::kAbsent);
  CHECK_EQ(s->stats().used, 0u);
  check_store(*s);
}

TEST(every_bad_call_is_refused_and_changes_nothing) {
  auto s = small_store();
  uint32_t c = s->register_client(), other = s->register_client();
  put(*s, c, 1, 10);
  s->create(c, make_id(2), 10, nullptr, 0);
  StoreStats before = s->stats();
  CHECK(error_of([&] { s->create(c, make_id(1), 10, nullptr, 0); }) == StoreErrorCode::kObjectExists);
  CHECK(error_of([&] { s->create(c, make_id(2), 10, nullptr, 0); }) == StoreErrorCode::kObjectExists);
  CHECK(error_of([&] { s->create(c, make_id(3), 1ull << 40, nullptr, 0); }) == StoreErrorCode::kInvalidSize);
  CHECK(error_of([&] { s->create(c, make_id(3), ~0ull, nullptr, 0); }) == StoreErrorCode::kInvalidSize);
  CHECK(error_of([&] { s->create(c, make_id(3), 8 << 20, nullptr, 0); }) == StoreErrorCode::kInvalidSize);
  CHECK(error_of([&] { s->seal(c, make_id(9)); }) == StoreErrorCode::kObjectNotFound);
  CHECK(error_of([&] { s->seal(c, make_id(1)); }) == StoreErrorCode::kObjectAlreadySealed);
  CHECK(error_of([&] { s->seal(other, make_id(2)); }) == StoreErrorCode::kNotCreator);
  CHECK(error_of([&] { s->abort(c, make_id(1)); }) == StoreErrorCode::kObjectAlreadySealed);
  CHECK(error_of([&] { s->abort(other, make_id(2)); }) == StoreErrorCode::kNotCreator);
  CHECK(error_of([&] { s->abort(c, make_id(9)); }) == StoreErrorCode::kObjectNotFound);
  CHECK(error_of([&] { s->release(c, make_id(1)); }) == StoreErrorCode::kNotPinned);
  CHECK(error_of([&] { s->release(c, make_id(9)); }) == StoreErrorCode::kNotPinned);
  CHECK(error_of([&] { s->remove(c, make_id(9)); }) == StoreErrorCode::kObjectNotFound);
  CHECK(error_of([&] { s->remove(c, make_id(2)); }) == StoreErrorCode::kObjectNotSealed);
  CHECK(error_of([&] { s->get(999, make_id(1)); }) == StoreErrorCode::kInvalidClient);
  StoreStats after = s->stats();
  CHECK_EQ(before.used, after.used);
  CHECK_EQ(before.objects, after.objects);
  CHECK_EQ(before.sealed, after.sealed);
  CHECK_EQ(before.pinned, after.pinned);
  check_store(*s);
  s->abort(c, make_id(2));
  CHECK(s->get(c, make_id(2)).status == GetStatus::kAbsent);
  check_store(*s);
}

TEST(arena_rejects_bad_options_and_foreign_segments) {
  CHECK(error_of([] { small_store(1000); }) == StoreErrorCode::kInvalidOption);
  CHECK(error_of([] { small_store(2 << 20, "", 1 << 20); }) == StoreErrorCode::kInvalidOption);
  auto s = small_store();
  // Corrupt the magic of a copy by attaching and checking we refuse a plain memfd.
  sunray::ShmSegment junk = sunray::ShmSegment::create("not-an-arena", 1 << 20);
  CHECK(error_of([&] { Store::attach_fd(junk.fd()); }) == StoreErrorCode::kArenaMismatch);
  auto* h = reinterpret_cast<ArenaHeader*>(s->base());
  h->version = 99;
  try {
    Store::attach_fd(s->fd());
    CHECK(false);
  } catch (const StoreError& e) {
    CHECK(e.code() == StoreErrorCode::kArenaMismatch);
    CHECK(std::string(e.what()).find("layout version 99, this build reads " + std::to_string(kArenaLayoutVersion)) !=
          std::string::npos);
  }
  h->version = kArenaLayoutVersion;
  auto again = Store::attach_path(s->path());
  CHECK_EQ(again->capacity(), s->capacity());
}

TEST(delete_while_pinned_is_deferred) {
  auto s = small_store();
  uint32_t c = s->register_client();
  put(*s, c, 1, 1000);
  CHECK(s->get(c, make_id(1)).status == GetStatus::kReady);
  CHECK(s->get(c, make_id(1)).status == GetStatus::kReady);  // pinned twice
  s->remove(c, make_id(1));
  CHECK(!s->contains(make_id(1)));
  CHECK(s->get(c, make_id(1)).status == GetStatus::kAbsent);
  CHECK(s->stats().used > 0);
  s->release(c, make_id(1));
  CHECK(s->stats().used > 0);
  s->release(c, make_id(1));
  CHECK_EQ(s->stats().used, 0u);
  CHECK_EQ(s->stats().objects, 0u);
  check_store(*s);
}

TEST(eviction_is_lru_and_spares_pinned_and_primaries_without_spill) {
  auto s = small_store(4 << 20);
  uint32_t c = s->register_client();
  uint64_t cap = s->capacity();
  const uint64_t obj = 256 * 1024 - 64;  // a 256 KiB block
  uint64_t n = cap / (256 * 1024);
  for (uint64_t i = 0; i < n; ++i) put(*s, c, i, obj, /*primary=*/false);
  // Touch object 0 (get+release): it becomes the most recently used.
  CHECK(s->get(c, make_id(0)).status == GetStatus::kReady);
  s->release(c, make_id(0));
  // Pin object 1: never evicted.
  CHECK(s->get(c, make_id(1)).status == GetStatus::kReady);
  put(*s, c, 1000, obj, false);
  CHECK(s->contains(make_id(0)));
  CHECK(s->contains(make_id(1)));
  CHECK(!s->contains(make_id(2)));  // the least recently used unpinned one went
  put(*s, c, 1001, obj, false);
  CHECK(!s->contains(make_id(3)));
  CHECK_EQ(s->stats().evicted, 2u);
  // A primary without spilling is never evicted: fill with primaries, then refuse.
  check_store(*s);
  uint64_t i = 2000;
  try {
    for (;; ++i) put(*s, c, i, obj, true);
  } catch (const StoreError& e) {
    CHECK(e.code() == StoreErrorCode::kObjectStoreFull);
    std::string m = e.what();
    CHECK(m.find("asked for") != std::string::npos);
    CHECK(m.find("raise objectStoreMemory") != std::string::npos);
  }
  CHECK(s->contains(make_id(1)));
  for (uint64_t k = 2000; k < i; ++k) CHECK(s->contains(make_id(k)));
  check_store(*s);
  s->release(c, make_id(1));
}

TEST(full_store_error_when_everything_is_pinned) {
  auto s = small_store(4 << 20, temp_spill_dir("pinned"));
  uint32_t c = s->register_client();
  uint64_t n = 0;
  try {
    for (;; ++n) {
      put(*s, c, n, 100000);
      CHECK(s->get(c, make_id(n)).status == GetStatus::kReady);
    }
  } catch (const StoreError& e) {
    CHECK(e.code() == StoreErrorCode::kObjectStoreFull);
  }
  CHECK(n > 10);
  StoreStats st = s->stats();
  CHECK_EQ(st.evicted, 0u);
  CHECK_EQ(st.spilled, 0u);
  for (uint64_t i = 0; i < n; ++i) CHECK(verify(s->base() + s->get(c, make_id(i)).data_offset, 100000, i));
  check_store(*s);
  remove_dir(s->spill_dir());
}

TEST(spill_and_restore_round_trip) {
  std::string dir = temp_spill_dir("roundtrip");
  auto s = small_store(4 << 20, dir);
  uint32_t c = s->register_client();
  const uint64_t size = 300000;
  const uint8_t meta[] = {9, 8, 7, 6};
  for (uint64_t i = 0; i < 40; ++i) {  // ~12 MB through a 4 MiB store
    uint64_t off = s->create(c, make_id(i), size, meta, 4);
    fill(s->base() + off, size, i);
    s->seal(c, make_id(i));
  }
  StoreStats st = s->stats();
  CHECK(st.spilled > 20);
  CHECK_EQ(st.evicted, 0u);
  CHECK(count_files(dir) > 20);
  check_store(*s);
  // Every object is still readable, byte for byte.
  for (uint64_t i = 0; i < 40; ++i) {
    CHECK(s->contains(make_id(i)));
    GetResult g = s->get(c, make_id(i));
    CHECK(g.status == GetStatus::kReady);
    CHECK(verify(s->base() + g.data_offset, size, i));
    CHECK_EQ(std::memcmp(s->base() + g.data_offset + size, meta, 4), 0);
    s->release(c, make_id(i));
  }
  CHECK(s->stats().restored > 20);
  check_store(*s);
  // Deleting a spilled object deletes its file.
  for (uint64_t i = 0; i < 40; ++i) s->remove(c, make_id(i));
  CHECK_EQ(count_files(dir), 0);
  CHECK_EQ(s->stats().objects, 0u);
  check_store(*s);
  remove_dir(dir);
}

// The names of a store's spill files: <32 hex digits of the arena's salt>-<id>.<seq>.spill, 0600.
std::vector<std::string> spill_names(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') out.emplace_back(e->d_name);
  closedir(d);
  return out;
}

TEST(spill_files_are_private_and_unpredictable) {
  std::string dir_a = temp_spill_dir("names-a"), dir_b = temp_spill_dir("names-b");
  auto a = small_store(4 << 20, dir_a);
  auto b = small_store(4 << 20, dir_b);
  uint32_t ca = a->register_client(), cb = b->register_client();
  for (uint64_t i = 0; i < 30; ++i) {
    put(*a, ca, i, 300000);
    put(*b, cb, i, 300000);
  }
  auto names_a = spill_names(dir_a), names_b = spill_names(dir_b);
  CHECK(names_a.size() > 10);
  CHECK(names_b.size() > 10);
  std::string salt_a = names_a[0].substr(0, 32), salt_b = names_b[0].substr(0, 32);
  CHECK(names_a[0][32] == '-');
  CHECK(salt_a != salt_b);  // the same ids and sequence numbers, other names
  for (const auto& n : names_a) {
    CHECK(n.substr(0, 32) == salt_a);
    struct stat st {};
    CHECK(lstat((dir_a + "/" + n).c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK_EQ(st.st_mode & 0777, 0600u);
  }
  a.reset();
  b.reset();
  remove_dir(dir_a);
  remove_dir(dir_b);
}

TEST(spill_write_never_follows_or_reuses_a_name) {
  std::string dir = temp_spill_dir("planted");
  const uint8_t bytes[4] = {1, 2, 3, 4};
  // A symbolic link planted at the name: the write fails and the link's target is untouched.
  std::string target = dir + "/target", link = dir + "/link.spill";
  int fd = open(target.c_str(), O_WRONLY | O_CREAT, 0600);
  CHECK(fd >= 0);
  CHECK(write(fd, "keep", 4) == 4);
  close(fd);
  CHECK(symlink(target.c_str(), link.c_str()) == 0);
  CHECK(!spill_write(link, bytes, 4).empty());
  uint8_t back[4] = {};
  CHECK(!spill_read(link, back, 4).empty());  // nor read through one
  struct stat st {};
  CHECK(stat(target.c_str(), &st) == 0);
  CHECK_EQ(st.st_size, 4);
  fd = open(target.c_str(), O_RDONLY);
  char text[5] = {};
  CHECK(read(fd, text, 4) == 4);
  close(fd);
  CHECK(std::string(text) == "keep");
  // A file planted at the name: refused, not truncated.
  CHECK(!spill_write(target, bytes, 4).empty());
  CHECK(stat(target.c_str(), &st) == 0);
  CHECK_EQ(st.st_size, 4);
  // A fresh name: written, 0600.
  std::string fresh = dir + "/fresh.spill";
  CHECK(spill_write(fresh, bytes, 4).empty());
  CHECK(stat(fresh.c_str(), &st) == 0);
  CHECK_EQ(st.st_mode & 0777, 0600u);
  CHECK(spill_read(fresh, back, 4).empty());
  CHECK_EQ(std::memcmp(back, bytes, 4), 0);
  remove_dir(dir);
}

TEST(table_full_evicts_secondaries_then_refuses) {
  auto s = small_store(4 << 20, "", 1024);
  uint32_t c = s->register_client();
  for (uint64_t i = 0; i < 1024; ++i) put(*s, c, i, 8, false);
  put(*s, c, 5000, 8, true);  // evicts one secondary to make table room
  CHECK(!s->contains(make_id(0)));
  for (uint64_t i = 1; i < 1024; ++i) s->remove(c, make_id(i));
  for (uint64_t i = 6000; i < 6000 + 1023; ++i) put(*s, c, i, 8, true);
  CHECK(error_of([&] { put(*s, c, 9999, 8, true); }) == StoreErrorCode::kTooManyObjects);
  check_store(*s);
}

TEST(reap_client_aborts_unsealed_and_drops_pins) {
  auto s = small_store();
  uint32_t a = s->register_client(), b = s->register_client();
  put(*s, a, 1, 5000);
  s->create(b, make_id(2), 5000, nullptr, 0);
  CHECK(s->get(b, make_id(1)).status == GetStatus::kReady);
  CHECK(s->get(b, make_id(1)).status == GetStatus::kReady);
  s->reap_client(b);
  CHECK(s->get(a, make_id(2)).status == GetStatus::kAbsent);
  StoreStats st = s->stats();
  CHECK_EQ(st.pinned, 0u);
  CHECK_EQ(st.objects, 1u);
  check_store(*s);
  CHECK(error_of([&] { s->get(b, make_id(1)); }) == StoreErrorCode::kInvalidClient);
}

TEST(repair_rebuilds_from_the_table) {
  std::string dir = temp_spill_dir("repair");
  auto s = small_store(8 << 20, dir);
  uint32_t c = s->register_client();
  std::mt19937_64 rng(3);
  for (uint64_t i = 0; i < 300; ++i) {
    put(*s, c, i, rng() % 60000, rng() % 2);
    if (rng() % 3 == 0) s->get(c, make_id(i));
    if (rng() % 5 == 0 && s->contains(make_id(i / 2))) {
      try {
        s->remove(c, make_id(i / 2));
      } catch (const StoreError&) {
      }
    }
  }
  s->create(c, make_id(10000), 1000, nullptr, 0);
  check_store(*s);
  StoreStats before = s->stats();
  // Trash the derived state as a crash mid-operation could.
  auto* h = reinterpret_cast<ArenaHeader*>(s->base());
  std::memset(&h->alloc.heads, 0, sizeof(h->alloc.heads));
  h->alloc.free_bytes = 0;
  h->state.lru_head[0] = 5;
  h->state.objects_sealed = 77;
  s->repair_now();
  check_store(*s);
  StoreStats after = s->stats();
  CHECK_EQ(before.used, after.used);
  CHECK_EQ(before.objects, after.objects);
  CHECK_EQ(before.pinned, after.pinned);
  CHECK_EQ(after.repairs, 1u);
  s->remove_spill_files();
  remove_dir(dir);
}

TEST(wait_for_seal_wakes_and_times_out) {
  auto s = small_store();
  uint32_t c = s->register_client();
  uint32_t e = s->seal_epoch();
  CHECK(!s->wait_for_seal(e, 20 * 1000 * 1000));  // nothing sealed: times out
  s->create(c, make_id(1), 10, nullptr, 0);
  std::thread t([&] { s->seal(c, make_id(1)); });
  CHECK(s->wait_for_seal(e, 5'000'000'000));
  t.join();
  // An epoch that already moved returns at once.
  CHECK(s->wait_for_seal(e, -1));
}

TEST(large_arena_creates_fast_and_commits_lazily) {
  auto t0 = std::chrono::steady_clock::now();
  auto s = small_store(8ull << 30);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "8 GiB arena created in %.1f ms\n", ms);
  CHECK(ms < 2000);
  StoreStats st = s->stats();
  CHECK(st.committed <= kCommitChunk);
  uint32_t c = s->register_client();
  uint64_t off = s->create(c, make_id(1), 200 << 20, nullptr, 0);
  CHECK(s->stats().committed >= off + (200 << 20) - reinterpret_cast<ArenaHeader*>(s->base())->data_begin);
  fill(s->base() + off + (100 << 20), 4096, 1);
  s->seal(c, make_id(1));
  check_store(*s);
}

TEST_MAIN()
