// The Node-API module entry point: registers every binding file's exports
// (bindings.h) and adjustExternalMemory. Thin glue over the Node-free cores.
#include <napi.h>

#include "addon/bindings.h"

namespace {

constexpr const char* kAddonVersion = "0.1.0";

// adjustExternalMemory(deltaBytes) -> total: tells V8 how much memory small JS
// handles keep alive outside its heap (an ObjectRef stands for a whole store
// object), so its collector runs when that grows, as it does for Buffers.
Napi::Value AdjustExternalMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "adjustExternalMemory(deltaBytes): a number is expected");
  int64_t total = 0;
  napi_status st = napi_adjust_external_memory(env, info[0].As<Napi::Number>().Int64Value(), &total);
  if (st != napi_ok) throw Napi::Error::New(env, "napi_adjust_external_memory failed");
  return Napi::Number::New(env, static_cast<double>(total));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("addonVersion", Napi::String::New(env, kAddonVersion));
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  exports.Set("adjustExternalMemory", Napi::Function::New(env, AdjustExternalMemory, "adjustExternalMemory"));
  sunray::addon::InitStoreHandle(env, exports);
  sunray::addon::InitRing(env, exports);
  sunray::addon::InitDoorbell(env, exports);
  sunray::addon::InitResourcePool(env, exports);
  sunray::addon::InitIpcFunctions(env, exports);
  sunray::addon::InitProcFunctions(env, exports);
  sunray::addon::InitCopyFunctions(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(sunray, Init)
