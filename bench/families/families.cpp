#include "families/families.h"

#include <filesystem>
#include <functional>

#include "exec/random_inputs.h"
#include "exec/tensor_io.h"
#include "families/families_internal.h"
#include "onnx/model_io.h"

namespace effopt::bench {

namespace {

struct Entry {
  FamilyInstance instance;
  std::function<Status(GraphBuilder&, const std::string&)> build;
};

const std::vector<Entry>& entries() {
  using namespace detail;
  static const std::vector<Entry> all = {
      {{"efficientnet_b0", "efficientnet", false, "EfficientNet-B0, 224x224"}, build_efficientnet},
      {{"efficientnet_b2", "efficientnet", false, "EfficientNet-B2, 260x260"}, build_efficientnet},
      {{"mobilenetv3_large", "mobilenetv3", false, "MobileNetV3-Large, 224x224"}, build_mobilenetv3},
      {{"mobilenetv3_small", "mobilenetv3", false, "MobileNetV3-Small, 224x224"}, build_mobilenetv3},
      {{"regnety_400mf", "regnety", false, "RegNetY-400MF, 224x224"}, build_regnety},
      {{"regnety_800mf", "regnety", false, "RegNetY-800MF, 224x224"}, build_regnety},
      {{"shufflenetv2_x1_0", "shufflenetv2", false, "ShuffleNetV2 1.0x, 224x224"}, build_shufflenetv2},
      {{"shufflenetv2_x0_5", "shufflenetv2", false, "ShuffleNetV2 0.5x, 224x224"}, build_shufflenetv2},
      {{"gpt_seq128", "gpt", false, "GPT-style decoder, 6 layers, d=512, 8 heads, vocabulary 16384, sequence 128"},
       build_gpt},
      {{"gpt_seq512", "gpt", false, "GPT-style decoder, 6 layers, d=512, 8 heads, vocabulary 16384, sequence 512"},
       build_gpt},
      {{"vit_s16", "vit", false, "ViT-S/16, 224x224"}, build_vit},
      {{"vit_b16", "vit", false, "ViT-B/16, 224x224"}, build_vit},
      {{"efficientnet_tiny", "efficientnet", true, "EfficientNet structure, 32x32, 8-16 channels"}, build_efficientnet},
      {{"mobilenetv3_tiny", "mobilenetv3", true, "MobileNetV3 structure, 32x32, 8-48 channels"}, build_mobilenetv3},
      {{"regnety_tiny", "regnety", true, "RegNetY structure, 32x32, widths 16 and 32, group width 8"}, build_regnety},
      {{"shufflenetv2_tiny", "shufflenetv2", true, "ShuffleNetV2 structure, 32x32, 8-64 channels, stages of 3 and 2 blocks"}, build_shufflenetv2},
      {{"gpt_tiny", "gpt", true, "GPT-style decoder, 2 layers, d=32, 4 heads, vocabulary 64, sequence 16"}, build_gpt},
      {{"vit_tiny", "vit", true, "ViT structure, 32x32, patch 8, d=32, 2 layers, 4 heads"}, build_vit},
  };
  return all;
}

// Token ids must index the embedding table the input feeds: [0, rows of that Gather's table).
double index_range(const Value* input) {
  for (const Use& u : input->uses())
    if (u.node->op_type == "Gather" && u.index == 1 && u.node->input(0)->initializer)
      return static_cast<double>(u.node->input(0)->initializer->dims[0]);
  return 10;
}

}  // namespace

const std::vector<FamilyInstance>& family_instances() {
  static const std::vector<FamilyInstance> all = [] {
    std::vector<FamilyInstance> v;
    for (auto& e : entries()) v.push_back(e.instance);
    return v;
  }();
  return all;
}

std::vector<std::string> family_names(bool tiny) {
  std::vector<std::string> names;
  for (auto& i : family_instances())
    if (i.tiny == tiny) names.push_back(i.name);
  return names;
}

Expected<FamilyCase> build_family(const std::string& name, const FamilyOptions& opts) {
  if (opts.opset != 13 && opts.opset != 17)
    return usage_error("bench families are written at opset 13 or 17, not " + std::to_string(opts.opset));
  for (auto& e : entries()) {
    if (e.instance.name != name) continue;
    GraphBuilder b(opts.opset, opts.seed, name);
    if (auto st = e.build(b, name); !st) return st.error();
    const uint64_t parameters = b.parameter_count();
    auto model = b.finish();
    if (!model) return std::move(model).error();
    exec::RandomInputOptions ro;
    ro.seed = opts.seed;
    for (const Value* in : (*model)->graph->inputs())
      if (in->type.elem_type == DataType::Int64) ro.ranges.push_back({in->name(), 0, index_range(in)});
    auto plan = exec::plan_random_inputs(*(*model)->graph, ro);
    if (!plan) return std::move(plan).error();
    FamilyCase c;
    c.inputs = exec::random_inputs(*plan, opts.seed, 0);
    c.model = std::move(*model);
    c.parameters = parameters;
    return c;
  }
  std::string known;
  for (auto& i : family_instances()) known += (known.empty() ? "" : ", ") + i.name;
  return usage_error("unknown bench family instance '" + name + "' (known: " + known + ")");
}

Status write_family_case(const FamilyCase& c, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "test_data_set_0", ec);
  if (ec) return io_error("cannot create " + dir + ": " + ec.message());
  if (auto st = save_model(*c.model, (fs::path(dir) / "model.onnx").string()); !st) return st;
  for (size_t k = 0; k < c.inputs.size(); ++k) {
    const std::string path = (fs::path(dir) / "test_data_set_0" / ("input_" + std::to_string(k) + ".pb")).string();
    if (auto st = exec::write_tensor_pb(path, c.inputs[k].second, c.inputs[k].first); !st) return st;
  }
  return {};
}

}  // namespace effopt::bench
