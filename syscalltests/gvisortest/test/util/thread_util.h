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

// restartsys's stand-in for gVisor's test/util/thread_util.h.

#ifndef RESTARTSYS_GVISORTEST_TEST_UTIL_THREAD_UTIL_H_
#define RESTARTSYS_GVISORTEST_TEST_UTIL_THREAD_UTIL_H_

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <utility>

#include "test/util/logging.h"

namespace gvisor {
namespace testing {

// ScopedThread runs a function on a new pthread and joins it when joined
// explicitly or when destroyed.
class ScopedThread {
 public:
  explicit ScopedThread(std::function<void()> f)
      : f_([f = std::move(f)]() -> void* {
          f();
          return nullptr;
        }) {
    Start();
  }
  explicit ScopedThread(std::function<void*()> f) : f_(std::move(f)) {
    Start();
  }
  ScopedThread(const ScopedThread&) = delete;
  ScopedThread& operator=(const ScopedThread&) = delete;
  ~ScopedThread() { Join(); }

  // Join waits for the thread and returns what its function returned.
  void* Join() {
    if (!joined_) {
      TEST_PCHECK((errno = pthread_join(thread_, &retval_)) == 0);
      joined_ = true;
    }
    return retval_;
  }

  // tid returns the thread's kernel thread ID, once it has started.
  pid_t tid() const { return tid_.load(); }

 private:
  void Start() {
    TEST_PCHECK((errno = pthread_create(&thread_, nullptr, &Run, this)) == 0);
  }

  static void* Run(void* arg) {
    auto* self = static_cast<ScopedThread*>(arg);
    self->tid_.store(static_cast<pid_t>(syscall(SYS_gettid)));
    return self->f_();
  }

  std::function<void*()> f_;
  pthread_t thread_;
  std::atomic<pid_t> tid_{0};
  bool joined_ = false;
  void* retval_ = nullptr;
};

}  // namespace testing
}  // namespace gvisor

#endif  // RESTARTSYS_GVISORTEST_TEST_UTIL_THREAD_UTIL_H_
