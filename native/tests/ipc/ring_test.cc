// Ring semantics in one thread, and MPMC under threads (run it under TSan).
// Crash recovery is ring_recovery_test.cc.
#include "ipc/ring.h"

#include <sched.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/check.h"
#include "tests/ipc/test_util.h"

using namespace sunray::ipc;
using namespace sunray::testing;

TEST(geometry_validation) {
  CHECK_THROWS(Ring::bytes_needed(3, 64));
  CHECK_THROWS(Ring::bytes_needed(1, 64));
  CHECK_THROWS(Ring::bytes_needed(8, 20));
  CHECK_THROWS(Ring::bytes_needed(8, 100));  // not a multiple of 8
  CHECK_THROWS(Ring::bytes_needed(8, 64, 0));
  CHECK_THROWS(Ring::bytes_needed(8, 64, 127));
  Region reg(8, 64);
  CHECK_THROWS(Ring::init(reg.p, reg.n - 1, 8, 64));
  CHECK_THROWS(Ring::attach(reg.p));  // no magic yet
  Ring r = Ring::init(reg.p, reg.n, 8, 64);
  CHECK_EQ(r.capacity(), 8u);
  CHECK_EQ(r.max_payload(), size_t(40));
  Ring a = Ring::attach(reg.p, reg.n);
  CHECK_EQ(a.capacity(), 8u);
  CHECK_THROWS(Ring::attach(reg.p, reg.n - 64));
  auto* h = static_cast<RingHeader*>(reg.p);
  h->version = 99;
  CHECK_THROWS(Ring::attach(reg.p));
  h->version = kRingVersion;
  CHECK_THROWS(Ring::attach(static_cast<char*>(reg.p) + 8));  // misaligned
}

TEST(fifo_full_empty_too_big) {
  Region reg(8, 64);
  Ring r = Ring::init(reg.p, reg.n, 8, 64);
  CHECK_THROWS(r.try_push("x", 1));  // must join first
  r.join();
  PopStatus st;
  pop_str(r, &st);
  CHECK(st == PopStatus::kEmpty);
  CHECK(r.empty());
  for (int i = 0; i < 8; ++i) CHECK(push_str(r, "m" + std::to_string(i)));
  CHECK(!push_str(r, "overflow"));
  CHECK(r.push("x", 1) == PushStatus::kFull);
  CHECK_EQ(r.size(), size_t(8));
  CHECK(!r.empty());
  std::string big(41, 'b');
  CHECK(r.push(big.data(), big.size()) == PushStatus::kTooBig);
  for (int i = 0; i < 8; ++i) CHECK_EQ(pop_str(r), "m" + std::to_string(i));
  pop_str(r, &st);
  CHECK(st == PopStatus::kEmpty);
  // exactly max payload and zero-length messages
  std::string exact(40, 'e');
  CHECK(push_str(r, exact));
  CHECK(push_str(r, ""));
  CHECK_EQ(pop_str(r), exact);
  CHECK_EQ(pop_str(r), "");
  // many laps
  for (int i = 0; i < 10000; ++i) {
    CHECK(push_str(r, std::to_string(i)));
    if (i % 3 == 0) CHECK(push_str(r, "extra"));
    CHECK_EQ(pop_str(r), std::to_string(i));
    if (i % 3 == 0) CHECK_EQ(pop_str(r), "extra");
  }
  CHECK(r.empty());
}

TEST(frames_and_batch) {
  Region reg(16, 64);
  Ring r = Ring::init(reg.p, reg.n, 16, 64);
  r.join();
  std::vector<uint8_t> frames;
  auto add = [&](const std::string& s) {
    uint32_t n = static_cast<uint32_t>(s.size());
    frames.insert(frames.end(), reinterpret_cast<uint8_t*>(&n), reinterpret_cast<uint8_t*>(&n) + 4);
    frames.insert(frames.end(), s.begin(), s.end());
  };
  for (int i = 0; i < 20; ++i) add("f" + std::to_string(i));
  size_t pushed = 0;
  size_t used = r.push_frames(frames.data(), frames.size(), &pushed);
  CHECK_EQ(pushed, size_t(16));  // ring full after 16
  CHECK(used < frames.size());
  std::vector<uint8_t> out(16 * 44);
  size_t got_bytes = 0;
  size_t got = r.pop_frames(out.data(), out.size(), 100, &got_bytes);
  CHECK_EQ(got, size_t(16));
  CHECK_EQ(got_bytes, used);
  CHECK(std::memcmp(out.data(), frames.data(), used) == 0);
  // the rest
  size_t used2 = r.push_frames(frames.data() + used, frames.size() - used, &pushed);
  CHECK_EQ(used + used2, frames.size());
  CHECK_EQ(pushed, size_t(4));
  // too big frame stops the batch without throwing; truncated frames throw
  frames.clear();
  add("ok");
  add(std::string(41, 'x'));
  add("never");
  size_t n = r.push_frames(frames.data(), frames.size(), &pushed);
  CHECK_EQ(n, size_t(6));
  CHECK_EQ(pushed, size_t(1));
  std::vector<uint8_t> bad = {10, 0, 0, 0, 'a'};
  CHECK_THROWS(r.push_frames(bad.data(), bad.size()));
  std::vector<uint8_t> bad2 = {1, 0};
  CHECK_THROWS(r.push_frames(bad2.data(), bad2.size()));
  // push_batch
  r.pop_frames(out.data(), out.size(), 100, &got_bytes);
  const char* msgs[3] = {"a", "bb", "ccc"};
  size_t lens[3] = {1, 2, 3};
  CHECK_EQ(r.push_batch(reinterpret_cast<const void* const*>(msgs), lens, 3), size_t(3));
  CHECK_EQ(pop_str(r), "a");
  CHECK_EQ(pop_str(r), "bb");
  CHECK_EQ(pop_str(r), "ccc");
}

TEST(tracking_consumer_holds_until_done) {
  // hold area of 128 bytes: held frames take 16 + len rounded to 8, and a pop
  // needs room for a maximal one (16 + 40) before it claims.
  Region reg(8, 64, 4, 128);
  Ring r = Ring::init(reg.p, reg.n, 8, 64, 4, 128);
  Ring prod = Ring::attach(reg.p);
  prod.join();
  r.join(true);
  for (int i = 0; i < 5; ++i) CHECK(push_str(prod, "t" + std::to_string(i)));
  CHECK_EQ(pop_str(r), "t0");
  CHECK_EQ(pop_str(r), "t1");
  CHECK_EQ(pop_str(r), "t2");
  CHECK_EQ(pop_str(r), "t3");
  CHECK_EQ(r.held_count(), 4u);  // 4 * 24 = 96; 96 + 56 > 128
  PopStatus st;
  pop_str(r, &st);
  CHECK(st == PopStatus::kHoldFull);
  r.done();
  CHECK_EQ(r.held_count(), 0u);
  CHECK_EQ(pop_str(r), "t4");
  // a tracking consumer needs room for one message
  Region small(8, 64, 2, 0);
  Ring s = Ring::init(small.p, small.n, 8, 64, 2, 0);
  CHECK_THROWS(s.join(true));
  // participants are limited
  Ring s2 = Ring::attach(small.p);
  s.join();
  s2.join();
  Ring s3 = Ring::attach(small.p);
  CHECK_THROWS(s3.join());
  s2.leave();
  s3.join();
}

// 4 producers x 4 consumers, threads. Every item exactly once, and each
// consumer sees each producer's items in increasing order.
TEST(mpmc_threads_exactly_once) {
  constexpr int P = 4, C = 4;
  constexpr uint32_t N = 50000;
  Region reg(64, 64, 16, 0);
  Ring init = Ring::init(reg.p, reg.n, 64, 64, 16, 0);
  std::vector<std::atomic<uint8_t>> seen(P * N);
  std::atomic<int> producers_left{P};
  std::atomic<bool> bad_order{false};
  std::vector<std::thread> ts;
  for (int p = 0; p < P; ++p) {
    ts.emplace_back([&, p] {
      Ring r = Ring::attach(reg.p);
      r.join();
      for (uint32_t i = 0; i < N; ++i) {
        uint32_t v[2] = {static_cast<uint32_t>(p), i};
        while (!r.try_push(v, sizeof v)) std::this_thread::yield();
      }
      producers_left.fetch_sub(1);
    });
  }
  for (int c = 0; c < C; ++c) {
    ts.emplace_back([&] {
      Ring r = Ring::attach(reg.p);
      r.join();
      std::vector<int64_t> last(P, -1);
      uint32_t v[10];
      for (;;) {
        size_t n;
        if (r.try_pop(v, sizeof v, &n) == PopStatus::kOk) {
          if (n != 8) bad_order = true;
          seen[v[0] * N + v[1]].fetch_add(1, std::memory_order_relaxed);
          if (int64_t(v[1]) <= last[v[0]]) bad_order = true;
          last[v[0]] = v[1];
        } else if (producers_left.load() == 0 && r.empty()) {
          break;
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  CHECK(!bad_order.load());
  for (uint32_t i = 0; i < P * N; ++i) CHECK_EQ(int(seen[i].load()), 1);
}

TEST_MAIN()
