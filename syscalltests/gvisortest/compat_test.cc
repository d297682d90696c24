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

// Tests of the compatibility layer itself, natively.

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/util/cleanup.h"
#include "test/util/file_descriptor.h"
#include "test/util/posix_error.h"
#include "test/util/signal_util.h"
#include "test/util/temp_path.h"
#include "test/util/test_util.h"
#include "test/util/thread_util.h"

namespace gvisor {
namespace testing {
namespace {

using ::testing::Gt;
using ::testing::Not;

TEST(CompatTest, SyscallMatchers) {
  EXPECT_THAT(getpid(), SyscallSucceeds());
  EXPECT_THAT(getpid(), SyscallSucceedsWithValue(Gt(0)));
  EXPECT_THAT(close(-1), SyscallFails());
  EXPECT_THAT(close(-1), SyscallFailsWithErrno(EBADF));
  EXPECT_THAT(close(-1), Not(SyscallFailsWithErrno(EINTR)));
  EXPECT_THAT(close(-1), Not(SyscallSucceeds()));
  EXPECT_THAT(getpid(), Not(SyscallFails()));
  char c = 'x';
  int fds[2];
  ASSERT_THAT(pipe(fds), SyscallSucceeds());
  FileDescriptor r(fds[0]), w(fds[1]);
  EXPECT_THAT(WriteFd(w.get(), &c, 1), SyscallSucceedsWithValue(1));
  EXPECT_THAT(ReadFd(r.get(), &c, 1), SyscallSucceedsWithValue(1));
}

PosixErrorOr<int> Half(int v) {
  if (v % 2 != 0) return PosixError(EINVAL, "odd");
  return v / 2;
}

PosixError UseAssign(int v, int* out) {
  ASSIGN_OR_RETURN_ERRNO(*out, Half(v));
  return NoError();
}

TEST(CompatTest, PosixErrorOr) {
  EXPECT_EQ(ASSERT_NO_ERRNO_AND_VALUE(Half(4)), 2);
  EXPECT_THAT(Half(3), PosixErrorIs(EINVAL));
  EXPECT_NO_ERRNO(NoError());
  int out = 0;
  EXPECT_THAT(UseAssign(5, &out), PosixErrorIs(EINVAL));
  ASSERT_NO_ERRNO(UseAssign(8, &out));
  EXPECT_EQ(out, 4);
}

TEST(CompatTest, TempPathAndOpen) {
  std::string path;
  {
    TempPath dir = ASSERT_NO_ERRNO_AND_VALUE(TempPath::CreateDir());
    TempPath file =
        ASSERT_NO_ERRNO_AND_VALUE(TempPath::CreateFileIn(dir.path()));
    path = dir.path();
    FileDescriptor fd = ASSERT_NO_ERRNO_AND_VALUE(Open(file.path(), O_RDONLY));
    EXPECT_GE(fd.get(), 0);
    EXPECT_THAT(Open(JoinPath(path, "missing"), O_RDONLY),
                PosixErrorIs(ENOENT));
    EXPECT_NE(NewTempAbsPath(), NewTempAbsPath());
  }
  struct stat st;
  EXPECT_THAT(stat(path.c_str(), &st), SyscallFailsWithErrno(ENOENT));
}

TEST(CompatTest, ThreadAndCleanup) {
  std::atomic<int> ran{0};
  {
    Cleanup c([&] { ran += 10; });
    ScopedThread t([&] { ran += 1; });
    t.Join();
    EXPECT_EQ(ran.load(), 1);
  }
  EXPECT_EQ(ran.load(), 11);
}

TEST(CompatTest, RetryEINTRAndSignals) {
  struct sigaction sa = {};
  sa.sa_handler = [](int) {};
  auto cleanup = ASSERT_NO_ERRNO_AND_VALUE(ScopedSigaction(SIGUSR1, sa));
  auto mask = ASSERT_NO_ERRNO_AND_VALUE(ScopedSignalMask(SIG_UNBLOCK, SIGUSR1));
  int calls = 0;
  auto f = RetryEINTR([&](int v) {
    if (++calls < 3) {
      errno = EINTR;
      return -1;
    }
    return v;
  });
  EXPECT_EQ(f(7), 7);
  EXPECT_EQ(calls, 3);
}

TEST(CompatTest, Gvisor) {
  const char* env = getenv("TEST_ON_GVISOR");
  EXPECT_EQ(IsRunningOnGvisor(), env != nullptr && *env != '\0');
}

TEST(CompatTest, SkipIf) {
  SKIP_IF(true);
  FAIL() << "SKIP_IF(true) did not skip";
}

}  // namespace
}  // namespace testing
}  // namespace gvisor
