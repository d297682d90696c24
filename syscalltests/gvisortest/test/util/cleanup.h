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

// restartsys's stand-in for gVisor's test/util/cleanup.h.

#ifndef RESTARTSYS_GVISORTEST_TEST_UTIL_CLEANUP_H_
#define RESTARTSYS_GVISORTEST_TEST_UTIL_CLEANUP_H_

#include <functional>
#include <utility>

namespace gvisor {
namespace testing {

// Cleanup runs a function when it goes out of scope, unless released.
class Cleanup {
 public:
  Cleanup() = default;
  explicit Cleanup(std::function<void()>&& f) : f_(std::move(f)) {}
  Cleanup(Cleanup&& other) : f_(std::move(other.f_)) { other.f_ = nullptr; }
  Cleanup& operator=(Cleanup&& other) {
    Run();
    f_ = std::move(other.f_);
    other.f_ = nullptr;
    return *this;
  }
  Cleanup(const Cleanup&) = delete;
  Cleanup& operator=(const Cleanup&) = delete;
  ~Cleanup() { Run(); }

  // Release drops the function without running it.
  void Release() { f_ = nullptr; }

 private:
  void Run() {
    if (f_) {
      std::function<void()> f = std::move(f_);
      f_ = nullptr;
      f();
    }
  }

  std::function<void()> f_;
};

}  // namespace testing
}  // namespace gvisor

#endif  // RESTARTSYS_GVISORTEST_TEST_UTIL_CLEANUP_H_
