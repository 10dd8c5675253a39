// The addon's functions for process lifetime (common/proc.h):
//
//   dieWithParent(signal, parentPid)  the kernel sends `signal` to this process when its
//                                     parent dies; false if the parent is not parentPid
//                                     any more (it died first: the caller exits itself)
//   parentDeathSignal()               the signal set that way (0: none)
#include <napi.h>

#include "addon/bindings.h"
#include "addon/napi_util.h"
#include "common/proc.h"

namespace sunray::addon {
namespace {

Napi::Value DieWithParent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "dieWithParent(signal, parentPid): two numbers are expected");
  const int sig = info[0].As<Napi::Number>().Int32Value();
  const int parent = info[1].As<Napi::Number>().Int32Value();
  if (sig < 1 || parent < 1)
    throw Napi::RangeError::New(env, "dieWithParent: a signal number >= 1 and a pid >= 1 are expected");
  return Napi::Boolean::New(env,
                            translated(env, [&] { return proc::die_with_parent(sig, static_cast<pid_t>(parent)); }));
}

Napi::Value ParentDeathSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Number::New(env, translated(env, [] { return proc::parent_death_signal(); }));
}

}  // namespace

void InitProcFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("dieWithParent", Napi::Function::New(env, DieWithParent, "dieWithParent"));
  exports.Set("parentDeathSignal", Napi::Function::New(env, ParentDeathSignal, "parentDeathSignal"));
}

}  // namespace sunray::addon
