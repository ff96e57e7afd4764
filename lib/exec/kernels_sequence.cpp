// Sequence and optional kernels: SequenceEmpty, SequenceConstruct,
// SequenceInsert, SequenceAt, SequenceErase, SequenceLength,
// SplitToSequence, ConcatFromSequence, Optional, OptionalHasElement,
// OptionalGetElement. Sequences are RuntimeValues whose items share bytes
// with the tensors they were built from.
#include <cstring>

#include "exec/kernel_registry.h"

namespace effopt::exec {

namespace {

Expected<const std::vector<TensorValue>*> sequence_input(const KernelContext& ctx, size_t i) {
  if (!ctx.has_input(i) || !ctx.value(i).is_sequence())
    return ctx.fail("input " + std::to_string(i) + " must be a sequence, got " +
                    (ctx.has_input(i) ? ctx.value(i).kind_name() : "nothing"));
  return &ctx.value(i).seq();
}

Expected<const TensorValue*> tensor_input(const KernelContext& ctx, size_t i) {
  if (!ctx.has_input(i) || !ctx.value(i).is_tensor())
    return ctx.fail("input " + std::to_string(i) + " must be a tensor, got " +
                    (ctx.has_input(i) ? ctx.value(i).kind_name() : "nothing"));
  return &ctx.in(i);
}

// A position input: scalar int32/int64, in [-n, n - 1] (or [-n, n] when inserting).
Expected<size_t> position(const KernelContext& ctx, size_t i, size_t n, bool inserting) {
  EFFOPT_TRY_ASSIGN(const TensorValue* t, tensor_input(ctx, i));
  EFFOPT_TRY_ASSIGN(auto v, read_ints(*t, ctx));
  if (v.size() != 1) return ctx.fail("the position must be a scalar");
  int64_t p = v[0], len = static_cast<int64_t>(n);
  int64_t hi = inserting ? len : len - 1;
  if (p < -len || p > hi)
    return ctx.fail("position " + std::to_string(p) + " is out of range for a sequence of " + std::to_string(n));
  return static_cast<size_t>(p < 0 ? p + len : p);
}

DataType elem_type_of(const KernelContext& ctx) {
  return ctx.has_input(0) && ctx.value(0).is_sequence() ? ctx.value(0).elem_type : DataType::Undefined;
}

Status sequence_empty(KernelContext& ctx) {
  ctx.set_output(0, RuntimeValue::sequence(static_cast<DataType>(ctx.node.attr_int("dtype", 1)), {}));
  return ok();
}

Status sequence_construct(KernelContext& ctx) {
  std::vector<TensorValue> items;
  for (size_t i = 0; i < ctx.input_count(); ++i) {
    EFFOPT_TRY_ASSIGN(const TensorValue* t, tensor_input(ctx, i));
    if (!items.empty() && t->dtype() != items[0].dtype())
      return ctx.fail("every input must have the same element type");
    items.push_back(*t);
  }
  if (items.empty()) return ctx.fail("needs at least one input");
  DataType dt = items[0].dtype();
  ctx.set_output(0, RuntimeValue::sequence(dt, std::move(items)));
  return ok();
}

Status sequence_insert(KernelContext& ctx) {
  EFFOPT_TRY_ASSIGN(auto seq, sequence_input(ctx, 0));
  EFFOPT_TRY_ASSIGN(const TensorValue* t, tensor_input(ctx, 1));
  DataType dt = elem_type_of(ctx);
  if (dt != DataType::Undefined && dt != t->dtype())
    return ctx.fail(std::string("cannot insert a ") + data_type_name(t->dtype()) + " tensor into a sequence of " +
                    data_type_name(dt));
  size_t pos = seq->size();
  if (ctx.has_input(2)) { EFFOPT_TRY_ASSIGN(pos, position(ctx, 2, seq->size(), true)); }
  std::vector<TensorValue> items = *seq;
  items.insert(items.begin() + static_cast<std::ptrdiff_t>(pos), *t);
  ctx.set_output(0, RuntimeValue::sequence(t->dtype(), std::move(items)));
  return ok();
}

Status sequence_at(KernelContext& ctx) {
  EFFOPT_TRY_ASSIGN(auto seq, sequence_input(ctx, 0));
  EFFOPT_TRY_ASSIGN(size_t pos, position(ctx, 1, seq->size(), false));
  ctx.outputs[0] = (*seq)[pos];
  return ok();
}

Status sequence_erase(KernelContext& ctx) {
  EFFOPT_TRY_ASSIGN(auto seq, sequence_input(ctx, 0));
  if (seq->empty()) return ctx.fail("cannot erase from an empty sequence");
  size_t pos = seq->size() - 1;
  if (ctx.has_input(1)) { EFFOPT_TRY_ASSIGN(pos, position(ctx, 1, seq->size(), false)); }
  std::vector<TensorValue> items = *seq;
  items.erase(items.begin() + static_cast<std::ptrdiff_t>(pos));
  ctx.set_output(0, RuntimeValue::sequence(elem_type_of(ctx), std::move(items)));
  return ok();
}

Status sequence_length(KernelContext& ctx) {
  EFFOPT_TRY_ASSIGN(auto seq, sequence_input(ctx, 0));
  ctx.outputs[0] = TensorValue::from_vector(DataType::Int64, {}, std::vector<int64_t>{static_cast<int64_t>(seq->size())});
  return ok();
}

// Copies x[..., start:start+len, ...] along axis.
TensorValue slice_range(const TensorValue& x, int64_t axis, int64_t start, int64_t len) {
  std::vector<int64_t> dims = x.dims();
  uint64_t outer = 1, inner = element_size(x.dtype());
  for (int64_t d = 0; d < axis; ++d) outer *= static_cast<uint64_t>(dims[d]);
  for (size_t d = static_cast<size_t>(axis) + 1; d < dims.size(); ++d) inner *= static_cast<uint64_t>(dims[d]);
  uint64_t full = static_cast<uint64_t>(dims[axis]);
  dims[axis] = len;
  TensorValue out = TensorValue::allocate(x.dtype(), dims);
  uint64_t chunk = inner * static_cast<uint64_t>(len);
  for (uint64_t o = 0; o < outer; ++o)
    std::memcpy(out.mutable_raw() + o * chunk, x.raw() + (o * full + static_cast<uint64_t>(start)) * inner, chunk);
  return out;
}

Status split_to_sequence(KernelContext& ctx) {
  const TensorValue& x = ctx.in(0);
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(ctx.node.attr_int("axis", 0), static_cast<int64_t>(x.rank()), ctx));
  const int64_t n = x.dim(static_cast<size_t>(axis));
  std::vector<int64_t> sizes;
  bool squeeze = false;
  if (!ctx.has_input(1)) {
    sizes.assign(static_cast<size_t>(n), 1);
    squeeze = ctx.node.attr_int("keepdims", 1) == 0;
  } else {
    EFFOPT_TRY_ASSIGN(auto split, read_ints(ctx.in(1), ctx));
    if (ctx.in(1).rank() == 0) {
      int64_t c = split.at(0);
      if (c <= 0) return ctx.fail("split must be positive");
      for (int64_t s = 0; s < n; s += c) sizes.push_back(std::min(c, n - s));
    } else {
      int64_t total = 0;
      for (int64_t s : split) {
        if (s < 0) return ctx.fail("split sizes must not be negative");
        total += s;
      }
      if (total != n)
        return ctx.fail("split sizes add up to " + std::to_string(total) + ", but the axis has " + std::to_string(n));
      sizes = split;
    }
  }
  std::vector<TensorValue> items;
  int64_t start = 0;
  for (int64_t len : sizes) {
    TensorValue part = slice_range(x, axis, start, len);
    if (squeeze) {
      auto d = part.dims();
      d.erase(d.begin() + axis);
      part = part.reshaped(d);
    }
    items.push_back(std::move(part));
    start += len;
  }
  ctx.set_output(0, RuntimeValue::sequence(x.dtype(), std::move(items)));
  return ok();
}

Status concat_from_sequence(KernelContext& ctx) {
  EFFOPT_TRY_ASSIGN(auto seq, sequence_input(ctx, 0));
  if (seq->empty()) return ctx.fail("cannot concatenate an empty sequence");
  const bool new_axis = ctx.node.attr_int("new_axis", 0) != 0;
  const TensorValue& first = (*seq)[0];
  int64_t rank = static_cast<int64_t>(first.rank());
  EFFOPT_TRY_ASSIGN(int64_t axis, normalize_axis(ctx.node.attr_int("axis", 0), new_axis ? rank + 1 : rank, ctx));
  std::vector<int64_t> out_dims = first.dims();
  if (new_axis) out_dims.insert(out_dims.begin() + axis, 0);
  else out_dims[axis] = 0;
  for (auto& t : *seq) {
    bool same = t.dtype() == first.dtype() && t.rank() == first.rank();
    for (size_t d = 0; same && d < t.rank(); ++d)
      if ((new_axis || d != static_cast<size_t>(axis)) && t.dim(d) != first.dim(d)) same = false;
    if (!same)
      return ctx.fail(std::string("item ") + data_type_name(t.dtype()) + dims_to_string(t.dims()) + " does not fit " +
                      data_type_name(first.dtype()) + dims_to_string(first.dims()));
    out_dims[axis] += new_axis ? 1 : t.dim(static_cast<size_t>(axis));
  }
  uint64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= static_cast<uint64_t>(out_dims[d]);
  TensorValue out = TensorValue::allocate(first.dtype(), out_dims);
  std::byte* dst = out.mutable_raw();
  for (uint64_t o = 0; o < outer; ++o)
    for (auto& t : *seq) {
      uint64_t chunk = t.byte_size() / outer;
      std::memcpy(dst, t.raw() + o * chunk, chunk);
      dst += chunk;
    }
  ctx.outputs[0] = std::move(out);
  return ok();
}

Status optional_make(KernelContext& ctx) {
  if (ctx.has_input(0)) {
    ctx.set_output(0, ctx.value(0));
    return ok();
  }
  DataType dt = DataType::Undefined;
  if (const Attribute* a = ctx.node.attr("type"); a && a->tp.is_tensor()) dt = a->tp.elem_type;
  ctx.set_output(0, RuntimeValue::empty_optional(dt));
  return ok();
}

Status optional_has_element(KernelContext& ctx) {
  bool has = ctx.has_input(0) && !ctx.value(0).is_empty_optional();
  ctx.outputs[0] = TensorValue::from_vector(DataType::Bool, {}, std::vector<uint8_t>{has});
  return ok();
}

Status optional_get_element(KernelContext& ctx) {
  if (!ctx.has_input(0) || ctx.value(0).is_empty_optional()) return ctx.fail("the optional input is empty");
  ctx.set_output(0, ctx.value(0));
  return ok();
}

}  // namespace

void register_sequence_kernels(KernelRegistry& r) {
  const auto V = KernelFlags::Values;
  r.add("SequenceEmpty", 11, INT64_MAX, sequence_empty, V);
  r.add("SequenceConstruct", 11, INT64_MAX, sequence_construct, V);
  r.add("SequenceInsert", 11, INT64_MAX, sequence_insert, V);
  r.add("SequenceAt", 11, INT64_MAX, sequence_at, V);
  r.add("SequenceErase", 11, INT64_MAX, sequence_erase, V);
  r.add("SequenceLength", 11, INT64_MAX, sequence_length, V);
  r.add("SplitToSequence", 11, INT64_MAX, split_to_sequence, V);
  r.add("ConcatFromSequence", 11, INT64_MAX, concat_from_sequence, V);
  r.add("Optional", 15, INT64_MAX, optional_make, V);
  r.add("OptionalHasElement", 15, INT64_MAX, optional_has_element, V);
  r.add("OptionalGetElement", 15, INT64_MAX, optional_get_element, V);
}

}  // namespace effopt::exec
