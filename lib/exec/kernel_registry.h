// Kernels of the executor, keyed by (domain, op type, opset range).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "exec/activation.h"
#include "exec/runtime_value.h"
#include "exec/tensor_value.h"
#include "exec/thread_pool.h"
#include "ir/ir.h"
#include "support/error.h"

namespace effopt::exec {

// Runs a subgraph (If branch, Loop / Scan body) of the node being executed:
// given the body's inputs, returns its outputs. Values of enclosing graphs that
// the body reads are supplied by the executor. Provided to control-flow kernels.
class SubgraphRunner {
 public:
  virtual ~SubgraphRunner() = default;
  virtual Expected<std::vector<RuntimeValue>> run(const Graph& body, std::vector<RuntimeValue> inputs) = 0;
};

// What a kernel sees while it runs one node.
struct KernelContext {
  const Node& node;
  int64_t opset;                            // version of the node's domain imported by the model
  std::vector<const TensorValue*> inputs;   // nullptr for absent optional inputs
  std::vector<TensorValue> outputs;         // one per node output, filled by the kernel
  ThreadPool& pool;
  // Activation the executor fused into this node (a Conv followed by Relu, Clip, Sigmoid, HardSigmoid,
  // HardSwish, or SiLU / HardSwish written as Mul(x, Sigmoid(x)) / Mul(x, HardSigmoid(x))): the kernel applies
  // it to its output (activation.h; kind None: nothing fused).
  Activation activation{};
  // Per-node state a kernel keeps across runs of its Session (pre-packed
  // weights, library primitives). Empty on the first run; the kernel must key
  // what it stores by everything it depends on (input shapes) and re-check it.
  std::shared_ptr<void>* state = nullptr;
  // Kernels flagged KernelFlags::Values (sequences, optionals, control flow):
  // every input as a RuntimeValue (nullptr when absent; for them `inputs[i]`
  // is an undefined tensor when the value is not a tensor), and non-tensor
  // outputs: an entry of value_outputs that is defined() replaces outputs[i].
  std::vector<const RuntimeValue*> values{};
  std::vector<RuntimeValue> value_outputs{};
  SubgraphRunner* subgraphs = nullptr;

  const RuntimeValue& value(size_t i) const { return *values[i]; }
  void set_output(size_t i, RuntimeValue v) {
    if (value_outputs.size() < outputs.size()) value_outputs.resize(outputs.size());
    value_outputs[i] = std::move(v);
  }

  size_t input_count() const { return inputs.size(); }
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const TensorValue& in(size_t i) const { return *inputs[i]; }
  // "Op 'name'" for messages.
  std::string where() const;
  Error fail(const std::string& what) const { return invalid_model(where() + ": " + what); }
};

using KernelFn = std::function<Status(KernelContext&)>;

enum class KernelFlags : unsigned {
  None = 0,
  // The kernel computes in float32 only: the executor runs it on float16 /
  // bfloat16 data by widening float inputs and rounding its float outputs back
  // to the low-precision type (as real fp16 hardware would, overflow -> inf).
  FloatCompute = 1,
  // The kernel reads KernelContext::values and may see sequences and empty
  // optionals; other kernels are refused non-tensor inputs by the executor.
  Values = 2,
};

struct KernelDef {
  std::string domain;  // "" = ai.onnx
  std::string op_type;
  int64_t since = 1, until = INT64_MAX;  // opset range, inclusive
  KernelFn fn;
  KernelFlags flags = KernelFlags::None;
};

// The step an internal rewrite leaves for LayerNormalization written out (opset-13 exports: ReduceMean, Sub,
// Pow, ReduceMean, Add, Sqrt, Div, Mul, Add): inputs x, scale, bias; normalizes the last axis with epsilon
// KernelContext::activation.a (kernels_nn.cpp; executor.cpp finds the pattern).
const KernelDef& fused_layer_norm_kernel();

class KernelRegistry {
 public:
  void add(KernelDef def);
  void add(std::string op, int64_t since, int64_t until, KernelFn fn, KernelFlags flags = KernelFlags::None) {
    add(KernelDef{"", std::move(op), since, until, std::move(fn), flags});
  }
  // The kernel for op_type in domain at the given opset, or nullptr.
  const KernelDef* find(std::string_view domain, std::string_view op_type, int64_t opset) const;
  std::vector<std::string> op_names() const;  // "Add", "com.microsoft::Foo", sorted

  // The registry with every built-in kernel.
  static const KernelRegistry& builtin();

 private:
  std::map<std::pair<std::string, std::string>, std::vector<KernelDef>, std::less<>> defs_;
};

// Registration functions of the kernel files.
void register_elementwise_kernels(KernelRegistry& r);
void register_nn_kernels(KernelRegistry& r);
void register_shape_kernels(KernelRegistry& r);
void register_quant_kernels(KernelRegistry& r);
void register_conv_transpose_kernels(KernelRegistry& r);
void register_resize_kernels(KernelRegistry& r);
void register_index_kernels(KernelRegistry& r);
void register_misc_kernels(KernelRegistry& r);
void register_control_kernels(KernelRegistry& r);   // If, Loop, Scan
void register_sequence_kernels(KernelRegistry& r);  // Sequence*, SplitToSequence, ConcatFromSequence, Optional*
void register_rnn_kernels(KernelRegistry& r);       // RNN, GRU, LSTM

// ---- helpers for kernels ----
// Normalizes a possibly negative axis for `rank`; error when out of range.
Expected<int64_t> normalize_axis(int64_t axis, int64_t rank, const KernelContext& ctx);
// InvalidModel naming the node unless `t` is float32 (`what`: the input's name).
Status need_float(const KernelContext& ctx, const TensorValue& t, const char* what);
// The optional float32 bias B (input 2) of Conv / ConvTranspose with M
// elements, or nullptr when absent.
Expected<const float*> conv_bias(const KernelContext& ctx, int64_t M);
// Reads a 1-D (or scalar) int32/int64 tensor as int64s.
Expected<std::vector<int64_t>> read_ints(const TensorValue& t, const KernelContext& ctx);

}  // namespace effopt::exec

namespace effopt::exec {
// Generic transpose (any element size); perm as ONNX's Transpose.
TensorValue transpose_tensor(const TensorValue& x, const std::vector<int64_t>& perm, ThreadPool& pool);
// Converts to another element type (Cast's semantics).
Expected<TensorValue> cast_tensor(const TensorValue& x, DataType to, const KernelContext& ctx);
}  // namespace effopt::exec
