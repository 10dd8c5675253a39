// Naming, writing, reading and removing spill files (created O_EXCL,
// opened O_NOFOLLOW): see spill.h.
#include "store/spill.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sunray::store {

namespace {
std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }
}  // namespace

std::string spill_path(const std::string& dir, const uint8_t* salt, size_t salt_len, const std::string& id_hex,
                       uint64_t seq) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name;
  name.reserve(dir.size() + 2 * salt_len + id_hex.size() + 32);
  name += dir;
  name += '/';
  for (size_t i = 0; i < salt_len; ++i) {
    name += kHex[salt[i] >> 4];
    name += kHex[salt[i] & 15];
  }
  name += '-';
  name += id_hex;
  name += '.';
  name += std::to_string(seq);
  name += ".spill";
  return name;
}

std::string spill_write(const std::string& path, const uint8_t* data, uint64_t len) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno_text("cannot create spill file " + path);
  uint64_t done = 0;
  while (done < len) {
    ssize_t n = write(fd, data + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = errno_text("cannot write spill file " + path);
      close(fd);
      unlink(path.c_str());
      return why;
    }
    done += static_cast<uint64_t>(n);
  }
  close(fd);
  return "";
}

std::string spill_read(const std::string& path, uint8_t* data, uint64_t len) {
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno_text("cannot open spill file " + path);
  uint64_t done = 0;
  while (done < len) {
    ssize_t n = read(fd, data + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why =
          n == 0 ? "spill file " + path + " is shorter than the object" : errno_text("cannot read spill file " + path);
      close(fd);
      return why;
    }
    done += static_cast<uint64_t>(n);
  }
  close(fd);
  return "";
}

void spill_remove(const std::string& path) { unlink(path.c_str()); }

}  // namespace sunray::store
