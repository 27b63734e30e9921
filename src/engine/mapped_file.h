// MappedFile: a read-only, private memory mapping of a whole regular file (RAII).
//
// Open maps the file and closes the descriptor; the bytes stay valid until the
// MappedFile is destroyed. An empty file maps to an empty span. If another process
// truncates the file while it is mapped, reading past the new end raises SIGBUS: model
// files are expected to be replaced by rename, never rewritten in place.
//
// Errors: kNotFound when the path does not exist, kPermissionDenied when it cannot be
// read, kInvalidArgument when it is not a regular file, kResourceExhausted when mmap
// fails for lack of memory/address space.
//
// Thread safety: immutable after Open; share freely across threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/status.h"

namespace gantry::engine {

class MappedFile final {
 public:
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  std::span<const uint8_t> bytes() const { return {static_cast<const uint8_t*>(addr_), size_}; }

 private:
  MappedFile(std::string path, void* addr, size_t size)
      : path_(std::move(path)), addr_(addr), size_(size) {}

  std::string path_;
  void* addr_ = nullptr;  // nullptr for an empty file
  size_t size_ = 0;
};

}  // namespace gantry::engine
