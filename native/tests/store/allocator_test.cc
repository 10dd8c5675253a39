// The TLSF allocator alone, over a plain buffer.
#include "store/allocator.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "tests/check.h"

using namespace sunray::store;

namespace {

struct Region {
  explicit Region(uint64_t size) : mem(size + 64 + 64), state{} {
    base = mem.data();
    // Align the base so offsets behave like in the arena.
    while (reinterpret_cast<uintptr_t>(base) % 64) ++base;
  }
  std::vector<uint8_t> mem;
  uint8_t* base;
  AllocatorState state;
};

void check_ok(const Allocator& a) {
  std::string why;
  if (!a.check(&why)) {
    std::fprintf(stderr, "allocator check failed: %s\n", why.c_str());
    std::exit(1);
  }
}

}  // namespace

TEST(alignment_and_sizes) {
  Region r(1 << 20);
  Allocator a(r.base, &r.state);
  a.init(64, 64 + (1 << 20));
  CHECK_EQ(a.free_bytes(), uint64_t{1 << 20});
  for (uint64_t n : {0ull, 1ull, 63ull, 64ull, 65ull, 1000ull, 4096ull}) {
    uint64_t off = a.allocate(n);
    CHECK(off != 0);
    CHECK_EQ(off % 64, 0u);
    CHECK_EQ(a.block_size(off), Allocator::block_size_for(n));
  }
  check_ok(a);
}

TEST(coalescing_restores_one_block) {
  Region r(1 << 20);
  Allocator a(r.base, &r.state);
  a.init(64, 64 + (1 << 20));
  std::vector<uint64_t> offs;
  for (int i = 0; i < 100; ++i) offs.push_back(a.allocate(1000));
  // Free odd then even: every free must merge with both neighbours eventually.
  for (size_t i = 1; i < offs.size(); i += 2) a.free(offs[i]);
  check_ok(a);
  for (size_t i = 0; i < offs.size(); i += 2) a.free(offs[i]);
  check_ok(a);
  CHECK_EQ(a.free_bytes(), uint64_t{1 << 20});
  CHECK_EQ(a.largest_free_block(), uint64_t{(1 << 20) - 64});
  // The whole region is allocatable again.
  CHECK(a.allocate((1 << 20) - 64) != 0);
  CHECK_EQ(a.free_bytes(), 0u);
}

TEST(exhaustion_returns_zero) {
  Region r(64 * 1024);
  Allocator a(r.base, &r.state);
  a.init(64, 64 + 64 * 1024);
  int n = 0;
  while (a.allocate(960)) ++n;  // 1 KiB blocks
  CHECK_EQ(n, 64);
  CHECK_EQ(a.allocate(0), 0u);
  CHECK_EQ(a.allocate(1ull << 50), 0u);
  check_ok(a);
}

TEST(fragmentation_blocks_large_request) {
  Region r(64 * 1024);
  Allocator a(r.base, &r.state);
  a.init(64, 64 + 64 * 1024);
  std::vector<uint64_t> offs;
  uint64_t off;
  while ((off = a.allocate(960))) offs.push_back(off);
  for (size_t i = 0; i < offs.size(); i += 2) a.free(offs[i]);
  // Half the space is free but no two free blocks touch: a 2 KiB request fails.
  CHECK_EQ(a.free_bytes(), 32u * 1024);
  CHECK_EQ(a.allocate(2000), 0u);
  CHECK(a.allocate(960) != 0);
  check_ok(a);
}

TEST(prefers_low_offsets) {
  Region r(1 << 20);
  Allocator a(r.base, &r.state);
  a.init(64, 64 + (1 << 20));
  uint64_t first = a.allocate(4096);
  uint64_t second = a.allocate(4096);
  CHECK(second > first);
  a.free(first);
  CHECK_EQ(a.allocate(4096), first);  // the warm, low block is reused
}

TEST(random_alloc_free_no_overlap_no_leak) {
  const uint64_t size = 8 << 20;
  Region r(size);
  Allocator a(r.base, &r.state);
  a.init(64, 64 + size);
  std::mt19937_64 rng(42);
  std::map<uint64_t, uint64_t> live;  // payload offset -> payload size
  for (int step = 0; step < 200000; ++step) {
    bool do_alloc = live.empty() || (rng() % 100) < 55;
    if (do_alloc) {
      uint64_t n = rng() % 4 == 0 ? rng() % 65536 : rng() % 512;
      uint64_t off = a.allocate(n);
      if (!off) continue;
      CHECK_EQ(off % 64, 0u);
      // No overlap with neighbours.
      auto it = live.lower_bound(off);
      if (it != live.end()) CHECK(off + n <= it->first - kBlockHeaderSize);
      if (it != live.begin()) {
        auto prev = std::prev(it);
        CHECK(prev->first + prev->second <= off - kBlockHeaderSize);
      }
      live[off] = n;
    } else {
      auto it = live.begin();
      std::advance(it, static_cast<long>(rng() % live.size()));
      a.free(it->first);
      live.erase(it);
    }
    if (step % 20000 == 0) check_ok(a);
  }
  check_ok(a);
  uint64_t used = 0;
  for (auto& [off, n] : live) used += Allocator::block_size_for(n);
  CHECK_EQ(used + a.free_bytes(), size);
  for (auto& [off, n] : live) a.free(off);
  CHECK_EQ(a.free_bytes(), size);
  check_ok(a);
}

TEST(rebuild_from_live_allocations) {
  const uint64_t size = 1 << 20;
  Region r(size);
  Allocator a(r.base, &r.state);
  a.init(64, 64 + size);
  std::mt19937_64 rng(7);
  std::vector<std::pair<uint64_t, uint64_t>> live;
  for (int i = 0; i < 200; ++i) {
    uint64_t n = rng() % 3000;
    live.emplace_back(a.allocate(n), n);
  }
  // Free some, then scribble over every header as a crash might, and rebuild.
  std::vector<std::pair<uint64_t, uint64_t>> keep;
  for (auto& l : live) {
    if (rng() % 2)
      a.free(l.first);
    else
      keep.push_back(l);
  }
  std::sort(keep.begin(), keep.end());
  std::memset(&r.state.heads, 0xEE, sizeof(r.state.heads));
  r.state.free_bytes = 12345;
  a.rebuild(keep);
  check_ok(a);
  uint64_t used = 0;
  for (auto& [off, n] : keep) used += Allocator::block_size_for(n);
  CHECK_EQ(a.free_bytes(), size - used);
  for (auto& [off, n] : keep) a.free(off);
  CHECK_EQ(a.free_bytes(), size);
  check_ok(a);
}

TEST_MAIN()
