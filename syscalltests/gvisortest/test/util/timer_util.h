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

// restartsys's stand-in for gVisor's test/util/timer_util.h: POSIX
// interval timers through the raw syscalls, so that SIGEV_THREAD means
// what the kernel makes of it (a signal to the process), as in gVisor's.

#ifndef RESTARTSYS_GVISORTEST_TEST_UTIL_TIMER_UTIL_H_
#define RESTARTSYS_GVISORTEST_TEST_UTIL_TIMER_UTIL_H_

#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "absl/time/time.h"
#include "test/util/posix_error.h"

namespace gvisor {
namespace testing {

// IntervalTimer owns a POSIX timer and deletes it when destroyed.
class IntervalTimer {
 public:
  IntervalTimer() = default;
  explicit IntervalTimer(int id) : id_(id) {}
  IntervalTimer(IntervalTimer&& other) : id_(other.release()) {}
  IntervalTimer& operator=(IntervalTimer&& other) {
    reset(other.release());
    return *this;
  }
  IntervalTimer(const IntervalTimer&) = delete;
  IntervalTimer& operator=(const IntervalTimer&) = delete;
  ~IntervalTimer() { reset(); }

  // get returns the timer ID, -1 if none.
  int get() const { return id_; }

  // release gives up ownership and returns the ID.
  int release() {
    int id = id_;
    id_ = -1;
    return id;
  }

  // reset deletes the timer held and takes id.
  void reset(int id = -1) {
    if (id_ >= 0) syscall(SYS_timer_delete, id_);
    id_ = id;
  }

  // Set arms the timer and returns its previous setting.
  PosixErrorOr<struct itimerspec> Set(int flags,
                                      const struct itimerspec& new_value) {
    struct itimerspec old = {};
    if (syscall(SYS_timer_settime, id_, flags, &new_value, &old) < 0) {
      return PosixError(errno, "timer_settime");
    }
    return old;
  }

  // Get returns the timer's setting.
  PosixErrorOr<struct itimerspec> Get() const {
    struct itimerspec cur = {};
    if (syscall(SYS_timer_gettime, id_, &cur) < 0) {
      return PosixError(errno, "timer_gettime");
    }
    return cur;
  }

 private:
  int id_ = -1;
};

// TimerCreate creates a POSIX timer on clockid that notifies as sev says.
inline PosixErrorOr<IntervalTimer> TimerCreate(clockid_t clockid,
                                               const struct sigevent& sev) {
  int id = -1;
  if (syscall(SYS_timer_create, clockid, &sev, &id) < 0) {
    return PosixError(errno, "timer_create");
  }
  return IntervalTimer(id);
}

}  // namespace testing
}  // namespace gvisor

#endif  // RESTARTSYS_GVISORTEST_TEST_UTIL_TIMER_UTIL_H_
