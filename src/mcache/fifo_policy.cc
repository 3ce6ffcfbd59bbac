#include "src/mcache/fifo_policy.h"

namespace ucache {
namespace mcache_internal {

void FifoPolicy::RecordInsert(Entry* e) { list_.PushBack(e); }

void FifoPolicy::RecordAccess(Entry*) {}

void FifoPolicy::RecordRemove(Entry* e) { list_.Remove(e); }

Entry* FifoPolicy::ChooseVictim() { return list_.front(); }

}  // namespace mcache_internal
}  // namespace ucache
