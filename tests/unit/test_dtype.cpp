// ir/dtype.h: the float type sets, float16 / bfloat16 / float8 conversions
// (round to nearest even, subnormals, overflow, NaN; checked against bit
// patterns from the IEEE 754 and ONNX specs, against the ONNX Runtime
// harness's own independent conversions, and for nearest-ness on random
// doubles), and reading / writing elements of every numeric type, whatever
// holds the bytes (owned raw bytes, a TensorProto's raw_data or typed fields,
// a view into a saved model file).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "exec/tensor_value.h"
#include "ir/dtype.h"
#include "onnx/convert_proto.h"
#include "onnx/model_io.h"
#include "support/ort_harness.h"
#include "util/test_util.h"

using namespace effopt;

namespace {

template <class T>
std::vector<std::byte> bytes_of(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<std::byte> u8(std::initializer_list<int> v) {
  std::vector<std::byte> b;
  for (int x : v) b.push_back(static_cast<std::byte>(x));
  return b;
}

double h2d(uint16_t h) { return static_cast<double>(half_to_float(h)); }

// One numeric tensor: its element type, dims, raw little-endian bytes (packed
// as ONNX stores them) and the values they hold.
struct Case {
  DataType type;
  std::vector<int64_t> dims;
  std::vector<std::byte> raw;
  std::vector<double> values;
  std::optional<std::vector<int64_t>> ints;  // to_ints, for integer types and bool
};

std::vector<Case> every_numeric_type() {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<Case> c;
  c.push_back({DataType::Float, {2, 2}, bytes_of<float>({1.5f, -2.25f, 0.f, 3e38f}), {1.5, -2.25, 0, double(3e38f)}, {}});
  c.push_back({DataType::Double, {3}, bytes_of<double>({1.5, -1e300, 0.1}), {1.5, -1e300, 0.1}, {}});
  // float16 1, -2, 2^-24 (smallest subnormal), 65504 (largest finite).
  c.push_back({DataType::Float16, {4}, bytes_of<uint16_t>({0x3C00, 0xC000, 0x0001, 0x7BFF}),
               {1, -2, std::ldexp(1.0, -24), 65504}, {}});
  // bfloat16 1, -3, 2^-133 (smallest subnormal), (2 - 2^-7) * 2^127 (largest finite).
  c.push_back({DataType::BFloat16, {4}, bytes_of<uint16_t>({0x3F80, 0xC040, 0x0001, 0x7F7F}),
               {1, -3, std::ldexp(1.0, -133), std::ldexp(2 - std::ldexp(1.0, -7), 127)}, {}});
  // float8 (ONNX spec): 1.0, the largest finite value, the smallest subnormal, -1 (E5M2: inf).
  c.push_back({DataType::Float8E4M3FN, {4}, u8({0x38, 0x7E, 0x01, 0xB8}), {1, 448, std::ldexp(1.0, -9), -1}, {}});
  c.push_back({DataType::Float8E4M3FNUZ, {4}, u8({0x40, 0x7F, 0x01, 0xC0}), {1, 240, std::ldexp(1.0, -10), -1}, {}});
  c.push_back({DataType::Float8E5M2, {4}, u8({0x3C, 0x7B, 0x01, 0x7C}), {1, 57344, std::ldexp(1.0, -16), inf}, {}});
  c.push_back({DataType::Float8E5M2FNUZ, {4}, u8({0x40, 0x7F, 0x01, 0xC0}), {1, 57344, std::ldexp(1.0, -17), -1}, {}});
  c.push_back({DataType::Int8, {4}, bytes_of<int8_t>({-128, 127, 0, -1}), {-128, 127, 0, -1},
               std::vector<int64_t>{-128, 127, 0, -1}});
  c.push_back({DataType::UInt8, {3}, bytes_of<uint8_t>({255, 0, 7}), {255, 0, 7}, std::vector<int64_t>{255, 0, 7}});
  c.push_back({DataType::Int16, {2}, bytes_of<int16_t>({-32768, 32767}), {-32768, 32767},
               std::vector<int64_t>{-32768, 32767}});
  c.push_back({DataType::UInt16, {2}, bytes_of<uint16_t>({65535, 1}), {65535, 1}, std::vector<int64_t>{65535, 1}});
  c.push_back({DataType::Int32, {2}, bytes_of<int32_t>({INT32_MIN, INT32_MAX}), {INT32_MIN, INT32_MAX},
               std::vector<int64_t>{INT32_MIN, INT32_MAX}});
  c.push_back({DataType::UInt32, {2}, bytes_of<uint32_t>({4294967295u, 0}), {4294967295.0, 0},
               std::vector<int64_t>{4294967295ll, 0}});
  // 2^53 + 1 is exact as an int, rounded as a double.
  c.push_back({DataType::Int64, {3}, bytes_of<int64_t>({INT64_MIN, 9007199254740993ll, 5}),
               {-9223372036854775808.0, 9007199254740992.0, 5}, std::vector<int64_t>{INT64_MIN, 9007199254740993ll, 5}});
  c.push_back({DataType::UInt64, {2}, bytes_of<uint64_t>({0, 9223372036854775807ull}), {0, 9223372036854775807.0},
               std::vector<int64_t>{0, INT64_MAX}});
  c.push_back({DataType::Bool, {3}, u8({1, 0, 1}), {1, 0, 1}, std::vector<int64_t>{1, 0, 1}});
  // int4 -8, 7, -1, 0, 3 and uint4 15, 0, 9: two per byte, low nibble first.
  c.push_back({DataType::Int4, {5}, u8({0x78, 0x0F, 0x03}), {-8, 7, -1, 0, 3}, std::vector<int64_t>{-8, 7, -1, 0, 3}});
  c.push_back({DataType::UInt4, {3}, u8({0x0F, 0x09}), {15, 0, 9}, std::vector<int64_t>{15, 0, 9}});
  return c;
}

// The same tensor as a TensorProto with its values in the typed field ONNX
// uses for the type (int4: one packed byte per entry).
onnx::TensorProto typed_proto(const Case& c) {
  onnx::TensorProto p;
  p.set_data_type(static_cast<int32_t>(c.type));
  for (int64_t d : c.dims) p.add_dims(d);
  auto each = [&](auto tag, auto add) {
    using T = decltype(tag);
    for (size_t i = 0; i < c.raw.size() / sizeof(T); ++i) {
      T v;
      std::memcpy(&v, c.raw.data() + i * sizeof(T), sizeof(T));
      add(v);
    }
  };
  switch (c.type) {
    case DataType::Float: each(float{}, [&](float v) { p.add_float_data(v); }); break;
    case DataType::Double: each(double{}, [&](double v) { p.add_double_data(v); }); break;
    case DataType::Int64: each(int64_t{}, [&](int64_t v) { p.add_int64_data(v); }); break;
    case DataType::UInt64: each(uint64_t{}, [&](uint64_t v) { p.add_uint64_data(v); }); break;
    case DataType::UInt32: each(uint32_t{}, [&](uint32_t v) { p.add_uint64_data(v); }); break;
    case DataType::Int32: each(int32_t{}, [&](int32_t v) { p.add_int32_data(v); }); break;
    case DataType::Int16: each(int16_t{}, [&](int16_t v) { p.add_int32_data(v); }); break;
    case DataType::UInt16: case DataType::Float16: case DataType::BFloat16:
      each(uint16_t{}, [&](uint16_t v) { p.add_int32_data(v); });
      break;
    case DataType::Int8: each(int8_t{}, [&](int8_t v) { p.add_int32_data(v); }); break;
    default: each(uint8_t{}, [&](uint8_t v) { p.add_int32_data(v); }); break;  // uint8, bool, float8, 4-bit
  }
  return p;
}

void check_readers(const Tensor& t, const Case& c, const std::string& where) {
  INFO(data_type_name(c.type) << " from " << where);
  auto d = to_doubles(t);
  REQUIRE(d);
  CHECK(*d == c.values);
  auto i = to_ints(t);
  CHECK(i.has_value() == c.ints.has_value());
  if (i && c.ints) CHECK(*i == *c.ints);
}

}  // namespace

TEST_CASE("dtype: the float type sets", "[dtype]") {
  for (int32_t k = 0; k <= 22; ++k) {
    auto t = static_cast<DataType>(k);
    INFO(data_type_name(t));
    bool f32 = t == DataType::Float, f64 = t == DataType::Double, f16 = t == DataType::Float16,
         bf16 = t == DataType::BFloat16, f8 = k >= 17 && k <= 20;
    CHECK(is_float_type(t) == (f32 || f64 || f16 || bf16));
    CHECK(is_ieee_float_type(t) == (f32 || f64 || f16));
    CHECK(is_16bit_float_type(t) == (f16 || bf16));
    CHECK(is_float8_type(t) == f8);
    CHECK(is_any_float_type(t) == (f32 || f64 || f16 || bf16 || f8));
    CHECK(is_qdq_float_type(t) == (f32 || f16 || bf16));
    bool no_number = t == DataType::Undefined || t == DataType::String || t == DataType::Complex64 ||
                     t == DataType::Complex128;
    CHECK(has_numeric_value(t) == !no_number);
  }
}

TEST_CASE("dtype: float16 conversions at the IEEE 754 boundaries", "[dtype]") {
  const float inf = std::numeric_limits<float>::infinity();
  struct Pair {
    double value;
    uint16_t bits;
  };
  // Round to nearest, ties to even; subnormals kept; past 65504 + half an ulp: infinity.
  const Pair pairs[] = {
      {0.0, 0x0000},
      {-0.0, 0x8000},
      {1.0, 0x3C00},
      {-2.0, 0xC000},
      {1.0 / 3, 0x3555},
      {65504, 0x7BFF},
      {65519.99, 0x7BFF},
      {65520, 0x7C00},  // the tie between 65504 and 2^16 goes to the even pattern: infinity
      {-70000, 0xFC00},
      {std::ldexp(1.0, -14), 0x0400},   // smallest normal
      {std::ldexp(1.0, -24), 0x0001},   // smallest subnormal
      {std::ldexp(1.0, -25), 0x0000},   // half of it: a tie, to even (0)
      {std::ldexp(1.5, -25), 0x0001},   // above the tie
      {std::ldexp(3.0, -25), 0x0002},   // 1.5 ulps: a tie, to even (2)
      {std::ldexp(1023.0, -24), 0x03FF},  // largest subnormal
      {1 + std::ldexp(1.0, -11), 0x3C00},      // tie, to even
      {1 + 3 * std::ldexp(1.0, -11), 0x3C02},  // tie, to even
  };
  for (const Pair& p : pairs) {
    INFO("value " << p.value);
    CHECK(float_to_half(static_cast<float>(p.value)) == p.bits);
    CHECK(double_to_half(p.value) == p.bits);
  }
  CHECK(float_to_half(inf) == 0x7C00);
  CHECK(float_to_half(-inf) == 0xFC00);
  CHECK(double_to_half(-std::numeric_limits<double>::infinity()) == 0xFC00);
  for (uint16_t nan : {float_to_half(NAN), double_to_half(std::nan("")), float_to_half(-NAN), double_to_half(-std::nan(""))}) {
    CHECK((nan & 0x7C00) == 0x7C00);
    CHECK((nan & 0x03FF) != 0);
  }
  CHECK((float_to_half(-NAN) & 0x8000) != 0);  // the sign stays
  CHECK(double_to_half(std::numeric_limits<double>::denorm_min()) == 0x0000);
  CHECK(double_to_half(1e300) == 0x7C00);
  CHECK(std::isnan(half_to_float(0x7E00)));
  CHECK(half_to_float(0x7C00) == inf);
  CHECK(h2d(0x0001) == std::ldexp(1.0, -24));
  CHECK(h2d(0x8001) == -std::ldexp(1.0, -24));
}

TEST_CASE("dtype: double_to_half and double_to_bf16 round once, not through float", "[dtype]") {
  // 1 + 2^-11 + 2^-40 lies just above the midpoint of float16 neighbours 1 and
  // 1 + 2^-10: one rounding gives 1 + 2^-10; rounding to float first lands on
  // the midpoint, which ties to even (1).
  const double above_tie = 1 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  CHECK(double_to_half(above_tie) == 0x3C01);
  CHECK(float_to_half(static_cast<float>(above_tie)) == 0x3C00);
  // The same just above half the smallest subnormal, and just below the overflow threshold.
  CHECK(double_to_half(std::ldexp(1.0, -25) + std::ldexp(1.0, -60)) == 0x0001);
  CHECK(float_to_half(static_cast<float>(std::ldexp(1.0, -25) + std::ldexp(1.0, -60))) == 0x0000);
  CHECK(double_to_half(65520 - std::ldexp(1.0, -30)) == 0x7BFF);
  CHECK(float_to_half(static_cast<float>(65520 - std::ldexp(1.0, -30))) == 0x7C00);
  // bfloat16: neighbours 1 and 1 + 2^-7.
  const double bf_above_tie = 1 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40);
  CHECK(double_to_bf16(bf_above_tie) == 0x3F81);
  CHECK(float_to_bf16(static_cast<float>(bf_above_tie)) == 0x3F80);
}

TEST_CASE("dtype: bfloat16 conversions at the boundaries", "[dtype]") {
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(float_to_bf16(1.0f) == 0x3F80);
  CHECK(float_to_bf16(-3.0f) == 0xC040);
  CHECK(float_to_bf16(1 + std::ldexp(1.0f, -8)) == 0x3F80);      // tie, to even
  CHECK(float_to_bf16(1 + 3 * std::ldexp(1.0f, -8)) == 0x3F82);  // tie, to even
  CHECK(float_to_bf16(std::ldexp(1.0f, -130)) == 0x0008);        // a float subnormal, kept
  CHECK(double_to_bf16(std::ldexp(1.0, -133)) == 0x0001);        // smallest bfloat16 subnormal
  CHECK(double_to_bf16(std::ldexp(1.0, -134)) == 0x0000);        // half of it: tie, to even
  CHECK(float_to_bf16(std::numeric_limits<float>::max()) == 0x7F80);  // past the largest bfloat16 + half an ulp
  CHECK(double_to_bf16(1e39) == 0x7F80);                              // beyond float's range too
  CHECK(float_to_bf16(-inf) == 0xFF80);
  for (uint16_t nan : {float_to_bf16(NAN), double_to_bf16(std::nan(""))}) {
    CHECK((nan & 0x7F80) == 0x7F80);
    CHECK((nan & 0x007F) != 0);
  }
  CHECK(bf16_to_float(0x7F7F) == static_cast<float>(std::ldexp(2 - std::ldexp(1.0, -7), 127)));
  CHECK(bf16_to_float(0x8001) == -static_cast<float>(std::ldexp(1.0, -133)));
}

TEST_CASE("dtype: every float16 pattern round-trips; float and double paths agree on every sampled float", "[dtype]") {
  // All 65536 patterns: widening is exact, so narrowing again gives the pattern
  // back (NaN: a NaN of the same sign); the test harness's independent
  // conversion widens to the same float.
  for (uint32_t u = 0; u <= 0xFFFF; ++u) {
    const auto h = static_cast<uint16_t>(u);
    const float f = half_to_float(h);
    if (std::isnan(f)) {
      CHECK(std::isnan(test::half_to_float(h)));
      CHECK((float_to_half(f) & 0x8000) == (h & 0x8000));
      continue;
    }
    if (float_to_half(f) != h || double_to_half(f) != h || test::half_to_float(h) != f) FAIL("pattern " << u);
  }
  for (uint32_t u = 0; u <= 0xFFFF; ++u) {
    const auto b = static_cast<uint16_t>(u);
    const float f = bf16_to_float(b);
    if (std::isnan(f)) continue;
    if (float_to_bf16(f) != b || double_to_bf16(f) != b || test::bfloat16_to_float(b) != f) FAIL("bf16 pattern " << u);
  }
  // Every 4099th float (a million, all exponents): the bit-twiddling float
  // paths, the general double rounding and the harness's conversions agree.
  uint64_t checked = 0;
  for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += 4099) {
    const auto bits = static_cast<uint32_t>(u);
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isnan(f)) continue;
    const uint16_t h = float_to_half(f), b = float_to_bf16(f);
    if (h != double_to_half(f) || h != test::float_to_half(f)) FAIL("float16 of " << f << " (bits " << bits << ")");
    if (b != double_to_bf16(f) || b != test::float_to_bfloat16(f)) FAIL("bfloat16 of " << f << " (bits " << bits << ")");
    ++checked;
  }
  CHECK(checked > 1000000);
}

TEST_CASE("dtype: double_to_half gives the nearest float16, ties to even, on random doubles", "[dtype]") {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  std::uniform_int_distribution<int> expo(-27, 16);
  int ties = 0;
  for (int k = 0; k < 200000; ++k) {
    double d = std::ldexp(mant(rng), expo(rng));
    if (k % 7 == 0) d = std::ldexp(std::round(std::ldexp(d, 12)), -12);  // many exact ties among these
    if (k % 2) d = -d;
    const uint16_t h = double_to_half(d);
    const long double x = std::fabs(static_cast<long double>(d));
    const uint16_t mag = h & 0x7FFF;
    if (x >= 65520) {
      if (mag != 0x7C00) FAIL(d << " should overflow");
      continue;
    }
    if ((h & 0x8000) != (std::signbit(d) ? 0x8000 : 0)) FAIL("sign of " << d);
    const long double here = std::fabs(x - h2d(mag));
    const long double up = std::fabs(x - h2d(static_cast<uint16_t>(mag + 1)));
    const long double down = mag ? std::fabs(x - h2d(static_cast<uint16_t>(mag - 1))) : here + 1;
    if (here > up || here > down) FAIL(d << " -> " << h << " is not the nearest");
    if (here == up || here == down) {
      ++ties;
      if (mag & 1) FAIL(d << " -> " << h << ": a tie must go to the even pattern");
    }
  }
  CHECK(ties > 100);
}

TEST_CASE("dtype: float8 codes decode as the ONNX spec gives them", "[dtype]") {
  CHECK(std::isnan(float8_to_float(0x7F, DataType::Float8E4M3FN)));
  CHECK(std::isnan(float8_to_float(0xFF, DataType::Float8E4M3FN)));
  CHECK(float8_to_float(0x80, DataType::Float8E4M3FN) == 0.0f);  // negative zero
  CHECK(std::signbit(float8_to_float(0x80, DataType::Float8E4M3FN)));
  CHECK(std::isnan(float8_to_float(0x80, DataType::Float8E4M3FNUZ)));
  CHECK(std::isnan(float8_to_float(0x80, DataType::Float8E5M2FNUZ)));
  CHECK(std::isnan(float8_to_float(0x7D, DataType::Float8E5M2)));
  CHECK(float8_to_float(0xFC, DataType::Float8E5M2) == -std::numeric_limits<float>::infinity());
  CHECK(float8_to_float(0x7F, DataType::Float8E5M2FNUZ) == 57344.0f);
}

TEST_CASE("dtype: to_doubles and to_ints read every numeric type from every storage", "[dtype]") {
  test::TempDir dir;
  auto model = test::parse_or_fail(R"(
<ir_version: 10, opset_import: ["" : 21]>
g (float[1] x) => (float[1] y) {
  y = Identity(x)
}
)");
  std::vector<Case> cases = every_numeric_type();
  for (size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    // Owned raw bytes.
    Tensor owned;
    owned.data_type = c.type;
    owned.dims = c.dims;
    owned.set_bytes(c.raw);
    check_readers(owned, c, "owned bytes");
    // A TensorProto's raw_data and its typed field, through the importer.
    onnx::TensorProto raw;
    raw.set_data_type(static_cast<int32_t>(c.type));
    for (int64_t d : c.dims) raw.add_dims(d);
    raw.set_raw_data(std::string(reinterpret_cast<const char*>(c.raw.data()), c.raw.size()));
    ProtoImportContext ctx;
    auto from_raw = tensor_from_proto(raw, ctx);
    REQUIRE(from_raw);
    check_readers(**from_raw, c, "raw_data");
    auto from_typed = tensor_from_proto(typed_proto(c), ctx);
    REQUIRE(from_typed);
    check_readers(**from_typed, c, "typed field");
    auto t = std::make_shared<Tensor>(owned);
    t->name = "t" + std::to_string(k);
    model->graph->add_initializer(t);
  }
  // Views into a saved model file (raw_data anywhere in the file: misaligned too).
  std::string path = dir.file("all_types.onnx");
  REQUIRE(save_model(*model, path));
  auto loaded = load_model(path);
  REQUIRE(loaded);
  size_t views = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    const Value* v = (*loaded)->graph->find("t" + std::to_string(k));
    REQUIRE(v);
    REQUIRE(v->initializer);
    views += v->initializer->storage && v->initializer->storage->file() != nullptr;
    check_readers(*v->initializer, cases[k], "file view");
  }
  CHECK(views == cases.size());
}

TEST_CASE("dtype: readers refuse what they cannot read", "[dtype]") {
  Tensor big;
  big.data_type = DataType::UInt64;
  big.dims = {1};
  big.set_bytes(bytes_of<uint64_t>({18446744073709551615ull}));
  CHECK_FALSE(to_ints(big));  // above INT64_MAX
  CHECK(to_doubles(big) == std::vector<double>{18446744073709551615.0});
  Tensor short_bytes;
  short_bytes.data_type = DataType::Float;
  short_bytes.dims = {3};
  short_bytes.set_bytes(bytes_of<float>({1, 2}));
  CHECK_FALSE(to_doubles(short_bytes));
  Tensor strings;
  strings.data_type = DataType::String;
  strings.dims = {1};
  strings.strings = {"7"};
  CHECK_FALSE(to_doubles(strings));
  CHECK_FALSE(to_ints(strings));
  Tensor floats;
  floats.data_type = DataType::Float;
  floats.dims = {1};
  floats.set_bytes(bytes_of<float>({2}));
  CHECK_FALSE(to_ints(floats));  // whole numbers or not, floats are not ints
  Tensor empty;
  empty.data_type = DataType::Int64;
  empty.dims = {0};
  CHECK(to_ints(empty) == std::vector<int64_t>{});
}

TEST_CASE("dtype: tensor_from_values rounds floats once and saturates integers", "[dtype]") {
  const double nan = std::nan("");
  auto i8 = tensor_from_values(DataType::Int8, {6}, {300, -300, 2.9, -2.9, nan, 5});
  REQUIRE(i8);
  CHECK(to_ints(*i8) == std::vector<int64_t>{127, -128, 2, -2, 0, 5});
  auto u8 = tensor_from_values(DataType::UInt8, {2}, {-5, 255.5});
  REQUIRE(u8);
  CHECK(to_ints(*u8) == std::vector<int64_t>{0, 255});
  auto i64 = tensor_from_values(DataType::Int64, {2}, {1e30, -1e30});
  REQUIRE(i64);
  CHECK(to_ints(*i64) == std::vector<int64_t>{INT64_MAX, INT64_MIN});
  auto b = tensor_from_values(DataType::Bool, {3}, {0, 0.5, -2});
  REQUIRE(b);
  CHECK(to_ints(*b) == std::vector<int64_t>{0, 1, 1});
  auto h = tensor_from_values(DataType::Float16, {1}, {1 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40)});
  REQUIRE(h);
  CHECK(h->as<uint16_t>()[0] == 0x3C01);
  auto d = tensor_from_values(DataType::Double, {2, 1}, {0.1, -3});
  REQUIRE(d);
  CHECK(d->dims == std::vector<int64_t>{2, 1});
  CHECK(to_doubles(*d) == std::vector<double>{0.1, -3});
  auto f = tensor_from_values(DataType::Float, {1}, {0.1});
  REQUIRE(f);
  CHECK(f->as<float>()[0] == 0.1f);
  CHECK_FALSE(tensor_from_values(DataType::Float8E4M3FN, {1}, {1}));
  CHECK_FALSE(tensor_from_values(DataType::Int4, {1}, {1}));
  CHECK_FALSE(tensor_from_values(DataType::String, {1}, {1}));
}

TEST_CASE("dtype: the executor's to_doubles reads its unpacked int4 and gives NaN for strings", "[dtype]") {
  Tensor t;
  t.data_type = DataType::Int4;
  t.dims = {3};
  t.set_bytes(u8({0x78, 0x0F}));  // -8, 7, -1
  auto v = exec::TensorValue::from_tensor(t);
  REQUIRE(v);
  CHECK(exec::to_doubles(*v) == std::vector<double>{-8, 7, -1});
  auto s = exec::TensorValue::from_strings({2}, {"a", "b"});
  auto sd = exec::to_doubles(s);
  REQUIRE(sd.size() == 2);
  CHECK(std::isnan(sd[0]));
  CHECK(std::isnan(sd[1]));
}
