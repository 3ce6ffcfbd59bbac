// The machinery behind codec.h: the cereal headers for the standard types
// that arguments and results may hold, KeyEncoder (cereal's binary encoding
// appended to a string, for keys), and the raw codecs' helpers. Not part of
// the API: include "ucache/codec.h", and expect anything here to change.

#ifndef UCACHE_INTERNAL_CODEC_H_
#define UCACHE_INTERNAL_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <streambuf>
#include <string>
#include <string_view>
#include <type_traits>

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

// cereal's glue for KeyEncoder, mirroring what binary.hpp declares for
// BinaryOutputArchive.
template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(
    KeyEncoder& ar, const T& t) {
  ar.saveBinary(std::addressof(t), sizeof(t));
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
  ar.saveBinary(bd.data, static_cast<std::size_t>(bd.size));
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
