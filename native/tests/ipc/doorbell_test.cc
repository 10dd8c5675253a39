// Doorbell: no lost wake-ups under ping-pong stress, with the futex (threads
// and processes) and with eventfds (processes, poll()). A wait that times out
// while a message is there is a lost wake-up and fails the test.
#include "ipc/doorbell.h"

#include <poll.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/check.h"
#include "tests/ipc/test_util.h"

using namespace sunray::ipc;
using namespace sunray::testing;

namespace {

constexpr int64_t kLostWakeNs = 2'000'000'000;  // a sleeping side this long means a lost wake-up

struct Pair {
  size_t bytes;
  void* a;
  void* b;
  Pair() : bytes(Ring::bytes_needed(64, 64, 4, 0)) {
    a = shared_region(bytes);
    b = shared_region(bytes);
    Ring::init(a, bytes, 64, 64, 4, 0);
    Ring::init(b, bytes, 64, 64, 4, 0);
  }
};

// Pops one message, sleeping on the futex; fails on a lost wake-up.
uint64_t recv_futex(Ring& r, Doorbell& db, std::atomic<uint32_t>* lost) {
  uint64_t v;
  size_t n;
  for (;;) {
    if (r.try_pop(&v, 64, &n) == PopStatus::kOk) return v;
    if (!db.prepare_sleep(kSleepFutex)) continue;
    if (!db.wait(kLostWakeNs)) {
      if (r.try_pop(&v, 64, &n) == PopStatus::kOk) {
        lost->fetch_add(1);
        return v;
      }
    }
  }
}

uint64_t recv_eventfd(Ring& r, Doorbell& db, std::atomic<uint32_t>* lost) {
  uint64_t v;
  size_t n;
  for (;;) {
    if (r.try_pop(&v, 64, &n) == PopStatus::kOk) return v;
    if (!db.prepare_sleep(kSleepEventfd)) continue;
    pollfd p{db.eventfd(), POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(kLostWakeNs / 1000000));
    Doorbell::clear_eventfd(db.eventfd());
    if (rc == 0 && r.try_pop(&v, 64, &n) == PopStatus::kOk) {
      lost->fetch_add(1);
      return v;
    }
  }
}

void send(Ring& r, Doorbell& db, uint64_t v) {
  while (!r.try_push(&v, sizeof v)) std::this_thread::yield();
  db.notify();
}

}  // namespace

TEST(prepare_sleep_sees_messages) {
  Pair p;
  Ring r = Ring::attach(p.a);
  r.join();
  Doorbell db(r);
  CHECK(db.prepare_sleep(kSleepFutex));  // empty: may sleep
  CHECK(r.sleeping_word()->load() == kSleepFutex);
  uint64_t v = 7;
  CHECK(r.try_push(&v, 8));
  CHECK(db.notify());  // someone slept: woke
  CHECK(r.sleeping_word()->load() == 0);
  CHECK(!db.notify());                    // nobody sleeps: no syscall
  CHECK(!db.prepare_sleep(kSleepFutex));  // a message is there
  size_t n;
  CHECK(r.try_pop(&v, 64, &n) == PopStatus::kOk);
  // eventfd counter
  int fd = Doorbell::create_eventfd();
  CHECK_EQ(Doorbell::clear_eventfd(fd), uint64_t(0));
  Doorbell::signal_eventfd(fd);
  Doorbell::signal_eventfd(fd);
  CHECK_EQ(Doorbell::clear_eventfd(fd), uint64_t(2));
  close(fd);
}

TEST(futex_ping_pong_threads) {
  Pair p;
  constexpr uint64_t N = 20000;
  std::atomic<uint32_t> lost{0};
  std::thread echo([&] {
    Ring in = Ring::attach(p.a), out = Ring::attach(p.b);
    in.join();
    out.join();
    Doorbell din(in), dout(out);
    for (uint64_t i = 0; i < N; ++i) send(out, dout, recv_futex(in, din, &lost));
  });
  Ring out = Ring::attach(p.a), in = Ring::attach(p.b);
  out.join();
  in.join();
  Doorbell dout(out), din(in);
  double t0 = now_us();
  for (uint64_t i = 0; i < N; ++i) {
    send(out, dout, i);
    CHECK_EQ(recv_futex(in, din, &lost), i);
  }
  double us = (now_us() - t0) / N;
  echo.join();
  CHECK_EQ(lost.load(), 0u);
  std::fprintf(stderr, "  futex ping-pong, threads: %.1f us round trip\n", us);
}

TEST(futex_ping_pong_processes) {
  Pair p;
  constexpr uint64_t N = 20000;
  auto* lost = static_cast<std::atomic<uint32_t>*>(shared_region(64));
  pid_t c = fork_child([&] {
    Ring in = Ring::attach(p.a), out = Ring::attach(p.b);
    in.join();
    out.join();
    Doorbell din(in), dout(out);
    for (uint64_t i = 0; i < N; ++i) send(out, dout, recv_futex(in, din, lost));
  });
  Ring out = Ring::attach(p.a), in = Ring::attach(p.b);
  out.join();
  in.join();
  Doorbell dout(out), din(in);
  double t0 = now_us();
  for (uint64_t i = 0; i < N; ++i) {
    send(out, dout, i);
    CHECK_EQ(recv_futex(in, din, lost), i);
  }
  double us = (now_us() - t0) / N;
  check_child_ok(c);
  CHECK_EQ(lost->load(), 0u);
  std::fprintf(stderr, "  futex ping-pong, processes: %.1f us round trip\n", us);
}

TEST(eventfd_ping_pong_processes) {
  Pair p;
  constexpr uint64_t N = 20000;
  auto* lost = static_cast<std::atomic<uint32_t>*>(shared_region(64));
  int efd_a = Doorbell::create_eventfd(), efd_b = Doorbell::create_eventfd();  // inherited by fork
  pid_t c = fork_child([&] {
    Ring in = Ring::attach(p.a), out = Ring::attach(p.b);
    in.join();
    out.join();
    Doorbell din(in, efd_a), dout(out, efd_b);
    for (uint64_t i = 0; i < N; ++i) send(out, dout, recv_eventfd(in, din, lost));
  });
  Ring out = Ring::attach(p.a), in = Ring::attach(p.b);
  out.join();
  in.join();
  Doorbell dout(out, efd_a), din(in, efd_b);
  double t0 = now_us();
  for (uint64_t i = 0; i < N; ++i) {
    send(out, dout, i);
    CHECK_EQ(recv_eventfd(in, din, lost), i);
  }
  double us = (now_us() - t0) / N;
  check_child_ok(c);
  CHECK_EQ(lost->load(), 0u);
  close(efd_a);
  close(efd_b);
  std::fprintf(stderr, "  eventfd ping-pong, processes: %.1f us round trip\n", us);
}

// Many producers, one sleeping consumer: every message arrives, no wake lost.
TEST(many_producers_one_sleeper) {
  Pair p;
  constexpr int P = 3;
  constexpr uint64_t N = 20000;
  std::atomic<uint32_t> lost{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < P; ++t) {
    ts.emplace_back([&] {
      Ring r = Ring::attach(p.a);
      r.join();
      Doorbell db(r);
      for (uint64_t i = 0; i < N; ++i) {
        send(r, db, i);
        if (i % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    });
  }
  Ring r = Ring::attach(p.a);
  r.join();
  Doorbell db(r);
  for (uint64_t i = 0; i < P * N; ++i) recv_futex(r, db, &lost);
  for (auto& t : ts) t.join();
  CHECK_EQ(lost.load(), 0u);
}

// Spinning consumers: a ping-pong where both sides spin before they sleep
// loses no message and needs (almost) no wake-up; a spin on an empty ring gives
// up within its budget and leaves sleep unannounced.
TEST(spin_then_sleep_ping_pong_threads) {
  Pair p;
  constexpr uint64_t N = 20000;
  std::atomic<uint32_t> lost{0};
  auto recv_spin = [&](Ring& r, Doorbell& db) {
    if (db.spin_until_ready(200'000)) {
      uint64_t v;
      size_t n;
      if (r.try_pop(&v, 64, &n) == PopStatus::kOk) return v;
    }
    return recv_futex(r, db, &lost);
  };
  std::thread echo([&] {
    Ring in = Ring::attach(p.a), out = Ring::attach(p.b);
    in.join();
    out.join();
    Doorbell din(in), dout(out);
    for (uint64_t i = 0; i < N; ++i) send(out, dout, recv_spin(in, din) + 1);
  });
  Ring out = Ring::attach(p.a), in = Ring::attach(p.b);
  out.join();
  in.join();
  Doorbell dout(out), din(in);
  for (uint64_t i = 0; i < N; ++i) {
    send(out, dout, i * 2);
    CHECK_EQ(recv_spin(in, din), i * 2 + 1);
  }
  echo.join();
  CHECK_EQ(lost.load(), 0u);
  // Empty ring: the spin gives up after its budget, with sleep not announced.
  auto t0 = std::chrono::steady_clock::now();
  CHECK(!din.spin_until_ready(1'000'000));
  auto spent = std::chrono::steady_clock::now() - t0;
  CHECK(spent >= std::chrono::microseconds(1000));
  CHECK(spent < std::chrono::milliseconds(500));
  CHECK_EQ(in.sleeping_word()->load() & kSleepFutex, 0u);
  CHECK(!din.spin_until_ready(0));
}

TEST_MAIN()
