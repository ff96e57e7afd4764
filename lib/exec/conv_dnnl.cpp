#include "exec/conv_dnnl.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <tuple>
#include <vector>

#include "exec/gemm.h"

namespace effopt::exec {

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream s(cpu_engine());
  return s;
}

// Output channels per task when group == 1, and channels per task for
// grouped convolutions: a multiple of the 16-float AVX-512 block, large enough
// for the JIT kernels to run at full speed, small enough that a 2-core machine
// gets several tasks per layer.
constexpr int64_t kChannelsPerTask = 64;

// Images per task: small images are batched so a primitive call has enough work (one 8x8 image per call
// spent more time in the call than in the kernel). The count divides N and depends only on the shapes.
constexpr int64_t kOutputPixelsPerTask = 4096;
int64_t images_per_task(int64_t N, int64_t P) {
  int64_t want = std::max<int64_t>(1, kOutputPixelsPerTask / std::max<int64_t>(P, 1));
  for (int64_t nb = std::min(want, N); nb > 1; --nb)
    if (N % nb == 0) return nb;
  return 1;
}

// One primitive for one chunk size (the last chunk may be smaller).
struct ChunkPrim {
  int64_t channels = 0;  // output channels of the chunk
  dnnl::convolution_forward conv;
  memory::desc src_md, w_md, dst_md;  // as the primitive wants them
  dnnl::reorder dst_reorder;          // chunk's dst -> strided NCHW slice of Y
  memory::desc y_slice_md;
  dnnl::reorder src_reorder;          // grouped: NCHW slice of X -> src_md
  memory::desc x_slice_md;
  bool src_plain = false;             // src_md is the NCHW slice itself: no reorder
  bool dst_plain = false;             // dst_md is the NCHW slice of Y: written in place
  memory::desc scratch_md;
};

struct ConvState {
  std::tuple<int64_t, int64_t, int64_t, int64_t> in_dims{-1, -1, -1, -1};
  const float* weights = nullptr;  // identity of the reordered weights (constant W)
  bool grouped = false;
  int64_t images = 1;                    // images per task (divides N)
  int64_t chunk_groups = 0, chunks = 0;  // chunk size in groups (grouped) or channels (group 1)
  std::vector<ChunkPrim> prims;          // [0] full chunk, [1] tail (if any)
  std::vector<memory> chunk_weights;     // reordered weights per chunk (constant W)
  dnnl::reorder x_reorder;               // group 1: NCHW image -> prims[0].src_md
  bool x_plain = false;
};

memory::dims dims4(int64_t a, int64_t b, int64_t c, int64_t d) { return {a, b, c, d}; }

// Plain NCHW view of `channels` channels of `images` consecutive images inside
// a tensor with `total` channels.
memory::desc nchw_slice(int64_t images, int64_t channels, int64_t total, int64_t H, int64_t W) {
  return memory::desc(dims4(images, channels, H, W), memory::data_type::f32, memory::dims{total * H * W, H * W, W, 1});
}

// Builds the primitive for a chunk of `groups` groups (grouped) or of
// `channels` output channels (group 1). `src_hint`: the src layout to use
// (from the first chunk), or a zero desc for "any".
ChunkPrim make_prim(const ConvShape& s, int64_t images, bool grouped, int64_t groups, int64_t channels,
                    const memory::desc* src_hint) {
  ChunkPrim p;
  int64_t Cg = s.C / s.group, Mg = s.M / s.group;
  int64_t in_c = grouped ? groups * Cg : s.C;
  p.channels = grouped ? groups * Mg : channels;
  auto f32 = memory::data_type::f32;
  memory::desc src_any(dims4(images, in_c, s.H, s.W), f32, tag::any);
  memory::desc dst_any(dims4(images, p.channels, s.OH, s.OW), f32, tag::any);
  memory::desc w_any = grouped ? memory::desc({groups, Mg, Cg, s.kH, s.kW}, f32, tag::any)
                               : memory::desc(dims4(p.channels, in_c, s.kH, s.kW), f32, tag::any);
  memory::desc b_md({p.channels}, f32, tag::x);
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                    src_hint ? *src_hint : src_any, w_any, b_md, dst_any, {s.sH, s.sW},
                                    {s.dH - 1, s.dW - 1}, {s.pt, s.pl}, {s.pb, s.pr});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::convolution_forward::primitive_desc pd(d, attr, cpu_engine());
  p.conv = dnnl::convolution_forward(pd);
  p.src_md = pd.src_desc();
  p.w_md = pd.weights_desc();
  p.dst_md = pd.dst_desc();
  p.scratch_md = pd.scratchpad_desc();
  p.y_slice_md = nchw_slice(images, p.channels, s.M, s.OH, s.OW);
  p.dst_plain = p.dst_md == p.y_slice_md;
  if (!p.dst_plain)
    p.dst_reorder = dnnl::reorder(memory(p.dst_md, cpu_engine(), nullptr), memory(p.y_slice_md, cpu_engine(), nullptr));
  if (grouped) {
    p.x_slice_md = nchw_slice(images, in_c, s.C, s.H, s.W);
    p.src_plain = p.src_md == p.x_slice_md;
    if (!p.src_plain)
      p.src_reorder = dnnl::reorder(memory(p.x_slice_md, cpu_engine(), nullptr), memory(p.src_md, cpu_engine(), nullptr));
  }
  return p;
}

// Weights of chunk `c` (oihw or goihw, contiguous in W) reordered to the primitive's layout.
memory reorder_weights(const ConvShape& s, const ConvState& st, const ChunkPrim& p, int64_t c, const float* w) {
  int64_t Cg = s.C / s.group, Mg = s.M / s.group, k = s.kH * s.kW;
  auto f32 = memory::data_type::f32;
  memory::desc plain;
  const float* src;
  if (st.grouped) {
    int64_t groups = p.channels / Mg;
    plain = memory::desc({groups, Mg, Cg, s.kH, s.kW}, f32, tag::goihw);
    src = w + c * st.chunk_groups * Mg * Cg * k;
  } else {
    plain = memory::desc(dims4(p.channels, s.C, s.kH, s.kW), f32, tag::oihw);
    src = w + c * st.chunk_groups * s.C * k;
  }
  memory out(p.w_md, cpu_engine());
  memory in(plain, cpu_engine(), const_cast<float*>(src));
  dnnl::reorder(in, out).execute(thread_stream(), in, out);
  return out;
}

std::atomic<bool>& enabled_flag() {
  static std::atomic<bool> on{std::getenv("EFFOPT_EXEC_REFERENCE_CONV") == nullptr};
  return on;
}

std::atomic<uint64_t> conv_count{0};

}  // namespace

uint64_t dnnl_conv_count() { return conv_count.load(); }
bool dnnl_conv_enabled() { return enabled_flag().load(std::memory_order_relaxed); }
void set_dnnl_conv_enabled(bool on) { enabled_flag() = on; }

bool dnnl_conv2d(KernelContext& ctx, const ConvShape& s, const float* x, const float* w, bool w_constant,
                 const float* bias, float* y) {
  try {
    dnnl_single_thread();
    std::shared_ptr<ConvState> st;
    if (ctx.state && *ctx.state) st = std::static_pointer_cast<ConvState>(*ctx.state);
    auto in_dims = std::make_tuple(s.N, s.C, s.H, s.W);
    if (!st || st->in_dims != in_dims || (w_constant && st->weights != w)) {
      st = std::make_shared<ConvState>();
      st->in_dims = in_dims;
      st->grouped = s.group > 1;
      st->images = images_per_task(s.N, s.OH * s.OW);
      int64_t nb = st->images;
      int64_t Mg = s.M / s.group;
      if (st->grouped) {
        int64_t total = s.group;
        st->chunk_groups = std::max<int64_t>(1, kChannelsPerTask / std::max<int64_t>(Mg, 1));
        st->chunks = (total + st->chunk_groups - 1) / st->chunk_groups;
        st->prims.push_back(make_prim(s, nb, true, std::min(st->chunk_groups, total), 0, nullptr));
        int64_t tail = total - (st->chunks - 1) * st->chunk_groups;
        if (tail != st->chunk_groups) st->prims.push_back(make_prim(s, nb, true, tail, 0, nullptr));
      } else {
        st->chunk_groups = std::min<int64_t>(kChannelsPerTask, s.M);
        st->chunks = (s.M + st->chunk_groups - 1) / st->chunk_groups;
        st->prims.push_back(make_prim(s, nb, false, 1, st->chunk_groups, nullptr));
        int64_t tail = s.M - (st->chunks - 1) * st->chunk_groups;
        if (tail != st->chunk_groups) st->prims.push_back(make_prim(s, nb, false, 1, tail, &st->prims[0].src_md));
        memory::desc x_md = nchw_slice(nb, s.C, s.C, s.H, s.W);
        st->x_plain = st->prims[0].src_md == x_md;
        if (!st->x_plain)
          st->x_reorder = dnnl::reorder(memory(x_md, cpu_engine(), nullptr),
                                        memory(st->prims[0].src_md, cpu_engine(), nullptr));
      }
      if (w_constant) {
        st->weights = w;
        for (int64_t c = 0; c < st->chunks; ++c) {
          const ChunkPrim& p = st->prims[c + 1 == st->chunks && st->prims.size() > 1 ? 1 : 0];
          st->chunk_weights.push_back(reorder_weights(s, *st, p, c, w));
        }
      }
      if (ctx.state) *ctx.state = st;
    }
    const ConvState& S = *st;
    auto prim_of = [&](int64_t c) -> const ChunkPrim& {
      return S.prims[c + 1 == S.chunks && S.prims.size() > 1 ? 1 : 0];
    };
    const auto& eng = cpu_engine();
    int64_t HW = s.H * s.W, P = s.OH * s.OW;

    // Group 1: every chunk of a batch of images reads the same input, reordered once.
    int64_t nb = S.images, batches = s.N / nb;
    std::vector<memory> x_src(static_cast<size_t>(S.grouped ? 0 : batches));
    std::vector<uint8_t> x_buf;
    if (!S.grouped) {
      size_t bytes = S.x_plain ? 0 : S.prims[0].src_md.get_size();
      x_buf.resize(bytes * static_cast<size_t>(batches));
      memory::desc x_md = nchw_slice(nb, s.C, s.C, s.H, s.W);
      for (int64_t b = 0; b < batches; ++b)
        x_src[b] = S.x_plain ? memory(x_md, eng, const_cast<float*>(x + b * nb * s.C * HW))
                             : memory(S.prims[0].src_md, eng, x_buf.data() + b * bytes);
      if (!S.x_plain)
        ctx.pool.parallel_for(batches, [&](int64_t b) {
          dnnl_single_thread();
          memory xin(x_md, eng, const_cast<float*>(x + b * nb * s.C * HW));
          S.x_reorder.execute(thread_stream(), xin, x_src[b]);
        });
    }
    std::atomic<bool> failed{false};
    ctx.pool.parallel_for(batches * S.chunks, [&](int64_t t) {
      try {
        dnnl_single_thread();
        int64_t b = t / S.chunks, c = t % S.chunks, n = b * nb;  // n: the batch's first image
        const ChunkPrim& p = prim_of(c);
        int64_t oc0 = c * (S.grouped ? S.chunk_groups * (s.M / s.group) : S.chunk_groups);
        dnnl::stream& strm = thread_stream();
        // Per-thread buffers, reused across tasks and runs.
        thread_local std::vector<uint8_t> src_buf, dst_buf, scratch_buf;
        auto fit = [](std::vector<uint8_t>& v, size_t n) {
          if (v.size() < n) v.resize(n);
          return v.data();
        };
        memory src;
        if (S.grouped) {
          int64_t ic0 = c * S.chunk_groups * (s.C / s.group);
          memory xin(p.x_slice_md, eng, const_cast<float*>(x + (n * s.C + ic0) * HW));
          if (p.src_plain) {
            src = xin;
          } else {
            src = memory(p.src_md, eng, fit(src_buf, p.src_md.get_size()));
            p.src_reorder.execute(strm, xin, src);
          }
        } else {
          src = x_src[b];
        }
        memory wts = S.chunk_weights.empty() ? reorder_weights(s, S, p, c, w) : S.chunk_weights[c];
        memory scratch(p.scratch_md, eng, fit(scratch_buf, std::max<size_t>(p.scratch_md.get_size(), 1)));
        float* yc = y + (n * s.M + oc0) * P;
        memory dst = p.dst_plain ? memory(p.dst_md, eng, yc) : memory(p.dst_md, eng, fit(dst_buf, p.dst_md.get_size()));
        thread_local std::vector<float> zero_bias;
        const float* chunk_bias = bias ? bias + oc0 : nullptr;
        if (!chunk_bias) {
          zero_bias.assign(static_cast<size_t>(p.channels), 0.f);
          chunk_bias = zero_bias.data();
        }
        memory bm(memory::desc({p.channels}, memory::data_type::f32, tag::x), eng, const_cast<float*>(chunk_bias));
        p.conv.execute(strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wts}, {DNNL_ARG_BIAS, bm},
                              {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, scratch}});
        if (!p.dst_plain) {
          memory yout(p.y_slice_md, eng, yc);
          p.dst_reorder.execute(strm, dst, yout);
        }
        strm.wait();
        if (ctx.activation.kind != ActKind::None)  // the fused epilogue, on the task's output while in cache
          for (int64_t i = 0; i < nb; ++i) apply_activation(ctx.activation, yc + i * s.M * P, yc + i * s.M * P, p.channels * P);
      } catch (const dnnl::error&) {
        failed = true;
      }
    });
    if (failed) return false;
    ++conv_count;
    return true;
  } catch (const dnnl::error&) {
    return false;
  }
}

}  // namespace effopt::exec
