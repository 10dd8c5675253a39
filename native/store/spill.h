// Spill files: a sealed primary object's data+metadata bytes, written when the
// arena is full and read back by the first get. One file per spilled object,
// named by its id and spill sequence number, in the arena's spill directory.
#pragma once

#include <cstdint>
#include <string>

namespace sunray::store {

std::string spill_path(const std::string& dir, const std::string& id_hex, uint64_t seq);
// Writes len bytes; returns "" or what went wrong.
std::string spill_write(const std::string& dir, const std::string& path, const uint8_t* data, uint64_t len);
// Reads exactly len bytes; returns "" or what went wrong.
std::string spill_read(const std::string& path, uint8_t* data, uint64_t len);
void spill_remove(const std::string& path);

}  // namespace sunray::store
