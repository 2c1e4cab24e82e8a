// Synthetic segmentation scenes for the demo model and for tests (`segq synth`).
//
// A scene is a background of "stuff" regions (a Voronoi partition with noise-warped borders) with
// "thing" objects on top (ellipses, rectangles and diamonds with noisy outlines, some with a
// nested object inside). Every region is painted with its class's procedural texture. The task is
// built so that a pixel's colour does not identify its class:
// - classes come in colour groups of 5 that share one two-colour palette; the members differ only
//   in the pattern that mixes the two colours (stripes at 4 orientations, fine and coarse stripes,
//   zigzag, wavy, plaid, checker, dots, blotches, speckle, rings, smooth). Every pattern spreads
//   its mixing value symmetrically around 1/2, so the class-mean colours of a group coincide;
// - per instance the palette is jittered (hue, saturation, brightness, contrast), lit by a linear
//   gradient, the pattern rotated (+-10 degrees) and scaled (0.8..1.25); per pixel, noise;
// - "context" classes share their twin thing class's texture exactly and differ only by where
//   they occur: a thing whose centre lies on stuff of the context class's host class is labelled
//   with the context class, elsewhere with the twin (like "window" on "building").
// Label 0 (ignored after reduce_labels) marks "other" objects painted with random palettes.
// Class frequencies have a long tail (stuff ~ 1/(i+2), things ~ 1/sqrt(j+5)).
//
// Reproducibility: every value is a function of (task, size, scene seed) computed with integer
// hashing and + - * / sqrt floor in a fixed order (no libm transcendentals, -ffp-contract=off), so
// the pixels are identical on every machine and build. Encoded files additionally depend on the
// libjpeg-turbo / libpng / zlib versions (image_codec_versions()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/image.h"

namespace segq {

enum class SynthRole { Stuff, Thing, Context };

// The pattern that mixes a group's two colours.
enum class SynthPattern {
  Stripes0,
  Stripes90,
  Stripes45,
  Stripes135,
  FineStripes,
  CoarseStripes,
  Zigzag,
  Wavy,
  Plaid,
  Checker,
  Dots,
  Blotches,
  Speckle,
  Rings,
  Smooth,
};
constexpr int kSynthPatternCount = 15;
const char* synth_pattern_name(SynthPattern p);

// HSV in [0, 1]; the hue wraps.
struct SynthHsv {
  float h = 0, s = 0, v = 0;
};

struct SynthClass {
  int id = 0;  // 1..num_classes (the raw label value)
  SynthRole role = SynthRole::Thing;
  int group = 0;  // colour group (palette)
  SynthPattern pattern = SynthPattern::Stripes0;
  float weight = 0;  // relative frequency within its role
  int host = 0;      // Context: the stuff class it is found on
  int twin = 0;      // Context: the thing class with the same texture
  std::string name;  // e.g. "g07-azure-dots"
};

// The class table; a function of num_classes only (not of the seed).
struct SynthTask {
  int num_classes = 0;
  std::vector<SynthClass> classes;  // classes[k - 1] has id k
  std::vector<SynthHsv> group_colour_a, group_colour_b;
  std::vector<int> stuff_ids, thing_ids;
  std::vector<double> stuff_cdf, thing_cdf;       // cumulative weights, last = 1
  std::vector<std::vector<int>> context_by_host;  // [class id] -> context class ids
  std::vector<int> context_of_twin_on_host;       // [twin id * (N + 1) + host id] -> id or 0
};

SynthTask make_synth_task(int num_classes);  // num_classes in 1..255

struct SynthScene {
  ImageU8 image;   // [H, W, 3]
  ImageU8 labels;  // [H, W, 1], 0 = other, 1..num_classes
};

SynthScene render_synth_scene(const SynthTask& task, int height, int width, uint64_t scene_seed);

// Seed of scene `index` of `split`: scenes do not depend on how many are generated.
uint64_t synth_scene_seed(uint64_t seed, const std::string& split, int index);

}  // namespace segq
