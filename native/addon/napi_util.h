// What every binding file shares: reading arguments, and the one translation
// of C++ exceptions into JS errors. Only native/addon/ includes Node headers;
// the cores below it throw their own exception types, and every binding
// reaches JS through rethrow_as_js (directly or through translated()).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace sunray::addon {

// A view of a Uint8Array (or Buffer) argument's bytes; no copy.
struct Bytes {
  const uint8_t* data;
  size_t len;
};

// info[i] as a Uint8Array; TypeError "<what>: expected a Uint8Array or Buffer" otherwise.
inline Bytes bytes_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Napi::Value v = info[i];
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_uint8_array) {
      auto u8 = v.As<Napi::Uint8Array>();
      return {u8.Data(), u8.ByteLength()};
    }
  }
  throw Napi::TypeError::New(info.Env(), std::string(what) + ": expected a Uint8Array or Buffer");
}

// Option `key` of o as an unsigned 32-bit integer, dflt when undefined.
// TypeError when not a number, RangeError when not an integer in range.
uint32_t u32_option(Napi::Env env, Napi::Object o, const char* key, uint32_t dflt);

// An Error (or a RangeError) whose .code is `code`.
Napi::Error coded_error(Napi::Env env, const char* code, const std::string& message, bool range = false);

// How a call's failures surface when their exception has no JS shape of its own.
struct ErrorStyle {
  bool range = false;          // as RangeError: the call's failures are bad arguments
  const char* code = nullptr;  // and with this .code (the store's "SYSTEM")
};

// The one translation of C++ exceptions into JS errors. Call it inside a
// catch (...) block; it rethrows what is being handled as:
//   Napi::Error              itself
//   store::StoreError        Error with .code = its code's name (OBJECT_STORE_FULL, ...)
//   sched::ResourceError     RangeError (a bad amount or resource name)
//   other std::exception     Error, or RangeError with style.range; .code = style.code if set
//   anything else            Error "unknown C++ exception"
[[noreturn]] void rethrow_as_js(Napi::Env env, ErrorStyle style = {});

// Runs body(); whatever it throws reaches JS through rethrow_as_js.
template <typename Body>
decltype(auto) translated(Napi::Env env, Body&& body, ErrorStyle style = {}) {
  try {
    return body();
  } catch (...) {
    rethrow_as_js(env, style);
  }
}

}  // namespace sunray::addon
