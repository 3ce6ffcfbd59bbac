// LruPolicy: evicts the least recently used entry. Inserts, hits and
// overwrites all count as a use.

#ifndef UCACHE_SRC_MCACHE_LRU_POLICY_H_
#define UCACHE_SRC_MCACHE_LRU_POLICY_H_

#include "src/mcache/entry.h"
#include "src/mcache/policy.h"

namespace ucache {
namespace mcache_internal {

class LruPolicy final : public Policy {
 public:
  void RecordInsert(Entry* e) override;
  void RecordAccess(Entry* e) override;
  void RecordRemove(Entry* e) override;
  void RecordMove(const Entry* from, Entry* to) override {
    list_.Moved(from, to);
  }
  Entry* ChooseVictim() override;
  std::string_view name() const override { return "lru"; }

 private:
  EntryList list_;  // front = least recently used
};

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_LRU_POLICY_H_
