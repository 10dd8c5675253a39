// Facts about processes that every core needs once: a process's identity (pid
// plus start time, so a reused pid is not mistaken for the process that had
// it before), whether it still runs, and dying with the parent. A worker must
// not outlive the process that started it, even while it runs a long
// synchronous task (a timer in JS never fires then): the kernel's parent-death
// signal does that without any help from the worker's event loop. No Node
// dependency.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace sunray::proc {

// Start time of a running process: field 22 of /proc/<pid>/stat (clock ticks
// since boot), never 0. 0 when the process does not exist or is a zombie
// (killed, not yet waited for: it has already dropped its mappings).
uint64_t process_start_time(pid_t pid);

// Whether the process that had (pid, start_time) still runs: false once it
// died, is a zombie, or the pid belongs to another process now.
bool process_alive(pid_t pid, uint64_t start_time);

// This process: its pid and start time as process_start_time gives it.
struct Identity {
  pid_t pid;
  uint64_t start_time;
};

// This process's identity, read once and read again after fork(). Safe from
// any thread.
Identity self_identity();

// Asks the kernel to send `sig` to this process when its parent dies
// (PR_SET_PDEATHSIG), then checks that the parent is still `expected_parent`.
// Returns false when it is not: the parent died before the request, so the
// signal will never come and the caller must end itself. Throws
// std::system_error when prctl refuses (a bad signal number).
//
// The kernel sends the signal when the parent *thread* that forked us ends, so
// the parent must spawn from a thread that lives as long as it does (Node's
// main thread does).
bool die_with_parent(int sig, pid_t expected_parent);

// The signal this process gets when its parent dies (0: none set).
int parent_death_signal();

}  // namespace sunray::proc
