// eliminate-noop: (being written)
#include "passes/passes.h"
namespace effopt::passes {
void register_eliminate_noop(pass::PassRegistry& r) { (void)r; }
}  // namespace effopt::passes
