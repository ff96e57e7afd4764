#include "quantize_summary.h"

#include <fmt/format.h>

namespace effopt::cli {

namespace {

std::string option_value(const std::string& options, const std::string& key) {
  // "key=value key2=value2" (values without spaces, or quoted)
  size_t p = (" " + options).find(" " + key + "=");
  if (p == std::string::npos) return "";
  size_t start = p + key.size() + 1;
  size_t end = options.find(' ', start);
  return options.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace

std::optional<nlohmann::json> quantization_summary(const std::vector<pass::PassRun>& runs, uint64_t file_bytes_before,
                                                   uint64_t file_bytes_after) {
  const pass::PassRun* run = nullptr;
  for (const pass::PassRun& p : runs)
    if (p.name == "quantize") run = &p;  // the last one says what the output holds
  if (!run) return std::nullopt;
  const pass::PassResult& r = run->result;
  nlohmann::json q;
  std::string mode = option_value(run->options, "mode");
  q["mode"] = mode;
  q["bits"] = std::stoi(option_value(run->options, "bits"));
  q["options"] = run->options;
  nlohmann::json tensors = nlohmann::json::object();
  for (const char* t : {"int8", "uint8", "int4", "uint4", "float16"}) {
    int64_t n = r.counter(std::string("tensors-") + t);
    if (n) tensors[t] = n;
  }
  tensors["kept_float"] = r.counter("tensors-kept-float");
  q["tensors"] = tensors;
  int64_t wb = r.counter("weight-bytes-before"), wa = r.counter("weight-bytes-after");
  q["quantized_weight_bytes"] = {{"before", wb}, {"after", wa}};
  if (wa > 0) q["quantized_weight_bytes"]["ratio"] = static_cast<double>(wb) / static_cast<double>(wa);
  if (file_bytes_before && file_bytes_after)
    q["file_bytes"] = {{"before", file_bytes_before},
                       {"after", file_bytes_after},
                       {"ratio", static_cast<double>(file_bytes_before) / static_cast<double>(file_bytes_after)}};
  q["dequantize_nodes"] = r.counter("dequantize-nodes");
  // Predicted on the pass's result (lib/ort/ort_prediction.h).
  q["dequantize_nodes_run_per_inference"] = {{"value", r.counter("dequantize-nodes-run-per-inference")},
                                             {"prediction", true},
                                             {"runtime", "onnxruntime 1.30 CPU"}};
  q["integer_matmuls"] = r.counter("integer-matmuls");
  q["gathers_dequantized_after"] = r.counter("gathers-dequantized-after");
  if (int64_t n = r.counter("matmulnbits-predicted")) q["matmulnbits_predicted"] = n;
  if (int64_t n = r.counter("matmulnbits")) q["matmulnbits"] = n;
  if (r.counter("to-opset")) q["opset"] = {{"from", r.counter("from-opset")}, {"to", r.counter("to-opset")}};
  nlohmann::json why = nlohmann::json::array(), decisions = nlohmann::json::array();
  for (const std::string& n : r.notes) (n.rfind("tensor '", 0) == 0 ? decisions : why).push_back(n);
  q["why"] = why;
  q["decisions"] = decisions;
  return q;
}

std::string quantization_line(const nlohmann::json& q) {
  std::string types;
  for (auto it = q["tensors"].begin(); it != q["tensors"].end(); ++it)
    if (it.key() != "kept_float") types += (types.empty() ? "" : ", ") + std::to_string(it.value().get<int64_t>()) + " " + it.key();
  if (types.empty()) types = "nothing quantized";
  std::string line = "quantize (mode " + q["mode"].get<std::string>() + "): " + types;
  if (q["tensors"]["kept_float"].get<int64_t>())
    line += ", " + std::to_string(q["tensors"]["kept_float"].get<int64_t>()) + " kept float";
  if (q["quantized_weight_bytes"].contains("ratio"))
    line += fmt::format(" ({} -> {} bytes, {:.2f}x)", q["quantized_weight_bytes"]["before"].get<int64_t>(),
                        q["quantized_weight_bytes"]["after"].get<int64_t>(),
                        q["quantized_weight_bytes"]["ratio"].get<double>());
  if (q.contains("file_bytes")) line += fmt::format("; file {:.2f}x smaller", q["file_bytes"]["ratio"].get<double>());
  int64_t dq = q["dequantize_nodes_run_per_inference"]["value"].get<int64_t>();
  if (dq)
    line += "; ONNX Runtime is predicted to run " + std::to_string(dq) +
            " DequantizeLinear nodes at every inference (smaller, not faster: mode=static will run integer kernels)";
  if (q["integer_matmuls"].get<int64_t>())
    line += "; " + std::to_string(q["integer_matmuls"].get<int64_t>()) + " integer MatMuls";
  return line;
}

}  // namespace effopt::cli
