// Measures what libonnx's generated classes cost on a big model: parse time
// and peak memory of ModelProto::ParseFromString over the whole file. The
// numbers behind the import design in docs/architecture.md.
//
//   proto_parse MODEL.onnx
#include <onnx/onnx_pb.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

int main(int argc, char** argv) {
  if (argc < 2) return 1;
  auto t0 = std::chrono::steady_clock::now();
  std::ifstream f(argv[1], std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  onnx::ModelProto p;
  bool ok = p.ParseFromString(bytes);
  auto t1 = std::chrono::steady_clock::now();
  std::printf("parse %s: %s in %.3f s (%zu bytes)\n", argv[1], ok ? "ok" : "FAILED",
              std::chrono::duration<double>(t1 - t0).count(), bytes.size());
  return ok ? 0 : 2;
}
