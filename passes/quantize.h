// The quantize pass's own API (passes/quantize.cpp and its helper files
// quantize_*.cpp): parsed options, the precision plan, and the functions that
// make a plan and build the quantized model from one.
//
// The pass is two steps so that a quality guard can sit between them:
//   plan = make_plan(model, options)        decide, per constant tensor, what it becomes and why
//   build_quantized(model, plan, options)   rewrite the model as the plan says
// A guard edits the plan (TensorPlan::precision: int4 -> int8 -> float) and
// builds again on a fresh copy of the original model: plans name tensors by
// scope and value name, not by pointer, so a plan made on one copy applies to
// another.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "ir/ir.h"
#include "pass/pass.h"
#include "support/error.h"

namespace effopt::passes::quant {

enum class Mode { Weight, Dynamic, Static, Fp16 };
const char* mode_name(Mode m);

// What a constant becomes.
enum class Precision { Float, Int8, UInt8, Int4, UInt4 };
const char* precision_name(Precision p);  // "float", "int8", ...
DataType precision_type(Precision p);     // Float: Undefined
int precision_bits(Precision p);          // 8, 4; 0 for Float

// How a quantized tensor's scales are laid out over the stored tensor.
struct Granularity {
  enum class Kind { PerTensor, PerAxis, Blocked };
  Kind kind = Kind::PerTensor;
  int64_t axis = 0;        // PerAxis, Blocked: an axis of the stored tensor
  int64_t block_size = 0;  // Blocked
};
std::string granularity_text(const Granularity& g);  // "per-tensor", "per-axis 0", "block 128 along axis 0"

// One entry of the overrides file: what to do with a tensor, the constants of
// a node, or the constants of every node of an op type.
struct Override {
  std::optional<int> bits;  // 8 or 4
  std::optional<Mode> mode;  // weight or dynamic
  std::optional<bool> per_channel, symmetric, exclude;
};
struct Overrides {
  std::map<std::string, Override> tensors, nodes, op_types;
};
// Parses the overrides file's JSON (docs in quantize.cpp's pass doc); Usage
// error naming the key at fault.
Expected<Overrides> parse_overrides(const std::string& json_text, const std::string& file_label);

// The pass options, parsed and with every `auto` resolved.
struct Options {
  Mode mode = Mode::Weight;
  int bits = 8;
  int64_t block_size = 128;
  bool per_channel = true;
  bool symmetric = true;
  std::set<std::string> op_types;  // ops whose constants are quantized
  std::string op_types_text;       // as given ("auto" or a list)
  std::set<std::string> exclude_ops;
  std::optional<std::regex> exclude_node;
  std::string exclude_node_text;
  int64_t min_size = 1024;
  bool reduce_range = false;
  std::string target = "x86";
  int64_t max_opset = 0;  // 0 = no cap
  bool keep_io_types = false;
  bool emit_ort = false;
  int64_t scale_search = 51;  // clipping ratios tried per scale
  Overrides overrides;
  // What each `auto` became ("op-types=auto: ..."), for the notes.
  std::vector<std::string> auto_notes;
};
// Parses and checks the pass options (Usage error naming the option); reads
// the overrides file through pass::read_option_file.
Expected<Options> parse_options(const pass::PassOptions& po);

// The ops whose constants weight mode quantizes by default (op-types=auto).
const std::set<std::string>& weight_mode_op_types();

// How one node finally uses a constant (after looking through Identity,
// Reshape, Transpose, ... and into subgraphs).
struct ConstantUse {
  enum class Role {
    Weight,     // a weight with an output-channel axis (Conv W, MatMul B, LSTM W/R, ...)
    Embedding,  // Gather's data input, read directly: gathered, then dequantized
    Data,       // any other input where a dequantized float does the same (a table added in)
    NeedsFloat, // an input the op needs in float (shapes, Resize scales, Range limits) or an unknown op
    Excluded,   // a node or op type the options leave float (op-types, exclude-op, exclude-node, overrides)
  };
  Role role = Role::Data;
  Node* node = nullptr;      // the op that finally uses the constant
  size_t input = 0;          // its input slot
  bool direct = false;       // it reads the stored constant itself (or through Identity only)
  std::optional<int64_t> channel_axis;  // output-channel axis, as an axis of the stored constant
  std::optional<int64_t> k_axis;        // MatMul/Gemm B: the reduction axis, as an axis of the stored constant
  std::string why;           // NeedsFloat, Excluded: why
};

// Every final use of the constant value `v` (a stored tensor with dims
// `dims`), looking through Identity, Reshape, Flatten, Squeeze, Unsqueeze and
// Transpose (outer-scope reads inside subgraphs are uses too). A value that
// reaches a graph output is a NeedsFloat use with node == nullptr.
std::vector<ConstantUse> constant_uses(const Model& m, Value* v, const std::vector<int64_t>& dims, const Options& o);

// The plan for one stored float constant.
struct TensorPlan {
  std::string scope;  // the graph holding it: "" = main graph, else a path of "node#/subgraph#" steps
  std::string name;   // its value's name
  std::vector<int64_t> dims;
  DataType float_type = DataType::Float;
  Precision precision = Precision::Float;
  Granularity granularity;
  bool symmetric = true;
  bool reduce_range = false;
  // Dynamic mode: the MatMul/Gemm nodes (by name or "#index") that read it
  // directly and become MatMulInteger; other readers get a DequantizeLinear.
  std::vector<std::string> integer_nodes;
  // Gemm nodes with transB=1 that read it directly: the tensor is stored
  // transposed, [K, N], and those Gemms get transB=0 (int4 and dynamic mode,
  // whose kernels want [K, N]).
  bool store_transposed = false;
  std::string reason;  // why this precision and layout (or why float)
  uint64_t elements = 0;
};

struct PrecisionPlan {
  Mode mode = Mode::Weight;
  std::vector<TensorPlan> tensors;
  // Default-domain opset the quantized model needs (>= the model's), and what
  // falls back because of max-opset.
  int64_t opset = 0;
  std::vector<std::string> notes;
};

// Where a graph sits in the model ("" = main graph) and back.
std::string scope_of(const Graph& g);
Graph* graph_at(Model& m, const std::string& scope);

// Decides, for every stored float constant of the model (main graph and
// subgraphs; local functions are left float), what it becomes. Reads the
// constants' values only to find inf/NaN. `opset_cap` is the highest opset the
// plan may need (max-opset, or 21); fallbacks are noted in plan.notes.
Expected<PrecisionPlan> make_plan(Model& m, const Options& o, int64_t opset_cap);

// Rewrites `m` as `plan` says (which must have been made on this model or an
// identical copy, already at plan.opset). Counts what it did in `r`.
Status build_quantized(Model& m, const PrecisionPlan& plan, const Options& o, pass::PassContext& ctx,
                       pass::PassResult& r);

// ---- numerics (quantize_numerics.cpp)

// A tensor's elements quantized: one integer per element (unpacked), one
// scale (and zero point) per group of the granularity.
struct QuantizedValues {
  DataType type = DataType::Int8;
  std::vector<int8_t> values;  // uint8/uint4 stored as their bit patterns
  std::vector<float> scales;   // in group order (the scale tensor's row-major order)
  std::vector<int32_t> zero_points;  // empty when symmetric
  std::vector<int64_t> scale_dims;
};

// Reads a constant's elements as float (float32, float16, bfloat16, double).
std::vector<float> tensor_floats(const Tensor& t);
// True when every element is finite.
bool all_finite(const Tensor& t);

// Quantizes `x` (dims `dims`) to `p` with granularity `g`: each group's scale
// minimizes that group's squared rounding error over `search` clipping ratios
// (from 1 = max-abs down to 0.5); search = 1 is plain max-abs rounding. `reduce_range` uses one bit
// less (int8: [-64, 63]). Symmetric signed types use [-127, 127] (int8) and
// [-8, 7] (int4). Results do not depend on `threads`.
QuantizedValues quantize_values(const std::vector<float>& x, const std::vector<int64_t>& dims, Precision p,
                                const Granularity& g, bool symmetric, bool reduce_range, int64_t search, int threads);
// Dequantized value of element i (for tests and the error checks).
float dequantized(const QuantizedValues& q, const std::vector<int64_t>& dims, const Granularity& g, uint64_t i);
// The group (scale index) of element i.
uint64_t group_of(const std::vector<int64_t>& dims, const Granularity& g, uint64_t i);
// The stored bytes of the integers (int4/uint4 two per byte, low nibble first).
std::vector<std::byte> pack_values(const std::vector<int8_t>& v, DataType t);
// A new tensor of type t holding `bytes` (quantize_build.cpp).
TensorPtr make_tensor(DataType t, std::vector<int64_t> dims, std::vector<std::byte> bytes);

// ---- float16 (quantize_fp16.cpp)

// mode=fp16: float32 tensors and compute to float16 (keep-io-types keeps the
// graph's float32 inputs and outputs, with Casts). Counts in `r`.
Status convert_to_float16(Model& m, const Options& o, pass::PassContext& ctx, pass::PassResult& r);

// ---- emit=ort (quantize_ort.cpp)

// Rewrites every MatMul reading an int4 block-wise DequantizeLinear (as B)
// into com.microsoft MatMulNBits (shared weights share the packed tensors).
// Gather tables stay standard ONNX (no GatherBlockQuantized yet). Counts in `r`.
Status emit_ort_contrib_ops(Model& m, pass::PassContext& ctx, pass::PassResult& r);

}  // namespace effopt::passes::quant
