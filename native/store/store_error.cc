// The store error codes' names, as JS sees them in err.code: see store_error.h.
#include "store/store_error.h"

namespace sunray::store {

const char* store_error_code_name(StoreErrorCode code) {
  switch (code) {
    case StoreErrorCode::kObjectExists:
      return "OBJECT_EXISTS";
    case StoreErrorCode::kObjectNotFound:
      return "OBJECT_NOT_FOUND";
    case StoreErrorCode::kObjectAlreadySealed:
      return "OBJECT_ALREADY_SEALED";
    case StoreErrorCode::kObjectNotSealed:
      return "OBJECT_NOT_SEALED";
    case StoreErrorCode::kNotCreator:
      return "NOT_CREATOR";
    case StoreErrorCode::kNotPinned:
      return "NOT_PINNED";
    case StoreErrorCode::kInvalidObjectId:
      return "INVALID_OBJECT_ID";
    case StoreErrorCode::kInvalidSize:
      return "INVALID_SIZE";
    case StoreErrorCode::kObjectStoreFull:
      return "OBJECT_STORE_FULL";
    case StoreErrorCode::kTooManyObjects:
      return "TOO_MANY_OBJECTS";
    case StoreErrorCode::kTooManyClients:
      return "TOO_MANY_CLIENTS";
    case StoreErrorCode::kTooManyPins:
      return "TOO_MANY_PINS";
    case StoreErrorCode::kInvalidClient:
      return "INVALID_CLIENT";
    case StoreErrorCode::kArenaMismatch:
      return "ARENA_MISMATCH";
    case StoreErrorCode::kInvalidOption:
      return "INVALID_OPTION";
    case StoreErrorCode::kSpillFailed:
      return "SPILL_FAILED";
    case StoreErrorCode::kSystem:
      return "SYSTEM";
  }
  return "UNKNOWN";
}

}  // namespace sunray::store
