// The embedded demo model (assets/models/segformer-b0-synth150) against transformers' logits on the
// first two images of the demo set (tools/train_demo_model.py --finalize writes
// tests/fixtures/models/demo-expected.safetensors: every third logit in each spatial direction, the
// full-resolution argmax and the top-2 gap). The images come from `segq synth` with the demo seed,
// written and decoded here exactly as `make demo` does, and go through the hf protocol.
//   max |logit - expected| <= 1e-4 * max(1, |expected|)
//   argmax identical wherever the expected top-2 gap exceeds 1e-3.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include "data/dataset.h"
#include "data/preprocess.h"
#include "data/synth_dataset.h"
#include "io/model_files.h"
#include "io/safetensors.h"
#include "kernels/isa.h"
#include "model/segformer.h"
#include "model/weight_set.h"

namespace segq {
namespace {

namespace fs = std::filesystem;

const std::string kModelDir = std::string(SEGQ_SOURCE_DIR) + "/assets/models/segformer-b0-synth150";
const std::string kExpected =
    std::string(SEGQ_SOURCE_DIR) + "/tests/fixtures/models/demo-expected.safetensors";

class DemoModelParity : public ::testing::TestWithParam<KernelIsa> {};

TEST_P(DemoModelParity, MatchesTransformersOnTwoDemoImages) {
  const KernelIsa isa_choice = GetParam();
  if (!kernel_isa_available(isa_choice))
    GTEST_SKIP() << "CPU lacks " << kernel_isa_name(isa_choice);
  ScopedKernelIsa isa(isa_choice);

  const ModelFiles files = load_model_files(kModelDir);
  const SafetensorsFile file = read_safetensors(kExpected);
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, t] : file.tensors) tensors[name] = t;
  const auto& meta = file.metadata;
  const int size = std::stoi(meta.at("size"));
  const int stride = std::stoi(meta.at("stride"));

  const fs::path dir = fs::path(SEGQ_BINARY_DIR) / "test_demo_parity" /
                       (std::string(kernel_isa_name(isa_choice)) + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  SynthOptions synth;
  synth.out_dir = dir.string();
  synth.count = 2;  // scenes depend on (seed, split, index) only: the first two of the demo set
  synth.height = size;
  synth.width = size;
  synth.seed = std::stoull(meta.at("val_seed"));
  synth.split = "validation";
  write_synth_dataset(synth);

  DatasetOptions data;
  data.data = dir.string();
  const std::unique_ptr<Dataset> dataset = open_dataset(data);
  ASSERT_EQ(dataset->samples().size(), 2u);
  const PreprocessConfig pre = preprocess_config_from_json(files.preprocessor_config);
  EXPECT_EQ(pre.height, size);
  EXPECT_TRUE(pre.reduce_labels);

  const std::unique_ptr<SegformerModel> model =
      make_segformer(files.config, dense_weight_set(files.tensors));
  const int64_t L = model->num_labels();
  ASSERT_EQ(L, 150);
  for (size_t s = 0; s < 2; ++s) {
    const PreparedSample sample = prepare_sample(*dataset, s, Protocol::Hf, pre, int(L));
    const std::string id = sample.id;
    SCOPED_TRACE(id);
    const Tensor logits = model->forward(sample.pixels.reshape({1, 3, size, size}));
    const auto [h, w] = model->output_size(size, size);
    ASSERT_EQ(logits.shape(), (Shape{1, h, w, L}));
    const Tensor& strided = tensors.at("logits_strided_" + id);
    const Tensor& argmax = tensors.at("argmax_" + id);
    const Tensor& gap = tensors.at("gap_" + id);
    const int64_t hs = (h + stride - 1) / stride, ws = (w + stride - 1) / stride;
    ASSERT_EQ(strided.numel(), L * hs * ws);
    ASSERT_EQ(argmax.numel(), int64_t(h) * w);
    const float* got = logits.data<float>();
    const float* exp = strided.data<float>();
    double worst = 0;
    for (int64_t c = 0; c < L; ++c)
      for (int64_t y = 0; y < hs; ++y)
        for (int64_t x = 0; x < ws; ++x) {
          const float e = exp[(c * hs + y) * ws + x];
          const float g = got[((y * stride) * w + x * stride) * L + c];  // logits are [1, h, w, L]
          const double tol = 1e-4 * std::max(1.0, double(std::fabs(e)));
          worst = std::max(worst, std::fabs(double(g) - e) / tol);
        }
    EXPECT_LE(worst, 1.0) << "max |logit - transformers| exceeds 1e-4 * max(1, |expected|)";
    int64_t mismatches = 0, compared = 0;
    for (int64_t p = 0; p < int64_t(h) * w; ++p) {
      if (gap.data<float>()[p] <= 1e-3f) continue;
      ++compared;
      int64_t best = 0;
      for (int64_t c = 1; c < L; ++c)
        if (got[p * L + c] > got[p * L + best]) best = c;
      mismatches += best != argmax.data<int32_t>()[p];
    }
    EXPECT_EQ(mismatches, 0) << "of " << compared << " pixels with a clear top-2 gap";
    EXPECT_GT(compared, int64_t(h) * w / 2);
  }
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Isa, DemoModelParity, ::testing::Values(KernelIsa::kRef, KernelIsa::kAvx2),
                         [](const auto& info) { return std::string(kernel_isa_name(info.param)); });

}  // namespace
}  // namespace segq
