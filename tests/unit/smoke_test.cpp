#include <gtest/gtest.h>
#include "base/duration.h"
TEST(Duration, ParsesMinutes) { EXPECT_EQ(ferry::parse_duration("5m")->count(), 300000); }
