// The one exception type the store core throws: a code the bindings map to a
// named JS error class, and a message that says what was wrong and what to do.
#pragma once

#include <stdexcept>
#include <string>

namespace sunray::store {

enum class StoreErrorCode {
  kObjectExists,
  kObjectNotFound,
  kObjectAlreadySealed,
  kObjectNotSealed,
  kNotCreator,
  kNotPinned,
  kInvalidObjectId,
  kInvalidSize,
  kObjectStoreFull,
  kTooManyObjects,
  kTooManyClients,
  kTooManyPins,
  kInvalidClient,
  kArenaMismatch,
  kInvalidOption,
  kSpillFailed,
  kSystem,
};

// Stable names, used as the JS `.code` of the error.
const char* store_error_code_name(StoreErrorCode code);

class StoreError : public std::runtime_error {
 public:
  StoreError(StoreErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  StoreErrorCode code() const { return code_; }
  const char* code_name() const { return store_error_code_name(code_); }

 private:
  StoreErrorCode code_;
};

}  // namespace sunray::store
