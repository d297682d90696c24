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

#include "test/util/temp_path.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "test/util/test_util.h"

namespace gvisor {
namespace testing {

namespace {

std::atomic<uint64_t> temp_counter{0};

int RemoveOne(const char* path, const struct stat*, int, struct FTW*) {
  return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

void RemoveRecursively(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) < 0) return;
  if (S_ISDIR(st.st_mode)) {
    nftw(path.c_str(), RemoveOne, 16, FTW_DEPTH | FTW_PHYS);
  } else {
    unlink(path.c_str());
  }
}

}  // namespace

std::string GetAbsoluteTestTmpdir() {
  const char* env = getenv("TEST_TMPDIR");
  std::string dir = env != nullptr && *env != '\0' ? env : "/tmp";
  if (dir.front() != '/') {
    char cwd[4096];
    TEST_PCHECK(getcwd(cwd, sizeof(cwd)) != nullptr);
    dir = JoinPath(cwd, dir);
  }
  return dir;
}

std::string NewTempRelPath() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return "gvt-" + std::to_string(getpid()) + "-" + std::to_string(ts.tv_nsec) +
         "-" + std::to_string(temp_counter.fetch_add(1));
}

std::string NewTempAbsPathInDir(const std::string& dir) {
  return JoinPath(dir, NewTempRelPath());
}

std::string NewTempAbsPath() {
  return NewTempAbsPathInDir(GetAbsoluteTestTmpdir());
}

TempPath& TempPath::operator=(TempPath&& other) {
  if (!path_.empty()) RemoveRecursively(path_);
  path_ = other.release();
  return *this;
}

TempPath::~TempPath() {
  if (!path_.empty()) RemoveRecursively(path_);
}

std::string TempPath::release() {
  std::string p = std::move(path_);
  path_.clear();
  return p;
}

PosixErrorOr<TempPath> TempPath::CreateFileWith(const std::string& parent,
                                                const std::string& content,
                                                mode_t mode) {
  std::string path = NewTempAbsPathInDir(parent);
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return PosixError(errno, "create " + path);
  TempPath tp(path);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return PosixError(e, "write " + path);
    }
    done += n;
  }
  close(fd);
  return tp;
}

PosixErrorOr<TempPath> TempPath::CreateFileMode(mode_t mode) {
  return CreateFileWith(GetAbsoluteTestTmpdir(), "", mode);
}

PosixErrorOr<TempPath> TempPath::CreateFileIn(const std::string& parent) {
  return CreateFileWith(parent, "", kDefaultFileMode);
}

PosixErrorOr<TempPath> TempPath::CreateFile() {
  return CreateFileIn(GetAbsoluteTestTmpdir());
}

PosixErrorOr<TempPath> TempPath::CreateDirWith(const std::string& parent,
                                               mode_t mode) {
  std::string path = NewTempAbsPathInDir(parent);
  if (mkdir(path.c_str(), mode) < 0) return PosixError(errno, "mkdir " + path);
  return TempPath(path);
}

PosixErrorOr<TempPath> TempPath::CreateDirIn(const std::string& parent) {
  return CreateDirWith(parent, kDefaultDirMode);
}

PosixErrorOr<TempPath> TempPath::CreateDir() {
  return CreateDirIn(GetAbsoluteTestTmpdir());
}

}  // namespace testing
}  // namespace gvisor
