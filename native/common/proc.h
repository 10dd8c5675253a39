// Process lifetime: a worker must not outlive the process that started it, even
// while it runs a long synchronous task (a timer in JS never fires then). The
// kernel's parent-death signal does that without any help from the worker's
// event loop. No Node dependency.
#pragma once

#include <sys/types.h>

namespace sunray::proc {

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
