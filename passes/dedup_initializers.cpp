// dedup-initializers: (being written)
#include "passes/passes.h"
namespace effopt::passes {
void register_dedup_initializers(pass::PassRegistry& r) { (void)r; }
}  // namespace effopt::passes
