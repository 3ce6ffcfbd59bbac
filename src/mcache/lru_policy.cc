#include "src/mcache/lru_policy.h"

namespace ucache {
namespace mcache_internal {

void LruPolicy::RecordInsert(Entry* e) { list_.PushBack(e); }

void LruPolicy::RecordAccess(Entry* e) { list_.MoveToBack(e); }

void LruPolicy::RecordRemove(Entry* e) { list_.Remove(e); }

Entry* LruPolicy::ChooseVictim() { return list_.front(); }

}  // namespace mcache_internal
}  // namespace ucache
