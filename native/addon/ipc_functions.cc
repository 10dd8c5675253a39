// The addon's functions for the channels between processes: segments for
// rings, eventfds for doorbells, passing fds over unix sockets (ipc/), and a
// socket option Node's net module does not expose.
//
//   createSegment(bytes) -> { fd, size }   memfd (page-rounded size); the caller owns fd (fs.closeSync)
//   createEventFd() -> fd                  EFD_NONBLOCK|EFD_CLOEXEC; the caller owns it
//   setRecvLowWater(fd, bytes)             SO_RCVLOWAT: the socket reads as readable only once
//                                          `bytes` are queued (or it closes), so a reader that
//                                          knows a large piece is coming is woken once per that
//                                          many bytes instead of once per segment train.
//   createSocketPair()                     a SOCK_SEQPACKET unix socket pair [a, b] (close-on-exec)
//   sendFds(sock, fds)                     passes fds to the peer as one message (SCM_RIGHTS)
//   recvFds(sock)                          the fds of one queued message, or null (never blocks)
#include <napi.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "addon/bindings.h"
#include "addon/napi_util.h"
#include "common/shm_segment.h"
#include "ipc/doorbell.h"
#include "ipc/fd_passing.h"

namespace sunray::addon {
namespace {

Napi::Value CreateSegment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "createSegment(bytes): bytes must be a number");
  double want = info[0].As<Napi::Number>().DoubleValue();
  if (!(want > 0) || want > double(1ull << 40)) throw Napi::RangeError::New(env, "createSegment: bad size");
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t bytes = (static_cast<size_t>(want) + page - 1) / page * page;
  int fd = translated(env, [&] { return ShmSegment::create_fd("sunray-sched", bytes); });
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", Napi::Number::New(env, fd));
  o.Set("size", Napi::Number::New(env, static_cast<double>(bytes)));
  return o;
}

Napi::Value CreateEventFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), translated(info.Env(), [] { return ipc::Doorbell::create_eventfd(); }));
}

Napi::Value SetRecvLowWater(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "setRecvLowWater(fd, bytes): two numbers are expected");
  const int fd = info[0].As<Napi::Number>().Int32Value();
  const int bytes = info[1].As<Napi::Number>().Int32Value();
  if (fd < 0 || bytes < 1) throw Napi::RangeError::New(env, "setRecvLowWater: fd >= 0 and bytes >= 1 are expected");
  if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) != 0)
    throw Napi::Error::New(env, std::string("setsockopt(SO_RCVLOWAT): ") + std::strerror(errno));
  return env.Undefined();
}

Napi::Value CreateSocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto [a, b] = translated(env, [] { return ipc::make_socket_pair(); });
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, a));
  out.Set(1u, Napi::Number::New(env, b));
  return out;
}

Napi::Value SendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsArray())
    throw Napi::TypeError::New(env, "sendFds(sock, fds): a socket fd and an array of fds are expected");
  Napi::Array arr = info[1].As<Napi::Array>();
  std::vector<int> fds;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsNumber()) throw Napi::TypeError::New(env, "sendFds: every fd must be a number");
    fds.push_back(v.As<Napi::Number>().Int32Value());
  }
  const int sock = info[0].As<Napi::Number>().Int32Value();
  translated(env, [&] { ipc::send_fds(sock, fds); });
  return env.Undefined();
}

Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "recvFds(sock): a socket fd is expected");
  const int sock = info[0].As<Napi::Number>().Int32Value();
  std::vector<int> fds;
  if (!translated(env, [&] { return ipc::recv_fds(sock, &fds); })) return env.Null();
  Napi::Array out = Napi::Array::New(env, fds.size());
  for (uint32_t i = 0; i < fds.size(); i++) out.Set(i, Napi::Number::New(env, fds[i]));
  return out;
}

}  // namespace

void InitIpcFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("createSegment", Napi::Function::New<CreateSegment>(env, "createSegment"));
  exports.Set("createEventFd", Napi::Function::New<CreateEventFd>(env, "createEventFd"));
  exports.Set("setRecvLowWater", Napi::Function::New<SetRecvLowWater>(env, "setRecvLowWater"));
  exports.Set("createSocketPair", Napi::Function::New<CreateSocketPair>(env, "createSocketPair"));
  exports.Set("sendFds", Napi::Function::New<SendFds>(env, "sendFds"));
  exports.Set("recvFds", Napi::Function::New<RecvFds>(env, "recvFds"));
}

}  // namespace sunray::addon
