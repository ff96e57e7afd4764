// Tensor files: TensorProto .pb read/write and NumPy .npy read (tensor_io.h).
#include "exec/tensor_io.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>

#include <onnx/onnx_pb.h>

#include "onnx/convert_proto.h"
#include "support/atomic_file.h"
#include "support/mapped_file.h"

namespace effopt::exec {

namespace {

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1000 && u < 6) { v /= 1000; ++u; }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

// Element count of dims, nullopt on a negative dim or when the product of the
// nonzero dims passes 2^62 (also with a zero dim: strides and offsets computed
// from the other dims must not overflow), as Tensor::element_count.
std::optional<uint64_t> checked_count(const std::vector<int64_t>& dims) {
  uint64_t n = 1;
  bool zero = false;
  for (int64_t d : dims) {
    if (d < 0) return std::nullopt;
    if (d == 0) { zero = true; continue; }
    if (n > (uint64_t{1} << 62) / static_cast<uint64_t>(d)) return std::nullopt;
    n *= static_cast<uint64_t>(d);
  }
  return zero ? 0 : n;
}

}  // namespace

uint64_t physical_memory_bytes() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

Status check_fits_in_memory(uint64_t bytes, const std::string& what) {
  uint64_t mem = physical_memory_bytes();
  if (mem && bytes > mem)
    return io_error(what + " needs " + human_bytes(bytes) + ", more than this machine's memory (" + human_bytes(mem) +
                    ")");
  return ok();
}

// ------------------------------------------------------------ TensorProto

Expected<TensorValue> parse_tensor_proto(std::span<const std::byte> bytes, const std::string& what,
                                         std::string* name) {
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    return io_error(what + ": " + human_bytes(bytes.size()) + " is past protobuf's 2 GB message limit");
  onnx::TensorProto proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return io_error(what + ": not a serialized onnx.TensorProto");
  if (proto.data_location() == onnx::TensorProto::EXTERNAL)
    return io_error(what + ": tensors with external data are not supported in data files");
  if (proto.data_type() == static_cast<int32_t>(DataType::String))
    return io_error(what + ": string tensors are not supported by the executor");
  ProtoImportContext ctx;
  ctx.model_name = what;
  auto t = tensor_from_proto(proto, ctx);
  if (!t) return io_error(t.error().message);
  auto v = TensorValue::from_tensor(**t);
  if (!v) return io_error(what + ": " + v.error().message);
  if (name) *name = proto.name();
  // from_tensor may return a view of the parsed bytes: own them (the Tensor dies here).
  if (v->is_view()) return TensorValue::from_bytes(v->dtype(), v->dims(), {v->raw(), v->byte_size()});
  return *v;
}

Expected<TensorValue> read_tensor_pb(const std::string& path, std::string* name) {
  auto f = MappedFile::open(path);
  if (!f) return std::move(f).error();
  EFFOPT_TRY(check_fits_in_memory(2 * (*f)->size(), path));
  return parse_tensor_proto({(*f)->data(), static_cast<size_t>((*f)->size())}, path, name);
}

Expected<std::string> serialize_tensor_proto(const TensorValue& v, const std::string& name) {
  if (v.byte_size() > static_cast<uint64_t>(std::numeric_limits<int>::max()) - 1024)
    return io_error("tensor '" + name + "' (" + human_bytes(v.byte_size()) +
                    ") is past protobuf's 2 GB message limit");
  Tensor t = v.to_tensor(name);
  onnx::TensorProto proto;
  ProtoExportContext ctx;
  ctx.use_markers = false;
  tensor_to_proto(t, &proto, ctx);
  std::string out;
  if (!proto.SerializeToString(&out)) return internal_error("cannot serialize tensor '" + name + "'");
  return out;
}

Status write_tensor_pb(const std::string& path, const TensorValue& v, const std::string& name) {
  EFFOPT_TRY_ASSIGN(std::string bytes, serialize_tensor_proto(v, name));
  EFFOPT_TRY_ASSIGN(auto f, AtomicFile::create(path));
  EFFOPT_TRY(f->write(bytes.data(), bytes.size()));
  return f->commit();
}

// ------------------------------------------------------------------- .npy

namespace {

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

// Parses the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
Expected<NpyHeader> parse_npy_dict(const std::string& h, const std::string& what) {
  auto bad = [&](const std::string& why) { return io_error(what + ": malformed .npy header (" + why + "): " + h); };
  NpyHeader out;
  bool have_descr = false, have_order = false, have_shape = false;
  size_t i = 0;
  auto skip_ws = [&] { while (i < h.size() && std::isspace(static_cast<unsigned char>(h[i]))) ++i; };
  auto read_quoted = [&](std::string* s) -> bool {
    skip_ws();
    if (i >= h.size() || (h[i] != '\'' && h[i] != '"')) return false;
    char q = h[i++];
    size_t end = h.find(q, i);
    if (end == std::string::npos) return false;
    *s = h.substr(i, end - i);
    i = end + 1;
    return true;
  };
  skip_ws();
  if (i >= h.size() || h[i] != '{') return bad("no '{'");
  ++i;
  for (;;) {
    skip_ws();
    if (i < h.size() && h[i] == '}') break;
    std::string key;
    if (!read_quoted(&key)) return bad("expected a quoted key");
    skip_ws();
    if (i >= h.size() || h[i] != ':') return bad("expected ':' after '" + key + "'");
    ++i;
    skip_ws();
    if (key == "descr") {
      if (!read_quoted(&out.descr)) return bad("descr is not a simple type string (structured dtypes are not supported)");
      have_descr = true;
    } else if (key == "fortran_order") {
      if (h.compare(i, 4, "True") == 0) { out.fortran_order = true; i += 4; }
      else if (h.compare(i, 5, "False") == 0) { out.fortran_order = false; i += 5; }
      else return bad("fortran_order is neither True nor False");
      have_order = true;
    } else if (key == "shape") {
      if (i >= h.size() || h[i] != '(') return bad("shape is not a tuple");
      ++i;
      for (;;) {
        skip_ws();
        if (i < h.size() && h[i] == ')') { ++i; break; }
        size_t start = i;
        while (i < h.size() && std::isdigit(static_cast<unsigned char>(h[i]))) ++i;
        if (start == i) return bad("shape holds something other than integers");
        std::string num = h.substr(start, i - start);
        if (num.size() > 18) return bad("shape dim " + num + " is too large");
        out.shape.push_back(std::stoll(num));
        if (i < h.size() && h[i] == 'L') ++i;  // Python 2 longs
        skip_ws();
        if (i < h.size() && h[i] == ',') { ++i; continue; }
        if (i < h.size() && h[i] == ')') { ++i; break; }
        return bad("shape dims are not separated by commas");
      }
      have_shape = true;
    } else {
      return bad("unknown key '" + key + "'");
    }
    skip_ws();
    if (i < h.size() && h[i] == ',') { ++i; continue; }
    skip_ws();
    if (i < h.size() && h[i] == '}') break;
    return bad("expected ',' or '}'");
  }
  if (!have_descr || !have_order || !have_shape) return bad("descr, fortran_order and shape are all required");
  return out;
}

// numpy dtype string -> ONNX type; sets *swap for big-endian data.
Expected<DataType> npy_dtype(const std::string& descr, bool* swap, const std::string& what) {
  *swap = false;
  if (descr.size() < 3) return io_error(what + ": unsupported .npy dtype '" + descr + "'");
  char order = descr[0];
  std::string code = descr.substr(1);
  static const std::pair<const char*, DataType> table[] = {
      {"f4", DataType::Float},   {"f8", DataType::Double},   {"f2", DataType::Float16}, {"b1", DataType::Bool},
      {"i1", DataType::Int8},    {"u1", DataType::UInt8},    {"i2", DataType::Int16},   {"u2", DataType::UInt16},
      {"i4", DataType::Int32},   {"u4", DataType::UInt32},   {"i8", DataType::Int64},   {"u8", DataType::UInt64},
      {"c8", DataType::Complex64}, {"c16", DataType::Complex128},
  };
  for (auto& [c, t] : table) {
    if (code != c) continue;
    if (order == '>' && element_size(t) > 1) *swap = true;
    else if (order != '<' && order != '|' && order != '=' && order != '>')
      return io_error(what + ": unsupported .npy byte order in '" + descr + "'");
    return t;
  }
  std::string why = code[0] == 'U' || code[0] == 'S' ? " (strings are not supported by the executor)"
                    : code[0] == 'O'                 ? " (Python objects cannot be read)"
                    : code[0] == 'V'                 ? " (raw void data, e.g. bfloat16 from ml_dtypes, has no ONNX type here)"
                                                     : "";
  return io_error(what + ": .npy dtype '" + descr + "' has no ONNX element type" + why);
}

}  // namespace

Expected<TensorValue> parse_npy(std::span<const std::byte> bytes, const std::string& what) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  if (n < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0) return io_error(what + ": not a .npy file (no \\x93NUMPY magic)");
  const int major = p[6];
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = p[8] | (p[9] << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (n < 12) return io_error(what + ": truncated .npy header");
    header_len = static_cast<size_t>(p[8]) | (static_cast<size_t>(p[9]) << 8) | (static_cast<size_t>(p[10]) << 16) |
                 (static_cast<size_t>(p[11]) << 24);
    offset = 12;
  } else {
    return io_error(what + ": unsupported .npy format version " + std::to_string(major));
  }
  if (header_len > n - offset) return io_error(what + ": truncated .npy header");
  std::string header(reinterpret_cast<const char*>(p + offset), header_len);
  EFFOPT_TRY_ASSIGN(NpyHeader h, parse_npy_dict(header, what));
  if (h.fortran_order)
    return io_error(what + ": the array is in Fortran order; save it in C order (numpy.ascontiguousarray) first");
  bool swap = false;
  EFFOPT_TRY_ASSIGN(DataType dt, npy_dtype(h.descr, &swap, what));
  auto count = checked_count(h.shape);
  const size_t es = element_size(dt);
  if (!count || *count > (uint64_t{1} << 46) / es)
    return io_error(what + ": shape " + dims_to_string(h.shape) + " is too large");
  const uint64_t need = *count * es;
  const uint64_t have = n - offset - header_len;
  if (have < need)
    return io_error(what + ": truncated: shape " + dims_to_string(h.shape) + " of " + data_type_name(dt) + " needs " +
                    std::to_string(need) + " data bytes, the file has " + std::to_string(have));
  EFFOPT_TRY(check_fits_in_memory(need, what));
  TensorValue v = TensorValue::from_bytes(dt, h.shape, bytes.subspan(offset + header_len, static_cast<size_t>(need)));
  if (swap) {
    // Complex values swap each of their two float halves.
    const size_t unit = (dt == DataType::Complex64 || dt == DataType::Complex128) ? es / 2 : es;
    std::byte* d = v.mutable_raw();
    for (uint64_t k = 0; k < need; k += unit) std::reverse(d + k, d + k + unit);
  }
  return v;
}

Expected<TensorValue> read_npy(const std::string& path) {
  auto f = MappedFile::open(path);
  if (!f) return std::move(f).error();
  return parse_npy({(*f)->data(), static_cast<size_t>((*f)->size())}, path);
}

}  // namespace effopt::exec
