#include "common/proc.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace sunray::proc {

bool die_with_parent(int sig, pid_t expected_parent) {
  if (prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(sig), 0UL, 0UL, 0UL) != 0)
    throw std::system_error(errno, std::generic_category(), "prctl(PR_SET_PDEATHSIG)");
  // Read after the request: a parent that dies from here on signals us; one that
  // died before has left us to another parent already.
  return getppid() == expected_parent;
}

int parent_death_signal() {
  int sig = 0;
  if (prctl(PR_GET_PDEATHSIG, &sig, 0UL, 0UL, 0UL) != 0)
    throw std::system_error(errno, std::generic_category(), "prctl(PR_GET_PDEATHSIG)");
  return sig;
}

}  // namespace sunray::proc
