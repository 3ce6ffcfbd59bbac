// Codec: how memoized arguments become keys and results become stored bytes.
//
// Values. Codec<T>::Encode and ::Decode turn a T into bytes and back. Three
// shapes are stored raw, as their elements' bytes with nothing around them
// (Codec<T>::Bytes views them in place, so a store needs no copy first),
// so that a disk hit is one copy at memory speed or, through
// Memoized::view(), no copy at all (the file tier keeps values 16-byte
// aligned): arithmetic scalars, std::vector<T> and std::array<T, N> of
// arithmetic T (not bool), and std::string. Every other type goes through
// cereal's binary archive: give your types a `serialize` (or save/load)
// function as cereal documents. Raw bytes are in this machine's byte order;
// stores are not meant to move between architectures.
//
// Keys. A call's arguments are written in cereal's binary encoding
// (BinaryOutputArchive's bytes) into a string, without a stream, so that
// hashing them costs no allocation for small arguments; except that a long
// double is written without its padding and an unordered container's
// elements sorted (memoize.h, "What a key normalises"). The cereal headers
// for the standard library's types (containers, strings, tuples, optional,
// variant, chrono, smart pointers) come with this header.

#ifndef UCACHE_CODEC_H_
#define UCACHE_CODEC_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ucache/internal/codec.h"
#include "ucache/internal/language_level.h"

namespace ucache {

// The general case: cereal's binary archive.
template <class T, class Enable = void>
struct Codec {
  static constexpr bool kRaw = false;
  static void Encode(const T& value, std::string* out) {
    codec_internal::KeyEncoder archive(out);
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
  static std::string_view Bytes(const T& value) {
    return {reinterpret_cast<const char*>(&value), sizeof(T)};
  }
  static void Encode(const T& value, std::string* out) {
    out->append(Bytes(value));
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
  static std::string_view Bytes(const std::vector<T, A>& value) {
    return {reinterpret_cast<const char*>(value.data()),
            value.size() * sizeof(T)};
  }
  static void Encode(const std::vector<T, A>& value, std::string* out) {
    out->append(Bytes(value));
  }
  static bool Decode(std::string_view bytes, std::vector<T, A>* out) {
    if (bytes.size() % sizeof(T) != 0) return false;
    const size_t n = bytes.size() / sizeof(T);
    if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(T) == 0) {
      // One pass (resize would zero the elements first). The bytes are a
      // T array's object representation, suitably aligned.
      const T* first = reinterpret_cast<const T*>(bytes.data());
      if (out->capacity() < n) {
        out->clear();
        out->reserve(n);
        codec_internal::PrepareLargeDestination(out->data(), bytes.size());
      }
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
  static std::string_view Bytes(const std::array<T, N>& value) {
    return {reinterpret_cast<const char*>(value.data()), N * sizeof(T)};
  }
  static void Encode(const std::array<T, N>& value, std::string* out) {
    out->append(Bytes(value));
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
  static std::string_view Bytes(const std::string& value) { return value; }
  static void Encode(const std::string& value, std::string* out) {
    out->append(value);
  }
  static bool Decode(std::string_view bytes, std::string* out) {
    out->assign(bytes);
    return true;
  }
};

}  // namespace ucache

#endif  // UCACHE_CODEC_H_
