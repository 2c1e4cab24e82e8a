// Synthetic scenes: reproducible bytes (committed digests), the class table's structure, the
// property the demo relies on (colour alone does not identify a class), and `segq synth` output.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/thread_pool.h"
#include "data/dataset.h"
#include "data/synth_dataset.h"
#include "data/synth_scene.h"
#include "fixture_sources.h"
#include "io/file_util.h"
#include "io/image.h"

namespace segq {
namespace {

namespace fs = std::filesystem;

// Digests of render_synth_scene(make_synth_task(150), 64, 96, synth_scene_seed(7, "validation",
// i)): raw pixels and labels, independent of any codec. They change only when the generator does
// (then bump kSynthGeneratorVersion in synth_dataset.cpp and update these).
const char* const kSceneImageSha256[3] = {
    "d349afa60a65ea410c74d9c9636b578cba5eebe33765844597713c8de86ea62d",
    "740c913c3cdbaa88299bc19a663e933c29af936372f9cb7d925a1c298007cd5f",
    "d72aa06fd0d61bb711d66ce67849925531e988868cb3ba438409cb597ad8f4b6",
};
const char* const kSceneLabelSha256[3] = {
    "f40dca48b8aeabbea9f9c9dfc421352ab3b614adf53e2ebd398dc884935b1197",
    "0bd6c4be91c8baa01a4762ace8937477ff3bd640a96c8bd6e88f469a3df1ec08",
    "29bdb0c01f8cf669beb6b016b8fb717a9b95ecc20ba6f28aa40cfec9087fdddb",
};

// Digests of the files `segq synth --n 3 --size 48x64 --seed 5` writes, valid for these codec
// versions only (each encoder is deterministic for a given version).
// Order: image 1, label 1, image 2, label 2, image 3, label 3.
const char* const kCodecVersions = "libjpeg-turbo 2.1.5, libpng 1.6.39, zlib 1.2.13";
const char* const kFileSha256[6] = {
    "87463ee800ffc0cb48859c6c6307b2e5a45d8c352007abbd3592934f7f58a743",
    "4ecea3b557c69953a048f2d0b2ead9100afd9c1bfae507301cc264526193dac5",
    "44bca131aae891955ffdeddd61657f4f38c38899c213728e029f19695bc825a2",
    "0e1bc9b55bb737090a24f070bfd833eb3b473a95a63b2d6f7c400c243e180c1a",
    "076778f7228711636058ede780c00d94e904e1372cc139ead6427b772528a5d2",
    "138bd6cd016fc7c8ba93ac8c0a08411cd062cd4249057bac5b47128eae00e750",
};

TEST(Synth, SameSeedSameSceneOtherSeedOtherScene) {
  const SynthTask task = make_synth_task(150);
  const uint64_t s = synth_scene_seed(3, "validation", 4);
  const SynthScene a = render_synth_scene(task, 57, 83, s);
  const SynthScene b = render_synth_scene(task, 57, 83, s);
  EXPECT_EQ(a.image.pixels, b.image.pixels);
  EXPECT_EQ(a.labels.pixels, b.labels.pixels);
  EXPECT_EQ(a.image.height, 57);
  EXPECT_EQ(a.image.width, 83);
  const SynthScene c = render_synth_scene(task, 57, 83, synth_scene_seed(4, "validation", 4));
  EXPECT_NE(a.labels.pixels, c.labels.pixels);
  EXPECT_NE(synth_scene_seed(3, "validation", 4), synth_scene_seed(3, "training", 4));
  EXPECT_NE(synth_scene_seed(3, "validation", 4), synth_scene_seed(3, "validation", 5));
}

TEST(Synth, GoldenSceneDigests) {
  const SynthTask task = make_synth_task(150);
  for (int i = 0; i < 3; ++i) {
    const SynthScene scene = render_synth_scene(task, 64, 96, synth_scene_seed(7, "validation", i));
    EXPECT_EQ(test::digest(scene.image), kSceneImageSha256[i]) << "scene " << i;
    EXPECT_EQ(test::digest(scene.labels), kSceneLabelSha256[i]) << "scene " << i;
  }
}

TEST(Synth, ClassTableStructure) {
  const SynthTask task = make_synth_task(150);
  ASSERT_EQ(task.classes.size(), 150u);
  EXPECT_EQ(task.stuff_ids.size(), 41u);
  EXPECT_EQ(task.thing_ids.size(), 99u);
  std::map<int, std::set<int>> patterns_by_group;
  std::map<int, int> regular_per_group;
  std::set<std::string> names;
  int context = 0;
  for (const SynthClass& c : task.classes) {
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    if (c.role == SynthRole::Context) {
      ++context;
      const SynthClass& twin = task.classes[c.twin - 1];
      EXPECT_EQ(twin.role, SynthRole::Thing);
      EXPECT_EQ(task.classes[c.host - 1].role, SynthRole::Stuff);
      EXPECT_EQ(c.group, twin.group);
      EXPECT_EQ(c.pattern, twin.pattern);
      continue;
    }
    // Within a colour group every regular class has its own pattern.
    EXPECT_TRUE(patterns_by_group[c.group].insert(int(c.pattern)).second) << c.name;
    ++regular_per_group[c.group];
  }
  EXPECT_EQ(context, 10);
  EXPECT_EQ(regular_per_group.size(), 28u);
  for (const auto& [group, n] : regular_per_group) EXPECT_EQ(n, 5) << "group " << group;
  const SynthTask small = make_synth_task(3);
  EXPECT_EQ(small.classes.size(), 3u);
  EXPECT_THROW(make_synth_task(0), UsageError);
  EXPECT_THROW(make_synth_task(255), UsageError);
}

// Per pixel: a class index from labels 1..N -> 0..N-1, 255 for label 0 (as reduce_labels does).
double mean_iou(const std::vector<int>& pred, const std::vector<int>& truth, int n) {
  std::vector<double> inter(n), area_pred(n), area_truth(n);
  for (size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] == 255) continue;
    area_truth[truth[i]] += 1;
    area_pred[pred[i]] += 1;
    if (pred[i] == truth[i]) inter[truth[i]] += 1;
  }
  double sum = 0;
  int count = 0;
  for (int k = 0; k < n; ++k) {
    const double uni = area_pred[k] + area_truth[k] - inter[k];
    if (uni > 0) sum += inter[k] / uni, ++count;
  }
  return sum / count;
}

// The demo's requirement: a classifier that sees only a pixel's colour (nearest class-mean colour,
// means fitted on other scenes) scores far below 0.20 mIoU, while labels are still learnable from
// texture. Small scenes keep this fast; the measured value is about 0.04.
TEST(Synth, NearestClassMeanColourClassifierFails) {
  const int n = 150, size = 96;
  const SynthTask task = make_synth_task(n);
  std::vector<double> sum(size_t(n) * 3, 0.0), count(n, 0.0);
  for (int i = 0; i < 60; ++i) {
    const SynthScene s = render_synth_scene(task, size, size, synth_scene_seed(11, "training", i));
    for (size_t p = 0; p < s.labels.pixels.size(); ++p) {
      const int k = s.labels.pixels[p] - 1;
      if (k < 0) continue;
      for (int c = 0; c < 3; ++c) sum[k * 3 + c] += s.image.pixels[p * 3 + c];
      count[k] += 1;
    }
  }
  std::vector<int> pred, truth;
  for (int i = 0; i < 20; ++i) {
    const SynthScene s =
        render_synth_scene(task, size, size, synth_scene_seed(11, "validation", i));
    for (size_t p = 0; p < s.labels.pixels.size(); ++p) {
      int best = 0;
      double best_d = 1e30;
      for (int k = 0; k < n; ++k) {
        if (count[k] == 0) continue;
        double d = 0;
        for (int c = 0; c < 3; ++c) {
          const double diff = s.image.pixels[p * 3 + c] - sum[k * 3 + c] / count[k];
          d += diff * diff;
        }
        if (d < best_d) best_d = d, best = k;
      }
      pred.push_back(best);
      truth.push_back(s.labels.pixels[p] == 0 ? 255 : s.labels.pixels[p] - 1);
    }
  }
  const double miou = mean_iou(pred, truth, n);
  EXPECT_LT(miou, 0.12) << "colour alone identifies classes too well";
  EXPECT_GT(miou, 0.0);
}

TEST(Synth, LabelsCoverClassesAndOther) {
  const SynthTask task = make_synth_task(150);
  std::vector<int> pixels(256, 0);
  for (int i = 0; i < 40; ++i) {
    const SynthScene s = render_synth_scene(task, 128, 128, synth_scene_seed(2, "training", i));
    for (uint8_t v : s.labels.pixels) ++pixels[v];
  }
  int present = 0;
  for (int k = 1; k <= 150; ++k) present += pixels[k] > 0;
  for (int k = 151; k < 256; ++k) EXPECT_EQ(pixels[k], 0) << k;
  EXPECT_GT(pixels[0], 0) << "some pixels are 'other' (ignored)";
  EXPECT_LT(pixels[0], 40 * 128 * 128 / 10);
  EXPECT_GT(present, 100) << "40 scenes should show most of the 150 classes";
}

std::vector<std::string> written_files(const std::string& root, const std::string& split, int n) {
  std::vector<std::string> files;
  for (int i = 0; i < n; ++i) {
    const std::string id = synth_sample_id(split, i);
    files.push_back(root + "/images/" + split + "/" + id + ".jpg");
    files.push_back(root + "/annotations/" + split + "/" + id + ".png");
  }
  return files;
}

TEST(Synth, WrittenDatasetIsReproducibleAndReadable) {
  test::TempDir a("synth-a"), b("synth-b");
  SynthOptions o;
  o.count = 3;
  o.height = 48;
  o.width = 64;
  o.seed = 5;
  o.out_dir = a.path();
  set_num_threads(1);
  const SynthSummary summary = write_synth_dataset(o);
  o.out_dir = b.path();
  set_num_threads(2);
  write_synth_dataset(o);
  set_num_threads(default_num_threads());
  EXPECT_EQ(summary.images, 3);
  EXPECT_EQ(summary.pixels, 3u * 48 * 64);
  const std::vector<std::string> fa = written_files(a.path(), "validation", 3);
  const std::vector<std::string> fb = written_files(b.path(), "validation", 3);
  std::vector<std::string> digests;
  for (size_t i = 0; i < fa.size(); ++i) {
    const std::string bytes = read_file(fa[i]);
    EXPECT_EQ(bytes, read_file(fb[i])) << fa[i] << ": thread count changed the output";
    digests.push_back(sha256_hex(bytes));
  }
  if (image_codec_versions() == kCodecVersions) {
    for (size_t i = 0; i < digests.size(); ++i) EXPECT_EQ(digests[i], kFileSha256[i]) << fa[i];
  } else {
    std::cout << "codec versions " << image_codec_versions() << " differ from the pinned "
              << kCodecVersions << "; file digests not compared\n";
  }
  // The files hold the rendered scenes: labels exactly, images up to JPEG loss.
  DatasetOptions d;
  d.data = a.path();
  const auto dataset = open_dataset(d);
  ASSERT_EQ(dataset->samples().size(), 3u);
  EXPECT_EQ(dataset->samples()[0].id, "ADE_val_00000001");
  const SynthTask task = make_synth_task(150);
  for (int i = 0; i < 3; ++i) {
    const SynthScene scene = render_synth_scene(task, 48, 64, synth_scene_seed(5, "validation", i));
    EXPECT_EQ(decode_label_map(dataset->read_label_bytes(i), "l").pixels, scene.labels.pixels);
    const ImageU8 image = decode_image_rgb(dataset->read_image_bytes(i), "i");
    double abs_sum = 0;
    for (size_t p = 0; p < image.pixels.size(); ++p) {
      abs_sum += std::abs(int(image.pixels[p]) - int(scene.image.pixels[p]));
    }
    // Per-pixel noise and fine textures under 4:2:0 at q90: about 8 on average.
    EXPECT_LT(abs_sum / double(image.pixels.size()), 12.0);
  }
  EXPECT_TRUE(fs::exists(a.path() + "/objectInfo150.txt"));
  EXPECT_NE(read_file(a.path() + "/README.md").find("not ADE20K"), std::string::npos);
  const auto info = nlohmann::json::parse(read_file(a.path() + "/synth-validation.json"));
  EXPECT_EQ(info["seed"], 5);
  EXPECT_EQ(info["codecs"], image_codec_versions());
  // A second split lands beside the first.
  o.split = "training";
  o.count = 2;
  write_synth_dataset(o);
  d.data = b.path();
  d.split = "training";
  EXPECT_EQ(open_dataset(d)->samples()[1].id, "ADE_train_00000002");
}

TEST(Synth, RefusesForeignFilesAndBadOptions) {
  test::TempDir dir("synth-stale");
  SynthOptions o;
  o.out_dir = dir.path();
  o.count = 2;
  o.height = o.width = 16;
  write_synth_dataset(o);
  write_synth_dataset(o);  // same files again: fine
  o.count = 1;             // would leave ADE_val_00000002 behind
  EXPECT_THROW(write_synth_dataset(o), UsageError);
  o.count = 0;
  EXPECT_THROW(write_synth_dataset(o), UsageError);
  o.count = 1;
  o.height = 4;
  EXPECT_THROW(write_synth_dataset(o), UsageError);
}

TEST(Synth, CommandLine) {
  test::TempDir dir("synth-cli");
  const std::string exe = SEGQ_EXE;
  const std::string ok = exe + " synth --out " + dir.path() +
                         "/d --n 2 --size 24x40 --seed 3 --classes 20 --threads 1 2>/dev/null";
  EXPECT_EQ(std::system(ok.c_str()), 0);
  DatasetOptions d;
  d.data = dir.path() + "/d";
  const auto dataset = open_dataset(d);
  EXPECT_EQ(dataset->samples().size(), 2u);
  EXPECT_EQ(read_image_size(dataset->read_image_bytes(0), "x").width, 40);
  EXPECT_TRUE(fs::exists(dir.path() + "/d/objectInfo20.txt"));
  const std::string bad = exe + " synth --out " + dir.path() + "/e --size 24by40 2>/dev/null";
  const int status = std::system(bad.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status;
}

}  // namespace
}  // namespace segq
