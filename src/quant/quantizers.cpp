#include "quant/quantizers.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/half.h"
#include "quant/fp8.h"

namespace segq {

namespace {

constexpr int kMseGridSteps = 80;  // p = 1 - i/100 for i < 80: 1.00 down to 0.21
constexpr float kMseNorm = 2.4f;   // GPTQ's norm
constexpr int kHqqIters = 20;
constexpr float kHqqLpNorm = 0.7f;
constexpr float kHqqBeta0 = 10.0f;
constexpr float kHqqKappa = 1.01f;

GroupParams rtn_params(float lo, float hi, float amax, const IntGrid& g) {
  GroupParams p;
  if (g.symmetric) {
    const float qmax = static_cast<float>((1 << (g.bits - 1)) - 1);
    p.scale = round_to_storage(amax / qmax, g.scale_dtype);
  } else {
    const float levels = static_cast<float>((1 << g.bits) - 1);
    p.scale = round_to_storage((hi - lo) / levels, g.scale_dtype);
    p.shift = round_to_storage(-lo, g.scale_dtype);
  }
  return p;
}

struct Range {
  float lo, hi, amax;
};

Range range_of(const float* x, int64_t n) {
  Range r{x[0], x[0], 0.0f};
  for (int64_t i = 0; i < n; ++i) {
    r.lo = std::min(r.lo, x[i]);
    r.hi = std::max(r.hi, x[i]);
  }
  r.amax = std::max(std::fabs(r.lo), std::fabs(r.hi));
  return r;
}

// Sum of |x - x^|^2.4 over the group; stops early once it reaches `limit` (the candidate then
// cannot win, so the search result is the same as with full sums).
double lp_error(const float* x, int64_t n, const GroupParams& p, const IntGrid& g, double limit) {
  double err = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float d = std::fabs(x[i] - int_decode(int_encode(x[i], p, g), p, g));
    if (d != 0.0f) err += static_cast<double>(std::pow(d, kMseNorm));
    if (err >= limit) break;
  }
  return err;
}

GroupParams mse_params(const float* x, int64_t n, const IntGrid& g) {
  const Range r = range_of(x, n);
  GroupParams best = rtn_params(r.lo, r.hi, r.amax, g);
  double best_err = lp_error(x, n, best, g, std::numeric_limits<double>::infinity());
  for (int i = 1; i < kMseGridSteps; ++i) {
    const float p = static_cast<float>(1.0 - i / 100.0);
    const GroupParams cand = rtn_params(p * r.lo, p * r.hi, p * r.amax, g);
    const double err = lp_error(x, n, cand, g, best_err);
    if (err < best_err) {
      best_err = err;
      best = cand;
    }
  }
  return best;
}

double mean_abs_error(const float* x, const float* xr, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(x[i]) - xr[i]);
  return s / static_cast<double>(n);
}

GroupParams hqq_params(const float* x, int64_t n, const IntGrid& g) {
  const Range r = range_of(x, n);
  GroupParams best = rtn_params(r.lo, r.hi, r.amax, g);
  std::vector<uint32_t> codes(static_cast<size_t>(n));
  std::vector<float> xr(static_cast<size_t>(n));
  auto requantize = [&](const GroupParams& p) {
    for (int64_t i = 0; i < n; ++i) {
      codes[i] = int_encode(x[i], p, g);
      xr[i] = int_decode(codes[i], p, g);
    }
    return mean_abs_error(x, xr.data(), n);
  };
  double best_err = requantize(best);
  float beta = kHqqBeta0;
  for (int it = 0; it < kHqqIters && best_err > 0.0; ++it) {
    // Shrunk residual e, then the shift that best explains x - e by c * scale - shift.
    double sum = 0.0;
    const float inv_beta = 1.0f / beta;
    for (int64_t i = 0; i < n; ++i) {
      const float d = x[i] - xr[i];
      const float ad = std::fabs(d);
      float e = 0.0f;
      if (ad != 0.0f) {
        const float mag = std::max(ad - inv_beta * std::pow(ad, kHqqLpNorm - 1.0f), 0.0f);
        e = d < 0.0f ? -mag : mag;
      }
      const float cs = static_cast<float>(codes[i]) * best.scale;
      sum += static_cast<double>(cs - (x[i] - e));
    }
    GroupParams cand = best;
    cand.shift = round_to_storage(static_cast<float>(sum / static_cast<double>(n)), g.scale_dtype);
    const std::vector<uint32_t> keep_codes = codes;
    const std::vector<float> keep_xr = xr;
    const double err = requantize(cand);
    if (err < best_err) {
      best_err = err;
      best = cand;
      beta *= kHqqKappa;
    } else {
      codes = keep_codes;
      xr = keep_xr;
      break;
    }
  }
  return best;
}

}  // namespace

float round_to_storage(float v, DType t) {
  switch (t) {
    case DType::F16:
      return f16_to_f32(f32_to_f16(v));
    case DType::BF16:
      return bf16_to_f32(f32_to_bf16(v));
    default:
      return v;
  }
}

uint32_t int_encode(float x, const GroupParams& p, const IntGrid& g) {
  if (g.symmetric) {
    const float qmin = -static_cast<float>(1 << (g.bits - 1));
    const float qmax = static_cast<float>((1 << (g.bits - 1)) - 1);
    const float t = x / p.scale;
    if (std::isnan(t)) return 1u << (g.bits - 1);
    const float q = std::clamp(std::nearbyint(t), qmin, qmax);
    return static_cast<uint32_t>(static_cast<int>(q) + (1 << (g.bits - 1)));
  }
  const float t = (x + p.shift) / p.scale;
  if (std::isnan(t)) return 0;
  const float q = std::clamp(std::nearbyint(t), 0.0f, static_cast<float>((1 << g.bits) - 1));
  return static_cast<uint32_t>(q);
}

float int_decode(uint32_t code, const GroupParams& p, const IntGrid& g) {
  if (g.symmetric) {
    return static_cast<float>(static_cast<int>(code) - (1 << (g.bits - 1))) * p.scale;
  }
  const float scaled = static_cast<float>(code) * p.scale;
  return scaled - p.shift;
}

GroupParams choose_int_params(const float* x, int64_t n, const IntGrid& g, Quantizer q) {
  switch (q) {
    case Quantizer::Rtn: {
      const Range r = range_of(x, n);
      return rtn_params(r.lo, r.hi, r.amax, g);
    }
    case Quantizer::Mse:
      return mse_params(x, n, g);
    case Quantizer::Hqq:
      return hqq_params(x, n, g);
  }
  return {};
}

float fp8_scale(const float* x, int64_t n, WeightFormat f, DType scale_dtype) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  return round_to_storage(amax / fp8_max(f), scale_dtype);
}

uint8_t fp8_encode_scaled(float x, float scale, WeightFormat f) {
  const float t = x / scale;
  if (std::isnan(t)) return 0;
  const float m = fp8_max(f);
  return fp8_from_f32(f, std::clamp(t, -m, m));
}

}  // namespace segq
