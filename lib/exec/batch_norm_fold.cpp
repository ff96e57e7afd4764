// BatchNormalization folding (batch_norm_fold.h).
#include "exec/batch_norm_fold.h"

#include <cmath>
#include <optional>
#include <vector>

#include "ir/constants.h"
#include "ir/dtype.h"

namespace effopt::exec {

namespace {

bool is_op(const Node& n, std::string_view op) { return n.op_type == op && is_onnx_domain(n.domain); }

BatchNormFold refuse(const Node& n, std::string why) {
  BatchNormFold f;
  f.refusal = std::move(why);
  f.refused = &n;
  return f;
}

// The rank of `v` when known (from a constant or the declared type).
std::optional<size_t> known_rank(const Value* v) {
  if (TensorPtr t = constant_tensor(v)) return t->dims.size();
  if (v && v->type.is_tensor() && v->type.shape) return v->type.shape->size();
  return std::nullopt;
}

}  // namespace

BatchNormFold fold_batch_norm(const Node& producer, const Node& bn, int64_t opset, const Model& model) {
  // ---- structure
  const bool conv = is_op(producer, "Conv"), conv_t = is_op(producer, "ConvTranspose");
  const bool gemm = is_op(producer, "Gemm"), matmul = is_op(producer, "MatMul");
  if (!conv && !conv_t && !gemm && !matmul) return refuse(producer, "not a Conv, ConvTranspose, Gemm or MatMul");
  if (!is_op(bn, "BatchNormalization")) return refuse(bn, "not a BatchNormalization");
  const Value* y = producer.output(0);
  if (!y || bn.input(0) != y) return refuse(bn, "does not read the output of " + producer.op_type);
  if (y->uses().size() != 1 || bn.graph() != y->graph() || y->is_output_of_any_graph())
    return refuse(producer, "output has other consumers or is a graph output");
  if (bn.inputs().size() != 5) return refuse(bn, "needs 5 inputs");
  for (size_t i = 1; i < 5; ++i)
    if (!bn.input(i)) return refuse(bn, "has an empty parameter input");
  if (producer.inputs().size() < 2 || !producer.input(1)) return refuse(producer, "has no weights input");

  // ---- inference mode
  if (bn.attr_int("training_mode", 0) != 0) return refuse(bn, "training mode");
  if (opset < 7 && bn.attr_int("is_test", 0) == 0) return refuse(bn, "is_test=0 (training mode)");
  if (opset < 9 && bn.attr_int("spatial", 1) != 1) return refuse(bn, "spatial=0 (per-activation statistics)");
  for (size_t k = 1; k < bn.outputs().size(); ++k)
    if (const Value* o = bn.output(k); o && (!o->uses().empty() || o->is_output_of_any_graph()))
      return refuse(bn, "running mean/var outputs are used");
  if ((gemm || matmul) && opset < 7) return refuse(bn, "opset < 7: Gemm would need the legacy broadcast attribute");

  // ---- weights: constant, type, output-channel count
  TensorPtr w = fixed_constant_tensor(producer.input(1), model);
  if (!w) {
    return refuse(producer, constant_tensor(producer.input(1))
                                ? "weights are an initializer that a graph input of the same name can override"
                                : "weights are not constant");
  }
  const DataType dt = w->data_type;
  if (!is_ieee_float_type(dt)) return refuse(producer, "weights are not float, double or float16");
  const int64_t group = producer.attr_int("group", 1);
  const bool trans_b = gemm && producer.attr_int("transB", 0) != 0;
  int64_t channels = 0;
  if (conv || conv_t) {
    if (w->dims.size() < 3) return refuse(producer, "weights have rank < 3");
    if (conv_t && (group < 1 || w->dims[0] % group != 0))
      return refuse(producer, "group does not divide the weights' input channels");
    channels = conv ? w->dims[0] : w->dims[1] * group;
  } else {
    if (w->dims.size() != 2) return refuse(producer, "weights are not a constant matrix");
    if (matmul && known_rank(producer.input(0)) != 2)
      return refuse(producer, "input A is not known to be 2-D (BN's axis 1 must be the feature axis)");
    channels = trans_b ? w->dims[0] : w->dims[1];
  }
  if (channels < 1) return refuse(producer, "weights have no output channels");

  // ---- BN parameters, bias
  std::vector<double> params[4];
  for (size_t i = 1; i < 5; ++i) {
    TensorPtr p = fixed_constant_tensor(bn.input(i), model);
    if (!p) return refuse(bn, "parameters are not constant");
    if (p->data_type != dt) return refuse(bn, "parameter types differ from the weights'");
    if (p->dims != std::vector<int64_t>{channels}) return refuse(bn, "parameters do not match the output channels");
    auto vals = to_doubles(*p);
    if (!vals) return refuse(bn, "parameters' bytes do not match their dims");
    params[i - 1] = std::move(*vals);
  }
  const std::vector<double>&gamma = params[0], &beta = params[1], &mean = params[2], &var = params[3];
  std::vector<double> bias(static_cast<size_t>(channels), 0.0);
  if (const Value* b = producer.input(2)) {
    TensorPtr bt = fixed_constant_tensor(b, model);
    const char* what = gemm ? "C" : "bias";
    if (!bt) return refuse(producer, std::string(what) + " is not constant");
    if (bt->data_type != dt) return refuse(producer, std::string(what) + " is not of the weights' type");
    auto vals = to_doubles(*bt);
    if (!vals) return refuse(producer, std::string(what) + "'s bytes do not match its dims");
    if (gemm) {
      const auto& d = bt->dims;
      bool per_feature = d.empty() || (d.size() == 1 && (d[0] == 1 || d[0] == channels)) ||
                         (d.size() == 2 && d[0] == 1 && (d[1] == 1 || d[1] == channels));
      if (!per_feature) return refuse(producer, "C varies along N");
      const double beta_attr = static_cast<double>(producer.attr_float("beta", 1.0f));
      for (size_t c = 0; c < bias.size(); ++c) bias[c] = beta_attr * (vals->size() == 1 ? (*vals)[0] : (*vals)[c]);
    } else {
      if (bt->dims != std::vector<int64_t>{channels}) return refuse(producer, "bias does not match the output channels");
      bias = std::move(*vals);
    }
  }
  auto wv = to_doubles(*w);
  if (!wv) return refuse(producer, "weights' bytes do not match their dims");

  // ---- the maths, in double, rounded once
  const double eps = static_cast<double>(bn.attr_float("epsilon", 1e-5f));
  const size_t cout = static_cast<size_t>(channels);
  std::vector<double> scale(cout);
  for (size_t c = 0; c < cout; ++c) scale[c] = gamma[c] / std::sqrt(var[c] + eps);
  std::vector<double>& wd = *wv;
  if (conv) {
    const size_t per_channel = wd.size() / cout;
    for (size_t i = 0; i < wd.size(); ++i) wd[i] *= scale[i / per_channel];
  } else if (conv_t) {
    const size_t cin = static_cast<size_t>(w->dims[0]), cout_g = static_cast<size_t>(w->dims[1]);
    const size_t cin_g = cin / static_cast<size_t>(group), inner = wd.size() / (cin * cout_g);
    for (size_t i = 0; i < cin; ++i)
      for (size_t j = 0; j < cout_g; ++j) {
        const double s = scale[(i / cin_g) * cout_g + j];
        double* p = &wd[(i * cout_g + j) * inner];
        for (size_t k = 0; k < inner; ++k) p[k] *= s;
      }
  } else {
    const size_t rows = static_cast<size_t>(w->dims[0]), cols = static_cast<size_t>(w->dims[1]);
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) wd[r * cols + c] *= scale[trans_b ? r : c];
  }
  std::vector<double> b2(cout);
  for (size_t c = 0; c < cout; ++c) b2[c] = (bias[c] - mean[c]) * scale[c] + beta[c];

  BatchNormFold f;
  f.weight = tensor_from_values(dt, w->dims, wd);
  f.bias = tensor_from_values(dt, {channels}, b2);
  return f;
}

}  // namespace effopt::exec
