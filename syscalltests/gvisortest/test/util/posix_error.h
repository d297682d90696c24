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

// restartsys's own stand-in for gVisor's test/util/posix_error.h: an errno
// that may carry a message, and a value-or-errno, with the gtest macros
// gVisor's syscall tests use on them. Written from the interface the tests
// call, not from gVisor's implementation.

#ifndef RESTARTSYS_GVISORTEST_TEST_UTIL_POSIX_ERROR_H_
#define RESTARTSYS_GVISORTEST_TEST_UTIL_POSIX_ERROR_H_

#include <string.h>

#include <ostream>
#include <string>
#include <utility>
#include <variant>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gvisor {
namespace testing {

// PosixError is an errno value, 0 for success, with an optional message
// saying what failed.
class [[nodiscard]] PosixError {
 public:
  PosixError() = default;
  explicit PosixError(int errno_value) : errno_(errno_value) {}
  PosixError(int errno_value, std::string message)
      : errno_(errno_value), message_(std::move(message)) {}

  // ok reports whether this is success.
  bool ok() const { return errno_ == 0; }

  // errno_value returns the errno, 0 on success.
  int errno_value() const { return errno_; }

  // message returns what failed, possibly empty.
  const std::string& message() const { return message_; }

  // error returns the error itself, as PosixErrorOr::error does.
  const PosixError& error() const { return *this; }

  // ToString describes the error for test output.
  std::string ToString() const {
    if (ok()) return "No Error";
    std::string s = "PosixError(errno=" + std::to_string(errno_) + " " +
                    strerror(errno_) + ")";
    if (!message_.empty()) s += " " + message_;
    return s;
  }

  // IgnoreError discards the error explicitly.
  void IgnoreError() const {}

 private:
  int errno_ = 0;
  std::string message_;
};

inline std::ostream& operator<<(std::ostream& os, const PosixError& e) {
  return os << e.ToString();
}

// NoError returns success.
inline PosixError NoError() { return PosixError(); }

// PosixErrorOr holds either a T or a failed PosixError.
template <typename T>
class [[nodiscard]] PosixErrorOr {
 public:
  // A PosixErrorOr made from an error must be given a failed one.
  PosixErrorOr(const PosixError& error) : value_(error) {}  // NOLINT
  PosixErrorOr(const T& value) : value_(value) {}           // NOLINT
  PosixErrorOr(T&& value) : value_(std::move(value)) {}     // NOLINT

  template <typename U>
  PosixErrorOr(PosixErrorOr<U> other)  // NOLINT
      : value_(PosixError()) {
    if (other.ok()) {
      value_.template emplace<T>(std::move(other).ValueOrDie());
    } else {
      value_ = other.error();
    }
  }

  PosixErrorOr(PosixErrorOr&&) = default;
  PosixErrorOr& operator=(PosixErrorOr&&) = default;
  PosixErrorOr(const PosixErrorOr&) = default;
  PosixErrorOr& operator=(const PosixErrorOr&) = default;

  // ok reports whether this holds a value.
  bool ok() const { return std::holds_alternative<T>(value_); }

  // error returns the error, or success if this holds a value.
  PosixError error() const {
    if (ok()) return NoError();
    return std::get<PosixError>(value_);
  }

  // ValueOrDie returns the value; it aborts the test binary on an error.
  const T& ValueOrDie() const& {
    CheckOk();
    return std::get<T>(value_);
  }
  T& ValueOrDie() & {
    CheckOk();
    return std::get<T>(value_);
  }
  T&& ValueOrDie() && {
    CheckOk();
    return std::move(std::get<T>(value_));
  }

  // IgnoreError discards the error explicitly.
  void IgnoreError() const {}

 private:
  void CheckOk() const {
    if (!ok()) {
      fprintf(stderr, "ValueOrDie on %s\n", error().ToString().c_str());
      abort();
    }
  }

  std::variant<T, PosixError> value_;
};

template <typename T>
std::ostream& operator<<(std::ostream& os, const PosixErrorOr<T>& e) {
  return os << e.error();
}

namespace internal {

// PosixErrorOf returns the error of a PosixError or PosixErrorOr.
inline PosixError PosixErrorOf(const PosixError& e) { return e; }
template <typename T>
PosixError PosixErrorOf(const PosixErrorOr<T>& e) {
  return e.error();
}

// IsPosixErrorOkMatcher matches a PosixError or PosixErrorOr that is ok.
class IsPosixErrorOkMatcher {
 public:
  template <typename T>
  bool MatchAndExplain(const T& actual,
                       ::testing::MatchResultListener* listener) const {
    PosixError e = PosixErrorOf(actual);
    if (!e.ok()) *listener << e.ToString();
    return e.ok();
  }
  void DescribeTo(std::ostream* os) const { *os << "is OK"; }
  void DescribeNegationTo(std::ostream* os) const { *os << "is an error"; }
};

// PosixErrorIsMatcher matches a PosixError or PosixErrorOr by errno.
class PosixErrorIsMatcher {
 public:
  explicit PosixErrorIsMatcher(int errno_value) : errno_(errno_value) {}
  template <typename T>
  bool MatchAndExplain(const T& actual,
                       ::testing::MatchResultListener* listener) const {
    PosixError e = PosixErrorOf(actual);
    *listener << e.ToString();
    return e.errno_value() == errno_;
  }
  void DescribeTo(std::ostream* os) const {
    *os << "has errno " << errno_ << " (" << strerror(errno_) << ")";
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "does not have errno " << errno_;
  }

 private:
  int errno_;
};

}  // namespace internal

// IsPosixErrorOkMatcher matches success.
inline ::testing::PolymorphicMatcher<internal::IsPosixErrorOkMatcher>
IsPosixErrorOkMatcher() {
  return ::testing::MakePolymorphicMatcher(internal::IsPosixErrorOkMatcher());
}

// PosixErrorIs matches an error with the given errno.
inline ::testing::PolymorphicMatcher<internal::PosixErrorIsMatcher>
PosixErrorIs(int errno_value) {
  return ::testing::MakePolymorphicMatcher(
      internal::PosixErrorIsMatcher(errno_value));
}

// PosixErrorIs with a message matcher checks only the errno here.
template <typename M>
::testing::PolymorphicMatcher<internal::PosixErrorIsMatcher> PosixErrorIs(
    int errno_value, M) {
  return PosixErrorIs(errno_value);
}

#define ASSERT_NO_ERRNO(expr) \
  ASSERT_THAT(expr, ::gvisor::testing::IsPosixErrorOkMatcher())
#define EXPECT_NO_ERRNO(expr) \
  EXPECT_THAT(expr, ::gvisor::testing::IsPosixErrorOkMatcher())

// ASSERT_NO_ERRNO_AND_VALUE evaluates to the value of a PosixErrorOr, or
// fails the test (returning from the calling function) on an error.
#define ASSERT_NO_ERRNO_AND_VALUE(expr)        \
  ({                                           \
    auto _gvt_result = (expr);                 \
    ASSERT_NO_ERRNO(_gvt_result);              \
    std::move(_gvt_result).ValueOrDie();       \
  })
#define EXPECT_NO_ERRNO_AND_VALUE(expr) ASSERT_NO_ERRNO_AND_VALUE(expr)

#define GVT_CONCAT_INNER_(a, b) a##b
#define GVT_CONCAT_(a, b) GVT_CONCAT_INNER_(a, b)

// RETURN_IF_ERRNO returns a failed PosixError from the calling function.
#define RETURN_IF_ERRNO(expr)                           \
  do {                                                  \
    ::gvisor::testing::PosixError _gvt_e =              \
        ::gvisor::testing::internal::PosixErrorOf(expr); \
    if (!_gvt_e.ok()) return _gvt_e;                    \
  } while (0)

// ASSIGN_OR_RETURN_ERRNO assigns the value of a PosixErrorOr to lhs, or
// returns its error from the calling function.
#define ASSIGN_OR_RETURN_ERRNO(lhs, expr)                       \
  auto GVT_CONCAT_(_gvt_or_, __LINE__) = (expr);                \
  if (!GVT_CONCAT_(_gvt_or_, __LINE__).ok())                    \
    return GVT_CONCAT_(_gvt_or_, __LINE__).error();             \
  lhs = std::move(GVT_CONCAT_(_gvt_or_, __LINE__)).ValueOrDie()

}  // namespace testing
}  // namespace gvisor

#endif  // RESTARTSYS_GVISORTEST_TEST_UTIL_POSIX_ERROR_H_
