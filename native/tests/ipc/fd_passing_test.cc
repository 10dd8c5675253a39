// fd passing: a memfd and an eventfd sent to a forked child arrive as working
// descriptors of the same objects; an empty socket reports "nothing" instead
// of blocking; a closed peer is an error, not a hang.
#include "ipc/fd_passing.h"

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "tests/check.h"

using namespace sunray::ipc;

TEST(sends_memfd_and_eventfd_to_another_process) {
  auto [a, b] = make_socket_pair();
  int mem = memfd_create("fd_passing_test", MFD_CLOEXEC);
  CHECK(mem >= 0);
  CHECK(ftruncate(mem, 4096) == 0);
  int ev = eventfd(0, EFD_CLOEXEC);
  CHECK(ev >= 0);
  pid_t child = fork();
  if (child == 0) {
    close(a);
    std::vector<int> got;
    while (!recv_fds(b, &got)) usleep(1000);
    if (got.size() != 2) _exit(10);
    auto* p = static_cast<char*>(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, got[0], 0));
    if (p == MAP_FAILED) _exit(11);
    std::strcpy(p, "from the child");
    uint64_t one = 1;
    if (write(got[1], &one, sizeof one) != sizeof one) _exit(12);
    _exit(0);
  }
  close(b);
  send_fds(a, {mem, ev});
  uint64_t v = 0;
  CHECK(read(ev, &v, sizeof v) == sizeof v);  // blocks until the child rings the eventfd it was sent
  CHECK(v == 1);
  auto* p = static_cast<char*>(mmap(nullptr, 4096, PROT_READ, MAP_SHARED, mem, 0));
  CHECK(p != MAP_FAILED);
  CHECK(std::strcmp(p, "from the child") == 0);
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  munmap(p, 4096);
  close(mem);
  close(ev);
  close(a);
}

TEST(messages_keep_their_boundaries_and_order) {
  auto [a, b] = make_socket_pair();
  int e1 = eventfd(0, EFD_CLOEXEC), e2 = eventfd(0, EFD_CLOEXEC), e3 = eventfd(0, EFD_CLOEXEC);
  send_fds(a, {e1});
  send_fds(a, {e2, e3});
  std::vector<int> got;
  CHECK(recv_fds(b, &got));
  CHECK(got.size() == 1);
  uint64_t one = 1, v = 0;
  CHECK(write(got[0], &one, sizeof one) == sizeof one);
  CHECK(read(e1, &v, sizeof v) == sizeof v);  // the first message carried e1
  close(got[0]);
  CHECK(recv_fds(b, &got));
  CHECK(got.size() == 2);
  for (int fd : got) close(fd);
  CHECK(!recv_fds(b, &got));  // empty: returns at once
  close(e1);
  close(e2);
  close(e3);
  close(a);
  close(b);
}

TEST(a_closed_peer_is_an_error) {
  auto [a, b] = make_socket_pair();
  close(a);
  std::vector<int> got;
  bool threw = false;
  try {
    recv_fds(b, &got);
  } catch (const FdPassingError&) {
    threw = true;
  }
  CHECK(threw);
  int ev = eventfd(0, EFD_CLOEXEC);
  threw = false;
  try {
    send_fds(b, {ev});
  } catch (const FdPassingError&) {
    threw = true;
  }
  CHECK(threw);
  bool rejected = false;
  try {
    send_fds(b, {});
  } catch (const FdPassingError&) {
    rejected = true;
  }
  CHECK(rejected);
  close(ev);
  close(b);
}

int main(int argc, char** argv) { return sunray::testing::run_all(argc, argv); }
