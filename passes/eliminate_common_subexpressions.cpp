// eliminate-common-subexpressions: (being written)
#include "passes/passes.h"
namespace effopt::passes {
void register_eliminate_common_subexpressions(pass::PassRegistry& r) { (void)r; }
}  // namespace effopt::passes
