// The addon's bulk copy (common/bulk_copy.h), for the serializer's large sections:
//
//   copyBytes(target, targetOffset, source)  copies source into target at targetOffset,
//                                            mapping a large untouched source in one go
#include <napi.h>

#include "addon/bindings.h"
#include "common/bulk_copy.h"

namespace sunray::addon {
namespace {

Napi::Value CopyBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsTypedArray())
    throw Napi::TypeError::New(env, "copyBytes(target, targetOffset, source): typed arrays and a number are expected");
  auto target = info[0].As<Napi::TypedArray>();
  auto source = info[2].As<Napi::TypedArray>();
  double at = info[1].As<Napi::Number>().DoubleValue();
  size_t len = source.ByteLength();
  if (!(at >= 0) || at > static_cast<double>(target.ByteLength()) ||
      len > target.ByteLength() - static_cast<size_t>(at))
    throw Napi::RangeError::New(env, "copyBytes: the source does not fit the target at that offset");
  auto* dst = static_cast<uint8_t*>(target.ArrayBuffer().Data()) + target.ByteOffset() + static_cast<size_t>(at);
  auto* src = static_cast<const uint8_t*>(source.ArrayBuffer().Data()) + source.ByteOffset();
  bulk_copy(dst, src, len);
  return env.Undefined();
}

}  // namespace

void InitCopyFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("copyBytes", Napi::Function::New(env, CopyBytes, "copyBytes"));
}

}  // namespace sunray::addon
