// `segq synth`: writes synthetic scenes (data/synth_scene.h) as a dataset in the
// ADEChallengeData2016 layout, readable by open_dataset() like the real one:
//   <out>/images/<split>/ADE_{val,train}_NNNNNNNN.jpg   (JPEG, fixed quality)
//   <out>/annotations/<split>/ADE_..._NNNNNNNN.png       (8-bit gray, 0 = other, 1..N)
//   <out>/objectInfo<N>.txt                              (the class table)
//   <out>/synth-<split>.json                             (how this split was made)
//   <out>/README.md                                      (says the data is synthetic)
// Scenes are rendered on the global thread pool; the output does not depend on the thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace segq {

struct SynthOptions {
  std::string out_dir;
  int count = 100;
  int height = 256;
  int width = 256;
  uint64_t seed = 0;
  int num_classes = 150;
  std::string split = "validation";
  int jpeg_quality = 90;
};

struct SynthSummary {
  int images = 0;
  uint64_t pixels = 0;
  std::vector<uint64_t> class_pixels;  // [num_classes + 1], index 0 = other (ignored)
  std::vector<int> class_images;       // [num_classes + 1], images containing the class
  double seconds = 0;
};

// "ADE_val_00000001" for index 0 of "validation", "ADE_train_..." for "training",
// "<split>_00000001" otherwise.
std::string synth_sample_id(const std::string& split, int index);

// Throws UsageError for bad options or when a split folder already holds files this run would not
// write (stale samples would silently join the dataset).
SynthSummary write_synth_dataset(const SynthOptions& options);

}  // namespace segq
