// fold-shapes: (being written)
#include "passes/passes.h"
namespace effopt::passes {
void register_fold_shapes(pass::PassRegistry& r) { (void)r; }
}  // namespace effopt::passes
