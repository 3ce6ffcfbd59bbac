// Tests of the memory tier's open-addressing index: lookups after inserts,
// removals that shift colliding entries back (including runs that wrap
// around the end of the table), growth, and a long random sequence checked
// against std::map.

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "src/mcache/entry.h"
#include "src/mcache/entry_table.h"

namespace ucache {
namespace mcache_internal {
namespace {

// An entry with a chosen hash, so that tests decide where it lands.
std::unique_ptr<Entry> MakeEntry(const std::string& key, uint64_t hash) {
  auto e = std::make_unique<Entry>();
  e->key = key;
  e->hash = hash;
  return e;
}

Entry* Add(EntryTable& table, const std::string& key, uint64_t hash) {
  auto e = MakeEntry(key, hash);
  Entry* raw = e.get();
  table.Insert(std::move(e));
  return raw;
}

TEST(EntryTableTest, FindsWhatWasInserted) {
  EntryTable table;
  EXPECT_EQ(table.Find("a", 1), nullptr);
  Entry* a = Add(table, "a", 1);
  Entry* b = Add(table, "b", 2);
  EXPECT_EQ(table.Find("a", 1), a);
  EXPECT_EQ(table.Find("b", 2), b);
  EXPECT_EQ(table.size(), 2u);
  // The hash narrows the search; the key decides.
  EXPECT_EQ(table.Find("a", 2), nullptr);
  EXPECT_EQ(table.Find("c", 1), nullptr);
}

TEST(EntryTableTest, SameHashDifferentKeys) {
  EntryTable table;
  Entry* a = Add(table, "a", 7);
  Entry* b = Add(table, "b", 7);
  EXPECT_EQ(table.Find("a", 7), a);
  EXPECT_EQ(table.Find("b", 7), b);
}

TEST(EntryTableTest, LongKeysLiveOutsideTheEntry) {
  EntryTable table;
  const std::string long_key(100, 'k');
  Entry* e = Add(table, long_key, 3);
  EXPECT_EQ(std::string_view(e->key), long_key);
  EXPECT_EQ(table.Find(long_key, 3), e);
  EXPECT_EQ(table.Find(std::string(99, 'k'), 3), nullptr);
}

TEST(EntryTableTest, RemovalShiftsTheRunBack) {
  EntryTable table;
  table.Reserve(4);
  const uint64_t mask = table.capacity() - 1;
  // Three keys with one home, then one whose home is the next slot: a run
  // of four. Removing the first must keep all the others reachable, with
  // no empty slot left inside the run.
  Entry* a = Add(table, "a", 5);
  Add(table, "b", 5 + (mask + 1));
  Add(table, "c", 5 + 2 * (mask + 1));
  Add(table, "d", 6);
  table.Remove(a).reset();
  EXPECT_EQ(table.Find("a", 5), nullptr);
  ASSERT_NE(table.Find("b", 5 + (mask + 1)), nullptr);
  ASSERT_NE(table.Find("c", 5 + 2 * (mask + 1)), nullptr);
  ASSERT_NE(table.Find("d", 6), nullptr);
  EXPECT_EQ(table.size(), 3u);
}

TEST(EntryTableTest, RemovalInARunThatWrapsAround) {
  EntryTable table;
  table.Reserve(4);
  const uint64_t last = table.capacity() - 1;
  // Homes at the last slot spill into slot 0 and 1; "z" lives at home 0
  // (displaced to slot 2) and must not move before its home.
  Entry* x = Add(table, "x", last);
  Add(table, "y", last + table.capacity());
  Add(table, "w", last + 2 * table.capacity());
  Add(table, "z", 0);
  table.Remove(x).reset();
  ASSERT_NE(table.Find("y", last + table.capacity()), nullptr);
  ASSERT_NE(table.Find("w", last + 2 * table.capacity()), nullptr);
  ASSERT_NE(table.Find("z", 0), nullptr);
  // And the slot the shift emptied is reusable.
  Add(table, "v", last);
  EXPECT_NE(table.Find("v", last), nullptr);
}

TEST(EntryTableTest, GrowsAndKeepsEverything) {
  EntryTable table;
  std::mt19937_64 rng(1);
  std::map<std::string, uint64_t> keys;
  for (int i = 0; i < 10000; ++i) {
    const std::string key = "key" + std::to_string(i);
    const uint64_t hash = rng();
    keys[key] = hash;
    Add(table, key, hash);
    // At most 3/4 of the slots in use.
    ASSERT_LE(table.size() * 4, table.capacity() * 3);
  }
  EXPECT_GE(table.capacity(), 10000u * 4 / 3);
  for (const auto& [key, hash] : keys)
    ASSERT_NE(table.Find(key, hash), nullptr);
}

TEST(EntryTableTest, ReserveThenFillDoesNotGrow) {
  EntryTable table;
  table.Reserve(1000);
  const size_t capacity = table.capacity();
  for (int i = 0; i < 1000; ++i) Add(table, std::to_string(i), i * 977);
  EXPECT_EQ(table.capacity(), capacity);
}

TEST(EntryTableTest, MatchesAMapUnderRandomChurn) {
  // Hashes drawn from a small range make long collision runs, so removals
  // shift often; the table must agree with a map after every step.
  EntryTable table;
  std::map<std::string, Entry*> model;
  std::mt19937_64 rng(7);
  auto hash_of = [](const std::string& key) {
    return std::hash<std::string>()(key) % 64;
  };
  for (int step = 0; step < 20000; ++step) {
    const std::string key = std::to_string(rng() % 300);
    const uint64_t hash = hash_of(key);
    auto it = model.find(key);
    if (it == model.end()) {
      model[key] = Add(table, key, hash);
    } else {
      table.Remove(it->second).reset();
      model.erase(it);
    }
    ASSERT_EQ(table.size(), model.size());
    if (step % 97 == 0) {
      for (int k = 0; k < 300; ++k) {
        const std::string probe = std::to_string(k);
        auto m = model.find(probe);
        ASSERT_EQ(table.Find(probe, hash_of(probe)),
                  m == model.end() ? nullptr : m->second)
            << "step " << step << " key " << probe;
      }
    }
  }
  size_t seen = 0;
  table.ForEach([&](Entry*) { ++seen; });
  EXPECT_EQ(seen, model.size());
}

TEST(EntryTableTest, SwapExchangesContents) {
  EntryTable a;
  EntryTable b;
  Entry* e = Add(a, "k", 1);
  a.Swap(b);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.Find("k", 1), nullptr);
  EXPECT_EQ(b.Find("k", 1), e);
}

}  // namespace
}  // namespace mcache_internal
}  // namespace ucache
