// Ring crash recovery across processes: deterministic half-done operations
// via the fault-injection hooks, then SIGKILL at random points under load.
#include <sched.h>
#include <signal.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "ipc/ring.h"
#include "tests/check.h"
#include "tests/ipc/test_util.h"

using namespace sunray::ipc;
using namespace sunray::testing;

// A child that stops half way through an operation, as a SIGKILL would.
TEST(recover_producer_claimed_not_written) {
  Region reg(8, 64);
  Ring r = Ring::init(reg.p, reg.n, 8, 64);
  r.join();
  pid_t c = fork_child([&] {
    Ring me = Ring::attach(reg.p);
    me.join();
    CHECK(me.debug_push_stop("dead", 4, 1));
    _exit(0);  // "crash": record and claim stay behind
  });
  check_child_ok(c);
  CHECK(push_str(r, "after"));
  PopStatus st;
  pop_str(r, &st);
  CHECK(st == PopStatus::kEmpty);  // wedged behind the hole
  CHECK(r.empty());
  RecoverStats rs = r.recover(c);
  CHECK_EQ(rs.records, 1u);
  CHECK_EQ(rs.tombstoned, 1u);
  CHECK_EQ(rs.completed, 0u);
  CHECK_EQ(pop_str(r), "after");  // tombstone skipped
  CHECK(r.empty());
  // the record is free again and recover is idempotent
  CHECK_EQ(r.recover(c).records, 0u);
  for (int lap = 0; lap < 3; ++lap) {
    for (int i = 0; i < 8; ++i) CHECK(push_str(r, std::to_string(i)));
    for (int i = 0; i < 8; ++i) CHECK_EQ(pop_str(r), std::to_string(i));
  }
}

TEST(recover_producer_written_not_published) {
  Region reg(8, 64);
  Ring r = Ring::init(reg.p, reg.n, 8, 64);
  r.join();
  pid_t c = fork_child([&] {
    Ring me = Ring::attach(reg.p);
    me.join();
    CHECK(me.debug_push_stop("complete-me", 11, 2));
    _exit(0);
  });
  check_child_ok(c);
  CHECK(push_str(r, "after"));
  CHECK(r.empty());
  RecoverStats rs = r.recover(c);
  CHECK_EQ(rs.completed, 1u);
  CHECK_EQ(rs.tombstoned, 0u);
  CHECK_EQ(pop_str(r), "complete-me");
  CHECK_EQ(pop_str(r), "after");
}

TEST(recover_consumer_claimed_not_copied) {
  Region reg(8, 64);
  Ring r = Ring::init(reg.p, reg.n, 8, 64);
  r.join();
  CHECK(push_str(r, "m1"));
  CHECK(push_str(r, "m2"));
  pid_t c = fork_child([&] {
    Ring me = Ring::attach(reg.p);
    me.join();  // not tracking: the claim window alone
    CHECK(me.debug_pop_stop(1));
    _exit(0);
  });
  check_child_ok(c);
  CHECK_EQ(pop_str(r), "m2");
  // m1's slot is still claimed: after one lap producers would see "full"
  for (int i = 0; i < 6; ++i) CHECK(push_str(r, "x"));  // positions 2..7
  CHECK(!push_str(r, "blocked"));                       // position 8 = m1's slot
  for (int i = 0; i < 6; ++i) CHECK_EQ(pop_str(r), "x");
  RecoverStats rs = r.recover(c);
  CHECK_EQ(rs.requeued, 1u);
  CHECK_EQ(pop_str(r), "m1");
  CHECK(r.empty());
  for (int i = 0; i < 8; ++i) CHECK(push_str(r, "y"));
}

TEST(recover_tracking_consumer_held_and_claimed_once) {
  Region reg(8, 64);
  Ring r = Ring::init(reg.p, reg.n, 8, 64);
  r.join();
  for (int i = 1; i <= 4; ++i) CHECK(push_str(r, "m" + std::to_string(i)));
  pid_t c = fork_child([&] {
    Ring me = Ring::attach(reg.p);
    me.join(true);
    CHECK_EQ(pop_str(me), "m1");  // held, not done
    CHECK(me.debug_pop_stop(2));  // m2 held AND its slot still claimed
    _exit(0);
  });
  check_child_ok(c);
  CHECK_EQ(pop_str(r), "m3");
  RecoverStats rs = r.recover(c);
  CHECK_EQ(rs.requeued, 2u);  // m1 and m2, m2 not twice
  std::vector<std::string> got;
  for (;;) {
    PopStatus st;
    std::string s = pop_str(r, &st);
    if (st != PopStatus::kOk) break;
    got.push_back(s);
  }
  CHECK_EQ(got.size(), size_t(3));
  CHECK_EQ(got[0], "m4");
  CHECK((got[1] == "m1" && got[2] == "m2") || (got[1] == "m2" && got[2] == "m1"));
}

TEST(recover_done_messages_not_requeued_and_alive_skipped) {
  Region reg(8, 64);
  Ring r = Ring::init(reg.p, reg.n, 8, 64);
  r.join(true);
  CHECK(push_str(r, "a"));
  pid_t c = fork_child([&] {
    Ring me = Ring::attach(reg.p);
    me.join(true);
    CHECK_EQ(pop_str(me), "a");
    me.done();
    _exit(0);
  });
  check_child_ok(c);
  CHECK_EQ(r.recover(c).requeued, 0u);
  CHECK(r.empty());
  // our own pid is alive: never recovered
  CHECK(push_str(r, "b"));
  CHECK_EQ(pop_str(r), "b");
  RecoverStats rs = r.recover(getpid());
  CHECK_EQ(rs.skipped_alive, 1u);
  CHECK_EQ(rs.records, 0u);
  CHECK_EQ(r.held_count(), 1u);
}

TEST(recover_pending_when_full) {
  Region reg(4, 64);
  Ring r = Ring::init(reg.p, reg.n, 4, 64);
  r.join();
  for (int i = 0; i < 3; ++i) CHECK(push_str(r, "h" + std::to_string(i)));
  pid_t c = fork_child([&] {
    Ring me = Ring::attach(reg.p);
    me.join(true);
    for (int i = 0; i < 3; ++i) CHECK_EQ(pop_str(me), "h" + std::to_string(i));
    _exit(0);
  });
  check_child_ok(c);
  for (int i = 0; i < 3; ++i) CHECK(push_str(r, "f"));
  RecoverStats rs = r.recover(c);
  CHECK_EQ(rs.requeued, 1u);
  CHECK_EQ(rs.pending, 2u);
  CHECK_EQ(pop_str(r), "f");
  CHECK_EQ(pop_str(r), "f");
  rs = r.recover(c);
  CHECK_EQ(rs.requeued, 2u);
  CHECK_EQ(rs.pending, 0u);
  std::vector<std::string> got;
  for (;;) {
    PopStatus st;
    std::string s = pop_str(r, &st);
    if (st != PopStatus::kOk) break;
    got.push_back(s);
  }
  CHECK_EQ(got.size(), size_t(4));
}

// Processes: N producers, M tracking consumers; consumption is recorded
// idempotently in a shared bitmap. Some process is SIGKILLed repeatedly in
// the middle of the run, recover(pid) is called and a replacement started.
namespace {

struct Shared {
  std::atomic<uint32_t> stop;
  std::atomic<uint32_t> dup;
  std::atomic<uint64_t> consumed;
  std::atomic<uint64_t> progress[8];  // per producer: items 0..progress-1 pushed
  std::atomic<uint64_t> bits[1];      // flexible
};

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr uint32_t kItems = 40000;  // per producer (sanitizers are 5-20x slower)
#else
constexpr uint32_t kItems = 400000;  // per producer
#endif

void producer_body(void* ring_region, Shared* sh, int p, uint64_t from) {
  Ring r = Ring::attach(ring_region);
  r.join();
  for (uint64_t i = from; i < kItems; ++i) {
    uint32_t v[2] = {static_cast<uint32_t>(p), static_cast<uint32_t>(i)};
    while (!r.try_push(v, sizeof v)) sched_yield();
    sh->progress[p].store(i + 1, std::memory_order_release);
  }
  r.leave();
}

void consumer_body(void* ring_region, Shared* sh) {
  Ring r = Ring::attach(ring_region);
  r.join(true);
  uint32_t v[16];
  uint32_t spins = 0;
  while (!sh->stop.load(std::memory_order_acquire)) {
    size_t n;
    PopStatus st = r.try_pop(v, sizeof v, &n);
    if (st == PopStatus::kOk) {
      uint64_t id = uint64_t(v[0]) * kItems + v[1];
      uint64_t bit = uint64_t(1) << (id % 64);
      uint64_t prev = sh->bits[id / 64].fetch_or(bit, std::memory_order_acq_rel);
      if (prev & bit)
        sh->dup.fetch_add(1);
      else
        sh->consumed.fetch_add(1);
      if (++spins % 8 == 0) r.done();  // handle a few, then mark them done
    } else if (st == PopStatus::kHoldFull) {
      r.done();
    } else {
      sched_yield();
    }
  }
  r.done();
  r.leave();
}

void crash_run(int P, int M, bool kill_consumers, int kills) {
  Region reg(256, 64, 32, 4096);
  Ring owner = Ring::init(reg.p, reg.n, 256, 64, 32, 4096);
  const uint64_t total = uint64_t(P) * kItems;
  size_t sh_bytes = sizeof(Shared) + (total / 64 + 1) * 8;
  auto* sh = static_cast<Shared*>(shared_region(sh_bytes));
  std::vector<pid_t> prods(P), cons(M);
  for (int p = 0; p < P; ++p) prods[p] = fork_child([&, p] { producer_body(reg.p, sh, p, 0); });
  for (int m = 0; m < M; ++m) cons[m] = fork_child([&] { consumer_body(reg.p, sh); });
  RecoverStats sum;
  uint32_t killed = 0;
  std::vector<pid_t> pending_pids;
  for (int k = 0; k < kills; ++k) {
    usleep(2000 + 7919 * k % 5000);
    if (kill_consumers) {
      int m = k % M;
      kill(cons[m], SIGKILL);
      wait_child(cons[m]);
      RecoverStats rs = owner.recover(cons[m]);
      CHECK(rs.records <= 1u);  // 0: killed before it joined
      CHECK_EQ(rs.lost, 0u);
      sum.requeued += rs.requeued;
      sum.pending += rs.pending;
      if (rs.pending) pending_pids.push_back(cons[m]);  // ring was full: retry later
      ++killed;
      cons[m] = fork_child([&] { consumer_body(reg.p, sh); });
    } else {
      int p = k % P;
      if (sh->progress[p].load() >= kItems) continue;
      kill(prods[p], SIGKILL);
      int status = wait_child(prods[p]);
      if (WIFEXITED(status)) continue;  // it finished first
      RecoverStats rs = owner.recover(prods[p]);
      sum.completed += rs.completed;
      sum.tombstoned += rs.tombstoned;
      ++killed;
      // The item being pushed at the kill may or may not have made it: push it again.
      uint64_t from = sh->progress[p].load();
      prods[p] = fork_child([&, p, from] { producer_body(reg.p, sh, p, from); });
    }
  }
  for (int p = 0; p < P; ++p) check_child_ok(prods[p]);
  double t0 = now_us();
  // Count the bitmap, not sh->consumed: a consumer killed between setting its
  // bit and counting it would leave the counter one short forever.
  auto bits_set = [&] {
    uint64_t n = 0;
    for (uint64_t w = 0; w < total / 64 + 1; ++w) n += __builtin_popcountll(sh->bits[w].load());
    return n;
  };
  while (bits_set() < total) {
    // The node manager's duty: messages a recovery could not re-push yet.
    for (pid_t pp : pending_pids) sum.requeued += owner.recover(pp).requeued;
    if (now_us() - t0 > 30e6) {
      std::fprintf(stderr, "wedged: consumed %llu of %llu, ring size %zu\n",
                   static_cast<unsigned long long>(bits_set()), static_cast<unsigned long long>(total), owner.size());
      CHECK(false);
    }
    usleep(1000);
  }
  sh->stop.store(1);
  for (int m = 0; m < M; ++m) check_child_ok(cons[m]);
  for (uint64_t id = 0; id < total; ++id) CHECK(sh->bits[id / 64].load() & (uint64_t(1) << (id % 64)));
  // Left in the ring: only second deliveries of re-queued messages whose first
  // delivery had already been recorded before the kill.
  for (pid_t pp : pending_pids) owner.recover(pp);
  owner.join();
  uint32_t v[16];
  size_t n;
  while (owner.try_pop(v, sizeof v, &n) == PopStatus::kOk) {
    uint64_t id = uint64_t(v[0]) * kItems + v[1];
    CHECK(sh->bits[id / 64].load() & (uint64_t(1) << (id % 64)));
    sh->dup.fetch_add(1);
  }
  owner.leave();
  std::fprintf(stderr,
               "  %s: %u kills, requeued %u (%u had to wait for room), completed %u, tombstoned %u, duplicates %u "
               "(delivered again after a kill, recorded once)\n",
               kill_consumers ? "consumers" : "producers", killed, sum.requeued, sum.pending, sum.completed,
               sum.tombstoned, sh->dup.load());
  munmap(sh, sh_bytes);
}

}  // namespace

TEST(processes_exactly_once_no_kills) { crash_run(3, 2, true, 0); }
TEST(processes_consumer_sigkill_recovered) { crash_run(2, 2, true, 20); }
TEST(processes_producer_sigkill_recovered) { crash_run(2, 2, false, 30); }

TEST_MAIN()
