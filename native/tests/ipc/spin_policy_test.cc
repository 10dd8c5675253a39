// The spin-before-sleep policy on its own, with made-up times: spinning only
// while the channel is hot, the backoff after spins that found nothing
// (1, 3, 7, ... 63 skipped turns), its end on a spin that finds a message,
// and the counters the Doorbell's stats() reports.
#include "ipc/spin_policy.h"

#include "tests/check.h"

using namespace sunray::ipc;

namespace {

constexpr int64_t kMs = 1'000'000;

// Runs turns until the policy lets the reader spin; returns how many were skipped.
int skipped_before_next_spin(SpinPolicy& p) {
  int skipped = 0;
  while (!p.begin_spin()) ++skipped;
  return skipped;
}

}  // namespace

TEST(off_until_configured) {
  SpinPolicy p;
  CHECK(!p.enabled());
  CHECK(!p.defer_sleep(0));
  p.configure(50'000, 2 * kMs);
  CHECK(p.enabled());
  CHECK_EQ(p.budget_ns(), int64_t(50'000));
  p.configure(0, 2 * kMs);
  CHECK(!p.enabled());
}

TEST(defers_sleep_only_while_hot) {
  SpinPolicy p;
  p.configure(50'000, 2 * kMs);
  const int64_t t0 = 1000 * kMs;
  CHECK(!p.defer_sleep(t0));  // no message yet: cold
  p.on_message(t0);
  CHECK(p.defer_sleep(t0));
  CHECK(p.defer_sleep(t0 + 2 * kMs - 1));
  CHECK(!p.defer_sleep(t0 + 2 * kMs));  // the window has passed
  p.on_message(t0 + 5 * kMs);           // a new message opens it again
  CHECK(p.defer_sleep(t0 + 6 * kMs));
  p.configure(0, 2 * kMs);  // spinning turned off: never defer
  CHECK(!p.defer_sleep(t0 + 6 * kMs));
}

TEST(backs_off_after_empty_spins_up_to_63_turns) {
  SpinPolicy p;
  p.configure(50'000, 2 * kMs);
  CHECK(p.begin_spin());  // the first chance spins
  p.end_spin(false);
  const int expected[] = {1, 3, 7, 15, 31, 63, 63, 63};
  for (int want : expected) {
    CHECK_EQ(p.skip_turns(), want);
    CHECK_EQ(skipped_before_next_spin(p), want);
    p.end_spin(false);
  }
  CHECK_EQ(p.spins(), uint64_t(1 + sizeof expected / sizeof expected[0]));
  CHECK_EQ(p.spin_hits(), uint64_t(0));
}

TEST(a_spin_that_finds_a_message_ends_the_backoff) {
  SpinPolicy p;
  p.configure(50'000, 2 * kMs);
  for (int i = 0; i < 4; ++i) {
    skipped_before_next_spin(p);
    p.end_spin(false);
  }
  CHECK_EQ(p.skip_turns(), 15);
  skipped_before_next_spin(p);
  p.end_spin(true);
  CHECK_EQ(p.skip_turns(), 0);
  CHECK_EQ(p.spin_hits(), uint64_t(1));
  // Every chance spins again, and the next empty spin starts the backoff from 1.
  CHECK(p.begin_spin());
  p.end_spin(false);
  CHECK_EQ(p.skip_turns(), 1);
}

TEST(hits_keep_every_turn_spinning) {
  SpinPolicy p;
  p.configure(50'000, 2 * kMs);
  for (int i = 0; i < 100; ++i) {
    CHECK(p.begin_spin());
    p.end_spin(true);
  }
  CHECK_EQ(p.spins(), uint64_t(100));
  CHECK_EQ(p.spin_hits(), uint64_t(100));
}

TEST(configure_keeps_the_backoff) {
  SpinPolicy p;
  p.configure(50'000, 2 * kMs);
  CHECK(p.begin_spin());
  p.end_spin(false);
  p.configure(100'000, 1 * kMs);  // setSpin again: only the budget and window change
  CHECK_EQ(p.skip_turns(), 1);
  CHECK_EQ(p.budget_ns(), int64_t(100'000));
}

TEST_MAIN()
