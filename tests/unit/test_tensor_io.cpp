// Tensor files: .npy read (written byte by byte here), TensorProto .pb
// read/write (also protos with typed fields built here), and their errors.
#include <catch2/catch.hpp>

#include <cstring>

#include <onnx/onnx_pb.h>

#include "exec/tensor_io.h"
#include "util/test_util.h"

using namespace effopt;
using exec::TensorValue;

namespace {

std::span<const std::byte> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// A .npy file of format `major` (1: 2-byte header length; 2, 3: 4-byte).
std::string npy(const std::string& descr, const std::string& shape, const std::string& data, int major = 1,
                bool fortran = false) {
  std::string h = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape +
                  ", }";
  size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  out += static_cast<char>(h.size() & 0xFF);
  out += static_cast<char>((h.size() >> 8) & 0xFF);
  if (major != 1) out += std::string(2, '\0');
  return out + h + data;
}

template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

}  // namespace

TEST_CASE("npy: float32, int64, bool, float16 and a scalar", "[tensor-io]") {
  auto f = exec::parse_npy(as_bytes(npy("<f4", "(2, 3)", raw<float>({1, 2, 3, 4, 5, 6.5f}))), "f.npy");
  REQUIRE(f);
  CHECK(f->dtype() == DataType::Float);
  CHECK(f->dims() == std::vector<int64_t>{2, 3});
  CHECK(f->data<float>()[5] == 6.5f);
  auto i = exec::parse_npy(as_bytes(npy("<i8", "(3,)", raw<int64_t>({-1, 0, 1LL << 40}))), "i.npy");
  REQUIRE(i);
  CHECK(i->dtype() == DataType::Int64);
  CHECK(i->data<int64_t>()[2] == (1LL << 40));
  auto b = exec::parse_npy(as_bytes(npy("|b1", "(2,)", raw<uint8_t>({1, 0}))), "b.npy");
  REQUIRE(b);
  CHECK(b->dtype() == DataType::Bool);
  auto h = exec::parse_npy(as_bytes(npy("<f2", "(1,)", raw<uint16_t>({0x3C00}))), "h.npy");
  REQUIRE(h);
  CHECK(h->dtype() == DataType::Float16);
  auto s = exec::parse_npy(as_bytes(npy("<f8", "()", raw<double>({3.25}))), "s.npy");
  REQUIRE(s);
  CHECK(s->rank() == 0);
  CHECK(s->data<double>()[0] == 3.25);
  auto u = exec::parse_npy(as_bytes(npy("|u1", "(2, 0)", "")), "empty.npy");
  REQUIRE(u);
  CHECK(u->element_count() == 0);
}

TEST_CASE("npy: v2 and v3 headers, big-endian data", "[tensor-io]") {
  for (int major : {2, 3}) {
    auto v = exec::parse_npy(as_bytes(npy("<i4", "(2,)", raw<int32_t>({7, -7}), major)), "v.npy");
    REQUIRE(v);
    CHECK(v->data<int32_t>()[1] == -7);
  }
  // 1.0f big-endian is 3F 80 00 00.
  auto be = exec::parse_npy(as_bytes(npy(">f4", "(1,)", std::string("\x3F\x80\x00\x00", 4))), "be.npy");
  REQUIRE(be);
  CHECK(be->data<float>()[0] == 1.0f);
}

TEST_CASE("npy: refused with the reason", "[tensor-io]") {
  auto fortran = exec::parse_npy(as_bytes(npy("<f4", "(2, 2)", raw<float>({1, 2, 3, 4}), 1, true)), "f.npy");
  REQUIRE_FALSE(fortran);
  CHECK(fortran.error().kind == ErrorKind::IO);
  CHECK(fortran.error().message.find("f.npy: the array is in Fortran order") != std::string::npos);
  auto truncated = exec::parse_npy(as_bytes(npy("<f4", "(2, 2)", raw<float>({1, 2, 3}))), "t.npy");
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error().message.find("needs 16 data bytes, the file has 12") != std::string::npos);
  auto str = exec::parse_npy(as_bytes(npy("<U3", "(1,)", std::string(12, 'a'))), "s.npy");
  REQUIRE_FALSE(str);
  CHECK(str.error().message.find("strings are not supported") != std::string::npos);
  auto magic = exec::parse_npy(as_bytes(std::string("PK\x03\x04 not npy at all")), "z.npy");
  REQUIRE_FALSE(magic);
  CHECK(magic.error().message.find("not a .npy file") != std::string::npos);
  auto huge = exec::parse_npy(as_bytes(npy("<f4", "(100000000, 100000000)", "")), "h.npy");
  REQUIRE_FALSE(huge);
  CHECK(huge.error().message.find("is too large") != std::string::npos);
  auto badshape = exec::parse_npy(as_bytes(npy("<f4", "(2, x)", "")), "b.npy");
  REQUIRE_FALSE(badshape);
  CHECK(badshape.error().message.find("malformed .npy header") != std::string::npos);
}

TEST_CASE("pb: write then read keeps type, dims, bytes and name", "[tensor-io]") {
  test::TempDir dir;
  auto v = TensorValue::from_vector(DataType::Int32, {2, 2}, std::vector<int32_t>{1, -2, 3, -4});
  REQUIRE(exec::write_tensor_pb(dir.file("t.pb"), v, "x"));
  std::string name;
  auto back = exec::read_tensor_pb(dir.file("t.pb"), &name);
  REQUIRE(back);
  CHECK(name == "x");
  CHECK(back->dtype() == DataType::Int32);
  CHECK(back->dims() == std::vector<int64_t>{2, 2});
  CHECK(std::memcmp(back->raw(), v.raw(), 16) == 0);
  // What protobuf itself sees in the file.
  onnx::TensorProto p;
  REQUIRE(p.ParseFromString(test::read_file(dir.file("t.pb"))));
  CHECK(p.data_type() == onnx::TensorProto::INT32);
  CHECK(p.raw_data().size() == 16);
}

TEST_CASE("pb: typed fields (float_data, int64_data) as ONNX's own test data may use", "[tensor-io]") {
  onnx::TensorProto p;
  p.set_data_type(onnx::TensorProto::FLOAT);
  p.add_dims(3);
  for (float f : {0.5f, -1.0f, 2.0f}) p.add_float_data(f);
  std::string bytes = p.SerializeAsString();
  auto v = exec::parse_tensor_proto(as_bytes(bytes), "f.pb");
  REQUIRE(v);
  CHECK(v->data<float>()[1] == -1.0f);
  onnx::TensorProto q;
  q.set_data_type(onnx::TensorProto::INT64);
  q.add_dims(2);
  q.add_int64_data(5);
  q.add_int64_data(-6);
  auto w = exec::parse_tensor_proto(as_bytes(q.SerializeAsString()), "i.pb");
  REQUIRE(w);
  CHECK(w->data<int64_t>()[1] == -6);
}

TEST_CASE("pb: garbage, external data and strings are refused naming the file", "[tensor-io]") {
  auto g = exec::parse_tensor_proto(as_bytes(std::string("\xff\xff\xff\xff garbage")), "g.pb");
  REQUIRE_FALSE(g);
  CHECK(g.error().kind == ErrorKind::IO);
  CHECK(g.error().message.find("g.pb: not a serialized onnx.TensorProto") != std::string::npos);
  onnx::TensorProto e;
  e.set_data_type(onnx::TensorProto::FLOAT);
  e.add_dims(1);
  e.set_data_location(onnx::TensorProto::EXTERNAL);
  auto ext = exec::parse_tensor_proto(as_bytes(e.SerializeAsString()), "e.pb");
  REQUIRE_FALSE(ext);
  CHECK(ext.error().message.find("external data") != std::string::npos);
  onnx::TensorProto mismatch;
  mismatch.set_data_type(onnx::TensorProto::FLOAT);
  mismatch.add_dims(4);
  mismatch.set_raw_data(std::string(8, '\0'));
  auto mm = exec::parse_tensor_proto(as_bytes(mismatch.SerializeAsString()), "m.pb");
  REQUIRE_FALSE(mm);
  CHECK(mm.error().message.find("holds 8 bytes") != std::string::npos);
  auto missing = exec::read_tensor_pb("/nonexistent/dir/x.pb");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == ErrorKind::IO);
}

TEST_CASE("memory check: sizes beyond this machine's memory are refused", "[tensor-io]") {
  CHECK(exec::check_fits_in_memory(1024, "small"));
  Status st = exec::check_fits_in_memory(uint64_t{1} << 60, "x");
  REQUIRE_FALSE(st);
  CHECK(st.error().kind == ErrorKind::IO);
  CHECK(st.error().message.find("x needs") != std::string::npos);
}
