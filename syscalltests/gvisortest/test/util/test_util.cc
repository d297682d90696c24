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

#include "test/util/test_util.h"

#include <signal.h>
#include <stdlib.h>

#include <string>

#include "test/util/signal_util.h"

namespace gvisor {
namespace testing {

bool IsRunningOnGvisor() { return GvisorPlatform() != "native"; }

std::string GvisorPlatform() {
  const char* env = getenv("TEST_ON_GVISOR");
  if (env == nullptr || *env == '\0') return "native";
  return env;
}

bool IsRunningWithHostinet() {
  const char* env = getenv("TEST_ON_GVISOR_NETWORK");
  return env != nullptr && std::string(env) == "host";
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  if (a.back() == '/' && b.front() == '/') return a + b.substr(1);
  if (a.back() == '/' || b.front() == '/') return a + b;
  return a + "/" + b;
}

void TestInit(int* argc, char*** argv) {
  ::testing::InitGoogleMock(argc, *argv);
  // A test that writes to a pipe whose reader has gone wants EPIPE, not
  // to be killed.
  signal(SIGPIPE, SIG_IGN);
}

PosixErrorOr<Cleanup> ScopedSigaction(int sig, struct sigaction const& sa) {
  struct sigaction old;
  if (sigaction(sig, &sa, &old) < 0) return PosixError(errno, "sigaction");
  return Cleanup([sig, old] { TEST_PCHECK(sigaction(sig, &old, nullptr) == 0); });
}

PosixErrorOr<Cleanup> ScopedSignalMask(int how, sigset_t const& sigs) {
  sigset_t old;
  if ((errno = pthread_sigmask(how, &sigs, &old)) != 0) {
    return PosixError(errno, "pthread_sigmask");
  }
  return Cleanup(
      [old] { TEST_PCHECK(pthread_sigmask(SIG_SETMASK, &old, nullptr) == 0); });
}

}  // namespace testing
}  // namespace gvisor
