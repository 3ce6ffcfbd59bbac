// The earlier versions of types that memoize_test.cc changes: each has the
// same name (so the same std::type_info::name()) as its successor there, as
// a struct edited between two builds would, and a function that stores a
// result of it in a store.

#ifndef UCACHE_TESTS_MEMOIZE_OLD_TYPES_H_
#define UCACHE_TESTS_MEMOIZE_OLD_TYPES_H_

#include <string>

namespace ucache::old_types {

// Memoizes "changed/v1": int -> Reading{x, x} (two ints; memoize_test's
// Reading is one int64_t) in the store at `dir` and calls it with 1. Returns
// typeid(Reading).name().
const char* StoreTwoInts(const std::string& dir);

// Memoizes "versioned/v1": int -> Tagged{x} (CEREAL_CLASS_VERSION 1;
// memoize_test's Tagged has version 2) in the store at `dir` and calls it
// with 1. Returns typeid(Tagged).name().
const char* StoreVersionOne(const std::string& dir);

}  // namespace ucache::old_types

#endif  // UCACHE_TESTS_MEMOIZE_OLD_TYPES_H_
