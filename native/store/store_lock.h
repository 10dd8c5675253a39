// The arena mutex, shared by the store's .cc files (not part of the API).
#pragma once

#include <pthread.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "store/store.h"

namespace sunray::store {

// The arena mutex. A holder that died leaves it EOWNERDEAD: the next locker
// repairs the store before anything else reads it.
class Store::Lock {
 public:
  explicit Lock(Store& s) : s_(s) {
    int rc = pthread_mutex_lock(&s_.hdr()->mutex);
    if (rc == EOWNERDEAD) {
      s_.repair_locked();
      pthread_mutex_consistent(&s_.hdr()->mutex);
    } else if (rc != 0) {
      throw StoreError(StoreErrorCode::kSystem, std::string("cannot lock the object store: ") + std::strerror(rc) +
                                                    " (the store was left unrecoverable; restart the node)");
    }
  }
  ~Lock() { pthread_mutex_unlock(&s_.hdr()->mutex); }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  Store& s_;
};

}  // namespace sunray::store
