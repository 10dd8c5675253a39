// The warmer keeps a window of backed, written pages ahead of the highest offset the
// allocator handed out: no further (and never past the data area), with several threads
// whose steps join into one contiguous committed range; it follows allocations, and stops
// at once when destroyed. map_range maps an object's pages into a process that did not
// back them.
#include "store/warmer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/check.h"
#include "tests/store/store_test_util.h"

using namespace sunray::store;
using namespace sunray::store::testutil;

namespace {

constexpr uint64_t kMiB = 1ull << 20;

std::unique_ptr<Store> store_of(uint64_t capacity) {
  ArenaOptions o;
  o.capacity = capacity;
  return Store::create(o);
}

// Waits up to 10 s for the stats' committed bytes to reach `bytes`.
bool committed_reaches(Store& s, uint64_t bytes) {
  for (int i = 0; i < 1000; ++i) {
    if (s.stats().committed >= bytes) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Bytes of this process's mapping of store s that are in its page tables (smaps' Rss, over
// every VMA of the mapping: madvise splits it): mincore cannot tell, it reports the shared
// pages' residency in memory.
uint64_t mapped_bytes(Store& s) {
  const auto lo = reinterpret_cast<uintptr_t>(s.base());
  const uintptr_t hi = lo + s.mapping_size();
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in = false;
  uint64_t total = 0;
  while (std::getline(smaps, line)) {
    unsigned long start = 0, end = 0;
    char dash = 0;
    if (std::sscanf(line.c_str(), "%lx%c%lx ", &start, &dash, &end) == 3 && dash == '-')
      in = start >= lo && end <= hi;
    else if (in && line.rfind("Rss:", 0) == 0)
      total += std::stoull(line.substr(4)) * 1024;
  }
  return total;
}

// Whether every page of [off, off + len) of the mapping is backed by memory.
bool all_resident(Store& s, uint64_t off, uint64_t len) {
  long page = sysconf(_SC_PAGESIZE);
  uint64_t start = off & ~static_cast<uint64_t>(page - 1);
  std::vector<unsigned char> v((off + len - start + page - 1) / page);
  CHECK(mincore(s.base() + start, off + len - start, v.data()) == 0);
  for (unsigned char r : v)
    if (!(r & 1)) return false;
  return true;
}

}  // namespace

TEST(warms_its_window_and_no_further) {
  auto s = store_of(96 * kMiB);
  const uint32_t c = s->register_client();
  {
    Warmer w(*s, 24 * kMiB, 3, 1 * kMiB);
    CHECK(committed_reaches(*s, 24 * kMiB));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    // Nothing allocated yet: the window counts from the data area's start.
    CHECK(s->stats().committed <= 24 * kMiB + 2 * kMiB);
    // Written and mapped here: the first put pays no fault.
    CHECK(all_resident(*s, s->warmed_end() - s->stats().committed, s->stats().committed));
    CHECK(mapped_bytes(*s) >= s->stats().committed);
    // An allocation moves the window with it.
    s->create(c, make_id(1), 40 * kMiB, nullptr, 0);
    CHECK(committed_reaches(*s, 64 * kMiB));
    s->seal(c, make_id(1));
  }
  check_store(*s);
}

TEST(never_warms_past_the_data_area) {
  auto s = store_of(16 * kMiB);
  Warmer w(*s, 1ull << 30, 2, 1 * kMiB);
  CHECK(committed_reaches(*s, s->capacity()));
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  CHECK_EQ(s->stats().committed, s->capacity());
  check_store(*s);
}

TEST(stops_at_once_when_destroyed) {
  auto s = store_of(512 * kMiB);
  auto t0 = std::chrono::steady_clock::now();
  { Warmer w(*s, 512 * kMiB, 2, 4 * kMiB); }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(ms < 2000);
  check_store(*s);
}

TEST(map_range_maps_pages_another_process_backed) {
  auto s = store_of(64 * kMiB);
  const uint32_t c = s->register_client();
  uint64_t off = s->create(c, make_id(7), 8 * kMiB, nullptr, 0);
  fill(s->base() + off, 8 * kMiB, 7);
  s->seal(c, make_id(7));
  // A second mapping stands for another process: none of its pages are mapped yet.
  auto other = Store::attach_path(s->path());
  const uint64_t before = mapped_bytes(*other);
  other->map_range(off, 8 * kMiB);
  CHECK(mapped_bytes(*other) >= before + 8 * kMiB);
  CHECK(verify(other->base() + off, 8 * kMiB, 7));
  // Small objects are left to fault.
  uint64_t small = s->create(c, make_id(8), 64 * 1024, nullptr, 0);
  other->map_range(small, 64 * 1024);
  check_store(*s);
}

TEST_MAIN()
