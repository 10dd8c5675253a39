// Passing file descriptors between processes over a unix socket (SCM_RIGHTS).
// A node manager hands a worker the ring and eventfd of another worker this
// way: an eventfd cannot be reopened by path (/proc/<pid>/fd gives a new
// eventfd-less inode only for files), so it has to be sent. No Node dependency.
//
// The socket is SOCK_SEQPACKET: one send is one message, so a batch of fds
// can never be split or merged with the next one.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <utility>
#include <vector>

namespace sunray::ipc {

struct FdPassingError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The most fds one message carries (the kernel's own limit is 253).
inline constexpr size_t kMaxFdsPerMessage = 16;

// A connected pair of SOCK_SEQPACKET unix sockets, both close-on-exec.
std::pair<int, int> make_socket_pair();

// Sends fds (duplicated into the receiver on delivery) as one message.
// Throws FdPassingError on failure (a closed peer: EPIPE).
void send_fds(int sock, const std::vector<int>& fds);

// Receives one message's fds without blocking, marked close-on-exec. Returns
// false when no message is queued. Throws FdPassingError when the peer closed,
// or when the message carried more fds than kMaxFdsPerMessage (those are closed).
bool recv_fds(int sock, std::vector<int>* fds);

}  // namespace sunray::ipc
