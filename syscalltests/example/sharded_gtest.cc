// A gtest binary of the user's, run by runsc_test with shard_count = 2: it
// checks that Bazel's sharding reaches the test under runsc as it does
// natively (each case sees the shard count, and gtest runs its own half of
// the cases, writing its own JUnit XML to XML_OUTPUT_FILE).
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

namespace {

// Bazel hands a sharded test GTEST_TOTAL_SHARDS and GTEST_SHARD_INDEX, and
// where to write its XML; under runsc the sandbox must pass them through
// and let the test write there.
void ExpectShardedByBazel() {
  const char* total = getenv("GTEST_TOTAL_SHARDS");
  ASSERT_NE(total, nullptr) << "no GTEST_TOTAL_SHARDS: sharding did not reach the test";
  EXPECT_STREQ(total, "2");
  ASSERT_NE(getenv("GTEST_SHARD_INDEX"), nullptr);
  const char* xml = getenv("XML_OUTPUT_FILE");
  ASSERT_NE(xml, nullptr) << "no XML_OUTPUT_FILE";
  std::string dir(xml);
  dir = dir.substr(0, dir.rfind('/'));
  EXPECT_EQ(access(dir.c_str(), W_OK), 0) << dir << " is not writable";
}

TEST(Sharded, A) { ExpectShardedByBazel(); }
TEST(Sharded, B) { ExpectShardedByBazel(); }
TEST(Sharded, C) { ExpectShardedByBazel(); }
TEST(Sharded, D) { ExpectShardedByBazel(); }

}  // namespace
