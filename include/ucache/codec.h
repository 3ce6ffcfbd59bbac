// Codec: how memoized arguments become keys and results become stored bytes.
//
// Values. Codec<T>::Encode and ::Decode turn a T into bytes and back. Three
// shapes are stored raw, as their elements' bytes with nothing around them,
// so that a disk hit is one copy at memory speed or, through
// Memoized::view(), no copy at all (the file tier keeps values 16-byte
// aligned): arithmetic scalars, std::vector<T> and std::array<T, N> of
// arithmetic T (not bool), and std::string. Every other type goes through
// cereal's binary archive: give your types a `serialize` (or save/load)
// function as cereal documents. Raw bytes are in this machine's byte order;
// stores are not meant to move between architectures.
//
// Keys. KeyEncoder writes arguments in exactly cereal's binary encoding
// (BinaryOutputArchive's bytes) into a string, without a stream, so that
// hashing a call's arguments costs no allocation for small arguments.

#ifndef UCACHE_CODEC_H_
#define UCACHE_CODEC_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <streambuf>
#include <string>
#include <string_view>
#include <type_traits>
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

namespace ucache {

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

namespace codec_internal {

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

// Copies `bytes` into `n` elements at `out`, which the caller sized.
template <class T>
void CopyElements(std::string_view bytes, T* out) {
  std::memcpy(static_cast<void*>(out), bytes.data(), bytes.size());
}

}  // namespace codec_internal

// The general case: cereal's binary archive.
template <class T, class Enable = void>
struct Codec {
  static constexpr bool kRaw = false;
  static void Encode(const T& value, std::string* out) {
    KeyEncoder archive(out);
    archive(value);
  }
  // False when `bytes` is not a T's encoding (a cache may forget, never
  // misread: the caller treats it as a miss).
  static bool Decode(std::string_view bytes, T* out) {
    codec_internal::ViewBuf buf(bytes);
    std::istream in(&buf);
    try {
      cereal::BinaryInputArchive archive(in);
      archive(*out);
    } catch (const cereal::Exception&) {
      return false;
    } catch (const std::bad_alloc&) {
      return false;
    } catch (const std::length_error&) {
      return false;
    }
    return in.rdbuf()->in_avail() == 0;  // every byte consumed
  }
};

template <class T>
struct Codec<T, std::enable_if_t<codec_internal::kRawElement<T>>> {
  static constexpr bool kRaw = true;
  using Element = T;
  static void Encode(const T& value, std::string* out) {
    out->append(reinterpret_cast<const char*>(&value), sizeof(T));
  }
  static bool Decode(std::string_view bytes, T* out) {
    if (bytes.size() != sizeof(T)) return false;
    codec_internal::CopyElements(bytes, out);
    return true;
  }
};

template <class T, class A>
struct Codec<std::vector<T, A>,
             std::enable_if_t<codec_internal::kRawElement<T>>> {
  static constexpr bool kRaw = true;
  using Element = T;
  static void Encode(const std::vector<T, A>& value, std::string* out) {
    out->append(reinterpret_cast<const char*>(value.data()),
                value.size() * sizeof(T));
  }
  static bool Decode(std::string_view bytes, std::vector<T, A>* out) {
    if (bytes.size() % sizeof(T) != 0) return false;
    const size_t n = bytes.size() / sizeof(T);
    if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(T) == 0) {
      // One pass (resize would zero the elements first). The bytes are a
      // T array's object representation, suitably aligned.
      const T* first = reinterpret_cast<const T*>(bytes.data());
      out->assign(first, first + n);
    } else {
      out->resize(n);
      codec_internal::CopyElements(bytes, out->data());
    }
    return true;
  }
};

template <class T, size_t N>
struct Codec<std::array<T, N>,
             std::enable_if_t<codec_internal::kRawElement<T>>> {
  static constexpr bool kRaw = true;
  using Element = T;
  static void Encode(const std::array<T, N>& value, std::string* out) {
    out->append(reinterpret_cast<const char*>(value.data()), N * sizeof(T));
  }
  static bool Decode(std::string_view bytes, std::array<T, N>* out) {
    if (bytes.size() != N * sizeof(T)) return false;
    codec_internal::CopyElements(bytes, out->data());
    return true;
  }
};

template <>
struct Codec<std::string> {
  static constexpr bool kRaw = true;
  using Element = char;
  static void Encode(const std::string& value, std::string* out) {
    out->append(value);
  }
  static bool Decode(std::string_view bytes, std::string* out) {
    out->assign(bytes);
    return true;
  }
};

}  // namespace ucache

namespace cereal::traits::detail {
// What cereal's save_minimal checks pair KeyEncoder with.
template <>
struct get_input_from_output<ucache::KeyEncoder> {
  using type = cereal::BinaryInputArchive;
};
}  // namespace cereal::traits::detail

#endif  // UCACHE_CODEC_H_
