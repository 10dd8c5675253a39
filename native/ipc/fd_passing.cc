// Sending and receiving fds over SOCK_SEQPACKET unix sockets: see fd_passing.h.
#include "ipc/fd_passing.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace sunray::ipc {
namespace {

[[noreturn]] void fail(const char* what) { throw FdPassingError(std::string(what) + ": " + std::strerror(errno)); }

// A message must carry at least one byte of data for SOCK_SEQPACKET to deliver it.
constexpr char kMarker = 'F';

// One message's buffers: the data byte and room for the most fds a message carries. It
// points into itself, so it is built in place and never copied.
struct FdMessage {
  char data = kMarker;
  iovec iov{&data, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)] = {};
  msghdr msg{};

  explicit FdMessage(size_t control_len) {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = control_len;
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;
};

}  // namespace

std::pair<int, int> make_socket_pair() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair");
  return {sv[0], sv[1]};
}

void send_fds(int sock, const std::vector<int>& fds) {
  if (fds.empty() || fds.size() > kMaxFdsPerMessage)
    throw FdPassingError("send_fds: 1 to " + std::to_string(kMaxFdsPerMessage) + " fds per message");
  FdMessage m(CMSG_SPACE(sizeof(int) * fds.size()));
  msghdr& msg = m.msg;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n != 1) fail("sendmsg(SCM_RIGHTS)");
}

bool recv_fds(int sock, std::vector<int>* fds) {
  fds->clear();
  FdMessage m(CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage));
  msghdr& msg = m.msg;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
  if (n < 0) fail("recvmsg(SCM_RIGHTS)");
  if (n == 0) throw FdPassingError("recv_fds: the peer closed the socket");
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds->push_back(fd);
    }
  }
  if ((msg.msg_flags & MSG_CTRUNC) != 0) {
    for (int fd : *fds) close(fd);
    fds->clear();
    throw FdPassingError("recv_fds: more fds than one message may carry; they were closed");
  }
  return true;
}

}  // namespace sunray::ipc
