// Several processes (fork) using one arena, and processes killed with SIGKILL
// at the worst moments: holding the lock mid-create, mid-delete, while pinning.
// Afterwards the store must be consistent and its space reusable.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "store/store.h"
#include "tests/check.h"
#include "tests/store/store_test_util.h"

using namespace sunray::store;
using namespace sunray::store::testutil;

namespace {

int g_signal_fd = -1;

// Crash hook for the child: at the named point, tell the parent and wait to be killed.
const char* g_stop_at = nullptr;
void stop_here(const char* point) {
  if (!g_stop_at || std::strcmp(point, g_stop_at) != 0) return;
  char byte = 'x';
  (void)!write(g_signal_fd, &byte, 1);
  for (;;) pause();
}

// Forks a child that runs fn and then, if it returns, signals and waits to be killed.
pid_t fork_child(int* read_fd, const std::function<void()>& fn) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    g_signal_fd = fds[1];
    fn();
    char byte = 'y';
    (void)!write(g_signal_fd, &byte, 1);
    for (;;) pause();
  }
  close(fds[1]);
  *read_fd = fds[0];
  return pid;
}

void wait_signal(int fd) {
  char byte;
  CHECK(read(fd, &byte, 1) == 1);
  close(fd);
}

void kill_and_reap(pid_t pid) {
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status));
}

std::unique_ptr<Store> make_store(uint64_t capacity, const std::string& spill = "") {
  ArenaOptions o;
  o.capacity = capacity;
  o.spill_dir = spill;
  return Store::create(o);
}

// After a crash: the store is consistent and (almost) its whole capacity can be allocated again.
void check_reusable(Store& s, uint32_t c) {
  check_store(s);
  StoreStats st = s.stats();
  CHECK_EQ(st.unsealed, 0u);
  CHECK_EQ(st.pinned, 0u);
  // Delete everything, then the whole data area is one free block again.
  for (const ObjectInfo& o : s.list()) s.remove(c, o.id);
  st = s.stats();
  CHECK_EQ(st.used, 0u);
  uint64_t big = s.capacity() - kBlockHeaderSize;
  uint64_t off = s.create(c, make_id(777777), big, nullptr, 0);
  fill(s.base() + off, 4096, 1);
  s.seal(c, make_id(777777));
  s.remove(c, make_id(777777));
  check_store(s);
}

}  // namespace

TEST(processes_random_ops_keep_invariants) {
  std::string dir = temp_spill_dir("procs");
  auto s = make_store(4 << 20, dir);
  const int kProcs = 4;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      uint32_t c = s->register_client();
      std::mt19937_64 rng(77 + p);
      std::vector<uint64_t> pinned;
      for (int step = 0; step < 20000 / kScale; ++step) {
        uint64_t n = rng() % 300;
        uint64_t size = (n * 1237) % 90000;
        try {
          switch (rng() % 4) {
            case 0: {
              uint64_t off = s->create(c, make_id(n), size, nullptr, 0, n % 3 != 0);
              fill(s->base() + off, size, n);
              s->seal(c, make_id(n));
              break;
            }
            case 1: {
              GetResult g = s->get(c, make_id(n));
              if (g.status == GetStatus::kReady) {
                if (g.data_size != size || !verify(s->base() + g.data_offset, size, n)) _exit(3);
                pinned.push_back(n);
              }
              break;
            }
            case 2:
              if (!pinned.empty()) {
                s->release(c, make_id(pinned.back()));
                pinned.pop_back();
              }
              break;
            case 3:
              s->remove(c, make_id(n));
              break;
          }
        } catch (const StoreError& e) {
          if (e.code() != StoreErrorCode::kObjectExists && e.code() != StoreErrorCode::kObjectNotFound &&
              e.code() != StoreErrorCode::kObjectStoreFull && e.code() != StoreErrorCode::kObjectNotSealed) {
            std::fprintf(stderr, "child: %s\n", e.what());
            _exit(2);
          }
        }
      }
      for (uint64_t n : pinned) s->release(c, make_id(n));
      s->unregister_client(c);
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
  }
  check_store(*s);
  StoreStats st = s->stats();
  std::fprintf(stderr, "objects %llu, evicted %llu, spilled %llu, restored %llu\n", (unsigned long long)st.objects,
               (unsigned long long)st.evicted, (unsigned long long)st.spilled, (unsigned long long)st.restored);
  CHECK_EQ(st.pinned, 0u);
  CHECK_EQ(st.clients, 0u);
  uint32_t c = s->register_client();
  check_reusable(*s, c);
  s->remove_spill_files();
  remove_dir(dir);
}

TEST(killed_while_holding_the_lock_mid_create) {
  auto s = make_store(8 << 20);
  uint32_t c = s->register_client();
  for (uint64_t i = 0; i < 20; ++i) {
    uint64_t off = s->create(c, make_id(i), 100000, nullptr, 0);
    fill(s->base() + off, 100000, i);
    s->seal(c, make_id(i));
  }
  int fd;
  pid_t pid = fork_child(&fd, [&] {
    uint32_t mine = s->register_client();
    g_stop_at = "create:allocated";
    g_store_crash_point = stop_here;
    s->create(mine, make_id(1000), 3 << 20, nullptr, 0);  // allocates, then stops with the lock held
  });
  wait_signal(fd);
  kill_and_reap(pid);
  // The next lock finds the owner dead and repairs.
  StoreStats st = s->stats();
  CHECK_EQ(st.repairs, 1u);
  CHECK_EQ(st.objects, 20u);
  CHECK(s->get(c, make_id(1000)).status == GetStatus::kAbsent);
  for (uint64_t i = 0; i < 20; ++i) {
    GetResult g = s->get(c, make_id(i));
    CHECK(g.status == GetStatus::kReady);
    CHECK(verify(s->base() + g.data_offset, 100000, i));
    s->release(c, make_id(i));
  }
  CHECK_EQ(s->reap_dead_clients(), 1);
  check_reusable(*s, c);
}

TEST(killed_mid_delete_and_after_create_before_seal) {
  auto s = make_store(8 << 20);
  uint32_t c = s->register_client();
  for (uint64_t i = 0; i < 10; ++i) {
    s->create(c, make_id(i), 200000, nullptr, 0);
    s->seal(c, make_id(i));
  }
  int fd;
  pid_t pid = fork_child(&fd, [&] {
    uint32_t mine = s->register_client();
    g_stop_at = "erase:unlinked";
    g_store_crash_point = stop_here;
    s->remove(mine, make_id(3));  // unlinked from the table, block not yet freed
  });
  wait_signal(fd);
  kill_and_reap(pid);
  CHECK(!s->contains(make_id(3)));
  check_store(*s);  // repaired: the block is free again, no leak
  // A child that created (unsealed) and died: reaping aborts the object.
  pid = fork_child(&fd, [&] {
    uint32_t mine = s->register_client();
    s->create(mine, make_id(500), 1 << 20, nullptr, 0);
  });
  wait_signal(fd);
  kill_and_reap(pid);
  CHECK(s->get(c, make_id(500)).status == GetStatus::kUnsealed);
  CHECK_EQ(s->reap_dead_clients(), 2);
  CHECK(s->get(c, make_id(500)).status == GetStatus::kAbsent);
  check_reusable(*s, c);
}

TEST(killed_while_pinning) {
  auto s = make_store(4 << 20);
  uint32_t c = s->register_client();
  for (uint64_t i = 0; i < 5; ++i) {
    s->create(c, make_id(i), 500000, nullptr, 0, /*primary=*/false);
    s->seal(c, make_id(i));
  }
  int fd;
  pid_t pid = fork_child(&fd, [&] {
    uint32_t mine = s->register_client();
    for (uint64_t i = 0; i < 5; ++i) CHECK(s->get(mine, make_id(i)).status == GetStatus::kReady);
  });
  wait_signal(fd);
  kill_and_reap(pid);
  CHECK_EQ(s->stats().pinned, 5u);
  // Pinned objects cannot be evicted: a big create fails until the dead client is reaped.
  try {
    s->create(c, make_id(100), 3 << 20, nullptr, 0);
    CHECK(false);
  } catch (const StoreError& e) {
    CHECK(e.code() == StoreErrorCode::kObjectStoreFull);
  }
  CHECK_EQ(s->reap_dead_clients(), 1);
  CHECK_EQ(s->stats().pinned, 0u);
  s->create(c, make_id(100), 3 << 20, nullptr, 0);  // evicts the unpinned secondaries
  s->seal(c, make_id(100));
  CHECK(s->stats().evicted >= 1);
  check_reusable(*s, c);
}

TEST(attach_from_an_unrelated_process_by_path) {
  auto s = make_store(4 << 20);
  uint32_t c = s->register_client();
  uint64_t off = s->create(c, make_id(1), 1000, nullptr, 0);
  fill(s->base() + off, 1000, 1);
  s->seal(c, make_id(1));
  std::string path = s->path();
  pid_t pid = fork();
  if (pid == 0) {
    // A fresh mapping at another address, as another process would have.
    auto other = Store::attach_path(path);
    uint32_t mine = other->register_client();
    GetResult g = other->get(mine, make_id(1));
    bool ok = g.status == GetStatus::kReady && verify(other->base() + g.data_offset, 1000, 1);
    other->unregister_client(mine);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  check_store(*s);
}

TEST_MAIN()
