// The machinery behind codec.h: the cereal headers for the standard types
// that arguments and results may hold, KeyEncoder (cereal's binary encoding
// appended to a string, for keys), and the raw codecs' helpers. Not part of
// the API: include "ucache/codec.h", and expect anything here to change.

#ifndef UCACHE_INTERNAL_CODEC_H_
#define UCACHE_INTERNAL_CODEC_H_

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <streambuf>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cereal/archives/binary.hpp"
#include "cereal/cereal.hpp"
#include "cereal/types/array.hpp"
#include "cereal/types/chrono.hpp"
#include "cereal/types/complex.hpp"
#include "cereal/types/map.hpp"
#include "cereal/types/memory.hpp"
#include "cereal/types/optional.hpp"
#include "cereal/types/set.hpp"
#include "cereal/types/string.hpp"
#include "cereal/types/tuple.hpp"
#include "cereal/types/unordered_map.hpp"
#include "cereal/types/unordered_set.hpp"
#include "cereal/types/utility.hpp"
#include "cereal/types/variant.hpp"
#include "cereal/types/vector.hpp"
#include "ucache/internal/language_level.h"

namespace ucache::codec_internal {

// A cereal output archive that appends cereal's binary encoding to a
// std::string. Same bytes as cereal::BinaryOutputArchive.
class KeyEncoder
    : public cereal::OutputArchive<KeyEncoder, cereal::AllowEmptyClassElision> {
 public:
  explicit KeyEncoder(std::string* out)
      : cereal::OutputArchive<KeyEncoder, cereal::AllowEmptyClassElision>(this),
        out_(out) {}

  void saveBinary(const void* data, std::size_t size) {
    out_->append(static_cast<const char*>(data), size);
  }

 private:
  std::string* out_;
};

// How many of an arithmetic T's bytes hold its value. x86's 80-bit long
// double sits in 12 or 16 bytes whose padding is whatever the storage held
// before, so one value would give many keys; every other arithmetic type
// is all value. Only where the 80 bits are the low 10 bytes (little-endian):
// elsewhere (m68k) the padding sits inside, and taking 10 bytes would drop
// value bits, making different values one key.
template <class T>
inline constexpr size_t kValueBytes =
    std::is_same_v<std::remove_cv_t<T>, long double> &&
            std::numeric_limits<long double>::digits == 64 &&
            std::endian::native == std::endian::little
        ? 10
        : sizeof(T);

// Appends the value bytes of the `n` arithmetic Ts at `p` to `out`. Their
// bytes at once when they are all value, which keeps the encoding cereal's.
template <class T>
void AppendValues(const T* p, size_t n, char* out) {
  if constexpr (kValueBytes<T> == sizeof(T)) {
    std::memcpy(out, p, n * sizeof(T));
  } else {
    // The value is the low bytes (kValueBytes).
    for (size_t i = 0; i < n; ++i) {
      std::memcpy(out + i * kValueBytes<T>, p + i, kValueBytes<T>);
    }
  }
}

// cereal's glue for KeyEncoder, mirroring what binary.hpp declares for
// BinaryOutputArchive, except that arithmetic values (alone or as a
// container's binary data) are written as their value bytes only.
template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(
    KeyEncoder& ar, const T& t) {
  char bytes[sizeof(T)];
  AppendValues(&t, 1, bytes);
  ar.saveBinary(bytes, kValueBytes<T>);
}
template <class Archive, class T>
CEREAL_ARCHIVE_RESTRICT(KeyEncoder, KeyEncoder)
CEREAL_SERIALIZE_FUNCTION_NAME(Archive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}
template <class Archive, class T>
CEREAL_ARCHIVE_RESTRICT(KeyEncoder, KeyEncoder)
CEREAL_SERIALIZE_FUNCTION_NAME(Archive& ar, cereal::SizeTag<T>& t) {
  ar(t.size);
}
template <class T>
void CEREAL_SAVE_FUNCTION_NAME(KeyEncoder& ar,
                               const cereal::BinaryData<T>& bd) {
  // cereal writes a vector or array of arithmetic elements as one block.
  using Element = std::remove_cv_t<std::remove_pointer_t<std::decay_t<T>>>;
  if constexpr (std::is_arithmetic_v<Element> &&
                kValueBytes<Element> != sizeof(Element)) {
    const size_t n = static_cast<size_t>(bd.size) / sizeof(Element);
    std::string bytes(n * kValueBytes<Element>, '\0');
    AppendValues(static_cast<const Element*>(bd.data), n, bytes.data());
    ar.saveBinary(bytes.data(), bytes.size());
  } else {
    ar.saveBinary(bd.data, static_cast<std::size_t>(bd.size));
  }
}

// An unordered container's elements in an order that only their values
// decide: cereal writes them in iteration order, which equal containers
// need not share (insertion order, bucket count), so equal maps gave
// different keys. Each element is encoded on its own (a map's key, then its
// value, as cereal does) and the encodings are written sorted, after
// cereal's size tag. Sorting whole encodings rather than keys also orders
// a multimap's equal keys by their values.
template <class C>
void SaveSorted(KeyEncoder& ar, const C& container) {
  std::vector<std::string> elements;
  elements.reserve(container.size());
  for (const auto& element : container) {
    KeyEncoder one(&elements.emplace_back());
    if constexpr (requires { typename C::mapped_type; }) {
      one(element.first, element.second);
    } else {
      one(element);
    }
  }
  std::sort(elements.begin(), elements.end());
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(elements.size())));
  for (const std::string& e : elements) ar.saveBinary(e.data(), e.size());
}
template <class K, class T, class H, class E, class A>
void CEREAL_SAVE_FUNCTION_NAME(KeyEncoder& ar,
                               const std::unordered_map<K, T, H, E, A>& c) {
  SaveSorted(ar, c);
}
template <class K, class T, class H, class E, class A>
void CEREAL_SAVE_FUNCTION_NAME(
    KeyEncoder& ar, const std::unordered_multimap<K, T, H, E, A>& c) {
  SaveSorted(ar, c);
}
template <class K, class H, class E, class A>
void CEREAL_SAVE_FUNCTION_NAME(KeyEncoder& ar,
                               const std::unordered_set<K, H, E, A>& c) {
  SaveSorted(ar, c);
}
template <class K, class H, class E, class A>
void CEREAL_SAVE_FUNCTION_NAME(KeyEncoder& ar,
                               const std::unordered_multiset<K, H, E, A>& c) {
  SaveSorted(ar, c);
}

// A read-only streambuf over bytes someone else owns, for cereal's input
// archive.
class ViewBuf : public std::streambuf {
 public:
  explicit ViewBuf(std::string_view bytes) {
    char* p = const_cast<char*>(bytes.data());
    setg(p, p, p + bytes.size());
  }
};

template <class T>
inline constexpr bool kRawElement =
    std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

// Before a large copy into fresh memory at [p, p + bytes): asks for
// transparent huge pages over its 2 MiB-aligned part (a no-op below
// 4 MiB). Only a hint on memory the caller owns; it never fails.
void PrepareLargeDestination(void* p, size_t bytes);

// Copies `bytes` into `n` elements at `out`, which the caller sized.
template <class T>
void CopyElements(std::string_view bytes, T* out) {
  std::memcpy(static_cast<void*>(out), bytes.data(), bytes.size());
}

}  // namespace ucache::codec_internal

namespace cereal::traits::detail {
// What cereal's save_minimal checks pair KeyEncoder with.
template <>
struct get_input_from_output<ucache::codec_internal::KeyEncoder> {
  using type = cereal::BinaryInputArchive;
};
}  // namespace cereal::traits::detail

#endif  // UCACHE_INTERNAL_CODEC_H_
