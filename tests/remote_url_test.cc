#include <gtest/gtest.h>

#include "src/remote/url.h"

namespace ucache::remote_internal {
namespace {

TEST(RemoteUrlTest, TcpWithEverything) {
  Result<Endpoint> e = ParseUrl("redis://bob:s3cret@10.0.0.7:6380/3?weight=5");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->host, "10.0.0.7");
  EXPECT_EQ(e->port, 6380);
  EXPECT_EQ(e->user, "bob");
  EXPECT_EQ(e->password, "s3cret");
  EXPECT_EQ(e->db, 3);
  EXPECT_EQ(e->weight, 5u);
  EXPECT_EQ(e->Name(), "10.0.0.7:6380/3");  // never the password
}

TEST(RemoteUrlTest, DefaultsAndPasswordAlone) {
  Result<Endpoint> e = ParseUrl("redis://pw@localhost");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->port, 6379);
  EXPECT_EQ(e->db, 0);
  EXPECT_EQ(e->user, "");
  EXPECT_EQ(e->password, "pw");
  Result<Endpoint> v6 = ParseUrl("redis://[::1]:7000");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);
  EXPECT_EQ(v6->Name(), "[::1]:7000");
}

TEST(RemoteUrlTest, UnixSocketForms) {
  Result<Endpoint> e = ParseUrl("redis+unix:///tmp/r.sock?db=2&weight=3");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->socket_path, "/tmp/r.sock");
  EXPECT_EQ(e->db, 2);
  EXPECT_EQ(e->weight, 3u);
  Result<Endpoint> short_form = ParseUrl("redis+unix:/tmp/r.sock");
  ASSERT_TRUE(short_form.ok());
  EXPECT_EQ(short_form->socket_path, "/tmp/r.sock");
}

TEST(RemoteUrlTest, RefusesWhatItCannotRead) {
  for (const char* bad :
       {"http://x", "redis://", "redis://h:0", "redis://h:99999", "redis://h/x",
        "redis://h?weight=0", "redis://h?db=1", "redis+unix://relative.sock",
        "redis://[::1", "redis://h?color=red"}) {
    EXPECT_EQ(ParseUrl(bad).status().code(), Status::Code::kInvalidArgument)
        << bad;
  }
}

TEST(RemoteUrlTest, SpaceSeparatedShards) {
  Result<std::vector<Endpoint>> e =
      ParseUrls("  redis://a:1  redis+unix:///s.sock\tredis://b:2 ");
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 3u);
  EXPECT_EQ((*e)[1].socket_path, "/s.sock");
  EXPECT_FALSE(ParseUrls("   ").ok());
  EXPECT_FALSE(ParseUrls("redis://a:1 nonsense").ok());
}

}  // namespace
}  // namespace ucache::remote_internal
