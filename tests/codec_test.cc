// Tests of the codec: KeyEncoder writes cereal's binary encoding, but for
// long double padding and unordered containers' order (normalised);
// raw shapes are their elements' bytes; decoding refuses bytes of the wrong
// size or shape instead of misreading them.

#include "ucache/codec.h"

#include <array>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "gtest/gtest.h"
#include "ucache/internal/codec.h"

namespace ucache {
namespace {

struct Custom {
  int a = 0;
  std::vector<std::string> b;
  bool operator==(const Custom&) const = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(a, b);
  }
};

template <class... T>
std::string WithCereal(const T&... values) {
  std::ostringstream out;
  {
    cereal::BinaryOutputArchive archive(out);
    archive(values...);
  }
  return out.str();
}

template <class... T>
std::string WithKeyEncoder(const T&... values) {
  std::string out;
  codec_internal::KeyEncoder encoder(&out);
  encoder(values...);
  return out;
}

TEST(CodecTest, KeyEncoderMatchesCerealBinaryArchive) {
  const std::map<std::string, double> m{{"a", 1.0}, {"b", -2.5}};
  const Custom c{7, {"x", "yz"}};
  const std::optional<int> none;
  EXPECT_EQ(WithKeyEncoder(1000, 0.5), WithCereal(1000, 0.5));
  EXPECT_EQ(WithKeyEncoder(std::string("s\0t", 3)),
            WithCereal(std::string("s\0t", 3)));
  EXPECT_EQ(WithKeyEncoder(std::vector<float>{1, 2, 3}),
            WithCereal(std::vector<float>{1, 2, 3}));
  EXPECT_EQ(WithKeyEncoder(m, c, none), WithCereal(m, c, none));
  EXPECT_EQ(WithKeyEncoder(std::make_tuple(1, 'c', true)),
            WithCereal(std::make_tuple(1, 'c', true)));
  // Different arguments, different bytes (the order is part of it).
  EXPECT_NE(WithKeyEncoder(1, 2), WithKeyEncoder(2, 1));
}

// A long double's padding (x86: 6 of its 16 bytes) is not encoded; every
// other arithmetic type is still cereal's bytes.
TEST(CodecTest, KeyEncoderWritesOnlyALongDoublesValueBytes) {
  constexpr size_t kBytes = codec_internal::kValueBytes<long double>;
  if (kBytes == sizeof(long double)) {
    GTEST_SKIP() << "long double has no padding here";
  }
  // In place: a long double passed by value travels through an x87
  // register, which drops the padding.
  std::array<long double, 2> a;
  std::array<long double, 2> b;
  std::memset(static_cast<void*>(a.data()), 0x00, sizeof(a));
  std::memset(static_cast<void*>(b.data()), 0xAB, sizeof(b));
  const long double value = -3.5L;
  for (size_t i = 0; i < 2; ++i) {
    std::memcpy(static_cast<void*>(&a[i]), &value, kBytes);
    std::memcpy(static_cast<void*>(&b[i]), &value, kBytes);
  }
  EXPECT_EQ(WithKeyEncoder(a[0]), WithKeyEncoder(b[0]));
  EXPECT_EQ(WithKeyEncoder(a[0]).size(), kBytes);
  EXPECT_EQ(WithKeyEncoder(a), WithKeyEncoder(b));
  EXPECT_EQ(WithKeyEncoder(a).size(), 2 * kBytes);
  EXPECT_EQ(WithKeyEncoder(std::vector<double>{1, 2}),
            WithCereal(std::vector<double>{1, 2}));
}

template <class C>
std::vector<typename C::value_type> InIterationOrder(const C& c) {
  return {c.begin(), c.end()};
}

// Equal unordered containers iterate in different orders (insertion order,
// bucket count); their encodings are the same.
TEST(CodecTest, EqualUnorderedContainersEncodeTheSame) {
  std::unordered_map<std::string, int> m1;
  std::unordered_map<std::string, int> m2(1000);
  std::unordered_set<std::string> s1;
  std::unordered_set<std::string> s2(1000);
  std::unordered_multimap<int, int> mm1;
  std::unordered_multimap<int, int> mm2;
  for (int i = 0; i < 100; ++i) {
    m1.emplace("k" + std::to_string(i), i);
    m2.emplace("k" + std::to_string(99 - i), 99 - i);
    s1.insert("k" + std::to_string(i));
    s2.insert("k" + std::to_string(99 - i));
    mm1.emplace(i % 3, i);
    mm2.emplace((99 - i) % 3, 99 - i);
  }
  ASSERT_EQ(m1, m2);
  ASSERT_NE(InIterationOrder(m1), InIterationOrder(m2));
  ASSERT_EQ(s1, s2);
  ASSERT_NE(InIterationOrder(s1), InIterationOrder(s2));
  ASSERT_EQ(mm1, mm2);
  ASSERT_NE(InIterationOrder(mm1), InIterationOrder(mm2));
  EXPECT_EQ(WithKeyEncoder(m1), WithKeyEncoder(m2));
  EXPECT_EQ(WithKeyEncoder(s1), WithKeyEncoder(s2));
  EXPECT_EQ(WithKeyEncoder(mm1), WithKeyEncoder(mm2));
  // Nested, through cereal's own containers.
  EXPECT_EQ(WithKeyEncoder(std::vector{m1}), WithKeyEncoder(std::vector{m2}));
  // Still cereal's framing: the size, then each element.
  const std::unordered_map<std::string, int> one{{"k", 1}};
  EXPECT_EQ(WithKeyEncoder(one), WithCereal(one));
  m2["k0"] = -1;
  EXPECT_NE(WithKeyEncoder(m1), WithKeyEncoder(m2));
}

template <class T>
T RoundTrip(const T& value, std::string* bytes = nullptr) {
  std::string encoded;
  Codec<T>::Encode(value, &encoded);
  if (bytes != nullptr) *bytes = encoded;
  T out{};
  EXPECT_TRUE(Codec<T>::Decode(encoded, &out));
  return out;
}

TEST(CodecTest, RawShapesAreTheirElementsBytes) {
  std::string bytes;
  const std::vector<double> v{1.5, -2.0, 3.25};
  EXPECT_EQ(RoundTrip(v, &bytes), v);
  EXPECT_EQ(bytes, std::string(reinterpret_cast<const char*>(v.data()), 24));
  EXPECT_EQ(Codec<std::vector<double>>::Bytes(v), bytes);
  const std::array<int16_t, 4> a{1, -2, 3, -4};
  EXPECT_EQ(RoundTrip(a, &bytes), a);
  EXPECT_EQ(bytes.size(), 8u);
  EXPECT_EQ(RoundTrip(std::string("raw\0", 4), &bytes),
            std::string("raw\0", 4));
  EXPECT_EQ(bytes, std::string("raw\0", 4));
  EXPECT_EQ(RoundTrip(uint64_t{42}, &bytes), 42u);
  EXPECT_EQ(bytes.size(), 8u);
  EXPECT_EQ(RoundTrip(std::vector<int>()), std::vector<int>());
  static_assert(Codec<std::vector<double>>::kRaw);
  static_assert(!Codec<std::vector<bool>>::kRaw);
  static_assert(!Codec<Custom>::kRaw);
}

// Large vectors take the huge-page path (PrepareLargeDestination), into an
// empty vector and into one whose smaller buffer it replaces.
TEST(CodecTest, LargeVectorsRoundTripIntoAnyDestination) {
  std::vector<double> v(1 << 20);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i) * 0.5;
  std::string bytes;
  Codec<std::vector<double>>::Encode(v, &bytes);
  std::vector<double> into_empty;
  ASSERT_TRUE(Codec<std::vector<double>>::Decode(bytes, &into_empty));
  EXPECT_EQ(into_empty, v);
  std::vector<double> into_small(3, -1.0);
  ASSERT_TRUE(Codec<std::vector<double>>::Decode(bytes, &into_small));
  EXPECT_EQ(into_small, v);
  std::vector<double> into_larger(v.size() + 5, -1.0);
  ASSERT_TRUE(Codec<std::vector<double>>::Decode(bytes, &into_larger));
  EXPECT_EQ(into_larger, v);
}

TEST(CodecTest, CerealShapesRoundTrip) {
  const Custom c{3, {"a", "", "ccc"}};
  EXPECT_EQ(RoundTrip(c), c);
  const std::vector<bool> bits{true, false, true};
  EXPECT_EQ(RoundTrip(bits), bits);
  const std::map<std::string, std::vector<int>> m{{"k", {1, 2}}};
  EXPECT_EQ(RoundTrip(m), m);
}

TEST(CodecTest, DecodeRefusesBytesOfTheWrongShape) {
  std::vector<double> v;
  EXPECT_FALSE(Codec<std::vector<double>>::Decode(std::string(12, 'x'), &v));
  using Int3 = std::array<int, 3>;
  Int3 a{};
  EXPECT_FALSE(Codec<Int3>::Decode(std::string(8, 'x'), &a));
  double d = 0;
  EXPECT_FALSE(Codec<double>::Decode("abc", &d));
  Custom c;
  std::string encoded;
  Codec<Custom>::Encode(Custom{1, {"abc"}}, &encoded);
  EXPECT_FALSE(
      Codec<Custom>::Decode(encoded.substr(0, encoded.size() - 1), &c));
  EXPECT_FALSE(Codec<Custom>::Decode(encoded + "trailing", &c));
  // A length field claiming far more than the bytes hold.
  using Strings = std::vector<std::string>;
  Strings strings;
  EXPECT_FALSE(Codec<Strings>::Decode(std::string(8, '\x7f'), &strings));
}

}  // namespace
}  // namespace ucache
