// Object ids: 28 opaque bytes (Ray's size). Task-return ids share long
// prefixes, so the hash mixes every byte rather than trusting any one word.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace sunray::store {

constexpr size_t kObjectIdSize = 28;

struct ObjectId {
  std::array<uint8_t, kObjectIdSize> bytes{};

  static ObjectId from(const void* data) {
    ObjectId id;
    std::memcpy(id.bytes.data(), data, kObjectIdSize);
    return id;
  }
  bool operator==(const ObjectId& o) const { return bytes == o.bytes; }
  bool equals(const uint8_t* raw) const { return std::memcmp(bytes.data(), raw, kObjectIdSize) == 0; }

  uint64_t hash() const {
    uint64_t w[4] = {0, 0, 0, 0};
    std::memcpy(w, bytes.data(), kObjectIdSize);
    uint64_t h = 0x9E3779B97F4A7C15ull;
    for (uint64_t x : w) {
      h ^= x + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
      h *= 0xBF58476D1CE4E5B9ull;
      h ^= h >> 31;
    }
    return h;
  }

  std::string hex() const {
    static const char* digits = "0123456789abcdef";
    std::string s(kObjectIdSize * 2, '0');
    for (size_t i = 0; i < kObjectIdSize; ++i) {
      s[2 * i] = digits[bytes[i] >> 4];
      s[2 * i + 1] = digits[bytes[i] & 15];
    }
    return s;
  }
};

}  // namespace sunray::store
