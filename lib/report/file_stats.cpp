#include "report/file_stats.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <future>
#include <set>

#include "ir/constants.h"
#include "support/mapped_file.h"

namespace effopt {

// ---- SHA-256 (FIPS 180-4), a small self-contained implementation.
namespace {

constexpr std::array<uint32_t, 64> kK = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void sha256_block(uint32_t h[8], const unsigned char* p) {
  uint32_t w[64];
  for (int i = 0; i < 16; ++i)
    w[i] = (uint32_t(p[4 * i]) << 24) | (uint32_t(p[4 * i + 1]) << 16) | (uint32_t(p[4 * i + 2]) << 8) |
           uint32_t(p[4 * i + 3]);
  for (int i = 16; i < 64; ++i) {
    uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int i = 0; i < 64; ++i) {
    uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    uint32_t ch = (e & f) ^ (~e & g);
    uint32_t t1 = hh + S1 + ch + kK[static_cast<size_t>(i)] + w[i];
    uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    uint32_t mj = (a & b) ^ (a & c) ^ (b & c);
    uint32_t t2 = S0 + mj;
    hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

}  // namespace

std::string sha256_hex(std::span<const std::byte> data) {
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const uint64_t n = data.size();
  uint64_t full = n / 64;
  for (uint64_t i = 0; i < full; ++i) sha256_block(h, p + i * 64);
  unsigned char tail[128] = {};
  uint64_t rem = n - full * 64;
  if (rem) std::memcpy(tail, p + full * 64, rem);
  tail[rem] = 0x80;
  size_t tail_len = rem + 1 + 8 <= 64 ? 64 : 128;
  uint64_t bits = n * 8;
  for (int i = 0; i < 8; ++i) tail[tail_len - 1 - static_cast<size_t>(i)] = static_cast<unsigned char>(bits >> (8 * i));
  sha256_block(h, tail);
  if (tail_len == 128) sha256_block(h, tail + 64);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (uint32_t v : h)
    for (int s = 28; s >= 0; s -= 4) out += hex[(v >> s) & 0xF];
  return out;
}

uint64_t gzip_size(std::span<const std::byte> data, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip wrapper (10-byte header, CRC-32 and size trailer).
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
  std::vector<unsigned char> out(1 << 18);
  uint64_t total = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  uint64_t left = data.size();
  int flush = Z_NO_FLUSH;
  do {
    uInt chunk = static_cast<uInt>(std::min<uint64_t>(left, 1u << 30));
    zs.next_in = const_cast<unsigned char*>(p);
    zs.avail_in = chunk;
    p += chunk;
    left -= chunk;
    flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {
      zs.next_out = out.data();
      zs.avail_out = static_cast<uInt>(out.size());
      deflate(&zs, flush);
      total += out.size() - zs.avail_out;
    } while (zs.avail_out == 0);
  } while (flush != Z_FINISH);
  deflateEnd(&zs);
  return total;
}

Expected<uint64_t> zstd_size(std::span<const std::byte> data, const CompressOptions& opts) {
  if (opts.zstd_level < 1 || opts.zstd_level > 19)
    return usage_error("--zstd-level " + std::to_string(opts.zstd_level) + " is out of range (1..19)");
  ZSTD_CCtx* cc = ZSTD_createCCtx();
  if (!cc) return internal_error("cannot create a zstd context");
  auto check = [&](size_t r, const char* what) -> Status {
    if (ZSTD_isError(r)) return internal_error(std::string("zstd ") + what + ": " + ZSTD_getErrorName(r));
    return ok();
  };
  Status st = check(ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, opts.zstd_level), "level");
  // Multi-threaded mode (nbWorkers >= 1): output independent of the worker count.
  if (st) st = check(ZSTD_CCtx_setParameter(cc, ZSTD_c_nbWorkers, std::max(1, opts.threads)), "nbWorkers");
  if (st) st = check(ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 0), "checksum");
  if (st) st = check(ZSTD_CCtx_setPledgedSrcSize(cc, data.size()), "pledged size");
  uint64_t total = 0;
  if (st) {
    std::vector<char> out(ZSTD_CStreamOutSize());
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    size_t rem = 0;
    do {
      ZSTD_outBuffer ob{out.data(), out.size(), 0};
      rem = ZSTD_compressStream2(cc, &ob, &in, ZSTD_e_end);
      if (ZSTD_isError(rem)) { st = check(rem, "compress"); break; }
      total += ob.pos;
    } while (rem != 0);
  }
  ZSTD_freeCCtx(cc);
  if (!st) return std::move(st).error();
  return total;
}

Expected<FileStats> file_stats(const std::string& path, const CompressOptions& opts) {
  EFFOPT_TRY_ASSIGN(auto mf, MappedFile::open(path));
  std::span<const std::byte> data(mf->data(), static_cast<size_t>(mf->size()));
  FileStats s;
  s.path = path;
  s.bytes = mf->size();
  // The three passes are independent; with more than one thread, hash and
  // gzip run beside zstd (the figures do not depend on it).
  if (opts.threads > 1) {
    auto sha = std::async(std::launch::async, [data] { return sha256_hex(data); });
    auto gz = std::async(std::launch::async, [data] { return gzip_size(data, 6); });
    auto zs = zstd_size(data, opts);
    s.sha256 = sha.get();
    s.gzip_bytes = gz.get();
    EFFOPT_TRY_ASSIGN(s.zstd_bytes, std::move(zs));
  } else {
    s.sha256 = sha256_hex(data);
    s.gzip_bytes = gzip_size(data, 6);
    EFFOPT_TRY_ASSIGN(s.zstd_bytes, zstd_size(data, opts));
  }
  return s;
}

uint64_t ModelFileStats::total_bytes() const {
  uint64_t t = model.bytes;
  for (auto& e : external) t += e.bytes;
  return t;
}
uint64_t ModelFileStats::total_gzip_bytes() const {
  uint64_t t = model.gzip_bytes;
  for (auto& e : external) t += e.gzip_bytes;
  return t;
}
uint64_t ModelFileStats::total_zstd_bytes() const {
  uint64_t t = model.zstd_bytes;
  for (auto& e : external) t += e.zstd_bytes;
  return t;
}

Expected<ModelFileStats> model_file_stats(const std::string& path, const Model& model, const CompressOptions& opts) {
  if (path == "-") return usage_error("file sizes of a model read from standard input are not known");
  ModelFileStats ms;
  ms.zstd_level = opts.zstd_level;
  EFFOPT_TRY_ASSIGN(ms.model, file_stats(path, opts));
  for (const std::string& p : external_data_paths(path, model)) {
    EFFOPT_TRY_ASSIGN(FileStats fs, file_stats(p, opts));
    fs.path = p;
    ms.external.push_back(std::move(fs));
  }
  return ms;
}

std::vector<std::string> external_data_paths(const std::string& path, const Model& model) {
  std::set<std::string> locations;
  for_each_stored_tensor(model, [&](const Tensor& t, ConstantHolder) {
    if (t.external && !t.external->location.empty()) locations.insert(t.external->location);
  });
  auto dir = std::filesystem::path(path).parent_path();
  std::vector<std::string> out;
  for (const std::string& loc : locations) out.push_back((dir / loc).string());
  return out;
}

Expected<uint64_t> model_file_bytes(const std::string& path, const Model& model) {
  if (path == "-") return usage_error("file sizes of a model read from standard input are not known");
  uint64_t total = 0;
  std::vector<std::string> files = external_data_paths(path, model);
  files.insert(files.begin(), path);
  for (const std::string& f : files) {
    std::error_code ec;
    uint64_t n = std::filesystem::file_size(f, ec);
    if (ec) return io_error("cannot read the size of " + f + ": " + ec.message());
    total += n;
  }
  return total;
}

}  // namespace effopt
