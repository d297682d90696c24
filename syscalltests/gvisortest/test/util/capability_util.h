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

// restartsys's stand-in for gVisor's test/util/capability_util.h.

#ifndef RESTARTSYS_GVISORTEST_TEST_UTIL_CAPABILITY_UTIL_H_
#define RESTARTSYS_GVISORTEST_TEST_UTIL_CAPABILITY_UTIL_H_

#include <errno.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test/util/posix_error.h"

namespace gvisor {
namespace testing {

// HaveCapability reports whether cap is in the calling thread's effective
// set (capget(2)).
inline PosixErrorOr<bool> HaveCapability(int cap) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &hdr, data) < 0) {
    return PosixError(errno, "capget");
  }
  return (data[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap)) != 0;
}

}  // namespace testing
}  // namespace gvisor

#endif  // RESTARTSYS_GVISORTEST_TEST_UTIL_CAPABILITY_UTIL_H_
