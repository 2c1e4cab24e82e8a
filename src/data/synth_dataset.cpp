#include "data/synth_dataset.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>

#include "core/error.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "data/synth_scene.h"
#include "io/file_util.h"
#include "io/image.h"

namespace segq {

namespace fs = std::filesystem;

namespace {

// Bump when the rendered pixels change, so data made by different segq versions is told apart.
constexpr int kSynthGeneratorVersion = 2;

const char* role_name(SynthRole r) {
  switch (r) {
    case SynthRole::Stuff:
      return "stuff";
    case SynthRole::Thing:
      return "thing";
    case SynthRole::Context:
      return "context";
  }
  return "?";
}

void check_options(const SynthOptions& o) {
  if (o.out_dir.empty()) throw UsageError("synth: --out DIR is required");
  if (o.count < 1 || o.count > 99999999) throw UsageError("synth: --n must be in 1..99999999");
  if (o.height < 8 || o.width < 8 || o.height > 8192 || o.width > 8192) {
    throw UsageError(str_cat("synth: --size ", o.height, "x", o.width, " outside 8..8192"));
  }
  if (o.split.empty() || o.split.find('/') != std::string::npos) {
    throw UsageError(str_cat("synth: --split \"", o.split, "\" is not a split name"));
  }
  if (o.jpeg_quality < 1 || o.jpeg_quality > 100) {
    throw UsageError("synth: JPEG quality must be in 1..100");
  }
}

// Files already in `dir` that this run would not overwrite.
std::vector<std::string> foreign_files(const std::string& dir, const std::set<std::string>& ours) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!ours.count(name)) out.push_back(name);
  }
  return out;
}

std::string class_table_text(const SynthTask& task) {
  std::string out = "Idx\tRole\tGroup\tPattern\tHost\tTwin\tName\n";
  for (const SynthClass& c : task.classes) {
    out += str_cat(c.id, "\t", role_name(c.role), "\t", c.group, "\t",
                   synth_pattern_name(c.pattern), "\t", c.host, "\t", c.twin, "\t", c.name, "\n");
  }
  return out;
}

std::string readme_text(const SynthTask& task) {
  return str_cat(
      "# Synthetic segmentation data (not ADE20K)\n\n"
      "Written by `segq synth` (generator version ",
      kSynthGeneratorVersion,
      "). The folder layout copies ADEChallengeData2016 so that every segq command reads it like "
      "the "
      "real dataset, but the images are procedural scenes, not photographs.\n\n"
      "- `images/<split>/*.jpg`, `annotations/<split>/*.png`: 8-bit label maps, 0 = other (ignored "
      "after reduce_labels), 1..",
      task.num_classes,
      " = classes.\n"
      "- `objectInfo",
      task.num_classes,
      ".txt`: the class table (role, colour group, pattern; context classes name their host and "
      "twin).\n"
      "- `synth-<split>.json`: the command's parameters and the codec versions.\n\n"
      "Scenes: stuff regions (noise-warped Voronoi cells) under thing objects (ellipses, "
      "rectangles, "
      "diamonds with noisy outlines, sometimes nested). Classes come in colour groups of five that "
      "share a two-colour palette and differ only in the pattern mixing the two colours, so a "
      "pixel's colour does not identify its class; context classes share a thing's texture and are "
      "told apart only by the stuff region they lie on.\n\n"
      "The pixels and labels are a function of (seed, split, index, size, classes) computed with "
      "integer hashing and ordered float arithmetic: identical on every machine. The encoded JPEG "
      "and PNG bytes also depend on the libjpeg-turbo, libpng and zlib versions recorded in "
      "`synth-<split>.json` (each encoder is deterministic for a given version).\n");
}

}  // namespace

std::string synth_sample_id(const std::string& split, int index) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%08d", index + 1);
  if (split == "validation") return std::string("ADE_val_") + digits;
  if (split == "training") return std::string("ADE_train_") + digits;
  return split + "_" + digits;
}

SynthSummary write_synth_dataset(const SynthOptions& o) {
  check_options(o);
  const SynthTask task = make_synth_task(o.num_classes);
  const std::string images_dir = o.out_dir + "/images/" + o.split;
  const std::string labels_dir = o.out_dir + "/annotations/" + o.split;
  std::set<std::string> image_names, label_names;
  for (int i = 0; i < o.count; ++i) {
    const std::string id = synth_sample_id(o.split, i);
    image_names.insert(id + ".jpg");
    label_names.insert(id + ".png");
  }
  for (const auto& [dir, names] :
       {std::pair{images_dir, &image_names}, std::pair{labels_dir, &label_names}}) {
    const std::vector<std::string> foreign = foreign_files(dir, *names);
    if (!foreign.empty()) {
      throw UsageError(str_cat(dir, " already holds ", foreign.size(),
                               " file(s) this run would not write (e.g. ", foreign.front(),
                               "); remove them or choose another --out"));
    }
  }
  std::error_code ec;
  fs::create_directories(images_dir, ec);
  if (ec) throw Error(str_cat(images_dir, ": cannot create folder: ", ec.message()));
  fs::create_directories(labels_dir, ec);
  if (ec) throw Error(str_cat(labels_dir, ": cannot create folder: ", ec.message()));

  Stopwatch watch;
  ThreadPool& pool = global_pool();
  const int n1 = o.num_classes + 1;
  std::vector<std::vector<uint64_t>> pixels_by_thread(pool.num_threads(),
                                                      std::vector<uint64_t>(n1, 0));
  std::vector<std::vector<int>> images_by_thread(pool.num_threads(), std::vector<int>(n1, 0));
  pool.parallel_for(o.count, 1, [&](int64_t begin, int64_t end, int thread) {
    std::vector<uint64_t> counts(n1);
    for (int64_t i = begin; i < end; ++i) {
      const std::string id = synth_sample_id(o.split, int(i));
      const SynthScene scene =
          render_synth_scene(task, o.height, o.width, synth_scene_seed(o.seed, o.split, int(i)));
      write_file_atomic(images_dir + "/" + id + ".jpg", encode_jpeg(scene.image, o.jpeg_quality));
      write_file_atomic(labels_dir + "/" + id + ".png", encode_png(scene.labels));
      std::fill(counts.begin(), counts.end(), 0);
      for (uint8_t v : scene.labels.pixels) ++counts[v];
      for (int k = 0; k < n1; ++k) {
        pixels_by_thread[thread][k] += counts[k];
        images_by_thread[thread][k] += counts[k] > 0;
      }
    }
  });
  SynthSummary summary;
  summary.images = o.count;
  summary.pixels = uint64_t(o.count) * o.height * o.width;
  summary.class_pixels.assign(n1, 0);
  summary.class_images.assign(n1, 0);
  for (size_t t = 0; t < pixels_by_thread.size(); ++t) {
    for (int k = 0; k < n1; ++k) {
      summary.class_pixels[k] += pixels_by_thread[t][k];
      summary.class_images[k] += images_by_thread[t][k];
    }
  }

  write_file_atomic(str_cat(o.out_dir, "/objectInfo", o.num_classes, ".txt"),
                    class_table_text(task));
  write_file_atomic(o.out_dir + "/README.md", readme_text(task));
  nlohmann::json info = {
      {"generator", "segq synth"},
      {"generator_version", kSynthGeneratorVersion},
      {"split", o.split},
      {"n", o.count},
      {"height", o.height},
      {"width", o.width},
      {"seed", o.seed},
      {"classes", o.num_classes},
      {"jpeg_quality", o.jpeg_quality},
      {"codecs", image_codec_versions()},
      {"class_pixels", summary.class_pixels},
      {"class_images", summary.class_images},
  };
  write_file_atomic(str_cat(o.out_dir, "/synth-", o.split, ".json"), info.dump(1) + "\n");
  summary.seconds = watch.seconds();
  return summary;
}

}  // namespace segq
