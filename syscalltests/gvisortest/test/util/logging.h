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

// restartsys's stand-in for gVisor's test/util/logging.h: checks usable in
// a forked child or a signal handler's thread, where gtest's macros are not.

#ifndef RESTARTSYS_GVISORTEST_TEST_UTIL_LOGGING_H_
#define RESTARTSYS_GVISORTEST_TEST_UTIL_LOGGING_H_

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// TEST_CHECK aborts the process if cond does not hold.
#define TEST_CHECK(cond)                                                  \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
              #cond);                                                     \
      abort();                                                            \
    }                                                                     \
  } while (0)

// TEST_PCHECK is TEST_CHECK that also prints errno.
#define TEST_PCHECK(cond)                                                 \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: check failed: %s: %s\n", __FILE__, __LINE__,\
              #cond, strerror(errno));                                    \
      abort();                                                            \
    }                                                                     \
  } while (0)

#define TEST_CHECK_MSG(cond, msg) TEST_CHECK((cond) && (msg))
#define TEST_PCHECK_MSG(cond, msg) TEST_PCHECK((cond) && (msg))

#endif  // RESTARTSYS_GVISORTEST_TEST_UTIL_LOGGING_H_
