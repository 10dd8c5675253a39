// Argument helpers and the one C++-to-JS error translation: see napi_util.h.
#include "addon/napi_util.h"

#include <exception>

#include "sched/resources.h"
#include "store/store_error.h"

namespace sunray::addon {

uint32_t u32_option(Napi::Env env, Napi::Object o, const char* key, uint32_t dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("option ") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 4294967295.0 || d != static_cast<double>(static_cast<uint32_t>(d)))
    throw Napi::RangeError::New(env, std::string("option ") + key + " must be an integer >= 0");
  return static_cast<uint32_t>(d);
}

Napi::Error coded_error(Napi::Env env, const char* code, const std::string& message, bool range) {
  Napi::Error err = range ? Napi::RangeError::New(env, message) : Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

void rethrow_as_js(Napi::Env env, ErrorStyle style) {
  try {
    throw;
  } catch (const Napi::Error&) {
    throw;
  } catch (const store::StoreError& e) {
    throw coded_error(env, e.code_name(), e.what());
  } catch (const sched::ResourceError& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const std::exception& e) {
    if (style.code) throw coded_error(env, style.code, e.what(), style.range);
    if (style.range) throw Napi::RangeError::New(env, e.what());
    throw Napi::Error::New(env, e.what());
  } catch (...) {
    throw Napi::Error::New(env, "unknown C++ exception");
  }
}

}  // namespace sunray::addon
