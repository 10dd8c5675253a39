// Many threads, each its own client, doing random operations on a shared set
// of ids through one store. Runs clean under TSan; invariants checked at the end.
#include <atomic>
#include <thread>
#include <vector>

#include "store/store.h"
#include "tests/check.h"
#include "tests/store/store_test_util.h"

using namespace sunray::store;
using namespace sunray::store::testutil;

namespace {

void random_ops(Store& s, uint32_t c, uint64_t seed, int steps, std::atomic<uint64_t>* reads) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> pinned, unsealed;
  for (int step = 0; step < steps; ++step) {
    uint64_t n = rng() % 200;
    ObjectId id = make_id(n);
    uint64_t size = (n * 977) % 70000;
    try {
      switch (rng() % 6) {
        case 0: {
          uint64_t off = s.create(c, id, size, nullptr, 0, n % 2 == 0);
          fill(s.base() + off, size, n);
          unsealed.push_back(n);
          break;
        }
        case 1:
          if (!unsealed.empty()) {
            s.seal(c, make_id(unsealed.back()));
            unsealed.pop_back();
          }
          break;
        case 2: {
          GetResult g = s.get(c, id);
          if (g.status == GetStatus::kReady) {
            CHECK_EQ(g.data_size, size);
            CHECK(verify(s.base() + g.data_offset, size, n));
            pinned.push_back(n);
            reads->fetch_add(1, std::memory_order_relaxed);
          }
          break;
        }
        case 3:
          if (!pinned.empty()) {
            s.release(c, make_id(pinned.back()));
            pinned.pop_back();
          }
          break;
        case 4:
          s.remove(c, id);
          break;
        case 5:
          if (!unsealed.empty() && rng() % 4 == 0) {
            s.abort(c, make_id(unsealed.back()));
            unsealed.pop_back();
          } else {
            (void)s.contains(id);
          }
          break;
      }
    } catch (const StoreError& e) {
      // Expected refusals: races on shared ids, a full store.
      switch (e.code()) {
        case StoreErrorCode::kObjectExists:
        case StoreErrorCode::kObjectNotFound:
        case StoreErrorCode::kObjectNotSealed:
        case StoreErrorCode::kObjectStoreFull:
          break;
        default:
          std::fprintf(stderr, "unexpected error: %s\n", e.what());
          std::exit(1);
      }
    }
  }
  for (uint64_t n : pinned) s.release(c, make_id(n));
  for (uint64_t n : unsealed) s.seal(c, make_id(n));
}

}  // namespace

TEST(threads_random_ops_keep_invariants) {
  std::string dir = temp_spill_dir("threads");
  ArenaOptions o;
  o.capacity = 2 << 20;
  o.spill_dir = dir;
  auto s = Store::create(o);
  std::atomic<uint64_t> reads{0};
  std::vector<std::thread> threads;
  const int steps = 40000 / kScale;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      uint32_t c = s->register_client();
      random_ops(*s, c, 1000 + t, steps, &reads);
    });
  // A checker thread meanwhile.
  std::atomic<bool> done{false};
  std::thread checker([&] {
    while (!done.load()) {
      check_store(*s);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  checker.join();
  check_store(*s);
  StoreStats st = s->stats();
  std::fprintf(stderr, "reads %llu, evicted %llu, spilled %llu, restored %llu, objects %llu\n",
               (unsigned long long)reads.load(), (unsigned long long)st.evicted, (unsigned long long)st.spilled,
               (unsigned long long)st.restored, (unsigned long long)st.objects);
  CHECK(reads.load() > 100);
  CHECK_EQ(st.pinned, 0u);
  CHECK_EQ(st.unsealed, 0u);
  s->remove_spill_files();
  remove_dir(dir);
}

TEST(waiters_on_other_threads_see_every_seal) {
  ArenaOptions o;
  o.capacity = 4 << 20;
  o.max_objects = 4096;
  auto s = Store::create(o);
  uint32_t writer = s->register_client();
  const int kObjects = 2000 / kScale;
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r)
    readers.emplace_back([&] {
      uint32_t c = s->register_client();
      for (int i = 0; i < kObjects; ++i) {
        for (;;) {
          uint32_t e = s->seal_epoch();
          GetResult g = s->get(c, make_id(i));
          if (g.status == GetStatus::kReady) {
            s->release(c, make_id(i));
            break;
          }
          s->wait_for_seal(e, -1);  // no timeout: a lost wake-up would hang the test
        }
      }
    });
  for (int i = 0; i < kObjects; ++i) {
    s->create(writer, make_id(i), 16, nullptr, 0);
    s->seal(writer, make_id(i));
  }
  for (auto& t : readers) t.join();
  check_store(*s);
}

TEST_MAIN()
