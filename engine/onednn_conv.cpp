#include "engine/onednn_conv.h"

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <optional>

#include "engine/check.h"

namespace rf {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

std::string geom_str(const ConvGeom& g) {
  return std::to_string(g.n) + "x" + std::to_string(g.h) + "x" + std::to_string(g.w) + "x" +
         std::to_string(g.c) + " -> " + std::to_string(g.k) + " channels, " +
         std::to_string(g.r) + "x" + std::to_string(g.s) + " stride " + std::to_string(g.stride) +
         " pad " + std::to_string(g.pad);
}

// oneDNN's scratchpad and blocked filters are placed on 64-byte boundaries.
constexpr size_t kAlign = 64;
size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

}  // namespace

struct OnednnConv::Context {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
};

// One pass (forward, backward data or backward filter) of one geometry: its primitive, the filter
// layout it wants, and the reorder between that layout and ours when they differ.
struct Pass {
  dnnl::primitive primitive;
  memory::desc filter;        // the layout the primitive reads or writes the filter in
  std::optional<dnnl::reorder> reorder;  // ours <-> `filter`; none when they are the same
  memory::desc scratchpad;

  // Bytes of shared scratch the pass needs: its scratchpad, then the filter in its layout.
  size_t scratch_bytes() const {
    return aligned(scratchpad.get_size()) + (reorder ? aligned(filter.get_size()) : 0) + kAlign;
  }
  char* filter_scratch(char* base) const { return base + aligned(scratchpad.get_size()); }
};

struct OnednnConv::Plan {
  memory::desc x, y, filter, bias;  // ours: NHWC activations, KRSC (oneDNN: ohwi) filters
  memory::dims strides, pad_l, pad_r;
  std::optional<dnnl::convolution_forward::primitive_desc> hint;  // guides the backward passes
  std::optional<Pass> forward[2];          // [with bias]
  std::optional<Pass> backward_data;
  std::optional<Pass> backward_filter[2];  // [with bias gradient]
};

namespace {

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

template <class Primitive, class PrimitiveDesc>
Pass make_pass(const PrimitiveDesc& pd, const memory::desc& filter, const memory::desc& ours,
               bool to_ours, const dnnl::engine& engine) {
  Pass p;
  p.primitive = Primitive(pd);
  p.filter = filter;
  if (filter != ours) {
    p.reorder = to_ours ? dnnl::reorder(dnnl::reorder::primitive_desc(engine, filter, engine, ours))
                        : dnnl::reorder(dnnl::reorder::primitive_desc(engine, ours, engine, filter));
  }
  p.scratchpad = pd.scratchpad_desc();
  return p;
}

// Builds a primitive descriptor, turning oneDNN's "unimplemented" into an error naming the shape.
template <class Make>
auto build(const ConvGeom& g, const char* pass, Make make) {
  try {
    return make();
  } catch (const dnnl::error& e) {
    RF_CHECK(false, "oneDNN has no " << pass << " convolution for " << geom_str(g) << ": "
                                      << e.what());
    throw;
  }
}

}  // namespace

OnednnConv::OnednnConv() : ctx_(std::make_unique<Context>()) {}
OnednnConv::~OnednnConv() = default;

OnednnConv::Plan& OnednnConv::plan(const ConvGeom& g) {
  // oneDNN partitions the work for the thread count it sees when a primitive is built.
  const Key key{g.n, g.h, g.w, g.c, g.k, g.r * 1000 + g.s, g.stride, g.pad, omp_get_max_threads()};
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;
  auto p = std::make_unique<Plan>();
  p->x = memory::desc({g.n, g.c, g.h, g.w}, kF32, Tag::nhwc);
  p->y = memory::desc({g.n, g.k, g.p(), g.q()}, kF32, Tag::nhwc);
  p->filter = memory::desc({g.k, g.c, g.r, g.s}, kF32, Tag::ohwi);
  p->bias = memory::desc({g.k}, kF32, Tag::a);
  p->strides = {g.stride, g.stride};
  p->pad_l = {g.pad, g.pad};
  // Our output size rounds down, so the far side may be padded less than the near one.
  p->pad_r = {(g.p() - 1) * g.stride + g.r - g.h - g.pad, (g.q() - 1) * g.stride + g.s - g.w - g.pad};
  return *plans_.emplace(key, std::move(p)).first->second;
}

namespace {

memory::desc any_filter(const memory::desc& ours) {
  return memory::desc(ours.dims(), kF32, Tag::any);
}

dnnl::convolution_forward::desc forward_desc(const OnednnConv::Plan& p, bool bias) {
  using dnnl::algorithm, dnnl::prop_kind;
  return bias ? dnnl::convolution_forward::desc(prop_kind::forward_training,
                                                algorithm::convolution_direct, p.x,
                                                any_filter(p.filter), p.bias, p.y, p.strides,
                                                p.pad_l, p.pad_r)
              : dnnl::convolution_forward::desc(prop_kind::forward_training,
                                                algorithm::convolution_direct, p.x,
                                                any_filter(p.filter), p.y, p.strides, p.pad_l,
                                                p.pad_r);
}

const dnnl::convolution_forward::primitive_desc& hint(const ConvGeom& g, OnednnConv::Plan& p,
                                                      const dnnl::engine& engine) {
  if (!p.hint)
    p.hint = build(g, "forward", [&] {
      return dnnl::convolution_forward::primitive_desc(forward_desc(p, false), engine);
    });
  return *p.hint;
}

}  // namespace

namespace {

// Our filter w (layout `ours`) as `pass` reads it: w itself, or its copy reordered into the
// pass's layout in the scratch at `base`.
memory filter_for(const Pass& pass, const memory::desc& ours, const float* w, char* base,
                  const dnnl::engine& engine, dnnl::stream& stream) {
  memory mine(ours, engine, const_cast<float*>(w));
  if (!pass.reorder) return mine;
  memory filter(pass.filter, engine, pass.filter_scratch(base));
  pass.reorder->execute(stream, mine, filter);
  return filter;
}

}  // namespace

void OnednnConv::forward(const ConvGeom& g, const float* x, const float* w, const float* bias,
                         float* y) {
  Plan& p = plan(g);
  const dnnl::engine& engine = ctx_->engine;
  std::optional<Pass>& pass = p.forward[bias != nullptr];
  if (!pass) {
    const auto pd = build(g, "forward", [&] {
      return dnnl::convolution_forward::primitive_desc(forward_desc(p, bias), user_scratchpad(),
                                                       engine);
    });
    pass = make_pass<dnnl::convolution_forward>(pd, pd.weights_desc(), p.filter, false, engine);
  }
  char* base = scratch(pass->scratch_bytes());
  const memory filter = filter_for(*pass, p.filter, w, base, engine, ctx_->stream);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, memory(p.x, engine, const_cast<float*>(x))},
      {DNNL_ARG_WEIGHTS, filter},
      {DNNL_ARG_DST, memory(p.y, engine, y)},
      {DNNL_ARG_SCRATCHPAD, memory(pass->scratchpad, engine, base)}};
  if (bias) args.emplace(DNNL_ARG_BIAS, memory(p.bias, engine, const_cast<float*>(bias)));
  pass->primitive.execute(ctx_->stream, args);
  ctx_->stream.wait();
}

void OnednnConv::backward_data(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  Plan& p = plan(g);
  const dnnl::engine& engine = ctx_->engine;
  std::optional<Pass>& pass = p.backward_data;
  if (!pass) {
    const auto& fwd = hint(g, p, engine);
    const auto pd = build(g, "backward-data", [&] {
      return dnnl::convolution_backward_data::primitive_desc(
          dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, p.x,
                                                any_filter(p.filter), p.y, p.strides, p.pad_l,
                                                p.pad_r),
          user_scratchpad(), engine, fwd);
    });
    pass = make_pass<dnnl::convolution_backward_data>(pd, pd.weights_desc(), p.filter, false,
                                                      engine);
  }
  char* base = scratch(pass->scratch_bytes());
  const memory filter = filter_for(*pass, p.filter, w, base, engine, ctx_->stream);
  pass->primitive.execute(
      ctx_->stream,
      {{DNNL_ARG_DIFF_DST, memory(p.y, engine, const_cast<float*>(dy))},
       {DNNL_ARG_WEIGHTS, filter},
       {DNNL_ARG_DIFF_SRC, memory(p.x, engine, dx)},
       {DNNL_ARG_SCRATCHPAD, memory(pass->scratchpad, engine, base)}});
  ctx_->stream.wait();
}

void OnednnConv::backward_filter(const ConvGeom& g, const float* x, const float* dy, float* dw,
                                 float* dbias) {
  Plan& p = plan(g);
  const dnnl::engine& engine = ctx_->engine;
  std::optional<Pass>& pass = p.backward_filter[dbias != nullptr];
  if (!pass) {
    const auto& fwd = hint(g, p, engine);
    using Desc = dnnl::convolution_backward_weights::desc;
    const auto pd = build(g, "backward-filter", [&] {
      const auto algo = dnnl::algorithm::convolution_direct;
      return dnnl::convolution_backward_weights::primitive_desc(
          dbias ? Desc(algo, p.x, any_filter(p.filter), p.bias, p.y, p.strides, p.pad_l, p.pad_r)
                : Desc(algo, p.x, any_filter(p.filter), p.y, p.strides, p.pad_l, p.pad_r),
          user_scratchpad(), engine, fwd);
    });
    pass = make_pass<dnnl::convolution_backward_weights>(pd, pd.diff_weights_desc(), p.filter,
                                                         true, engine);
  }
  char* base = scratch(pass->scratch_bytes());
  memory ours(p.filter, engine, dw);
  memory filter = pass->reorder ? memory(pass->filter, engine, pass->filter_scratch(base))
                                : ours;
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, memory(p.x, engine, const_cast<float*>(x))},
      {DNNL_ARG_DIFF_DST, memory(p.y, engine, const_cast<float*>(dy))},
      {DNNL_ARG_DIFF_WEIGHTS, filter},
      {DNNL_ARG_SCRATCHPAD, memory(pass->scratchpad, engine, base)}};
  if (dbias) args.emplace(DNNL_ARG_DIFF_BIAS, memory(p.bias, engine, dbias));
  pass->primitive.execute(ctx_->stream, args);
  if (pass->reorder) pass->reorder->execute(ctx_->stream, filter, ours);
  ctx_->stream.wait();
}

char* OnednnConv::scratch(size_t bytes) {
  if (scratch_.size() < bytes) scratch_.resize(bytes);
  return reinterpret_cast<char*>(aligned(reinterpret_cast<uintptr_t>(scratch_.data())));
}

}  // namespace rf
