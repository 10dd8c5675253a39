// Process identity: a live process has one start time, a zombie or a reaped
// one has none, a pid with another start time is another process, and a
// forked child gets its own identity. Parent-death signal: a grandchild that
// asked for SIGKILL on its parent's death is killed when that parent exits,
// even while it sleeps in a system call; a process whose parent already
// changed is told so instead of waiting forever.
#include "common/proc.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <system_error>
#include <thread>
#include <vector>

#include "tests/check.h"

using namespace sunray::proc;

namespace {

// waitpid with a deadline, so a broken prctl fails the test instead of hanging it.
bool wait_for(pid_t pid, int* status, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return false;
    usleep(10'000);
  }
  return false;
}

}  // namespace

TEST(a_live_process_has_one_start_time) {
  const pid_t me = getpid();
  const uint64_t start = process_start_time(me);
  CHECK(start != 0);
  CHECK_EQ(process_start_time(me), start);
  CHECK(process_alive(me, start));
  CHECK(!process_alive(me, start + 1));  // the same pid with another start time: another process
  const Identity id = self_identity();
  CHECK_EQ(id.pid, me);
  CHECK_EQ(id.start_time, start);
}

TEST(a_zombie_and_a_reaped_process_are_gone) {
  int go[2];
  CHECK(pipe(go) == 0);
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    char c;
    _exit(read(go[0], &c, 1) == 1 ? 0 : 1);
  }
  close(go[0]);
  const uint64_t start = process_start_time(child);
  CHECK(start != 0);
  CHECK(process_alive(child, start));
  CHECK(write(go[1], "x", 1) == 1);
  close(go[1]);
  // Exited, not reaped: a zombie keeps its /proc entry but is dead.
  siginfo_t info{};
  CHECK(waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT) == 0);
  CHECK_EQ(process_start_time(child), uint64_t(0));
  CHECK(!process_alive(child, start));
  int status = 0;
  CHECK(wait_for(child, &status, 5000));
  CHECK_EQ(process_start_time(child), uint64_t(0));
  CHECK(!process_alive(child, start));
}

TEST(a_forked_child_has_its_own_identity) {
  const Identity parent = self_identity();  // cached in the parent before the fork
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    const Identity mine = self_identity();
    if (mine.pid != getpid() || mine.pid == parent.pid) _exit(40);
    if (mine.start_time != process_start_time(getpid())) _exit(41);
    _exit(0);
  }
  int status = 0;
  CHECK(wait_for(child, &status, 5000));
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(threads_share_the_identity) {
  const Identity main_id = self_identity();
  std::vector<Identity> seen(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) threads.emplace_back([&seen, i] { seen[i] = self_identity(); });
  for (auto& t : threads) t.join();
  for (const Identity& id : seen) {
    CHECK_EQ(id.pid, main_id.pid);
    CHECK_EQ(id.start_time, main_id.start_time);
  }
}

TEST(a_grandchild_dies_with_its_parent) {
  // Orphans are handed to us rather than to init, so we can reap the grandchild and see its end.
  CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1UL, 0UL, 0UL, 0UL) == 0);
  int to_test[2], to_middle[2];
  CHECK(pipe(to_test) == 0 && pipe(to_middle) == 0);
  pid_t middle = fork();
  CHECK(middle >= 0);
  if (middle == 0) {
    pid_t parent = getpid();
    pid_t grandchild = fork();
    if (grandchild < 0) _exit(10);
    if (grandchild == 0) {
      if (!die_with_parent(SIGKILL, parent)) _exit(11);
      if (parent_death_signal() != SIGKILL) _exit(12);
      pid_t me = getpid();
      if (write(to_test[1], &me, sizeof me) != sizeof me) _exit(13);
      if (write(to_middle[1], "x", 1) != 1) _exit(14);
      for (;;) pause();  // only the signal ends this
    }
    close(to_test[1]);
    close(to_middle[1]);
    char c = 0;
    if (read(to_middle[0], &c, 1) != 1) _exit(15);  // armed (or dead): now the parent goes
    _exit(0);
  }
  // Only the children keep write ends: a grandchild that died unarmed reads as EOF, not a hang.
  for (int fd : {to_test[1], to_middle[0], to_middle[1]}) close(fd);
  pid_t grandchild = 0;
  const bool armed = read(to_test[0], &grandchild, sizeof grandchild) == sizeof grandchild;
  int status = 0;
  CHECK(wait_for(middle, &status, 5000));
  CHECK(armed);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  if (!wait_for(grandchild, &status, 5000)) {
    kill(grandchild, SIGKILL);
    CHECK(!"the grandchild outlived its parent");
  }
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  close(to_test[0]);
  CHECK(prctl(PR_SET_CHILD_SUBREAPER, 0UL, 0UL, 0UL, 0UL) == 0);
}

TEST(a_parent_that_is_already_gone_is_reported) {
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    // A pid other than getppid() stands for the parent we were started by, already replaced.
    pid_t wrong = getppid() == 1 ? 2 : 1;
    _exit(die_with_parent(SIGKILL, wrong) ? 20 : 0);
  }
  int status = 0;
  CHECK(wait_for(child, &status, 5000));
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(a_bad_signal_is_refused) {
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    try {
      die_with_parent(1000, getppid());
    } catch (const std::system_error&) {
      _exit(parent_death_signal() == 0 ? 0 : 31);
    }
    _exit(30);
  }
  int status = 0;
  CHECK(wait_for(child, &status, 5000));
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char** argv) { return sunray::testing::run_all(argc, argv); }
