// What a model file costs to store and download: bytes, SHA-256, gzip and
// zstd compressed sizes. These read every byte of the file (a full pass), so
// they are computed only when a report is written or a budget needs them.
//
// Both compressed sizes are independent of the thread count:
// - gzip: zlib's deflate at level 6 in a gzip wrapper (what zlib's gzwrite
//   and Python's gzip.compress(data, 6) produce), single-threaded.
// - zstd: libzstd at the given level (default 3) in its multi-threaded mode
//   (nbWorkers >= 1) with fixed parameters; zstd documents that this output
//   does not depend on the number of workers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ir/ir.h"
#include "support/error.h"

namespace effopt {

std::string sha256_hex(std::span<const std::byte> data);

struct CompressOptions {
  int zstd_level = 3;  // 1..19
  int threads = 1;     // zstd workers (>= 1); does not change the result
};

// Compressed sizes of a buffer.
uint64_t gzip_size(std::span<const std::byte> data, int level = 6);
Expected<uint64_t> zstd_size(std::span<const std::byte> data, const CompressOptions& opts = {});

struct FileStats {
  std::string path;
  uint64_t bytes = 0;
  uint64_t gzip_bytes = 0;
  uint64_t zstd_bytes = 0;
  std::string sha256;
};

struct ModelFileStats {
  FileStats model;
  std::vector<FileStats> external;  // external-data files the model reads
  int zstd_level = 3;
  uint64_t total_bytes() const;
  uint64_t total_gzip_bytes() const;
  uint64_t total_zstd_bytes() const;
};

// Stats of one file (maps it).
Expected<FileStats> file_stats(const std::string& path, const CompressOptions& opts = {});
// Stats of a model file and of the external-data files `model` references
// (locations relative to the model's folder). `path` may not be "-".
Expected<ModelFileStats> model_file_stats(const std::string& path, const Model& model,
                                          const CompressOptions& opts = {});
// The external-data files `model` references, as paths beside `path`.
std::vector<std::string> external_data_paths(const std::string& path, const Model& model);
// ModelFileStats::total_bytes() (the report's file_bytes) from the file sizes
// alone, without reading the files.
Expected<uint64_t> model_file_bytes(const std::string& path, const Model& model);

}  // namespace effopt
