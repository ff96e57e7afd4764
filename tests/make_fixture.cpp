// Writes a small model made by effopt's own code (ONNX text -> IR -> file),
// for tests that need a model file without the corpus.
//   effopt_make_fixture OUT.onnx
#include <cstdio>

#include "onnx/model_io.h"

int main(int argc, char** argv) {
  if (argc != 2) return 1;
  // 10 parameters: W has 8 elements, B has 2.
  auto m = effopt::parse_model_text(R"(
<ir_version: 8, opset_import: ["" : 13]>
tiny (float[N, 4] X) => (float[N, 2] Y) <float[4, 2] W = {1, 2, 3, 4, 5, 6, 7, 8}, float[2] B = {0.5, -0.5}> {
  H = MatMul(X, W)
  Y = Add(H, B)
}
)");
  if (!m) return std::fprintf(stderr, "%s\n", m.error().message.c_str()), 2;
  auto st = effopt::save_model(**m, argv[1]);
  if (!st) return std::fprintf(stderr, "%s\n", st.error().message.c_str()), 2;
  return 0;
}
