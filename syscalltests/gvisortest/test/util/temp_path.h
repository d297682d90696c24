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

// restartsys's stand-in for gVisor's test/util/temp_path.h.

#ifndef RESTARTSYS_GVISORTEST_TEST_UTIL_TEMP_PATH_H_
#define RESTARTSYS_GVISORTEST_TEST_UTIL_TEMP_PATH_H_

#include <sys/stat.h>

#include <string>

#include "test/util/posix_error.h"

namespace gvisor {
namespace testing {

// GetAbsoluteTestTmpdir returns TEST_TMPDIR, or /tmp.
std::string GetAbsoluteTestTmpdir();

// NewTempRelPath returns a fresh name, unique within the process.
std::string NewTempRelPath();

// NewTempAbsPathInDir returns a fresh path in dir; nothing is created.
std::string NewTempAbsPathInDir(const std::string& dir);

// NewTempAbsPath returns a fresh path in the test's temporary directory.
std::string NewTempAbsPath();

// TempPath owns a path and removes it, recursively, when destroyed.
class TempPath {
 public:
  static constexpr mode_t kDefaultFileMode = 0644;
  static constexpr mode_t kDefaultDirMode = 0755;

  TempPath() = default;
  explicit TempPath(std::string path) : path_(std::move(path)) {}
  TempPath(TempPath&& other) : path_(other.release()) {}
  TempPath& operator=(TempPath&& other);
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  ~TempPath();

  // path returns the path owned.
  const std::string& path() const { return path_; }

  // release gives up ownership and returns the path.
  std::string release();

  // CreateFileWith creates a file in parent with content and mode.
  static PosixErrorOr<TempPath> CreateFileWith(const std::string& parent,
                                               const std::string& content,
                                               mode_t mode);
  // CreateFileMode creates an empty file with mode.
  static PosixErrorOr<TempPath> CreateFileMode(mode_t mode);
  // CreateFileIn creates an empty file in parent.
  static PosixErrorOr<TempPath> CreateFileIn(const std::string& parent);
  // CreateFile creates an empty file.
  static PosixErrorOr<TempPath> CreateFile();
  // CreateDirWith creates a directory in parent with mode.
  static PosixErrorOr<TempPath> CreateDirWith(const std::string& parent,
                                              mode_t mode);
  // CreateDirIn creates a directory in parent.
  static PosixErrorOr<TempPath> CreateDirIn(const std::string& parent);
  // CreateDir creates a directory.
  static PosixErrorOr<TempPath> CreateDir();

 private:
  std::string path_;
};

}  // namespace testing
}  // namespace gvisor

#endif  // RESTARTSYS_GVISORTEST_TEST_UTIL_TEMP_PATH_H_
