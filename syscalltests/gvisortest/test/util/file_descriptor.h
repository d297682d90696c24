// Copyright 2026 The restartsys Authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

// restartsys's stand-in for gVisor's test/util/file_descriptor.h.

#ifndef RESTARTSYS_GVISORTEST_TEST_UTIL_FILE_DESCRIPTOR_H_
#define RESTARTSYS_GVISORTEST_TEST_UTIL_FILE_DESCRIPTOR_H_

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "test/util/logging.h"
#include "test/util/posix_error.h"

namespace gvisor {
namespace testing {

// FileDescriptor owns a file descriptor and closes it when destroyed.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) {
    reset(other.release());
    return *this;
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { reset(); }

  // get returns the descriptor, -1 if none.
  int get() const { return fd_; }

  // release gives up ownership and returns the descriptor.
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

  // reset closes the descriptor held and takes fd.
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      int saved = errno;
      TEST_PCHECK(close(fd_) == 0 || errno == EINTR);
      errno = saved;
    }
    fd_ = fd;
  }

  // Dup returns a duplicate.
  PosixErrorOr<FileDescriptor> Dup() const {
    int fd = dup(fd_);
    if (fd < 0) return PosixError(errno, "dup");
    return FileDescriptor(fd);
  }

 private:
  int fd_ = -1;
};

// Open opens path.
inline PosixErrorOr<FileDescriptor> Open(const std::string& path, int flags,
                                         mode_t mode = 0) {
  int fd = open(path.c_str(), flags, mode);
  if (fd < 0) return PosixError(errno, "open " + path);
  return FileDescriptor(fd);
}

// OpenAt opens path relative to dirfd.
inline PosixErrorOr<FileDescriptor> OpenAt(int dirfd, const std::string& path,
                                           int flags, mode_t mode = 0) {
  int fd = openat(dirfd, path.c_str(), flags, mode);
  if (fd < 0) return PosixError(errno, "openat " + path);
  return FileDescriptor(fd);
}

// Socket creates a socket.
inline PosixErrorOr<FileDescriptor> Socket(int domain, int type,
                                           int protocol) {
  int fd = socket(domain, type, protocol);
  if (fd < 0) return PosixError(errno, "socket");
  return FileDescriptor(fd);
}

}  // namespace testing
}  // namespace gvisor

#endif  // RESTARTSYS_GVISORTEST_TEST_UTIL_FILE_DESCRIPTOR_H_
