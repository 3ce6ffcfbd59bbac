// FifoPolicy: evicts the entry inserted longest ago. Hits and overwrites do
// not change the order, so a hit costs no list update.

#ifndef UCACHE_SRC_MCACHE_FIFO_POLICY_H_
#define UCACHE_SRC_MCACHE_FIFO_POLICY_H_

#include "src/mcache/entry.h"
#include "src/mcache/policy.h"

namespace ucache {
namespace mcache_internal {

class FifoPolicy final : public Policy {
 public:
  void RecordInsert(Entry* e) override;
  void RecordAccess(Entry* e) override;
  void RecordRemove(Entry* e) override;
  void RecordMove(const Entry* from, Entry* to) override {
    list_.Moved(from, to);
  }
  Entry* ChooseVictim() override;
  std::string_view name() const override { return "fifo"; }

 private:
  EntryList list_;  // front = inserted first
};

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_FIFO_POLICY_H_
