// Spill files: a sealed primary object's data+metadata bytes, written when the
// arena is full and read back by the first get. One file per spilled object in
// the arena's spill directory, which the creating process made for itself
// (mode 0700, lib/store/spill-dir.ts); this code never creates directories.
// A name is the arena's random salt, the object id and its spill sequence
// number, so nobody outside the node can guess one, and a file is created with
// O_EXCL | O_NOFOLLOW: a name that exists already (planted, or a symbolic link)
// fails the spill instead of being written through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sunray::store {

std::string spill_path(const std::string& dir, const uint8_t* salt, size_t salt_len, const std::string& id_hex,
                       uint64_t seq);
// Writes len bytes to a new file; returns "" or what went wrong.
std::string spill_write(const std::string& path, const uint8_t* data, uint64_t len);
// Reads exactly len bytes; returns "" or what went wrong.
std::string spill_read(const std::string& path, uint8_t* data, uint64_t len);
void spill_remove(const std::string& path);

}  // namespace sunray::store
