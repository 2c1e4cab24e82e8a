// What `segq eval` runs without arguments: the embedded demo model on the demo validation set.
//
// Model lookup, first hit wins (each candidate must hold config.json):
//   1. $SEGQ_DEMO_MODEL (a directory)
//   2. <directory of the segq executable>/../assets/models/segformer-b0-synth150  (build/segq in
//      a source tree, or <prefix>/bin/segq with <prefix>/assets)
//   3. <directory of the segq executable>/assets/models/segformer-b0-synth150
//   4. SEGQ_SOURCE_DIR/assets/models/segformer-b0-synth150 (the source tree segq was built from)
// Data: `segq synth` with n = 100, 128x128, seed 2026, split validation, written to
//   $SEGQ_DEMO_DATA, else $XDG_CACHE_HOME/segq/demo-data, else ~/.cache/segq/demo-data, else
//   runs/.demo-data; reused while its synth-validation.json matches what this segq's generator
//   writes (generator version, codecs, parameters), regenerated otherwise.
#pragma once

#include <string>
#include <vector>

namespace segq::cli {

inline constexpr const char* kDemoModelName = "segformer-b0-synth150";
inline constexpr int kDemoImages = 100;
inline constexpr int kDemoSize = 128;
inline constexpr int kDemoSeed = 2026;
inline constexpr const char* kDemoMethods = "fp32,bf16,fp8,int8,int4,int2,int4-hqq,int2-g16-hqq";

// The candidates above, in order (for messages); find_demo_model() returns the first that exists
// or throws UsageError listing them all.
std::vector<std::string> demo_model_candidates();
std::string find_demo_model();
std::string demo_data_dir();
// Makes sure the demo set exists in demo_data_dir() and returns that directory.
std::string ensure_demo_data();

}  // namespace segq::cli
