#include "tests/memoize_old_types.h"

#include <cstdint>
#include <typeinfo>

#include "ucache/memoize.h"

namespace ucache {
namespace {

// The same qualified names as memoize_test.cc's types: ucache::(anonymous
// namespace)::Reading and ::Tagged.
struct Reading {
  int32_t a = 0;
  int32_t b = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(a, b);
  }
};

struct Tagged {
  int32_t x = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x);
  }
};

Options StoreOptions(const std::string& dir) {
  Options o;
  o.dir = dir;
  o.read_environment = false;
  return o;
}

}  // namespace
}  // namespace ucache

CEREAL_CLASS_VERSION(ucache::Tagged, 1);

namespace ucache::old_types {

const char* StoreTwoInts(const std::string& dir) {
  memoize(
      "changed/v1",
      [](int x) {
        return Reading{x, x};
      },
      StoreOptions(dir))(1);
  return typeid(Reading).name();
}

const char* StoreVersionOne(const std::string& dir) {
  memoize(
      "versioned/v1", [](int x) { return Tagged{x}; }, StoreOptions(dir))(1);
  return typeid(Tagged).name();
}

}  // namespace ucache::old_types
