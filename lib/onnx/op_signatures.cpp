#include "onnx/op_signatures.h"

#include <onnx/defs/schema.h>

#include <algorithm>
#include <array>
#include <sstream>
#include <string>

#include "onnx/opset_convert.h"

namespace effopt {

namespace {

using Arity = OpSignature::Arity;

constexpr int64_t kNewestKnownOpset = 21;

// The ai.onnx versions added at opsets 18..21 whose formal parameters differ
// from the op's previous version, or that are new ops (ONNX 1.16's operator
// documentation). Parameters: NAME single, NAME? optional, NAME* variadic
// (at least one). Every other version added at 18..21 (onnx_op_version)
// widened types or attributes only and keeps its previous version's
// parameters.
struct NewerSignature {
  std::string_view op;
  int64_t version;
  std::string_view inputs, outputs;
};
constexpr std::array<NewerSignature, 27> kNewerSignatures = {{
    {"Pad", 18, "data pads constant_value? axes?", "output"},
    {"CenterCropPad", 18, "input_data shape", "output_data"},
    {"Mish", 18, "X", "Y"},
    {"OptionalHasElement", 18, "input?", "output"},
    {"Col2Im", 18, "input image_shape block_shape", "output"},
    {"ReduceSumSquare", 18, "data axes?", "reduced"},
    {"ReduceLogSum", 18, "data axes?", "reduced"},
    {"ReduceLogSumExp", 18, "data axes?", "reduced"},
    {"ReduceL1", 18, "data axes?", "reduced"},
    {"ReduceL2", 18, "data axes?", "reduced"},
    {"ReduceMax", 18, "data axes?", "reduced"},
    {"ReduceMin", 18, "data axes?", "reduced"},
    {"ReduceMean", 18, "data axes?", "reduced"},
    {"ReduceProd", 18, "data axes?", "reduced"},
    {"BitwiseAnd", 18, "A B", "C"},
    {"BitwiseOr", 18, "A B", "C"},
    {"BitwiseXor", 18, "A B", "C"},
    {"BitwiseNot", 18, "X", "Y"},
    {"GroupNormalization", 18, "X scale bias", "Y"},
    {"DeformConv", 19, "X W offset B? mask?", "Y"},
    {"AffineGrid", 20, "theta size", "grid"},
    {"DFT", 20, "input dft_length? axis?", "output"},
    {"Gelu", 20, "X", "Y"},
    {"ImageDecoder", 20, "encoded_stream", "image"},
    {"RegexFullMatch", 20, "X", "Y"},
    {"StringConcat", 20, "X Y", "Z"},
    {"StringSplit", 20, "X", "Y Z"},
}};

void add_bounds(const std::vector<OpSignature::Param>& ps, int& lo, int& hi) {
  lo = hi = 0;
  for (const auto& p : ps) {
    if (p.arity == Arity::Single) ++lo, ++hi;
    else if (p.arity == Arity::Optional) ++hi;
    else ++lo, hi = INT_MAX;
  }
}

std::vector<OpSignature::Param> parse_params(std::string_view text) {
  std::vector<OpSignature::Param> ps;
  std::istringstream in{std::string(text)};
  std::string word;
  while (in >> word) {
    OpSignature::Param p;
    if (word.back() == '?') p.arity = Arity::Optional;
    else if (word.back() == '*') p.arity = Arity::Variadic;
    if (p.arity != Arity::Single) word.pop_back();
    p.name = word;
    ps.push_back(std::move(p));
  }
  return ps;
}

std::string version_label(std::string_view domain, std::string_view op, int64_t version) {
  return (domain.empty() ? std::string() : std::string(domain) + "::") + std::string(op) + "-" +
         std::to_string(version);
}

OpSignature from_schema(const ONNX_NAMESPACE::OpSchema& s, std::string_view domain) {
  OpSignature sig;
  sig.label = version_label(domain, s.Name(), s.since_version());
  auto params = [](const std::vector<ONNX_NAMESPACE::OpSchema::FormalParameter>& fs) {
    std::vector<OpSignature::Param> ps;
    for (const auto& f : fs) {
      OpSignature::Param p;
      p.name = f.GetName();
      switch (f.GetOption()) {
        case ONNX_NAMESPACE::OpSchema::Single: p.arity = Arity::Single; break;
        case ONNX_NAMESPACE::OpSchema::Optional: p.arity = Arity::Optional; break;
        case ONNX_NAMESPACE::OpSchema::Variadic: p.arity = Arity::Variadic; break;
      }
      ps.push_back(std::move(p));
    }
    return ps;
  };
  sig.inputs = params(s.inputs());
  sig.outputs = params(s.outputs());
  // The schema's own bounds: they count a variadic parameter's minimum arity.
  sig.min_inputs = s.min_input();
  sig.max_inputs = s.max_input();
  sig.min_outputs = s.min_output();
  sig.max_outputs = s.max_output();
  for (const auto& [name, a] : s.attributes())
    sig.attributes.push_back({name, static_cast<AttrType>(a.type), a.required});
  return sig;
}

// ai.onnx `op` at its version `version` (as onnx_op_version gives it).
std::optional<OpSignature> default_domain_signature(std::string_view op, int64_t version) {
  if (version <= 0) return std::nullopt;
  if (version <= 17) {
    const auto* s = ONNX_NAMESPACE::OpSchemaRegistry::Schema(std::string(op), static_cast<int>(version), "");
    if (!s) return std::nullopt;
    return from_schema(*s, "");
  }
  for (const NewerSignature& n : kNewerSignatures)
    if (n.op == op && n.version == version) {
      OpSignature sig;
      sig.label = version_label("", op, version);
      sig.inputs = parse_params(n.inputs);
      sig.outputs = parse_params(n.outputs);
      add_bounds(sig.inputs, sig.min_inputs, sig.max_inputs);
      add_bounds(sig.outputs, sig.min_outputs, sig.max_outputs);
      return sig;
    }
  // A version that only widened types: the previous version's parameters.
  auto prev = default_domain_signature(op, onnx_op_version(std::string(op), version - 1));
  if (prev) {
    prev->label = version_label("", op, version);
    prev->attributes.clear();  // the newer version may have changed them: not checked
  }
  return prev;
}

}  // namespace

std::optional<OpSignature> onnx_op_signature(std::string_view domain, std::string_view op_type, int64_t opset,
                                             NewerOpsets newer) {
  if (opset <= 0) return std::nullopt;
  if (domain.empty() || domain == "ai.onnx") {
    if (opset > kNewestKnownOpset) {
      if (newer == NewerOpsets::Unknown) return std::nullopt;
      opset = kNewestKnownOpset;
    }
    return default_domain_signature(op_type, onnx_op_version(std::string(op_type), opset));
  }
  const auto& ranges = ONNX_NAMESPACE::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  auto range = ranges.find(std::string(domain));
  if (range == ranges.end() || opset > range->second.second) return std::nullopt;
  const auto* s =
      ONNX_NAMESPACE::OpSchemaRegistry::Schema(std::string(op_type), static_cast<int>(opset), std::string(domain));
  if (!s) return std::nullopt;
  return from_schema(*s, domain);
}

Status verify_onnx_signatures(const Model& model, NewerOpsets newer) {
  return verify_node_signatures(model, [newer](std::string_view domain, std::string_view op, int64_t opset) {
    return onnx_op_signature(domain, op, opset, newer);
  });
}

}  // namespace effopt
