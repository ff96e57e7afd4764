// Protobuf wire-format passes over serialized ModelProto bytes, so tensor
// bytes never go through libonnx's generated classes (which copy every
// raw_data and refuse messages over 2 GB).
//
// strip_tensor_data: copies the model's structure, replacing each
//   TensorProto.raw_data found on the known paths (graph initializers,
//   sparse initializers, attribute tensors, subgraphs, functions) with a short
//   marker that indexes a list of (offset, length) spans into the input.
// splice_tensor_data: the reverse, on serialized bytes whose raw_data fields
//   hold markers; produces a list of chunks (literal bytes, or a tensor index)
//   with every enclosing length prefix recomputed, ready to be written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "support/error.h"

namespace effopt::wire {

struct Span {
  uint64_t offset;
  uint64_t length;
};

// Marker stored in raw_data: kMarkerPrefix followed by an 8-byte index.
inline constexpr std::string_view kMarkerPrefix{"\xEF\xF0pt-raw\x01", 10};
std::string make_marker(uint64_t index);
// Returns true and sets index when `raw` is a marker.
bool parse_marker(std::string_view raw, uint64_t* index);

// `data` is the whole model file. Fails with InvalidModel on malformed wire
// data (truncated, bad tags), naming `file_name`.
Expected<std::string> strip_tensor_data(const std::byte* data, uint64_t size, std::vector<Span>* spans,
                                        const std::string& file_name);

struct Chunk {
  std::string literal;        // bytes to write, if tensor == kNoTensor
  uint64_t tensor = kNoTensor;
  static constexpr uint64_t kNoTensor = UINT64_MAX;
};

// `tensor_sizes[i]` is the byte length of tensor i's data; `total` receives
// the size of the whole output.
Expected<std::vector<Chunk>> splice_tensor_data(std::string_view skeleton, const std::vector<uint64_t>& tensor_sizes,
                                                uint64_t* total);

}  // namespace effopt::wire
