// Level all (3) of the ONNX Runtime prediction (rules.h): NchwcTransformer.
#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ort/rules.h"

namespace effopt::ort_sim {

namespace {

// NchwcTransformer (nchwc_transformer.cc), replayed node by node in
// topological order with ORT's bookkeeping: every NCHWc output tracks how
// many original uses remain; those still read in NCHW get a ReorderOutput.
class Nchwc {
 public:
  Nchwc(Sim& s, int block, int conv_align) : s_(s), block_(block), conv_align_(conv_align) {}

  void run() {
    for (int n : std::vector<int>(s_.order)) {
      if (!s_.nodes[n].alive) continue;
      transform(n);
    }
    finalize();
    s_.resort();
  }

 private:
  struct DimRef {
    int value = -1, index = 0, shift = 0;
    bool operator==(const DimRef&) const = default;
  };
  struct Arg {
    int node;        // the NCHWc node producing it
    int nchwc_val;   // the NCHWc-layout value
    int start_uses, remaining;
    int64_t channels;
    std::array<DimRef, 4> shape;
  };

  std::array<DimRef, 4> fresh_shape(int v) {
    std::array<DimRef, 4> d;
    for (int i = 0; i < 4; ++i) d[i] = {v, i, 0};
    return d;
  }
  // ORT's RemoveOutputEdges: edge count (+1 for a graph output).
  int original_uses(int n) {
    int c = s_.output_edges(n);
    if (s_.feeds_graph_output(n)) ++c;
    return c;
  }
  void mark(int n, const std::string& rule) {
    s_.nodes[n].rule = rule;
    ++s_.hits[rule];
  }
  // The node now writes an NCHWc value; its original output value keeps its consumers.
  void create_arg(int orig_out, int nchwc_node, int64_t channels, std::array<DimRef, 4> shape, int uses_of) {
    int nv = s_.add_value(s_.vals[orig_out].name + "_nchwc", DataType::Float, std::nullopt);
    Arg a{nchwc_node, nv, uses_of, uses_of, channels, shape};
    args_[orig_out] = a;
    pending_out_[nchwc_node] = {orig_out, nv};
  }
  void fuse_arg(int orig_out, const Arg& into, int uses_of) {
    Arg a = into;
    a.start_uses = a.remaining = uses_of;
    args_[orig_out] = a;
  }
  int reorder_input(int v) {
    auto it = reorder_inputs_.find(v);
    if (it != reorder_inputs_.end()) return it->second;
    int nv = s_.add_value(s_.vals[v].name + "_reorder", DataType::Float, std::nullopt);
    SNode r;
    r.name = "ReorderInput";
    r.op = "ReorderInput";
    r.domain = "com.microsoft.nchwc";
    r.in = {v};
    r.out = {nv};
    r.inserted = true;
    r.rule = "NchwcTransformer";
    s_.add_node(std::move(r));
    reorder_inputs_[v] = nv;
    return nv;
  }
  // Consumes an NCHWc input: returns its NCHWc value, counting one original use less.
  int use_arg(int v) {
    Arg& a = args_.at(v);
    --a.remaining;
    return a.nchwc_val;
  }
  // The node's inputs all come from nodes this transformer already rewrote
  // (ORT: GetInputEdgesCount() == 0 after their output edges were removed).
  bool inputs_all_converted(int n) {
    if (s_.nodes[n].in.empty()) return false;
    for (int v : s_.nodes[n].in) {
      int p = s_.producer(v);
      if (p >= 0 && !converted_.count(p)) return false;
    }
    return true;
  }
  bool same_dim(int v0, const Arg& a0, int v1, const Arg& a1, int i) {
    if (a0.shape[i] == a1.shape[i]) return true;
    const auto& s0 = s_.vals[v0].shape;
    const auto& s1 = s_.vals[v1].shape;
    if (!s0 || !s1 || s0->size() != 4 || s1->size() != 4) return false;
    const Dim &d0 = (*s0)[i], &d1 = (*s1)[i];
    if (d0.value && d1.value && *d0.value > 0 && *d0.value == *d1.value) return true;
    return !d0.param.empty() && d0.param == d1.param;
  }
  // ConvPoolShapeInference: batch from the input; a spatial dim survives
  // when padding + 1 == kernel (or auto_pad SAME) with stride 1 or 2.
  std::array<DimRef, 4> conv_pool_shape(int n, const std::array<DimRef, 4>& in, std::array<DimRef, 4> out,
                                         std::optional<std::vector<int64_t>> wshape) {
    out[0] = in[0];
    const Attribute* pads = s_.attr(n, "pads");
    const Attribute* strides = s_.attr(n, "strides");
    const Attribute* dil = s_.attr(n, "dilations");
    if ((pads && pads->ints.size() != 4) || (strides && strides->ints.size() != 2) || (dil && dil->ints.size() != 2))
      return out;
    const Attribute* ks = nullptr;
    if (!wshape) {
      ks = s_.attr(n, "kernel_shape");
      if (!ks || ks->ints.size() != 2) return out;
    }
    std::string ap = s_.attr_str(n, "auto_pad", "NOTSET");
    bool same = false;
    if (ap != "NOTSET") {
      if (ap == "SAME_UPPER" || ap == "SAME_LOWER") same = true;
      else if (ap != "VALID") return out;
      pads = nullptr;
    }
    for (int i = 0; i < 2; ++i) {
      if (dil && dil->ints[i] != 1) continue;
      int64_t stride = strides ? strides->ints[i] : 1;
      if (stride != 1 && stride != 2) continue;
      int64_t padding = pads ? pads->ints[i] + pads->ints[i + 2] : 0;
      int64_t kernel = ks ? ks->ints[i] : (*wshape)[2 + i];
      if (padding + 1 == kernel || same) {
        out[2 + i] = in[2 + i];
        out[2 + i].shift = in[2 + i].shift + static_cast<int>(stride) - 1;
      }
    }
    return out;
  }

  void transform_conv(int n) {
    int w = s_.in(n, 1);
    auto ws = s_.static_shape(w);
    if (!s_.is_const(w) || s_.dt(w) != DataType::Float || !ws || ws->size() != 4) return;
    if (s_.in(n, 3) >= 0) return;  // FusedConv with a Sum input (not produced by CPU level 2)
    int64_t oc = (*ws)[0], ic = (*ws)[1];
    int64_t group = s_.attr_int(n, "group", 1);
    bool reorder_in = true;
    if (group > 1) {
      if (oc % conv_align_ != 0) return;
      if (!(ic == 1 && oc == group) &&
          (ic % conv_align_ != 0 || oc % group != 0 || (oc / group) % conv_align_ != 0))
        return;
    } else {
      if (ic < block_) reorder_in = false;
      else if (ic % conv_align_ != 0) return;
    }
    int b = s_.in(n, 2);
    if (b >= 0) {
      auto bs = s_.static_shape(b);
      if (!s_.is_const(b) || s_.dt(b) != DataType::Float || !bs || bs->size() != 1 || (*bs)[0] != oc) return;
    }
    int y = s_.out(n);
    auto shape = fresh_shape(y);
    if (reorder_in) {
      int x = s_.in(n, 0);
      auto it = args_.find(x);
      if (it == args_.end()) {
        s_.nodes[n].in[0] = reorder_input(x);
      } else {
        s_.nodes[n].in[0] = use_arg(x);
        shape = conv_pool_shape(n, it->second.shape, shape, *ws);
      }
    }
    s_.nodes[n].domain = "com.microsoft.nchwc";
    s_.nodes[n].op = "Conv";
    mark(n, "NchwcTransformer");
    converted_.insert(n);
    create_arg(y, n, oc, shape, original_uses(n));
  }

  void transform_pool(int n, bool global) {
    if (s_.nodes[n].out.size() > 1 && s_.out(n, 1) >= 0) return;
    int x = s_.in(n, 0);
    if (s_.dt(x) != DataType::Float || !s_.vals[x].shape || s_.vals[x].shape->size() != 4) return;
    const Dim& c = (*s_.vals[x].shape)[1];
    auto it = args_.find(x);
    int64_t channels = c.value ? *c.value : -1;
    if (!c.value) return;
    if (channels % block_ != 0) return;
    int y = s_.out(n);
    auto shape = fresh_shape(y);
    if (it == args_.end()) {
      if (global) return;
      s_.nodes[n].in[0] = reorder_input(x);
    } else {
      s_.nodes[n].in[0] = use_arg(x);
      shape = conv_pool_shape(n, it->second.shape, shape, std::nullopt);
    }
    s_.nodes[n].domain = "com.microsoft.nchwc";
    mark(n, "NchwcTransformer");
    converted_.insert(n);
    create_arg(y, n, channels, shape, original_uses(n));
  }

  void transform_binary(int n, bool add) {
    std::vector<int> ins = s_.nodes[n].in;
    for (int v : ins)
      if (!args_.count(v)) return;
    const Arg a0 = args_.at(ins[0]);
    bool match = true;
    for (size_t k = 1; k < ins.size(); ++k) {
      const Arg& ak = args_.at(ins[k]);
      if (ak.channels != a0.channels) return;
      for (int i = 0; i < 4; ++i)
        if (!same_dim(ins[0], a0, ins[k], ak, i)) match = false;
    }
    int y = s_.out(n);
    if (match) {
      std::vector<Arg> as;
      for (int v : ins) as.push_back(args_.at(v));
      for (size_t k = 0; k < ins.size(); ++k) s_.nodes[n].in[k] = use_arg(ins[k]);
      if (add && ins.size() == 2) {
        for (int k = 0; k < 2; ++k) {
          int cn = as[k].node;
          if (s_.is(cn, "Conv", "com.microsoft.nchwc") && s_.nodes[cn].in.size() < 4 && as[k].start_uses == 1 &&
              !s_.has_attr(cn, "activation") && !sum_fused_.count(cn)) {
            // NchwcConvSumFusion: the other operand becomes the Conv's Sum input.
            s_.nodes[cn].in.resize(4, -1);
            s_.nodes[cn].in[3] = as[k ^ 1].nchwc_val;
            sum_fused_.insert(cn);
            int uses = original_uses(n);
            s_.absorb(cn, n, "NchwcTransformer");
            converted_.insert(n);
            fuse_arg(y, as[k], uses);
            pending_takeover_[y] = cn;
            return;
          }
        }
      }
      mark(n, "NchwcTransformer");
      converted_.insert(n);
      create_arg(y, n, a0.channels, a0.shape, original_uses(n));
      return;
    }
    if (!add) return;
    // Shapes not provably equal: Reshape each NCHWc operand to the explicit
    // blocked shape and the result back.
    for (size_t k = 0; k < ins.size(); ++k) {
      int rv = s_.add_value("reshape", DataType::Float, std::nullopt);
      SNode r;
      r.name = "Reshape";
      r.op = "Reshape";
      r.in = {use_arg(ins[k])};
      r.out = {rv};
      r.inserted = true;
      r.rule = "NchwcTransformer";
      s_.add_node(std::move(r));
      s_.nodes[n].in[k] = rv;
    }
    int mid = s_.add_value("reshape", DataType::Float, std::nullopt);
    SNode r;
    r.name = "Reshape";
    r.op = "Reshape";
    r.in = {mid};
    r.inserted = true;
    r.rule = "NchwcTransformer";
    int uses = original_uses(n);
    int rn = s_.add_node(std::move(r));
    converted_.insert(n);
    converted_.insert(rn);
    mark(n, "NchwcTransformer");
    // The Add writes `mid`; the trailing Reshape writes the NCHWc value of y.
    s_.set_output(n, 0, mid);
    int nv = s_.add_value(s_.vals[y].name + "_nchwc", DataType::Float, std::nullopt);
    s_.set_output(rn, 0, nv);
    Arg a{rn, nv, uses, uses, a0.channels, fresh_shape(y)};
    args_[y] = a;
    detached_.insert(y);
  }

  void transform_concat(int n) {
    if (s_.attr_int(n, "axis", 0) != 1) return;
    std::vector<int> ins = s_.nodes[n].in;
    int64_t total = 0;
    for (int v : ins) {
      auto it = args_.find(v);
      if (it == args_.end() || it->second.channels % block_ != 0) return;
      total += it->second.channels;
    }
    auto shape = args_.at(ins[0]).shape;
    int y = s_.out(n);
    shape[1] = {y, 1, 0};
    for (size_t k = 0; k < ins.size(); ++k) s_.nodes[n].in[k] = use_arg(ins[k]);
    mark(n, "NchwcTransformer");
    converted_.insert(n);
    create_arg(y, n, total, shape, original_uses(n));
  }

  void transform_activation(int n) {
    int x = s_.in(n, 0);
    auto it = args_.find(x);
    if (it == args_.end()) return;
    Arg a = it->second;
    s_.nodes[n].in[0] = use_arg(x);
    int y = s_.out(n);
    int cn = a.node;
    if (s_.is(cn, "Conv", "com.microsoft.nchwc") && a.start_uses == 1 && !s_.has_attr(cn, "activation")) {
      s_.nodes[cn].str_attrs["activation"] = s_.nodes[n].op;
      int uses = original_uses(n);
      s_.absorb(cn, n, "NchwcTransformer");
      converted_.insert(n);
      fuse_arg(y, a, uses);
      pending_takeover_[y] = cn;
      return;
    }
    mark(n, "NchwcTransformer");
    converted_.insert(n);
    create_arg(y, n, a.channels, a.shape, original_uses(n));
  }

  void transform_bn(int n) {
    if (s_.nodes[n].out.size() > 1 && s_.out(n, 1) >= 0) return;
    int x = s_.in(n, 0);
    auto it = args_.find(x);
    if (it == args_.end()) return;
    if (s_.has_attr(n, "spatial") && s_.attr_int(n, "spatial", 1) != 1) return;
    if (!s_.attr(n, "epsilon")) return;  // ORT requires the attribute to be present
    for (int k = 1; k <= 4; ++k) {
      int v = s_.in(n, k);
      auto sh = s_.static_shape(v);
      if (!s_.is_const(v) || s_.dt(v) != DataType::Float || !sh || sh->size() != 1 || (*sh)[0] != it->second.channels)
        return;
    }
    Arg a = it->second;
    s_.nodes[n].in = {use_arg(x)};
    s_.nodes[n].op = "Conv";
    s_.nodes[n].domain = "com.microsoft.nchwc";
    mark(n, "NchwcTransformer");
    converted_.insert(n);
    create_arg(s_.out(n), n, a.channels, a.shape, original_uses(n));
  }

  void transform_transpose(int n) {
    int x = s_.in(n, 0);
    auto it = args_.find(x);
    if (it == args_.end()) return;
    const Attribute* perm = s_.attr(n, "perm");
    if (!perm || perm->ints != std::vector<int64_t>{0, 2, 3, 1}) return;
    s_.nodes[n].in[0] = use_arg(x);
    s_.nodes[n].op = "ReorderOutput";
    s_.nodes[n].domain = "com.microsoft.nchwc";
    mark(n, "NchwcTransformer");
    converted_.insert(n);
  }

  void transform_resize(int n) {
    int x = s_.in(n, 0);
    auto it = args_.find(x);
    if (it == args_.end()) return;
    if (s_.attr_str(n, "mode", "nearest") != "nearest") return;
    int scales = -1;
    bool v11 = s_.nodes[n].op == "Resize" && s_.opset >= 11;
    if (v11) {
      if (s_.nodes[n].in.size() != 3) return;
      scales = s_.in(n, 2);
      if (s_.attr_str(n, "coordinate_transformation_mode", "") != "asymmetric") return;
      if (s_.attr_str(n, "nearest_mode", "") != "floor") return;
    } else {
      scales = s_.in(n, 1);
    }
    const Tensor* t = s_.tensor(scales);
    if (!t || t->data_type != DataType::Float || t->dims != std::vector<int64_t>{4} || !t->storage) return;
    auto sc = t->as<float>();
    for (int i = 0; i < 4; ++i) {
      auto iv = static_cast<int64_t>(sc[i]);
      if (iv <= 0 || static_cast<float>(iv) != sc[i]) return;
    }
    if (sc[0] != 1 || sc[1] != 1) return;
    Arg a = it->second;
    s_.nodes[n].in = {use_arg(x)};
    s_.nodes[n].op = "Upsample";
    s_.nodes[n].domain = "com.microsoft.nchwc";
    mark(n, "NchwcTransformer");
    converted_.insert(n);
    create_arg(s_.out(n), n, a.channels, fresh_shape(s_.out(n)), original_uses(n));
  }

  void transform(int n) {
    SNode& nd = s_.nodes[n];
    const std::string op = nd.op;
    if ((op == "Conv" && nd.domain.empty()) || (op == "FusedConv" && nd.domain == "com.microsoft")) {
      transform_conv(n);
    } else if (nd.domain.empty() && (op == "MaxPool" || op == "AveragePool")) {
      transform_pool(n, false);
    } else if (nd.domain.empty() && inputs_all_converted(n)) {
      int64_t v = s_.opset;
      if ((op == "Add" && (v >= 7 && v <= 13)) || (op == "Sum" && v >= 6 && v <= 13)) transform_binary(n, true);
      else if (op == "Mul" && v >= 7 && v <= 13) transform_binary(n, false);
      else if (op == "Concat" && v >= 4 && v <= 13) transform_concat(n);
      else if ((op == "Relu" || op == "Sigmoid" || op == "Tanh") && v >= 6 && v <= 13) transform_activation(n);
      else if (op == "BatchNormalization" && v >= 7 && v <= 13) transform_bn(n);
      else if (op == "Transpose" && v <= 20) transform_transpose(n);
      else if ((op == "Resize" && v >= 10 && v <= 18) || (op == "Upsample" && v >= 9)) transform_resize(n);
      else if (op == "GlobalMaxPool" || op == "GlobalAveragePool") transform_pool(n, true);
    }
  }

  // Rewires outputs: each converted node writes its NCHWc value; original
  // values still read in NCHW come from a ReorderOutput.
  void finalize() {
    for (auto& [node, pv] : pending_out_) {
      auto [orig, nv] = pv;
      s_.set_output(node, 0, nv);
    }
    for (auto& [orig, cn] : pending_takeover_) (void)cn;
    for (auto& [orig, a] : args_) {
      // The original value: is it still read (or a graph output)?
      if (a.remaining > 0) {
        SNode r;
        r.name = "ReorderOutput";
        r.op = "ReorderOutput";
        r.domain = "com.microsoft.nchwc";
        r.in = {a.nchwc_val};
        r.inserted = true;
        r.rule = "NchwcTransformer";
        int rn = s_.add_node(std::move(r));
        s_.set_output(rn, 0, orig);
      } else if (s_.vals[orig].producer >= 0 && converted_.count(s_.vals[orig].producer)) {
        // Nothing reads it in NCHW any more.
        s_.vals[orig].producer = -1;
      }
    }
    // Rewire converted consumers that still name an original value.
    s_.touch();
  }

  Sim& s_;
  int block_, conv_align_;
  std::map<int, Arg> args_;  // original value -> NCHWc argument
  std::map<int, int> reorder_inputs_;
  std::set<int> converted_, sum_fused_, detached_;
  std::map<int, std::pair<int, int>> pending_out_;
  std::map<int, int> pending_takeover_;
};

}  // namespace

void run_nchwc(Sim& s, int block_size, int conv_input_alignment) {
  Nchwc(s, block_size, conv_input_alignment).run();
}

}  // namespace effopt::ort_sim
