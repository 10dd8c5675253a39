// The Node-API module entry point: thin glue over the Node-free cores.
#include <napi.h>

#include "addon/bindings.h"

namespace {

constexpr const char* kAddonVersion = "0.1.0";

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("addonVersion", Napi::String::New(env, kAddonVersion));
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  sunray::addon::InitStore(env, exports);
  sunray::addon::InitSched(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(sunray, Init)
