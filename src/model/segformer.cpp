#include "model/segformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/log.h"
#include "core/thread_pool.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/resize.h"
#include "quant/plan.h"

namespace segq {

namespace {

// Output pixels of the decode head processed per chunk: bounds the [pixels, S*E] concatenation
// buffer (1024 x 1024 floats = 4 MiB for b0) independently of the input size.
constexpr int64_t kDecodeChunkPixels = 1024;

class Binder {
 public:
  Binder(const SegformerConfig& c, const WeightSet& w, WeightSet* bound) : w_(w), bound_(bound) {
    for (const ParamSpec& p : segformer_parameter_specs(c)) specs_[p.name] = p;
  }

  const Weight& get(const std::string& name) {
    auto spec = specs_.find(name);
    SEGQ_CHECK(spec != specs_.end(), "internal: no parameter spec for ", name);
    auto it = w_.find(name);
    if (it == w_.end()) {
      throw Error(str_cat("model weights: missing tensor '", name, "' (expected shape ",
                          shape_str(spec->second.shape), " for this config.json)"));
    }
    if (it->second.shape() != spec->second.shape) {
      throw Error(str_cat("model weights: tensor '", name, "' has shape ",
                          shape_str(it->second.shape()), ", expected ",
                          shape_str(spec->second.shape), " for this config.json"));
    }
    (*bound_)[name] = it->second;
    return it->second;
  }

  LinearOp linear(const std::string& prefix) {
    const Weight& w = get(prefix + ".weight");
    const Weight& b = get(prefix + ".bias");
    return LinearOp::bind(prefix + ".weight", w, &b);
  }
  ConvOp conv(const std::string& prefix, int stride, int padding, bool bias = true) {
    ConvOp op;
    const Weight& w = get(prefix + ".weight");
    op.gemm = LinearOp::bind(prefix + ".weight", w, bias ? &get(prefix + ".bias") : nullptr);
    op.stride = stride;
    op.padding = padding;
    return op;
  }
  LayerNormOp norm(const std::string& prefix, int64_t c) {
    return LayerNormOp::bind(prefix, get(prefix + ".weight"), get(prefix + ".bias"), c);
  }

  void warn_unused() const {
    std::vector<std::string> unused;
    for (const auto& [name, w] : w_) {
      if (!bound_->count(name) && !specs_.count(name)) unused.push_back(name);
    }
    if (unused.empty()) return;
    std::string list;
    for (size_t i = 0; i < unused.size() && i < 3; ++i) list += (i ? ", " : "") + unused[i];
    log_warn("model weights: ", unused.size(),
             " tensor(s) not used by SegformerForSemanticSegmentation (", list,
             unused.size() > 3 ? ", ..." : "", ")");
  }

 private:
  const WeightSet& w_;
  WeightSet* bound_;
  std::map<std::string, ParamSpec> specs_;
};

}  // namespace

SegformerModel::SegformerModel(SegformerConfig config, const WeightSet& weights,
                               const SegformerOptions& options)
    : config_(std::move(config)), options_(options) {
  config_.validate();
  if (options_.fold_decode_head) {
    // The fold is an exact rewrite for weight-only formats; with int8 activations (w8a8) on the
    // decode head's linear layers it would not be, so those run the plain head.
    for (const auto& [name, w] : weights) {
      if (is_decode_head_mlp(name) && weight_runs_w8a8(w)) {
        options_.fold_decode_head = false;
        break;
      }
    }
  }
  Binder bind(config_, weights, &bound_);
  const std::string enc = "segformer.encoder.";
  for (int i = 0; i < config_.num_stages; ++i) {
    Stage st;
    const int64_t C = config_.hidden_sizes[i];
    const std::string pe = enc + "patch_embeddings." + std::to_string(i);
    st.patch = bind.conv(pe + ".proj", config_.strides[i], config_.padding(i));
    st.patch_ln = bind.norm(pe + ".layer_norm", C);
    for (int j = 0; j < config_.depths[i]; ++j) {
      const std::string b = enc + "block." + std::to_string(i) + "." + std::to_string(j) + ".";
      Block blk;
      blk.ln1 = bind.norm(b + "layer_norm_1", C);
      blk.q = bind.linear(b + "attention.self.query");
      blk.k = bind.linear(b + "attention.self.key");
      blk.v = bind.linear(b + "attention.self.value");
      const int r = config_.sr_ratios[i];
      blk.has_sr = r > 1;
      if (blk.has_sr) {
        blk.sr = bind.conv(b + "attention.self.sr", r, 0);
        blk.sr_ln = bind.norm(b + "attention.self.layer_norm", C);
      }
      blk.out = bind.linear(b + "attention.output.dense");
      blk.ln2 = bind.norm(b + "layer_norm_2", C);
      blk.fc1 = bind.linear(b + "mlp.dense1");
      blk.dw = DepthwiseOp::bind(b + "mlp.dwconv.dwconv.weight",
                                 bind.get(b + "mlp.dwconv.dwconv.weight"),
                                 bind.get(b + "mlp.dwconv.dwconv.bias"));
      blk.fc2 = bind.linear(b + "mlp.dense2");
      st.blocks.push_back(std::move(blk));
    }
    st.norm = bind.norm(enc + "layer_norm." + std::to_string(i), C);
    stages_.push_back(std::move(st));
  }
  std::vector<const Weight*> linear_c_weights;
  for (int i = 0; i < config_.num_stages; ++i) {
    const std::string lc = "decode_head.linear_c." + std::to_string(i) + ".proj";
    if (options_.fold_decode_head) {  // bound (names and shapes checked) but run folded
      bind.get(lc + ".weight");
      bind.get(lc + ".bias");
    } else {
      head_.linear_c.push_back(bind.linear(lc));
    }
  }
  {
    const Weight& w = bind.get("decode_head.linear_fuse.weight");
    if (!options_.fold_decode_head) {
      head_.fuse = LinearOp::bind("decode_head.linear_fuse.weight", w, nullptr);
    }
  }
  const int64_t E = config_.decoder_hidden_size;
  const std::string bn = "decode_head.batch_norm";
  const Tensor gamma = dense_vector(bind.get(bn + ".weight"), E, bn + ".weight");
  const Tensor beta = dense_vector(bind.get(bn + ".bias"), E, bn + ".bias");
  const Tensor mean = dense_vector(bind.get(bn + ".running_mean"), E, bn + ".running_mean");
  const Tensor var = dense_vector(bind.get(bn + ".running_var"), E, bn + ".running_var");
  head_.bn_scale = Tensor::empty(DType::F32, {E});
  head_.bn_shift = Tensor::empty(DType::F32, {E});
  for (int64_t e = 0; e < E; ++e) {
    // As PyTorch's eval batch_norm: alpha = weight / sqrt(var + eps), beta = bias - mean * alpha.
    const float invstd = 1.0f / std::sqrt(var.data<float>()[e] + SegformerConfig::kNormEps);
    const float alpha = invstd * gamma.data<float>()[e];
    head_.bn_scale.data<float>()[e] = alpha;
    head_.bn_shift.data<float>()[e] = beta.data<float>()[e] - mean.data<float>()[e] * alpha;
  }
  head_.classifier = bind.linear("decode_head.classifier");
  bind.warn_unused();
  if (options_.fold_decode_head) bind_folded_head(bound_);
}

void SegformerModel::bind_folded_head(const WeightSet& bound) {
  const int S = config_.num_stages;
  const int64_t E = config_.decoder_hidden_size;
  auto decode_all = [](const Weight& w) {
    const WeightView v = w.view();
    std::vector<float> out(static_cast<size_t>(v.rows * v.cols));
    weight_format_kernels_ref(v.format).decode_rows(v, 0, v.rows, out.data());
    return out;
  };
  const std::vector<float> wf = decode_all(bound.at("decode_head.linear_fuse.weight"));  // [E, S*E]
  const float* scale = head_.bn_scale.data<float>();
  std::vector<double> bias(static_cast<size_t>(E));
  for (int64_t e = 0; e < E; ++e) bias[e] = head_.bn_shift.data<float>()[e];
  for (int i = 0; i < S; ++i) {
    const std::string lc = "decode_head.linear_c." + std::to_string(i) + ".proj";
    const int64_t ci = config_.hidden_sizes[i];
    const std::vector<float> wc = decode_all(bound.at(lc + ".weight"));  // [E, C_i]
    const Tensor bc = dense_vector(bound.at(lc + ".bias"), E, lc + ".bias");
    const int64_t slot = (S - 1 - i) * E;  // concatenation order [t_S, ..., t_1]
    Tensor f = Tensor::empty(DType::F32, {E, ci});
    float* fp = f.data<float>();
    global_pool().parallel_for(E, 8, [&](int64_t e0, int64_t e1) {
      std::vector<double> row(static_cast<size_t>(ci));
      for (int64_t e = e0; e < e1; ++e) {
        std::fill(row.begin(), row.end(), 0.0);
        for (int64_t k = 0; k < E; ++k) {
          const double wek = wf[e * S * E + slot + k];
          const float* wck = wc.data() + k * ci;
          for (int64_t c = 0; c < ci; ++c) row[c] += wek * wck[c];
        }
        for (int64_t c = 0; c < ci; ++c) fp[e * ci + c] = static_cast<float>(scale[e] * row[c]);
      }
    });
    for (int64_t e = 0; e < E; ++e) {
      double acc = 0;
      for (int64_t k = 0; k < E; ++k)
        acc += static_cast<double>(wf[e * S * E + slot + k]) * bc.data<float>()[k];
      bias[e] += scale[e] * acc;
    }
    head_.folded.push_back(LinearOp::bind("decode_head (folded stage " + std::to_string(i) + ")",
                                          Weight::dense(f), nullptr));
  }
  head_.folded_bias = Tensor::empty(DType::F32, {E});
  for (int64_t e = 0; e < E; ++e) head_.folded_bias.data<float>()[e] = static_cast<float>(bias[e]);
}

std::pair<int64_t, int64_t> SegformerModel::output_size(int64_t h, int64_t w) const {
  const auto geo = segformer_geometry(config_, h, w);
  return {geo[0].h, geo[0].w};
}

void SegformerModel::observe(const LinearOp& op, const float* x, int64_t rows, int64_t ldx) const {
  if (!observer_) return;
  WeightOpEvent e;
  e.linear = &op;
  e.x = x;
  e.rows = rows;
  e.ldx = ldx;
  observer_(e);
}

float* SegformerModel::buffer(int slot, int64_t floats) {
  if (static_cast<int>(buffers_.size()) <= slot) buffers_.resize(slot + 1);
  Tensor& t = buffers_[slot];
  if (!t.defined() || t.numel() < floats || t.numel() == 0) {
    t = Tensor::empty(DType::F32, {std::max<int64_t>(floats, 16)});
  }
  return t.data<float>();
}

void SegformerModel::run_stage(int i, const float* in, int64_t batch, const StageGeometry& g,
                               float* out) {
  const Stage& st = stages_[i];
  const int64_t C = config_.hidden_sizes[i];
  const int64_t N = g.tokens();
  const int64_t rows = batch * N;
  float* x = buffer(kX, rows * C);

  // Overlapping patch embedding: conv (im2col + GEMM) per image, then LayerNorm.
  const ConvGeometry pg = st.patch.geometry(g.h_in, g.w_in);
  float* col = buffer(kCol, ops::conv_col_floats(st.patch, pg));
  for (int64_t b = 0; b < batch; ++b) {
    if (i == 0) {  // NCHW pixels
      const int64_t plane = g.h_in * g.w_in;
      ops::conv2d(st.patch, pg, in + b * pg.cin * plane, plane, g.w_in, 1, col, x + b * N * C, C);
    } else {  // token-major previous stage
      const int64_t cin = pg.cin;
      ops::conv2d(st.patch, pg, in + b * g.h_in * g.w_in * cin, 1, g.w_in * cin, cin, col,
                  x + b * N * C, C);
    }
    observe(st.patch.gemm, col, pg.out_h() * pg.out_w(), pg.patch_size());
  }
  ops::layernorm(st.patch_ln, rows, x, C, x, C);

  const int64_t heads = config_.num_heads[i];
  const int64_t d = config_.head_dim(i);
  const int64_t hid = config_.mlp_hidden(i);
  const int64_t nkv = g.kv_tokens();
  float* h = buffer(kH, rows * C);
  float* q = buffer(kQ, rows * C);
  float* k = buffer(kK, batch * nkv * C);
  float* v = buffer(kV, batch * nkv * C);
  float* ctx = buffer(kCtx, rows * C);
  for (const Block& blk : st.blocks) {
    // x = x + Attn(LN1(x))
    ops::layernorm(blk.ln1, rows, x, C, h, C);
    ops::linear(rows, h, C, blk.q, q, C);
    observe(blk.q, h, rows, C);
    const float* kv_in = h;
    if (blk.has_sr) {
      float* red = buffer(kReduced, batch * nkv * C);
      const ConvGeometry sg = blk.sr.geometry(g.h, g.w);
      float* scol = buffer(kCol, ops::conv_col_floats(blk.sr, sg));
      for (int64_t b = 0; b < batch; ++b) {
        ops::conv2d(blk.sr, sg, h + b * N * C, 1, g.w * C, C, scol, red + b * nkv * C, C);
        observe(blk.sr.gemm, scol, sg.out_h() * sg.out_w(), sg.patch_size());
      }
      ops::layernorm(blk.sr_ln, batch * nkv, red, C, red, C);
      kv_in = red;
    }
    ops::linear(batch * nkv, kv_in, C, blk.k, k, C);
    observe(blk.k, kv_in, batch * nkv, C);
    ops::linear(batch * nkv, kv_in, C, blk.v, v, C);
    observe(blk.v, kv_in, batch * nkv, C);
    AttentionShape as;
    as.batch = batch;
    as.n_q = N;
    as.n_kv = nkv;
    as.heads = heads;
    as.head_dim = d;
    attention(as, q, C, k, C, v, C, 1.0f / std::sqrt(static_cast<float>(d)), ctx, C);
    GemmEpilogue residual;
    residual.accumulate = true;
    ops::linear(rows, ctx, C, blk.out, x, C, residual);
    observe(blk.out, ctx, rows, C);

    // x = x + MixFFN(LN2(x)): dense1 -> depthwise 3x3 + GELU -> dense2
    ops::layernorm(blk.ln2, rows, x, C, h, C);
    float* m1 = buffer(kMlp1, rows * hid);
    float* m2 = buffer(kMlp2, rows * hid);
    ops::linear(rows, h, C, blk.fc1, m1, hid);
    observe(blk.fc1, h, rows, C);
    ops::depthwise3x3(blk.dw, batch, g.h, g.w, m1, Activation::kGelu, m2);
    if (observer_) {
      WeightOpEvent e;
      e.depthwise = &blk.dw;
      e.x = m1;
      e.batch = batch;
      e.h = g.h;
      e.w = g.w;
      observer_(e);
    }
    ops::linear(rows, m2, hid, blk.fc2, x, C, residual);
    observe(blk.fc2, m2, rows, hid);
  }
  ops::layernorm(st.norm, rows, x, C, out, C);
}

void SegformerModel::run_decode_head(const std::vector<const float*>& stage_out, int64_t batch,
                                     const std::vector<StageGeometry>& geo, float* logits) {
  const int S = config_.num_stages;
  const int64_t E = config_.decoder_hidden_size;
  const int64_t L = config_.num_labels;
  const int64_t h1 = geo[0].h, w1 = geo[0].w, n1 = h1 * w1;
  const int64_t cat = S * E;

  // linear_c.i on the stage maps at their own resolution (stage 0 is done per chunk below, straight
  // into the concatenation buffer: its resize to its own size is an exact copy).
  std::vector<const float*> t(S, nullptr);
  for (int i = 1; i < S; ++i) {
    const int64_t ni = geo[i].tokens();
    float* ti = buffer(kSlots + S + i, batch * ni * E);
    ops::linear(batch * ni, stage_out[i], config_.hidden_sizes[i], head_.linear_c[i], ti, E);
    observe(head_.linear_c[i], stage_out[i], batch * ni, config_.hidden_sizes[i]);
    t[i] = ti;
  }

  // One parallel region over (image, chunk of output rows); each task runs its chunk through the
  // concatenation, linear_fuse and the classifier on its own buffers (kernels inside a task run
  // serially on its thread).
  const int64_t chunk_rows = std::max<int64_t>(1, kDecodeChunkPixels / w1);
  const int64_t chunks = (h1 + chunk_rows - 1) / chunk_rows;
  const int threads = global_pool().num_threads();
  std::vector<float*> concat(threads), fused(threads);
  for (int t = 0; t < threads; ++t) {
    concat[t] = buffer(kSlots + 2 * S + 2 * t, std::min(chunk_rows, h1) * w1 * cat);
    fused[t] = buffer(kSlots + 2 * S + 2 * t + 1, std::min(chunk_rows, h1) * w1 * E);
  }
  GemmEpilogue bn_relu;
  bn_relu.scale = head_.bn_scale.data<float>();
  bn_relu.bias = head_.bn_shift.data<float>();
  bn_relu.act = Activation::kRelu;
  const int64_t c0 = config_.hidden_sizes[0];
  // One task per (image, chunk of output rows). With a weight-op observer the tasks run in order
  // on this thread, so the observer sees a deterministic sequence.
  auto run_task = [&](int64_t task, int tid) {
    const int64_t b = task / chunks;
    const int64_t y0 = (task % chunks) * chunk_rows;
    const int64_t y1 = std::min(h1, y0 + chunk_rows);
    const int64_t pixels = (y1 - y0) * w1;
    // Concatenation order [t_S, ..., t_1]: stage i goes to columns (S - 1 - i) * E.
    for (int i = 0; i < S; ++i) {
      float* dst = concat[tid] + (S - 1 - i) * E;
      if (i == 0) {
        ops::linear(pixels, stage_out[0] + (b * n1 + y0 * w1) * c0, c0, head_.linear_c[0], dst,
                    cat);
        observe(head_.linear_c[0], stage_out[0] + (b * n1 + y0 * w1) * c0, pixels, c0);
      } else {
        ResizeShape rs;
        rs.h_in = geo[i].h;
        rs.w_in = geo[i].w;
        rs.c = E;
        rs.h_out = h1;
        rs.w_out = w1;
        resize_bilinear(rs, t[i] + b * geo[i].tokens() * E, E, y0, y1, dst, cat);
      }
    }
    ops::linear(pixels, concat[tid], cat, head_.fuse, fused[tid], E, bn_relu);
    observe(head_.fuse, concat[tid], pixels, cat);
    ops::linear(pixels, fused[tid], E, head_.classifier, logits + (b * n1 + y0 * w1) * L, L);
    observe(head_.classifier, fused[tid], pixels, E);
  };
  if (observer_) {
    for (int64_t task = 0; task < batch * chunks; ++task) run_task(task, 0);
  } else {
    global_pool().parallel_for(batch * chunks, 1,
                               ThreadPool::RangeFn([&](int64_t t0, int64_t t1, int tid) {
                                 for (int64_t task = t0; task < t1; ++task) run_task(task, tid);
                               }));
  }
}

void SegformerModel::run_decode_head_folded(const std::vector<const float*>& stage_out,
                                            int64_t batch, const std::vector<StageGeometry>& geo,
                                            float* logits) {
  const int S = config_.num_stages;
  const int64_t E = config_.decoder_hidden_size;
  const int64_t L = config_.num_labels;
  const int64_t h1 = geo[0].h, w1 = geo[0].w, n1 = h1 * w1;
  // u_i = c_i F_iᵀ at each stage's own resolution (stage 0 per chunk below).
  std::vector<const float*> u(S, nullptr);
  for (int i = 1; i < S; ++i) {
    const int64_t ni = geo[i].tokens();
    float* ui = buffer(kSlots + S + i, batch * ni * E);
    ops::linear(batch * ni, stage_out[i], config_.hidden_sizes[i], head_.folded[i], ui, E);
    observe(head_.folded[i], stage_out[i], batch * ni, config_.hidden_sizes[i]);
    u[i] = ui;
  }
  const int64_t chunk_rows = std::max<int64_t>(1, kDecodeChunkPixels / w1);
  const int64_t chunks = (h1 + chunk_rows - 1) / chunk_rows;
  const int threads = global_pool().num_threads();
  std::vector<float*> acc(threads);
  for (int t = 0; t < threads; ++t) {
    acc[t] = buffer(kSlots + 2 * S + 2 * t, std::min(chunk_rows, h1) * w1 * E);
  }
  GemmEpilogue with_bias;
  with_bias.bias = head_.folded_bias.data<float>();
  const int64_t c0 = config_.hidden_sizes[0];
  // One task per (image, chunk of output rows), as in run_decode_head.
  auto run_task = [&](int64_t task, int tid) {
    float* a = acc[tid];
    const int64_t b = task / chunks;
    const int64_t y0 = (task % chunks) * chunk_rows;
    const int64_t y1 = std::min(h1, y0 + chunk_rows);
    const int64_t pixels = (y1 - y0) * w1;
    // acc = c_1 F_1ᵀ + g, then += up(u_i) for the other stages, ReLU, classifier.
    ops::linear(pixels, stage_out[0] + (b * n1 + y0 * w1) * c0, c0, head_.folded[0], a, E,
                with_bias);
    observe(head_.folded[0], stage_out[0] + (b * n1 + y0 * w1) * c0, pixels, c0);
    for (int i = 1; i < S; ++i) {
      ResizeShape rs;
      rs.h_in = geo[i].h;
      rs.w_in = geo[i].w;
      rs.c = E;
      rs.h_out = h1;
      rs.w_out = w1;
      resize_bilinear(rs, u[i] + b * geo[i].tokens() * E, E, y0, y1, a, E, true);
    }
    relu_inplace(a, pixels * E);
    ops::linear(pixels, a, E, head_.classifier, logits + (b * n1 + y0 * w1) * L, L);
    observe(head_.classifier, a, pixels, E);
  };
  if (observer_) {
    for (int64_t task = 0; task < batch * chunks; ++task) run_task(task, 0);
  } else {
    global_pool().parallel_for(batch * chunks, 1,
                               ThreadPool::RangeFn([&](int64_t t0, int64_t t1, int tid) {
                                 for (int64_t task = t0; task < t1; ++task) run_task(task, tid);
                               }));
  }
}

std::vector<const float*> SegformerModel::run_encoder(const Tensor& pixels,
                                                      std::vector<StageGeometry>* geo_out) {
  SEGQ_CHECK(pixels.dtype() == DType::F32, "SegFormer input must be F32, got ",
             dtype_name(pixels.dtype()));
  SEGQ_CHECK(pixels.ndim() == 4 && pixels.dim(1) == config_.num_channels,
             "SegFormer input must be [batch, ", config_.num_channels, ", H, W], got ",
             shape_str(pixels.shape()));
  const int64_t batch = pixels.dim(0);
  const auto geo = segformer_geometry(config_, pixels.dim(2), pixels.dim(3));
  const int S = config_.num_stages;
  if (!config_.reshape_last_stage && geo[S - 1].h != geo[S - 1].w) {
    throw Error(
        str_cat("config.json has reshape_last_stage=false, which transformers' decode head "
                "only supports for a square last stage; got ",
                geo[S - 1].h, "x", geo[S - 1].w));
  }
  *geo_out = geo;
  std::vector<const float*> stage_out(S, nullptr);
  if (batch == 0) return stage_out;
  const float* in = pixels.data<float>();
  for (int i = 0; i < S; ++i) {
    float* out = buffer(kSlots + i, batch * geo[i].tokens() * config_.hidden_sizes[i]);
    run_stage(i, in, batch, geo[i], out);
    stage_out[i] = out;
    in = out;
  }
  return stage_out;
}

std::vector<Tensor> SegformerModel::forward_stages(const Tensor& pixels) {
  std::vector<StageGeometry> geo;
  const std::vector<const float*> ptrs = run_encoder(pixels, &geo);
  const int64_t batch = pixels.dim(0);
  std::vector<Tensor> out;
  for (int i = 0; i < config_.num_stages; ++i) {
    Tensor t = Tensor::empty(
        DType::F32, {batch, geo[i].h, geo[i].w, static_cast<int64_t>(config_.hidden_sizes[i])});
    if (t.numel() > 0) std::memcpy(t.raw(), ptrs[i], t.nbytes());
    out.push_back(std::move(t));
  }
  return out;
}

Tensor SegformerModel::decode_head(const std::vector<Tensor>& stages) {
  const int S = config_.num_stages;
  SEGQ_CHECK(static_cast<int>(stages.size()) == S, "decode_head: expected ", S, " stage maps, got ",
             stages.size());
  std::vector<StageGeometry> geo(S);
  std::vector<const float*> ptrs(S);
  const int64_t batch = stages[0].ndim() == 4 ? stages[0].dim(0) : 0;
  for (int i = 0; i < S; ++i) {
    const Tensor& t = stages[i];
    SEGQ_CHECK(t.dtype() == DType::F32 && t.ndim() == 4 && t.dim(0) == batch &&
                   t.dim(3) == config_.hidden_sizes[i],
               "decode_head: stage ", i, " map must be F32 [", batch, ", h, w, ",
               config_.hidden_sizes[i], "], got ", shape_str(t.shape()));
    geo[i].h = t.dim(1);
    geo[i].w = t.dim(2);
    ptrs[i] = t.data<float>();
  }
  Tensor logits = Tensor::empty(
      DType::F32, {batch, geo[0].h, geo[0].w, static_cast<int64_t>(config_.num_labels)});
  if (batch == 0) return logits;
  if (options_.fold_decode_head) {
    run_decode_head_folded(ptrs, batch, geo, logits.data<float>());
  } else {
    run_decode_head(ptrs, batch, geo, logits.data<float>());
  }
  return logits;
}

Tensor SegformerModel::forward(const Tensor& pixels) {
  std::vector<StageGeometry> geo;
  const std::vector<const float*> stage_out = run_encoder(pixels, &geo);
  const int64_t batch = pixels.dim(0);
  Tensor logits = Tensor::empty(
      DType::F32, {batch, geo[0].h, geo[0].w, static_cast<int64_t>(config_.num_labels)});
  if (batch == 0) return logits;
  if (options_.fold_decode_head) {
    run_decode_head_folded(stage_out, batch, geo, logits.data<float>());
  } else {
    run_decode_head(stage_out, batch, geo, logits.data<float>());
  }
  return logits;
}

std::unique_ptr<SegformerModel> make_segformer(const nlohmann::json& config_json,
                                               const WeightSet& weights,
                                               const std::string& config_source,
                                               const SegformerOptions& options) {
  return std::make_unique<SegformerModel>(SegformerConfig::from_json(config_json, config_source),
                                          weights, options);
}

}  // namespace segq
