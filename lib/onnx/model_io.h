// Reading and writing ONNX files.
//
// Import maps the file and parses the protobuf structure with libonnx's
// generated classes, but never lets them see tensor bytes: a wire-format pass
// (onnx/wire.h) swaps each raw_data field for a small marker first, and the
// tensors become views into the mapping. Export does the reverse: it
// serializes the structure with markers and splices the tensor bytes back in
// while writing, copying file-to-file where it can. docs/architecture.md has
// the measurements behind this design.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ir/ir.h"
#include "support/error.h"

namespace effopt {

struct ImportOptions {
  // Sort graphs that are not topologically sorted (stable depth-first rule).
  bool sort = true;
};

struct ImportStats {
  bool was_sorted = true;        // false when the importer reordered nodes
  uint64_t file_bytes = 0;
  uint64_t external_bytes = 0;   // bytes referenced in external-data files
};

// Loads `path` ("-" = stdin). External data is resolved relative to the
// model's folder and may not escape it.
Expected<std::unique_ptr<Model>> load_model(const std::string& path, const ImportOptions& opts = {},
                                            ImportStats* stats = nullptr);
// Loads from bytes in memory; `name` is used in messages, `base_dir` for
// external data ("" = external data refused).
Expected<std::unique_ptr<Model>> load_model_from_bytes(std::vector<std::byte> bytes, const std::string& name,
                                                       const std::string& base_dir = "",
                                                       const ImportOptions& opts = {}, ImportStats* stats = nullptr);
// Parses ONNX's textual syntax (onnx/defs/parser.h), for tests and fixtures.
Expected<std::unique_ptr<Model>> parse_model_text(const std::string& text);

enum class ExternalData { Auto, Always, Never };

struct ExportOptions {
  // Auto: external data when the input had it or the model would pass
  // protobuf's 2 GB limit. Always: every tensor of at least
  // external_threshold bytes goes to the data file.
  ExternalData external = ExternalData::Auto;
  uint64_t external_threshold = 1024;
  // Name of the external-data file, relative to the output's folder; default
  // "<output file name>.data".
  std::string external_file;
  // Overwrite an existing output (the CLI checks --force before this).
  bool overwrite = true;
  // Replace an existing external-data file. False: an existing one is a
  // usage error naming it, before anything is written (the CLI passes
  // --force / --in-place here, as it checks them for the model file).
  bool overwrite_external = true;
};

struct ExportStats {
  uint64_t model_bytes = 0;
  uint64_t external_bytes = 0;
  std::string external_path;  // empty if none written
};

// Writes atomically: a temporary file in the destination folder renamed into
// place; nothing is left behind on failure or interruption. "-" = stdout.
Status save_model(const Model& model, const std::string& path, const ExportOptions& opts = {},
                  ExportStats* stats = nullptr);
// Serializes to memory (tensors inline); fails past 2 GB.
Expected<std::string> serialize_model(const Model& model);
// A deep copy of the model (graphs, subgraphs, functions, metadata) whose
// tensors share their bytes with the original's (tensor bytes are immutable:
// passes replace a tensor's storage, never write it), so copying a large
// model costs its structure only. Candidates of the quality guard start from it.
Expected<std::unique_ptr<Model>> clone_model(const Model& model);

// ---- Stored sizes: what save_model (ExternalData::Auto) writes for one part
// of a model, so passes can keep a model from growing without writing it.
// Counted with the exporter's own serialization; exact up to the length
// prefixes of the enclosing graph (a few bytes).
// Whether save_model with ExternalData::Auto writes external data for `model`
// (the input had some, or the tensors pass protobuf's 2 GB limit).
bool writes_external_data(const Model& model);
// Bytes an initializer named `name` holding `t` adds: its TensorProto entry in
// the graph and, when `external`, its 4096-byte-aligned slot in the data file
// (tensors of 1 KiB or more, as save_model places them).
uint64_t stored_initializer_bytes(const Tensor& t, const std::string& name, bool external);
// Bytes a node adds: its NodeProto entry with attributes, attribute tensors
// and subgraphs.
uint64_t stored_node_bytes(const Node& n, bool external);

}  // namespace effopt
