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

// restartsys's stand-in for gVisor's test/util/signal_util.h.

#ifndef RESTARTSYS_GVISORTEST_TEST_UTIL_SIGNAL_UTIL_H_
#define RESTARTSYS_GVISORTEST_TEST_UTIL_SIGNAL_UTIL_H_

#include <signal.h>

#include "test/util/cleanup.h"
#include "test/util/posix_error.h"

namespace gvisor {
namespace testing {

// ScopedSigaction installs sa for sig and restores the old action when the
// returned Cleanup goes out of scope.
PosixErrorOr<Cleanup> ScopedSigaction(int sig, struct sigaction const& sa);

// ScopedSignalMask changes the calling thread's mask for sigs with how
// (SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK) and restores it when the returned
// Cleanup goes out of scope.
PosixErrorOr<Cleanup> ScopedSignalMask(int how, sigset_t const& sigs);

// ScopedSignalMask for a single signal.
inline PosixErrorOr<Cleanup> ScopedSignalMask(int how, int sig) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  return ScopedSignalMask(how, set);
}

}  // namespace testing
}  // namespace gvisor

#endif  // RESTARTSYS_GVISORTEST_TEST_UTIL_SIGNAL_UTIL_H_
