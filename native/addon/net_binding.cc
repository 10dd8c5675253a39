// Socket options Node's net module does not expose, on the fds of its sockets.
//
//   setRecvLowWater(fd, bytes)   SO_RCVLOWAT: the socket reads as readable only once
//                                `bytes` are queued (or it closes), so a reader that
//                                knows a large piece is coming is woken once per that
//                                many bytes instead of once per segment train.
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "addon/bindings.h"

namespace sunray::addon {
namespace {

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

}  // namespace

void InitNet(Napi::Env env, Napi::Object exports) {
  exports.Set("setRecvLowWater", Napi::Function::New<SetRecvLowWater>(env, "setRecvLowWater"));
}

}  // namespace sunray::addon
