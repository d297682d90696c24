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

// restartsys's stand-in for gVisor's test/util/test_util.h: the syscall
// return matchers, SKIP_IF, the gVisor checks (TEST_ON_GVISOR, as gVisor's
// runner sets it inside the sandbox), RetryEINTR and the fd I/O helpers.

#ifndef RESTARTSYS_GVISORTEST_TEST_UTIL_TEST_UTIL_H_
#define RESTARTSYS_GVISORTEST_TEST_UTIL_TEST_UTIL_H_

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/util/logging.h"
#include "test/util/posix_error.h"

namespace gvisor {
namespace testing {

// IsRunningOnGvisor reports whether the test runs inside gVisor: gVisor's
// runner sets TEST_ON_GVISOR to the platform's name in the sandbox.
bool IsRunningOnGvisor();

// GvisorPlatform returns TEST_ON_GVISOR, or "native".
std::string GvisorPlatform();

// IsRunningWithHostinet reports whether TEST_ON_GVISOR_NETWORK is "host".
bool IsRunningWithHostinet();

// SKIP_IF skips the rest of the test if cond holds.
#define SKIP_IF(cond)                                do {                                                 if (cond) {                                          GTEST_SKIP() << #cond " holds";                  }                                                } while (0)

namespace internal {

// FormatErrno describes an errno value.
inline std::string FormatErrno(int e) {
  return std::to_string(e) + " (" + strerror(e) + ")";
}

// SyscallMatcher matches the return value of a call that returns -1 and
// sets errno on failure (ssize_t, int, long, pointers compare with
// MAP_FAILED elsewhere). It reads errno when it matches, which is right
// after the call in ASSERT_THAT/EXPECT_THAT.
template <typename ValueMatcher>
class SyscallMatcher {
 public:
  // want_success with value_ matching the return value; or failure with
  // errno_ (0: any errno).
  SyscallMatcher(bool want_success, ValueMatcher value, int errno_value)
      : want_success_(want_success),
        value_(std::move(value)),
        errno_(errno_value) {}

  template <typename T>
  bool MatchAndExplain(const T& rv,
                       ::testing::MatchResultListener* listener) const {
    const int saved = errno;
    const bool failed = IsFailure(rv);
    if (failed) {
      *listener << "failed with errno " << FormatErrno(saved);
    }
    if (want_success_) {
      if (failed) return false;
      return ::testing::SafeMatcherCast<const T&>(value_).MatchAndExplain(
          rv, listener);
    }
    if (!failed) {
      *listener << "succeeded with " << ::testing::PrintToString(rv);
      return false;
    }
    return errno_ == 0 || saved == errno_;
  }

  void DescribeTo(std::ostream* os) const {
    if (want_success_) {
      *os << "succeeds (with the expected value, if one is given)";
    } else if (errno_ == 0) {
      *os << "fails";
    } else {
      *os << "fails with errno " << FormatErrno(errno_);
    }
  }

  void DescribeNegationTo(std::ostream* os) const {
    *os << "not (";
    DescribeTo(os);
    *os << ")";
  }

 private:
  template <typename T>
  static bool IsFailure(const T& rv) {
    if constexpr (std::is_pointer_v<T>) {
      return rv == reinterpret_cast<T>(-1);
    } else {
      return rv == static_cast<T>(-1);
    }
  }

  bool want_success_;
  ValueMatcher value_;
  int errno_;
};

template <typename M>
::testing::PolymorphicMatcher<SyscallMatcher<M>> MakeSyscallMatcher(
    bool want_success, M value, int errno_value) {
  return ::testing::MakePolymorphicMatcher(
      SyscallMatcher<M>(want_success, std::move(value), errno_value));
}

}  // namespace internal

// SyscallSucceeds matches a return value other than -1.
inline auto SyscallSucceeds() {
  return internal::MakeSyscallMatcher(true, ::testing::_, 0);
}

// SyscallSucceedsWithValue matches a successful return value that is equal
// to, or matched by, v.
template <typename M>
auto SyscallSucceedsWithValue(M v) {
  if constexpr (std::is_arithmetic_v<M>) {
    return internal::MakeSyscallMatcher(
        true, ::testing::Eq(static_cast<long long>(v)), 0);
  } else {
    return internal::MakeSyscallMatcher(true, std::move(v), 0);
  }
}

// SyscallFails matches -1, whatever the errno.
inline auto SyscallFails() {
  return internal::MakeSyscallMatcher(false, ::testing::_, 0);
}

// SyscallFailsWithErrno matches -1 with errno e.
inline auto SyscallFailsWithErrno(int e) {
  return internal::MakeSyscallMatcher(false, ::testing::_, e);
}

// RetryEINTR wraps f in a function that calls it again while it returns -1
// with errno EINTR.
template <typename F>
auto RetryEINTR(F&& f) {
  return [f = std::forward<F>(f)](auto&&... args) {
    while (true) {
      errno = 0;
      auto rv = f(args...);
      if (rv != static_cast<decltype(rv)>(-1) || errno != EINTR) return rv;
    }
  };
}

// ReadFd reads from fd, retrying EINTR.
inline ssize_t ReadFd(int fd, void* buf, size_t count) {
  return RetryEINTR(read)(fd, buf, count);
}

// WriteFd writes to fd, retrying EINTR.
inline ssize_t WriteFd(int fd, const void* buf, size_t count) {
  return RetryEINTR(write)(fd, buf, count);
}

// JoinPath joins two path elements with one slash.
std::string JoinPath(const std::string& a, const std::string& b);

// TestInit parses the gtest flags; test_main.cc calls it.
void TestInit(int* argc, char*** argv);

}  // namespace testing
}  // namespace gvisor

#endif  // RESTARTSYS_GVISORTEST_TEST_UTIL_TEST_UTIL_H_
