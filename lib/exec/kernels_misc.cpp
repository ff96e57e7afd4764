// Remaining NN and elementwise kernels: LRN, DepthToSpace, SpaceToDepth,
// Hardmax, Celu, ThresholdedRelu, Shrink, IsNaN, IsInf, StringNormalizer, and
// Einsum (parsed into pairwise contractions, each a batched GEMM).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "exec/gemm.h"
#include "exec/kernel_registry.h"

namespace effopt::exec {

namespace {

// Elementwise float op with access to the node's attributes.
template <class F>
KernelFn float_map(F f) {
  return [f](KernelContext& ctx) -> Status {
    const TensorValue& x = ctx.in(0);
    EFFOPT_TRY(need_float(ctx, x, "input"));
    TensorValue y = TensorValue::allocate(DataType::Float, x.dims());
    const float* px = x.data<float>();
    float* py = y.mutable_data<float>();
    auto g = f(ctx.node);
    for (uint64_t i = 0; i < x.element_count(); ++i) py[i] = g(px[i]);
    ctx.outputs[0] = std::move(y);
    return ok();
  };
}

Status lrn_kernel(KernelContext& ctx) {
  const TensorValue& X = ctx.in(0);
  EFFOPT_TRY(need_float(ctx, X, "X"));
  if (X.rank() < 3) return ctx.fail("X must have rank 3 or more");
  int64_t size = ctx.node.attr_int("size", 0);
  if (size < 1) return ctx.fail("size must be positive");
  float alpha = ctx.node.attr_float("alpha", 1e-4f), beta = ctx.node.attr_float("beta", 0.75f),
        bias = ctx.node.attr_float("bias", 1.f);
  int64_t N = X.dim(0), C = X.dim(1);
  int64_t S = static_cast<int64_t>(X.element_count()) / std::max<int64_t>(N * C, 1);
  int64_t lo = (size - 1) / 2, hi = size - 1 - lo;  // channels c - floor((size-1)/2) .. c + ceil((size-1)/2)
  TensorValue Y = TensorValue::allocate(DataType::Float, X.dims());
  const float* x = X.data<float>();
  float* y = Y.mutable_data<float>();
  ctx.pool.parallel_for(N * C, [&](int64_t t) {
    int64_t n = t / C, c = t % C;
    int64_t c0 = std::max<int64_t>(0, c - lo), c1 = std::min<int64_t>(C - 1, c + hi);
    for (int64_t s = 0; s < S; ++s) {
      float sq = 0;
      for (int64_t k = c0; k <= c1; ++k) {
        float v = x[(n * C + k) * S + s];
        sq += v * v;
      }
      y[t * S + s] = x[t * S + s] / std::pow(bias + alpha / static_cast<float>(size) * sq, beta);
    }
  });
  ctx.outputs[0] = std::move(Y);
  return ok();
}

Status depth_to_space_kernel(KernelContext& ctx) {
  const TensorValue& X = ctx.in(0);
  if (X.rank() != 4) return ctx.fail("input must be 4-D");
  int64_t b = ctx.node.attr_int("blocksize", 0);
  int64_t N = X.dim(0), C = X.dim(1), H = X.dim(2), W = X.dim(3);
  if (b < 1 || C % (b * b) != 0) return ctx.fail("channels must be a multiple of blocksize^2");
  bool crd = ctx.opset >= 11 && ctx.node.attr_string("mode", "DCR") == "CRD";
  int64_t Cb = C / (b * b);
  TensorValue t = crd ? X.reshaped({N, Cb, b, b, H, W}) : X.reshaped({N, b, b, Cb, H, W});
  TensorValue p = transpose_tensor(t, crd ? std::vector<int64_t>{0, 1, 4, 2, 5, 3} : std::vector<int64_t>{0, 3, 4, 1, 5, 2},
                                   ctx.pool);
  ctx.outputs[0] = p.reshaped({N, Cb, H * b, W * b});
  return ok();
}

Status space_to_depth_kernel(KernelContext& ctx) {
  const TensorValue& X = ctx.in(0);
  if (X.rank() != 4) return ctx.fail("input must be 4-D");
  int64_t b = ctx.node.attr_int("blocksize", 0);
  int64_t N = X.dim(0), C = X.dim(1), H = X.dim(2), W = X.dim(3);
  if (b < 1 || H % b != 0 || W % b != 0) return ctx.fail("height and width must be multiples of blocksize");
  TensorValue p = transpose_tensor(X.reshaped({N, C, H / b, b, W / b, b}), {0, 3, 5, 1, 2, 4}, ctx.pool);
  ctx.outputs[0] = p.reshaped({N, C * b * b, H / b, W / b});
  return ok();
}

Status hardmax_kernel(KernelContext& ctx) {
  const TensorValue& X = ctx.in(0);
  EFFOPT_TRY(need_float(ctx, X, "input"));
  int64_t r = static_cast<int64_t>(X.rank());
  if (r == 0) return ctx.fail("input must not be a scalar");
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(ctx.node.attr_int("axis", ctx.opset >= 13 ? -1 : 1), r, ctx));
  int64_t outer = 1, len = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= X.dim(i);
  if (ctx.opset >= 13) {
    len = X.dim(axis);
    for (int64_t i = axis + 1; i < r; ++i) inner *= X.dim(i);
  } else {
    for (int64_t i = axis; i < r; ++i) len *= X.dim(i);
  }
  TensorValue Y = TensorValue::allocate(DataType::Float, X.dims());
  const float* x = X.data<float>();
  float* y = Y.mutable_data<float>();
  std::fill(y, y + Y.element_count(), 0.f);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      if (len == 0) continue;
      const float* p = x + o * len * inner + in;
      int64_t best = 0;
      for (int64_t i = 1; i < len; ++i)
        if (p[i * inner] > p[best * inner]) best = i;
      y[o * len * inner + best * inner + in] = 1.f;
    }
  ctx.outputs[0] = std::move(Y);
  return ok();
}

KernelFn float_predicate(bool nan) {
  return [nan](KernelContext& ctx) -> Status {
    const TensorValue& x = ctx.in(0);
    bool neg = ctx.node.attr_int("detect_negative", 1) != 0, pos = ctx.node.attr_int("detect_positive", 1) != 0;
    TensorValue y = TensorValue::allocate(DataType::Bool, x.dims());
    bool* py = y.mutable_data<bool>();
    auto test = [&](double v) {
      if (nan) return std::isnan(v);
      return std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
    };
    if (x.dtype() == DataType::Float) {
      for (uint64_t i = 0; i < x.element_count(); ++i) py[i] = test(x.data<float>()[i]);
    } else if (x.dtype() == DataType::Double) {
      for (uint64_t i = 0; i < x.element_count(); ++i) py[i] = test(x.data<double>()[i]);
    } else {
      return ctx.fail(std::string("element type ") + data_type_name(x.dtype()) + " is not supported");
    }
    ctx.outputs[0] = std::move(y);
    return ok();
  };
}

// ---- Einsum ----

// A float tensor whose axes are named by letters.
struct Labeled {
  TensorValue t;
  std::string letters;
};

// Sums t over the letters not in `keep` and orders the rest as in `keep` (every letter of keep must be in t).
Labeled reduce_to(const Labeled& in, const std::string& keep, ThreadPool& pool) {
  std::vector<int64_t> perm;
  std::vector<int64_t> kept_dims;
  for (char c : keep) {
    auto p = in.letters.find(c);
    perm.push_back(static_cast<int64_t>(p));
    kept_dims.push_back(in.t.dim(p));
  }
  int64_t sum_len = 1;
  for (size_t i = 0; i < in.letters.size(); ++i)
    if (keep.find(in.letters[i]) == std::string::npos) {
      perm.push_back(static_cast<int64_t>(i));
      sum_len *= in.t.dim(i);
    }
  bool identity = true;
  for (size_t i = 0; i < perm.size(); ++i) identity &= perm[i] == static_cast<int64_t>(i);
  TensorValue p = identity ? in.t : transpose_tensor(in.t, perm, pool);
  if (sum_len == 1) return {p.reshaped(kept_dims), keep};
  TensorValue out = TensorValue::allocate(DataType::Float, kept_dims);
  int64_t rows = static_cast<int64_t>(out.element_count());
  const float* src = p.data<float>();
  float* dst = out.mutable_data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    float acc = 0;
    for (int64_t j = 0; j < sum_len; ++j) acc += src[r * sum_len + j];
    dst[r] = acc;
  }
  return {out, keep};
}

// Takes the diagonal over repeated letters ("ii" -> "i").
Labeled diagonal(const Labeled& in) {
  std::string uniq;
  for (char c : in.letters)
    if (uniq.find(c) == std::string::npos) uniq.push_back(c);
  if (uniq.size() == in.letters.size()) return in;
  size_t r = in.letters.size();
  std::vector<int64_t> st(r, 1);
  for (size_t i = r; i-- > 1;) st[i - 1] = st[i] * in.t.dim(i);
  std::vector<int64_t> od, ostride;
  for (char c : uniq) {
    int64_t s = 0, d = 0;
    for (size_t i = 0; i < r; ++i)
      if (in.letters[i] == c) { s += st[i]; d = in.t.dim(i); }
    od.push_back(d);
    ostride.push_back(s);
  }
  TensorValue out = TensorValue::allocate(DataType::Float, od);
  std::vector<int64_t> idx(od.size(), 0);
  for (uint64_t o = 0; o < out.element_count(); ++o) {
    int64_t off = 0;
    for (size_t k = 0; k < od.size(); ++k) off += idx[k] * ostride[k];
    out.mutable_data<float>()[o] = in.t.data<float>()[off];
    for (size_t k = od.size(); k-- > 0;) {
      if (++idx[k] < od[k]) break;
      idx[k] = 0;
    }
  }
  return {out, uniq};
}

// Contracts a and b into a tensor labeled `out` (letters of a or b; others summed): one batched GEMM over
// [batch, a-only, summed-shared] x [batch, summed-shared, b-only].
Labeled contract(const Labeled& a0, const Labeled& b0, const std::string& out, ThreadPool& pool) {
  auto in = [](const std::string& s, char c) { return s.find(c) != std::string::npos; };
  // Letters of one operand only that are not kept are summed first.
  std::string ka, kb;
  for (char c : a0.letters)
    if (in(out, c) || in(b0.letters, c)) ka.push_back(c);
  for (char c : b0.letters)
    if (in(out, c) || in(a0.letters, c)) kb.push_back(c);
  std::string batch, aonly, bonly, shared;
  for (char c : ka) {
    if (in(kb, c)) (in(out, c) ? batch : shared).push_back(c);
    else aonly.push_back(c);
  }
  for (char c : kb)
    if (!in(ka, c)) bonly.push_back(c);
  Labeled a = reduce_to(a0, batch + aonly + shared, pool);
  Labeled b = reduce_to(b0, batch + shared + bonly, pool);
  auto size_of = [](const Labeled& l, const std::string& s) {
    int64_t p = 1;
    for (char c : s) p *= l.t.dim(l.letters.find(c));
    return p;
  };
  int64_t B = size_of(a, batch), M = size_of(a, aonly), K = size_of(a, shared), N = size_of(b, bonly);
  std::vector<int64_t> od;
  for (char c : batch) od.push_back(a.t.dim(a.letters.find(c)));
  for (char c : aonly) od.push_back(a.t.dim(a.letters.find(c)));
  for (char c : bonly) od.push_back(b.t.dim(b.letters.find(c)));
  TensorValue y = TensorValue::allocate(DataType::Float, od);
  const float* pa = a.t.data<float>();
  const float* pb = b.t.data<float>();
  float* py = y.mutable_data<float>();
  pool.parallel_for(B, [&](int64_t t) {
    sgemm(false, false, M, N, K, 1.f, pa + t * M * K, K, pb + t * K * N, N, 0.f, py + t * M * N, N);
  });
  return {y, batch + aonly + bonly};
}

Status einsum_kernel(KernelContext& ctx) {
  std::string eq;
  for (char c : ctx.node.attr_string("equation", ""))
    if (c != ' ') eq.push_back(c);
  size_t n = ctx.input_count();
  if (n == 0) return ctx.fail("needs inputs");
  for (size_t i = 0; i < n; ++i) {
    if (!ctx.has_input(i)) return ctx.fail("inputs must not be absent");
    EFFOPT_TRY(need_float(ctx, ctx.in(i), "inputs"));
  }
  auto arrow = eq.find("->");
  std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t p = 0;;) {
    auto q = lhs.find(',', p);
    terms.push_back(lhs.substr(p, q == std::string::npos ? std::string::npos : q - p));
    if (q == std::string::npos) break;
    p = q + 1;
  }
  if (terms.size() != n) return ctx.fail("equation '" + eq + "' has " + std::to_string(terms.size()) + " operands, the node " + std::to_string(n));
  // Ellipsis: replaced by letters the equation does not use (right-aligned broadcast dims).
  std::set<char> used(eq.begin(), eq.end());
  std::string spare;
  for (char c = 'A'; c <= 'Z'; ++c)
    if (!used.count(c)) spare.push_back(c);
  for (char c = 'a'; c <= 'z'; ++c)
    if (!used.count(c)) spare.push_back(c);
  size_t ell_rank = 0;
  std::vector<Labeled> ops;
  std::map<char, int64_t> dim_of;
  for (size_t i = 0; i < n; ++i) {
    std::string& t = terms[i];
    const TensorValue& x = ctx.in(i);
    auto e = t.find("...");
    if (e != std::string::npos) {
      size_t named = t.size() - 3;
      if (x.rank() < named) return ctx.fail("operand " + std::to_string(i) + " has fewer dims than its subscripts");
      ell_rank = std::max(ell_rank, x.rank() - named);
    }
  }
  if (spare.size() < ell_rank) return ctx.fail("too many ellipsis dims");
  std::string ell = spare.substr(0, ell_rank);
  for (size_t i = 0; i < n; ++i) {
    std::string t = terms[i];
    const TensorValue& x = ctx.in(i);
    auto e = t.find("...");
    if (e != std::string::npos) {
      size_t k = x.rank() - (t.size() - 3);
      t = t.substr(0, e) + ell.substr(ell_rank - k) + t.substr(e + 3);
    }
    for (char c : t)
      if (!std::isalpha(static_cast<unsigned char>(c))) return ctx.fail("equation '" + eq + "' is not supported (bad subscript)");
    if (t.size() != x.rank())
      return ctx.fail("operand " + std::to_string(i) + " has rank " + std::to_string(x.rank()) + " but subscripts '" + terms[i] + "'");
    for (size_t d = 0; d < t.size(); ++d) {
      auto [it, fresh] = dim_of.emplace(t[d], x.dim(d));
      if (!fresh && it->second != x.dim(d))
        return ctx.fail("equation '" + eq + "': dimension '" + std::string(1, t[d]) + "' differs between operands (" +
                        std::to_string(it->second) + " vs " + std::to_string(x.dim(d)) +
                        "; broadcasting size-1 dims is not supported)");
    }
    ops.push_back(diagonal({x, t}));
  }
  std::string out;
  if (arrow != std::string::npos) {
    out = eq.substr(arrow + 2);
    auto e = out.find("...");
    if (e != std::string::npos) out = out.substr(0, e) + ell + out.substr(e + 3);
    for (char c : out)
      if (!dim_of.count(c) || std::count(out.begin(), out.end(), c) != 1)
        return ctx.fail("equation '" + eq + "' has a bad output subscript");
  } else {
    // Implicit output: ellipsis dims, then the letters used once, alphabetically.
    std::map<char, int> count;  // over the subscripts as written: "ii" sums the diagonal
    for (size_t i = 0; i < n; ++i)
      for (char c : terms[i])
        if (c != '.') ++count[c];
    out = ell;
    std::string rest;
    for (auto& [c, k] : count)
      if (k == 1 && ell.find(c) == std::string::npos) rest.push_back(c);
    std::sort(rest.begin(), rest.end());
    out += rest;
  }
  // Left to right: each contraction keeps the letters the output or a later operand still needs.
  Labeled acc = ops[0];
  for (size_t i = 1; i < ops.size(); ++i) {
    std::string need = out;
    for (size_t j = i + 1; j < ops.size(); ++j) need += ops[j].letters;
    std::string keep;
    for (char c : acc.letters + ops[i].letters)
      if (need.find(c) != std::string::npos && keep.find(c) == std::string::npos) keep.push_back(c);
    acc = contract(acc, ops[i], keep, ctx.pool);
  }
  Labeled res = reduce_to(acc, out, ctx.pool);
  TensorValue r = res.t;
  if (r.raw() == ctx.in(0).raw()) r = TensorValue::from_bytes(r.dtype(), r.dims(), {r.raw(), r.byte_size()});
  ctx.outputs[0] = std::move(r);
  return ok();
}

// ---- StringNormalizer ----
// Case changes and case-insensitive matching are ASCII-only: other bytes (UTF-8 sequences) pass unchanged.
char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
std::string lowered(std::string s) {
  for (char& c : s) c = ascii_lower(c);
  return s;
}

Status string_normalizer_kernel(KernelContext& ctx) {
  const TensorValue& X = ctx.in(0);
  if (X.dtype() != DataType::String) return ctx.fail("input must be a string tensor");
  bool two_d = X.rank() == 2;
  if (!(X.rank() == 1 || (two_d && X.dim(0) == 1))) return ctx.fail("input must be [C] or [1, C]");
  std::string action = ctx.node.attr_string("case_change_action", "NONE");
  if (action != "NONE" && action != "LOWER" && action != "UPPER") return ctx.fail("unknown case_change_action '" + action + "'");
  bool sensitive = ctx.node.attr_int("is_case_sensitive", 0) != 0;
  std::set<std::string> stop;
  if (const Attribute* a = ctx.node.attr("stopwords"))
    for (auto& w : a->strings) stop.insert(sensitive ? w : lowered(w));
  std::vector<std::string> out;
  for (const std::string& s : X.strings()) {
    if (stop.count(sensitive ? s : lowered(s))) continue;
    std::string v = s;
    if (action == "LOWER") for (char& c : v) c = ascii_lower(c);
    if (action == "UPPER") for (char& c : v) c = ascii_upper(c);
    out.push_back(std::move(v));
  }
  // Everything removed: one empty string (ONNX's rule), shape [1] or [1, 1].
  if (out.empty()) out.emplace_back();
  int64_t n = static_cast<int64_t>(out.size());
  ctx.outputs[0] = TensorValue::from_strings(two_d ? std::vector<int64_t>{1, n} : std::vector<int64_t>{n}, std::move(out));
  return ok();
}

}  // namespace

void register_misc_kernels(KernelRegistry& r) {
  constexpr auto F = KernelFlags::FloatCompute;
  r.add("LRN", 1, INT64_MAX, lrn_kernel, F);
  r.add("DepthToSpace", 1, INT64_MAX, depth_to_space_kernel);
  r.add("SpaceToDepth", 1, INT64_MAX, space_to_depth_kernel);
  r.add("Hardmax", 1, INT64_MAX, hardmax_kernel, F);
  r.add("Celu", 12, INT64_MAX, float_map([](const Node& n) {
          float a = n.attr_float("alpha", 1.f);
          return [a](float x) { return std::max(0.f, x) + std::min(0.f, a * (std::exp(x / a) - 1.f)); };
        }), F);
  r.add("ThresholdedRelu", 10, INT64_MAX, float_map([](const Node& n) {
          float a = n.attr_float("alpha", 1.f);
          return [a](float x) { return x > a ? x : 0.f; };
        }), F);
  r.add("Shrink", 9, INT64_MAX, float_map([](const Node& n) {
          float l = n.attr_float("lambd", 0.5f), b = n.attr_float("bias", 0.f);
          return [l, b](float x) { return x < -l ? x + b : (x > l ? x - b : 0.f); };
        }), F);
  r.add("IsNaN", 9, INT64_MAX, float_predicate(true), F);
  r.add("IsInf", 10, INT64_MAX, float_predicate(false), F);
  r.add("Einsum", 12, INT64_MAX, einsum_kernel, F);
  r.add("StringNormalizer", 10, INT64_MAX, string_normalizer_kernel);
}

}  // namespace effopt::exec
