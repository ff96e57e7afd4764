// The pass helper layer (pass_util.h): reading tensor values, on ir/dtype.h.
#include <cmath>
#include <cstring>

#include "ir/dtype.h"
#include "passes/pass_util.h"

namespace effopt::passes::util {

std::optional<std::vector<double>> constant_doubles(const Value* v) {
  TensorPtr t = fixed_constant(v);
  if (!t || !t->storage) return std::nullopt;
  auto vals = to_doubles(*t);
  if (!vals || vals->empty()) return std::nullopt;
  return vals;
}

std::optional<std::vector<int64_t>> tensor_ints(const Tensor& t) {
  if (t.data_type != DataType::Int64 && t.data_type != DataType::Int32) return std::nullopt;
  auto n = t.element_count();
  if (n && *n == 0) return std::vector<int64_t>{};
  if (!t.storage) return std::nullopt;
  return to_ints(t);
}

bool tensor_all_equal(const Tensor& t, double x) {
  auto n = t.element_count();
  if (!n || *n == 0 || !t.storage) return false;
  if (auto ints = to_ints(t)) {  // integers exactly (int64 beyond 2^53 too)
    if (x != std::trunc(x) || !(std::fabs(x) < 9.3e18)) return false;
    for (int64_t a : *ints)
      if (a != static_cast<int64_t>(x)) return false;
    return true;
  }
  auto vals = to_doubles(t);
  if (!vals) return false;
  for (double v : *vals)
    if (!(v == x)) return false;
  return true;
}

TensorPtr tensor_from_ints(std::vector<int64_t> dims, const std::vector<int64_t>& vals) {
  auto t = std::make_shared<Tensor>();
  t->data_type = DataType::Int64;
  t->dims = std::move(dims);
  std::vector<std::byte> bytes(vals.size() * 8);
  if (!vals.empty()) std::memcpy(bytes.data(), vals.data(), bytes.size());
  t->set_bytes(std::move(bytes));
  return t;
}

}  // namespace effopt::passes::util
