#include "onnx/wire.h"

#include <cstring>

namespace effopt::wire {

namespace {

// The messages whose fields can lead to a TensorProto. Everything else is
// copied as opaque bytes (training_info included, on purpose).
enum class Kind { Model, Graph, Node, Attribute, Tensor, Sparse, Function, Opaque };

Kind child_kind(Kind parent, uint32_t field) {
  switch (parent) {
    case Kind::Model: return field == 7 ? Kind::Graph : field == 25 ? Kind::Function : Kind::Opaque;
    case Kind::Graph: return field == 1 ? Kind::Node : field == 5 ? Kind::Tensor : field == 15 ? Kind::Sparse : Kind::Opaque;
    case Kind::Node: return field == 5 ? Kind::Attribute : Kind::Opaque;
    case Kind::Attribute:
      // t = 5, g = 6, strings = 9 (not a message), tensors = 10, graphs = 11
      if (field == 5 || field == 10) return Kind::Tensor;
      if (field == 6 || field == 11) return Kind::Graph;
      if (field == 22 || field == 23) return Kind::Sparse;
      return Kind::Opaque;
    case Kind::Function: return field == 7 ? Kind::Node : Kind::Opaque;
    case Kind::Sparse: return (field == 1 || field == 2) ? Kind::Tensor : Kind::Opaque;
    case Kind::Tensor: case Kind::Opaque: return Kind::Opaque;
  }
  return Kind::Opaque;
}

constexpr uint32_t kRawDataField = 9;
constexpr int kMaxDepth = 100;  // protobuf's own default recursion limit

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool get_varint(const uint8_t*& p, const uint8_t* end, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    uint8_t b = *p++;
    r |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) { *v = r; return true; }
  }
  return false;
}

struct Field {
  uint32_t number;
  uint32_t wire_type;
  const uint8_t* begin;    // start of tag
  const uint8_t* payload;  // for wire type 2: start of the bytes
  const uint8_t* end;      // end of the field
};

// Reads one field; returns an error message or "" on success.
const char* next_field(const uint8_t*& p, const uint8_t* end, Field* f) {
  f->begin = p;
  uint64_t tag;
  if (!get_varint(p, end, &tag)) return "truncated field tag";
  f->number = static_cast<uint32_t>(tag >> 3);
  f->wire_type = static_cast<uint32_t>(tag & 7);
  if (f->number == 0 || (tag >> 3) > 0x1FFFFFFF) return "invalid field number";
  uint64_t len = 0;
  switch (f->wire_type) {
    case 0:
      if (!get_varint(p, end, &len)) return "truncated varint";
      break;
    case 1:
      if (end - p < 8) return "truncated fixed64";
      p += 8;
      break;
    case 5:
      if (end - p < 4) return "truncated fixed32";
      p += 4;
      break;
    case 2:
      if (!get_varint(p, end, &len)) return "truncated length";
      if (len > static_cast<uint64_t>(end - p)) return "length runs past the end of the data (truncated file?)";
      f->payload = p;
      p += len;
      break;
    default: return "unsupported wire type (not an ONNX model?)";
  }
  f->end = p;
  return "";
}

struct Stripper {
  const uint8_t* file_begin;
  std::vector<Span>* spans;
  std::string error;

  bool run(Kind kind, const uint8_t* p, const uint8_t* end, std::string& out, int depth) {
    if (depth > kMaxDepth) { error = "message nesting deeper than " + std::to_string(kMaxDepth); return false; }
    while (p < end) {
      Field f{};
      const char* e = next_field(p, end, &f);
      if (*e) { error = e; error += " at byte " + std::to_string(f.begin - file_begin); return false; }
      if (f.wire_type == 2 && kind == Kind::Tensor && f.number == kRawDataField) {
        spans->push_back({static_cast<uint64_t>(f.payload - file_begin), static_cast<uint64_t>(f.end - f.payload)});
        std::string m = make_marker(spans->size() - 1);
        put_varint(out, (kRawDataField << 3) | 2);
        put_varint(out, m.size());
        out += m;
        continue;
      }
      Kind ck = f.wire_type == 2 ? child_kind(kind, f.number) : Kind::Opaque;
      if (ck == Kind::Opaque) {
        out.append(reinterpret_cast<const char*>(f.begin), static_cast<size_t>(f.end - f.begin));
        continue;
      }
      std::string child;
      if (!run(ck, f.payload, f.end, child, depth + 1)) return false;
      put_varint(out, (static_cast<uint64_t>(f.number) << 3) | 2);
      put_varint(out, child.size());
      out += child;
    }
    return true;
  }
};

struct Splicer {
  const std::vector<uint64_t>* sizes;
  std::string error;

  static void append_literal(std::vector<Chunk>& out, const char* p, size_t n) {
    if (out.empty() || out.back().tensor != Chunk::kNoTensor) out.push_back(Chunk{});
    out.back().literal.append(p, n);
  }

  // Appends the chunks for [p, end) to out; returns the byte count.
  bool run(Kind kind, const uint8_t* p, const uint8_t* end, std::vector<Chunk>& out, uint64_t* size, int depth) {
    if (depth > kMaxDepth) { error = "message nesting too deep"; return false; }
    uint64_t total = 0;
    while (p < end) {
      Field f{};
      const char* e = next_field(p, end, &f);
      if (*e) { error = e; return false; }
      uint64_t index;
      if (f.wire_type == 2 && kind == Kind::Tensor && f.number == kRawDataField &&
          parse_marker({reinterpret_cast<const char*>(f.payload), static_cast<size_t>(f.end - f.payload)}, &index)) {
        if (index >= sizes->size()) { error = "tensor marker out of range"; return false; }
        std::string hdr;
        put_varint(hdr, (kRawDataField << 3) | 2);
        put_varint(hdr, (*sizes)[index]);
        append_literal(out, hdr.data(), hdr.size());
        out.push_back(Chunk{{}, index});
        total += hdr.size() + (*sizes)[index];
        continue;
      }
      Kind ck = f.wire_type == 2 ? child_kind(kind, f.number) : Kind::Opaque;
      if (ck == Kind::Opaque) {
        append_literal(out, reinterpret_cast<const char*>(f.begin), static_cast<size_t>(f.end - f.begin));
        total += static_cast<uint64_t>(f.end - f.begin);
        continue;
      }
      std::vector<Chunk> child;
      uint64_t child_size = 0;
      if (!run(ck, f.payload, f.end, child, &child_size, depth + 1)) return false;
      std::string hdr;
      put_varint(hdr, (static_cast<uint64_t>(f.number) << 3) | 2);
      put_varint(hdr, child_size);
      append_literal(out, hdr.data(), hdr.size());
      for (auto& c : child) {
        if (c.tensor == Chunk::kNoTensor) append_literal(out, c.literal.data(), c.literal.size());
        else out.push_back(std::move(c));
      }
      total += hdr.size() + child_size;
    }
    *size = total;
    return true;
  }
};

}  // namespace

std::string make_marker(uint64_t index) {
  std::string m(kMarkerPrefix);
  for (int i = 0; i < 8; ++i) m.push_back(static_cast<char>((index >> (8 * i)) & 0xFF));
  return m;
}

bool parse_marker(std::string_view raw, uint64_t* index) {
  if (raw.size() != kMarkerPrefix.size() + 8 || raw.substr(0, kMarkerPrefix.size()) != kMarkerPrefix) return false;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(raw[kMarkerPrefix.size() + i])) << (8 * i);
  *index = v;
  return true;
}

Expected<std::string> strip_tensor_data(const std::byte* data, uint64_t size, std::vector<Span>* spans,
                                        const std::string& file_name) {
  const auto* p = reinterpret_cast<const uint8_t*>(data);
  Stripper s{p, spans, {}};
  std::string out;
  if (!s.run(Kind::Model, p, p + size, out, 0))
    return invalid_model(file_name + ": not a valid ONNX model (" + s.error + ")");
  return out;
}

Expected<std::vector<Chunk>> splice_tensor_data(std::string_view skeleton, const std::vector<uint64_t>& tensor_sizes,
                                                uint64_t* total) {
  Splicer s{&tensor_sizes, {}};
  std::vector<Chunk> out;
  const auto* p = reinterpret_cast<const uint8_t*>(skeleton.data());
  if (!s.run(Kind::Model, p, p + skeleton.size(), out, total, 0))
    return internal_error("serialized model is malformed: " + s.error);
  return out;
}

}  // namespace effopt::wire
