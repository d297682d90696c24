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

// restartsys's stand-in for the part of gVisor's test/util/fs_util.h that
// the tests of patches/upstream use: GetContents.

#ifndef RESTARTSYS_GVISORTEST_TEST_UTIL_FS_UTIL_H_
#define RESTARTSYS_GVISORTEST_TEST_UTIL_FS_UTIL_H_

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "test/util/file_descriptor.h"
#include "test/util/posix_error.h"

namespace gvisor {
namespace testing {

// GetContents returns the whole contents of the file at path, read until
// end of file, retrying EINTR.
inline PosixErrorOr<std::string> GetContents(const std::string& path) {
  auto fd = Open(path, O_RDONLY);
  if (!fd.ok()) {
    return fd.error();
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd.ValueOrDie().get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return PosixError(errno, "read " + path);
    }
    if (n == 0) {
      return out;
    }
    out.append(buf, n);
  }
}

}  // namespace testing
}  // namespace gvisor

#endif  // RESTARTSYS_GVISORTEST_TEST_UTIL_FS_UTIL_H_
