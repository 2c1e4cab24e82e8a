#include "data/synth_scene.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace segq {

namespace {

// ---------------------------------------------------------------- integer randomness

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline uint32_t hash3(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u) * 0x85EBCA77u ^ (c + 0x165667B1u) * 0xC2B2AE3Du;
  h ^= h >> 15;
  h *= 0x2C1B3C6Du;
  h ^= h >> 12;
  h *= 0x297A2D39u;
  h ^= h >> 15;
  return h;
}

// [0, 1) with 24 random bits: exact in float.
inline float unit_from_bits(uint32_t bits) { return float(bits >> 8) * (1.0f / 16777216.0f); }

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(splitmix64(seed)) {}
  uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    return splitmix64(state_);
  }
  float uniform() { return unit_from_bits(uint32_t(next() >> 32)); }  // [0, 1)
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  int below(int n) { return int((next() >> 33) % uint64_t(n)); }  // [0, n)
  uint32_t bits() { return uint32_t(next() >> 32); }
  int pick(const std::vector<double>& cdf) {
    const double u = double(next() >> 11) * (1.0 / 9007199254740992.0);
    return int(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
  }

 private:
  uint64_t state_;
};

// ---------------------------------------------------------------- float helpers (exact ops)

inline float clamp01(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline float frac(float x) { return x - std::floor(x); }
inline float tri(float x) {  // triangle wave in [0, 1], uniform for uniform x
  const float f = frac(x);
  const float t = 2.f * f - 1.f;
  return t < 0.f ? -t : t;
}

// Smooth value noise in [0, 1): bilinear over a hashed integer lattice with smoothstep weights.
inline float value_noise(float x, float y, uint32_t seed) {
  const float fx = std::floor(x), fy = std::floor(y);
  const uint32_t ix = uint32_t(int32_t(fx)), iy = uint32_t(int32_t(fy));
  float tx = x - fx, ty = y - fy;
  tx = tx * tx * (3.f - 2.f * tx);
  ty = ty * ty * (3.f - 2.f * ty);
  const float h00 = unit_from_bits(hash3(ix, iy, seed));
  const float h10 = unit_from_bits(hash3(ix + 1, iy, seed));
  const float h01 = unit_from_bits(hash3(ix, iy + 1, seed));
  const float h11 = unit_from_bits(hash3(ix + 1, iy + 1, seed));
  const float a = h00 + (h10 - h00) * tx;
  const float b = h01 + (h11 - h01) * tx;
  return a + (b - a) * ty;
}

// Piecewise-linear HSV -> RGB in 0..255 (no transcendental functions).
void hsv_to_rgb(SynthHsv c, float rgb[3]) {
  float h = frac(c.h) * 6.f;
  const float s = clamp01(c.s), v = clamp01(c.v);
  int i = int(h);
  if (i > 5) i = 5;
  const float f = h - float(i);
  const float p = v * (1.f - s), q = v * (1.f - s * f), t = v * (1.f - s * (1.f - f));
  float r, g, b;
  switch (i) {
    case 0:
      r = v, g = t, b = p;
      break;
    case 1:
      r = q, g = v, b = p;
      break;
    case 2:
      r = p, g = v, b = t;
      break;
    case 3:
      r = p, g = q, b = v;
      break;
    case 4:
      r = t, g = p, b = v;
      break;
    default:
      r = v, g = p, b = q;
      break;
  }
  rgb[0] = r * 255.f;
  rgb[1] = g * 255.f;
  rgb[2] = b * 255.f;
}

const char* hue_name(float h) {
  static const char* kNames[12] = {"red",  "orange", "yellow", "lime",   "green",   "jade",
                                   "cyan", "azure",  "blue",   "violet", "magenta", "rose"};
  return kNames[int(frac(h + 1.f / 24.f) * 12.f) % 12];
}

// ---------------------------------------------------------------- scene instances

enum class Shape { Ellipse, Rectangle, Diamond };

// Everything needed to paint one region.
struct Instance {
  uint8_t label = 0;
  SynthPattern pattern = SynthPattern::Smooth;
  float mid[3] = {0, 0, 0};    // colour at mixing value 1/2
  float delta[3] = {0, 0, 0};  // colour b - colour a (times contrast)
  float dir_c = 1, dir_s = 0;  // pattern orientation (unit vector)
  float inv_period = 0.1f;
  float origin_x = 0, origin_y = 0;
  float light_base = 1, light_gx = 0, light_gy = 0;
  uint32_t noise_seed = 0;
};

// Pattern orientation (degrees) and period (pixels) before per-instance jitter.
struct PatternGeometry {
  float angle_c, angle_s, period;
};
PatternGeometry pattern_geometry(SynthPattern p) {
  constexpr float r = 0.70710678f;  // cos 45
  switch (p) {
    case SynthPattern::Stripes0:
      return {1, 0, 8};
    case SynthPattern::Stripes90:
      return {0, 1, 8};
    case SynthPattern::Stripes45:
      return {r, r, 8};
    case SynthPattern::Stripes135:
      return {-r, r, 8};
    case SynthPattern::FineStripes:
      return {r, -r, 4.5f};
    case SynthPattern::CoarseStripes:
      return {1, 0, 17};
    case SynthPattern::Zigzag:
      return {0, 1, 9};
    case SynthPattern::Wavy:
      return {1, 0, 9};
    case SynthPattern::Plaid:
      return {1, 0, 11};
    case SynthPattern::Checker:
      return {r, r, 13};
    case SynthPattern::Dots:
      return {1, 0, 9};
    case SynthPattern::Blotches:
      return {1, 0, 15};
    case SynthPattern::Speckle:
      return {1, 0, 2.2f};
    case SynthPattern::Rings:
      return {1, 0, 8};
    case SynthPattern::Smooth:
      return {1, 0, 40};
  }
  return {1, 0, 8};
}

// Mixing value in [0, 1] of the instance's pattern at pixel (x, y); each pattern is symmetric
// around 1/2 so that the mean colour of every class in a group is the same.
inline float pattern_value(const Instance& in, float x, float y) {
  const float dx = x - in.origin_x, dy = y - in.origin_y;
  const float u = (dx * in.dir_c + dy * in.dir_s) * in.inv_period;
  const float v = (dy * in.dir_c - dx * in.dir_s) * in.inv_period;
  switch (in.pattern) {
    case SynthPattern::Stripes0:
    case SynthPattern::Stripes90:
    case SynthPattern::Stripes45:
    case SynthPattern::Stripes135:
    case SynthPattern::FineStripes:
    case SynthPattern::CoarseStripes:
      return tri(u);
    case SynthPattern::Zigzag:
      return tri(u + 0.7f * tri(v * 0.5f));
    case SynthPattern::Wavy:
      return tri(u + 1.6f * (value_noise(u * 0.3f, v * 0.3f, in.noise_seed) - 0.5f));
    case SynthPattern::Plaid:
      return 0.5f * (tri(u) + tri(v));
    case SynthPattern::Checker:
      return clamp01(0.5f + 6.f * (tri(u) - 0.5f) * (tri(v) - 0.5f));
    case SynthPattern::Dots: {
      const float fu = frac(u) - 0.5f, fv = frac(v) - 0.5f;
      // Radius 0.399 covers half of the cell, so the value is centred on 1/2.
      return clamp01(0.5f + 5.f * (std::sqrt(fu * fu + fv * fv) - 0.399f));
    }
    case SynthPattern::Blotches:
    case SynthPattern::Speckle:
      return clamp01(0.5f + 1.8f * (value_noise(u, v, in.noise_seed) - 0.5f));
    case SynthPattern::Rings:
      return tri(std::sqrt(dx * dx + dy * dy) * in.inv_period);
    case SynthPattern::Smooth:
      return 0.5f + 0.5f * (value_noise(u, v, in.noise_seed) - 0.5f);
  }
  return 0.5f;
}

// A region's instance: palette jitter, pattern jitter, lighting.
Instance make_instance(Rng& rng, uint8_t label, SynthPattern pattern, SynthHsv a, SynthHsv b,
                       float cx, float cy, float extent) {
  Instance in;
  in.label = label;
  in.pattern = pattern;
  const float dh = rng.uniform(-0.025f, 0.025f);
  const float ds = rng.uniform(-0.07f, 0.07f);
  const float dv = rng.uniform(0.85f, 1.12f);
  a.h += dh, b.h += dh;
  a.s += ds, b.s += ds;
  a.v *= dv, b.v *= dv;
  float ca[3], cb[3];
  hsv_to_rgb(a, ca);
  hsv_to_rgb(b, cb);
  const float contrast = rng.uniform(0.75f, 1.0f);
  for (int c = 0; c < 3; ++c) {
    in.mid[c] = 0.5f * (ca[c] + cb[c]);
    in.delta[c] = (cb[c] - ca[c]) * contrast;
  }
  const PatternGeometry g = pattern_geometry(pattern);
  // Rotate by up to +-10 degrees: (c, s) + t * (-s, c), renormalized (t = tan(angle)).
  const float t = rng.uniform(-0.176f, 0.176f);
  const float c0 = g.angle_c - t * g.angle_s, s0 = g.angle_s + t * g.angle_c;
  const float norm = std::sqrt(c0 * c0 + s0 * s0);
  in.dir_c = c0 / norm;
  in.dir_s = s0 / norm;
  in.inv_period = 1.f / (g.period * rng.uniform(0.8f, 1.25f));
  in.origin_x = cx + rng.uniform(-20.f, 20.f);
  in.origin_y = cy + rng.uniform(-20.f, 20.f);
  // Brightness changes by up to +-18 % across the region's extent.
  const float gx = rng.uniform(-1.f, 1.f), gy = rng.uniform(-1.f, 1.f);
  const float gain = rng.uniform(0.f, 0.18f) / std::max(extent, 8.f);
  in.light_gx = gx * gain;
  in.light_gy = gy * gain;
  in.light_base = 1.f - in.light_gx * cx - in.light_gy * cy;
  in.noise_seed = rng.bits();
  return in;
}

}  // namespace

const char* synth_pattern_name(SynthPattern p) {
  switch (p) {
    case SynthPattern::Stripes0:
      return "stripes0";
    case SynthPattern::Stripes90:
      return "stripes90";
    case SynthPattern::Stripes45:
      return "stripes45";
    case SynthPattern::Stripes135:
      return "stripes135";
    case SynthPattern::FineStripes:
      return "finestripes";
    case SynthPattern::CoarseStripes:
      return "coarsestripes";
    case SynthPattern::Zigzag:
      return "zigzag";
    case SynthPattern::Wavy:
      return "wavy";
    case SynthPattern::Plaid:
      return "plaid";
    case SynthPattern::Checker:
      return "checker";
    case SynthPattern::Dots:
      return "dots";
    case SynthPattern::Blotches:
      return "blotches";
    case SynthPattern::Speckle:
      return "speckle";
    case SynthPattern::Rings:
      return "rings";
    case SynthPattern::Smooth:
      return "smooth";
  }
  return "?";
}

SynthTask make_synth_task(int num_classes) {
  if (num_classes < 1 || num_classes > 254) {
    throw UsageError(str_cat("--classes ", num_classes, " must be in 1..254 (8-bit label maps)"));
  }
  constexpr int kGroupSize = 5;
  SynthTask task;
  task.num_classes = num_classes;
  const int n = num_classes;
  const int num_context = n >= 30 ? n / 15 : 0;
  const int num_stuff = std::max(1, (n * 27 + 50) / 100);
  const int num_things = n - num_stuff - num_context;
  const int num_regular = num_stuff + num_things;
  task.classes.resize(n);
  for (int k = 1; k <= n; ++k) {
    SynthClass& c = task.classes[k - 1];
    c.id = k;
    if (k <= num_stuff) {
      c.role = SynthRole::Stuff;
      c.weight = 1.f / float(k + 1);  // Zipf: 1/2, 1/3, ...
      task.stuff_ids.push_back(k);
    } else if (k <= num_regular) {
      c.role = SynthRole::Thing;
      c.weight = 1.f / std::sqrt(float(k - num_stuff + 4));  // 1/sqrt(5), 1/sqrt(6), ...
      task.thing_ids.push_back(k);
    } else {
      c.role = SynthRole::Context;
    }
  }
  auto cdf = [&](const std::vector<int>& ids) {
    std::vector<double> out;
    double total = 0;
    for (int id : ids) total += task.classes[id - 1].weight;
    double acc = 0;
    for (int id : ids) {
      acc += task.classes[id - 1].weight;
      out.push_back(acc / total);
    }
    if (!out.empty()) out.back() = 1.0;
    return out;
  };
  task.stuff_cdf = cdf(task.stuff_ids);
  task.thing_cdf = cdf(task.thing_ids);

  // Colour groups of 5 regular classes, mixing stuff and things (fixed shuffle).
  Rng rng(0x5E6A5E6Aull + uint64_t(n));
  std::vector<int> order(num_regular);
  for (int i = 0; i < num_regular; ++i) order[i] = i + 1;
  for (int i = num_regular - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  const int num_groups = (num_regular + kGroupSize - 1) / kGroupSize;
  for (int g = 0; g < num_groups; ++g) {
    // Hues on the golden-ratio sequence; saturation and value levels cycle so that groups of
    // similar hue differ in the other two. Colour b contrasts in value (visible in luma, which
    // JPEG keeps at full resolution) and is shifted in hue.
    SynthHsv a, b;
    a.h = frac(0.07f + 0.6180340f * float(g));
    a.s = 0.35f + 0.25f * float(g % 3);
    a.v = 0.42f + 0.2f * float((g / 3) % 3);
    b.h = frac(a.h + 0.04f + 0.05f * float(g % 4));
    b.s = clamp01(a.s + (g % 2 ? 0.15f : -0.15f));
    b.v = a.v >= 0.6f ? a.v - 0.33f : a.v + 0.33f;
    task.group_colour_a.push_back(a);
    task.group_colour_b.push_back(b);
    // Five distinct patterns per group.
    int patterns[kSynthPatternCount];
    for (int i = 0; i < kSynthPatternCount; ++i) patterns[i] = i;
    for (int i = kSynthPatternCount - 1; i > 0; --i)
      std::swap(patterns[i], patterns[rng.below(i + 1)]);
    for (int m = 0; m < kGroupSize && g * kGroupSize + m < num_regular; ++m) {
      SynthClass& c = task.classes[order[g * kGroupSize + m] - 1];
      c.group = g;
      c.pattern = static_cast<SynthPattern>(patterns[m]);
    }
  }
  // Context classes: the texture of a thing (its twin), found on one of the frequent stuff classes.
  task.context_by_host.assign(n + 1, {});
  task.context_of_twin_on_host.assign(size_t(n + 1) * (n + 1), 0);
  std::vector<int> twins = task.thing_ids;
  for (int i = int(twins.size()) - 1; i > 0; --i) std::swap(twins[i], twins[rng.below(i + 1)]);
  const int host_pool = std::min(num_stuff, 8);
  for (int j = 0; j < num_context; ++j) {
    SynthClass& c = task.classes[num_regular + j];
    c.twin = twins[j];
    c.host = 1 + rng.below(host_pool);
    c.group = task.classes[c.twin - 1].group;
    c.pattern = task.classes[c.twin - 1].pattern;
    task.context_by_host[c.host].push_back(c.id);
    task.context_of_twin_on_host[size_t(c.twin) * (n + 1) + c.host] = c.id;
  }
  for (SynthClass& c : task.classes) {
    c.name = str_cat("g", c.group < 10 ? "0" : "", c.group, "-",
                     hue_name(task.group_colour_a[c.group].h), "-", synth_pattern_name(c.pattern));
    if (c.role == SynthRole::Context) c.name += str_cat("-on-", c.host);
  }
  return task;
}

uint64_t synth_scene_seed(uint64_t seed, const std::string& split, int index) {
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a of the split name
  for (unsigned char ch : split) h = (h ^ ch) * 0x100000001B3ull;
  return splitmix64(splitmix64(seed) ^ h ^ splitmix64(uint64_t(index) + 0x51ED));
}

SynthScene render_synth_scene(const SynthTask& task, int height, int width, uint64_t scene_seed) {
  SEGQ_CHECK(height >= 8 && width >= 8 && height <= 8192 && width <= 8192, "synthetic scene size ",
             height, "x", width, " outside 8..8192");
  Rng rng(scene_seed);
  const float min_side = float(std::min(height, width));
  std::vector<Instance> instances;
  std::vector<uint16_t> region(size_t(height) * width, 0);  // instance index per pixel

  auto class_colours = [&](int id, SynthHsv* a, SynthHsv* b) {
    const SynthClass& c = task.classes[id - 1];
    *a = task.group_colour_a[c.group];
    *b = task.group_colour_b[c.group];
  };

  // 1. Stuff: a Voronoi partition of noise-warped coordinates.
  const int num_cells = 3 + rng.below(5);
  std::vector<float> cell_x(num_cells), cell_y(num_cells);
  for (int k = 0; k < num_cells; ++k) {
    cell_x[k] = rng.uniform(0.f, float(width));
    cell_y[k] = rng.uniform(0.f, float(height));
    const int id = task.stuff_ids[rng.pick(task.stuff_cdf)];
    SynthHsv a, b;
    class_colours(id, &a, &b);
    instances.push_back(make_instance(rng, uint8_t(id), task.classes[id - 1].pattern, a, b,
                                      cell_x[k], cell_y[k], min_side));
  }
  const uint32_t warp_seed = rng.bits();
  const float warp_amp = 0.08f * min_side;
  const float warp_freq = 1.f / (0.2f * min_side);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const float fx = float(x) + 0.5f, fy = float(y) + 0.5f;
      const float wx =
          fx + warp_amp * (value_noise(fx * warp_freq, fy * warp_freq, warp_seed) - 0.5f) * 2.f;
      const float wy =
          fy + warp_amp *
                   (value_noise(fx * warp_freq, fy * warp_freq, warp_seed ^ 0xA5A5u) - 0.5f) * 2.f;
      int best = 0;
      float best_d = 0;
      for (int k = 0; k < num_cells; ++k) {
        const float ddx = wx - cell_x[k], ddy = wy - cell_y[k];
        const float d = ddx * ddx + ddy * ddy;
        if (k == 0 || d < best_d) best = k, best_d = d;
      }
      region[size_t(y) * width + x] = uint16_t(best);
    }
  }

  // 2. Things on top, some with a nested thing inside (painted only over their parent).
  struct Pending {
    float cx, cy, radius;
    int parent;  // instance index the object must stay inside, or -1
  };
  std::vector<Pending> queue;
  const int num_objects = 4 + rng.below(9);
  for (int i = 0; i < num_objects; ++i) {
    const float u = rng.uniform();
    queue.push_back({rng.uniform(0.f, float(width)), rng.uniform(0.f, float(height)),
                     min_side * (0.06f + 0.22f * u * u), -1});
  }
  for (size_t q = 0; q < queue.size(); ++q) {
    const Pending obj = queue[q];
    const int cx_pixel = std::clamp(int(std::floor(obj.cx)), 0, width - 1);
    const int cy_pixel = std::clamp(int(std::floor(obj.cy)), 0, height - 1);
    const int host_instance = region[size_t(cy_pixel) * width + cx_pixel];
    const int host_label = instances[host_instance].label;
    const bool host_is_stuff =
        host_label > 0 && task.classes[host_label - 1].role == SynthRole::Stuff;
    int id = 0;
    SynthHsv a, b;
    SynthPattern pattern;
    if (rng.uniform() < 0.1f) {
      // "Other": label 0 with a random palette and pattern.
      a = {rng.uniform(), rng.uniform(0.2f, 0.9f), rng.uniform(0.3f, 0.95f)};
      b = {frac(a.h + rng.uniform(0.f, 0.3f)), rng.uniform(0.2f, 0.9f), rng.uniform(0.3f, 0.95f)};
      pattern = static_cast<SynthPattern>(rng.below(kSynthPatternCount));
    } else {
      if (host_is_stuff && !task.context_by_host[host_label].empty() && rng.uniform() < 0.5f) {
        const auto& options = task.context_by_host[host_label];
        id = options[rng.below(int(options.size()))];
      } else {
        id = task.thing_ids.empty() ? task.stuff_ids[rng.pick(task.stuff_cdf)]
                                    : task.thing_ids[rng.pick(task.thing_cdf)];
        if (host_is_stuff) {
          const int context =
              task.context_of_twin_on_host[size_t(id) * (task.num_classes + 1) + host_label];
          if (context) id = context;
        }
      }
      class_colours(id, &a, &b);
      pattern = task.classes[id - 1].pattern;
    }
    const int self = int(instances.size());
    instances.push_back(make_instance(rng, uint8_t(id), pattern, a, b, obj.cx, obj.cy, obj.radius));
    // Shape: semi-axes with aspect 1/2..2, rotated, outline perturbed by value noise.
    const Shape shape = static_cast<Shape>(rng.below(3));
    const float aspect = rng.uniform(0.5f, 2.f);
    const float sq = std::sqrt(aspect);
    const float ax = obj.radius * sq, ay = obj.radius / sq;
    const float rx = rng.uniform(-1.f, 1.f), ry = rng.uniform(-1.f, 1.f);
    const float rn = std::sqrt(rx * rx + ry * ry) + 1e-3f;
    const float rc = rx / rn, rs = ry / rn;
    const uint32_t outline_seed = rng.bits();
    const float outline_freq = 1.f / std::max(0.45f * obj.radius, 2.f);
    const float reach = 1.35f * std::max(ax, ay) + 2.f;
    const int x0 = std::max(0, int(obj.cx - reach)), x1 = std::min(width, int(obj.cx + reach) + 1);
    const int y0 = std::max(0, int(obj.cy - reach)), y1 = std::min(height, int(obj.cy + reach) + 1);
    for (int y = y0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) {
        uint16_t& cell = region[size_t(y) * width + x];
        if (obj.parent >= 0 && cell != obj.parent) continue;
        const float fx = float(x) + 0.5f, fy = float(y) + 0.5f;
        const float dx = fx - obj.cx, dy = fy - obj.cy;
        const float lx = (dx * rc + dy * rs) / ax, ly = (dy * rc - dx * rs) / ay;
        const float limit =
            1.f + 0.45f * (value_noise(fx * outline_freq, fy * outline_freq, outline_seed) - 0.5f);
        bool inside;
        switch (shape) {
          case Shape::Ellipse:
            inside = lx * lx + ly * ly <= limit * limit;
            break;
          case Shape::Rectangle:
            inside = std::max(std::fabs(lx), std::fabs(ly)) <= limit * 0.85f;
            break;
          default:
            inside = std::fabs(lx) + std::fabs(ly) <= limit * 1.2f;
            break;
        }
        if (inside) cell = uint16_t(self);
      }
    }
    if (obj.parent < 0 && obj.radius >= 0.09f * min_side && rng.uniform() < 0.35f) {
      const float r = obj.radius * rng.uniform(0.25f, 0.45f);
      queue.push_back({obj.cx + rng.uniform(-0.3f, 0.3f) * obj.radius,
                       obj.cy + rng.uniform(-0.3f, 0.3f) * obj.radius, r, self});
    }
  }

  // 3. Paint: pattern, palette, lighting, a global colour cast, per-pixel noise.
  float cast[3];
  for (float& c : cast) c = rng.uniform(-6.f, 6.f);
  const float global_gx = rng.uniform(-0.1f, 0.1f) / float(width);
  const float global_gy = rng.uniform(-0.1f, 0.1f) / float(height);
  const uint32_t pixel_seed = rng.bits();
  SynthScene scene;
  scene.image = ImageU8(height, width, 3);
  scene.labels = ImageU8(height, width, 1);
  for (int y = 0; y < height; ++y) {
    uint8_t* rgb = scene.image.row(y);
    uint8_t* lab = scene.labels.row(y);
    for (int x = 0; x < width; ++x) {
      const Instance& in = instances[region[size_t(y) * width + x]];
      lab[x] = in.label;
      const float fx = float(x) + 0.5f, fy = float(y) + 0.5f;
      const float p = pattern_value(in, fx, fy) - 0.5f;
      const float light = in.light_base + in.light_gx * fx + in.light_gy * fy +
                          global_gx * (fx - 0.5f * float(width)) +
                          global_gy * (fy - 0.5f * float(height));
      const uint32_t h = hash3(uint32_t(x), uint32_t(y), pixel_seed);
      for (int c = 0; c < 3; ++c) {
        const float noise = float((h >> (8 * c)) & 255u) * (14.f / 255.f) - 7.f;
        float v = (in.mid[c] + p * in.delta[c]) * light + cast[c] + noise;
        v = v < 0.f ? 0.f : (v > 255.f ? 255.f : v);
        rgb[3 * x + c] = uint8_t(int(v + 0.5f));
      }
    }
  }
  return scene;
}

}  // namespace segq
