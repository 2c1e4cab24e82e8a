// Datasets: ADE20K folder / parent / zip, generic folder pairs, pairing by name, clear errors, and
// bad samples surfacing as BadSampleError from prepare_sample.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <thread>

#include "data/dataset.h"
#include "data/preprocess.h"
#include "fixture_sources.h"
#include "io/file_util.h"
#include "io/image.h"

namespace segq {
namespace {

namespace fs = std::filesystem;

std::string jpeg_bytes(int seed, int h = 24, int w = 32) {
  return encode_jpeg(test::formula_image(h, w, 3, seed), 90);
}

std::string label_bytes(int seed, int h = 24, int w = 32, int max_value = 150) {
  ImageU8 labels = test::formula_image(h, w, 1, seed);
  for (uint8_t& v : labels.pixels) v = uint8_t(v % (max_value + 1));
  return encode_png(labels);
}

// Writes ADEChallengeData2016/{images,annotations}/<split>/<id>.{jpg,png} under `parent`.
std::string write_ade_tree(const std::string& parent, const std::string& split,
                           const std::vector<std::string>& ids) {
  const std::string root = parent + "/ADEChallengeData2016";
  for (size_t i = 0; i < ids.size(); ++i) {
    write_file_atomic(root + "/images/" + split + "/" + ids[i] + ".jpg", jpeg_bytes(int(i)));
    write_file_atomic(root + "/annotations/" + split + "/" + ids[i] + ".png", label_bytes(int(i)));
  }
  return root;
}

// The members of an extracted ADE tree, named as in the original zip (prefix + relative path).
std::vector<std::pair<std::string, std::string>> tree_members(const std::string& root,
                                                              const std::string& prefix) {
  std::vector<std::pair<std::string, std::string>> members;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    members.emplace_back(prefix + fs::relative(e.path(), root).string(), read_file(e.path()));
  }
  std::sort(members.begin(), members.end());
  return members;
}

template <class E>
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

DatasetOptions data_options(const std::string& data, const std::string& split = "validation") {
  DatasetOptions o;
  o.data = data;
  o.split = split;
  return o;
}

std::vector<std::string> ids_of(const Dataset& d) {
  std::vector<std::string> ids;
  for (const Sample& s : d.samples()) ids.push_back(s.id);
  return ids;
}

const std::vector<std::string> kIds = {"ADE_val_00000003", "ADE_val_00000001", "ADE_val_00000010",
                                       "ADE_val_00000002"};
const std::vector<std::string> kSorted = {"ADE_val_00000001", "ADE_val_00000002",
                                          "ADE_val_00000003", "ADE_val_00000010"};

TEST(Dataset, AdeFolderAsRootOrParentSortedById) {
  test::TempDir dir("ade");
  const std::string root = write_ade_tree(dir.path(), "validation", kIds);
  for (const std::string& data : {root, dir.path(), root + "/"}) {
    const auto d = open_dataset(data_options(data));
    EXPECT_EQ(ids_of(*d), kSorted) << data;
    EXPECT_EQ(d->description(), "ade20k:validation");
    EXPECT_EQ(d->samples()[0].image_name, "ADE_val_00000001.jpg");
    EXPECT_EQ(d->image_location(0), root + "/images/validation/ADE_val_00000001.jpg");
    EXPECT_EQ(d->label_location(3), root + "/annotations/validation/ADE_val_00000010.png");
    // kIds[1] was written with seed 1.
    EXPECT_EQ(d->read_image_bytes(0), jpeg_bytes(1));
    EXPECT_EQ(d->read_label_bytes(0), label_bytes(1));
  }
}

TEST(Dataset, MissingOrEmptySplitNamesThePath) {
  test::TempDir dir("split");
  const std::string root = write_ade_tree(dir.path(), "validation", kIds);
  std::string msg = error_of<UsageError>([&] { open_dataset(data_options(root, "training")); });
  EXPECT_NE(msg.find(root + "/images/training"), std::string::npos) << msg;
  fs::create_directories(root + "/images/training");
  fs::create_directories(root + "/annotations/training");
  write_file_atomic(root + "/images/training/notes.txt", "not an image");
  msg = error_of<UsageError>([&] { open_dataset(data_options(root, "training")); });
  EXPECT_NE(msg.find(root + "/images/training: no images"), std::string::npos) << msg;
  write_file_atomic(root + "/images/training/a.jpg", jpeg_bytes(1));
  msg = error_of<UsageError>([&] { open_dataset(data_options(root, "training")); });
  EXPECT_NE(msg.find(root + "/annotations/training: no label maps"), std::string::npos) << msg;
}

TEST(Dataset, UnmatchedFilesAreAllReportedInOneError) {
  test::TempDir dir("unmatched");
  const std::string root = dir.path() + "/ADEChallengeData2016";
  for (const char* id : {"a", "b", "c"}) {
    write_file_atomic(root + "/images/validation/" + id + ".jpg", jpeg_bytes(1));
  }
  for (const char* id : {"b", "c", "d", "e"}) {
    write_file_atomic(root + "/annotations/validation/" + id + ".png", label_bytes(1));
  }
  const std::string msg = error_of<Error>([&] { open_dataset(data_options(root)); });
  EXPECT_NE(msg.find("1 image(s) in " + root + "/images/validation without a label"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("a.jpg"), std::string::npos) << msg;
  EXPECT_NE(msg.find("2 label(s) in " + root + "/annotations/validation without an image"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("d.png"), std::string::npos) << msg;
  EXPECT_NE(msg.find("e.png"), std::string::npos) << msg;
}

TEST(Dataset, HiddenAndForeignFilesAreSkippedDuplicatesRejected) {
  test::TempDir dir("hidden");
  const std::string root = write_ade_tree(dir.path(), "validation", kIds);
  write_file_atomic(root + "/images/validation/.DS_Store", "x");
  write_file_atomic(root + "/images/validation/readme.txt", "x");
  write_file_atomic(root + "/annotations/validation/._ADE_val_00000001.png", "x");
  fs::create_directories(root + "/images/validation/subfolder.jpg");
  EXPECT_EQ(ids_of(*open_dataset(data_options(root))), kSorted);
  write_file_atomic(root + "/images/validation/ADE_val_00000001.png", encode_png(ImageU8(2, 2, 3)));
  const std::string msg = error_of<Error>([&] { open_dataset(data_options(root)); });
  EXPECT_NE(msg.find("occur twice"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ADE_val_00000001.png"), std::string::npos) << msg;
}

TEST(Dataset, GenericFolderPair) {
  test::TempDir dir("pair");
  const std::string images = dir.path() + "/imgs", labels = dir.path() + "/labs";
  write_file_atomic(images + "/z.png", encode_png(test::formula_image(24, 32, 3, 1)));
  write_file_atomic(images + "/m.jpeg", jpeg_bytes(2));
  write_file_atomic(labels + "/z.png", label_bytes(1));
  write_file_atomic(labels + "/m.png", label_bytes(2));
  DatasetOptions o;
  o.images_dir = images;
  o.labels_dir = labels + "/";
  const auto d = open_dataset(o);
  EXPECT_EQ(ids_of(*d), (std::vector<std::string>{"m", "z"}));
  EXPECT_EQ(d->description(), "folders:imgs|labs");
  EXPECT_EQ(d->image_location(1), images + "/z.png");
  PreprocessConfig config;
  EXPECT_THROW(prepare_sample(*d, 1, Protocol::Hf, config, 150), BadSampleError);  // raw 150
  config.reduce_labels = true;
  const PreparedSample s = prepare_sample(*d, 1, Protocol::Hf, config, 150);
  EXPECT_EQ(s.id, "z");
  EXPECT_EQ(s.pixels.shape(), (Shape{3, 512, 512}));

  o.labels_dir.clear();
  EXPECT_THROW(open_dataset(o), UsageError);
  o.labels_dir = labels;
  o.data = dir.path();
  EXPECT_THROW(open_dataset(o), UsageError);
  o.data.clear();
  o.labels_dir = dir.path() + "/missing";
  const std::string msg = error_of<UsageError>([&] { open_dataset(o); });
  EXPECT_NE(msg.find(dir.path() + "/missing"), std::string::npos) << msg;
}

TEST(Dataset, BadDataPathsAreUsageErrors) {
  test::TempDir dir("paths");
  std::string msg = error_of<UsageError>([&] { open_dataset(data_options(dir.path() + "/nope")); });
  EXPECT_NE(msg.find(dir.path() + "/nope: no such file"), std::string::npos) << msg;
  write_file_atomic(dir.path() + "/file.zip", "not a zip at all");
  msg = error_of<UsageError>([&] { open_dataset(data_options(dir.path() + "/file.zip")); });
  EXPECT_NE(msg.find("not a zip archive"), std::string::npos) << msg;
  fs::create_directories(dir.path() + "/other");
  msg = error_of<UsageError>([&] { open_dataset(data_options(dir.path() + "/other")); });
  EXPECT_NE(msg.find("not an ADEChallengeData2016 folder"), std::string::npos) << msg;
  EXPECT_THROW(open_dataset(DatasetOptions{}), UsageError);
  EXPECT_THROW(open_dataset(data_options(dir.path(), "a/b")), UsageError);
}

void expect_same_samples(const Dataset& a, const Dataset& b, Protocol protocol) {
  ASSERT_EQ(ids_of(a), ids_of(b));
  EXPECT_EQ(a.description(), b.description());
  PreprocessConfig config;
  config.reduce_labels = true;
  config.height = 40;
  config.width = 56;
  for (size_t i = 0; i < a.samples().size(); ++i) {
    EXPECT_EQ(a.read_image_bytes(i), b.read_image_bytes(i));
    EXPECT_EQ(a.read_label_bytes(i), b.read_label_bytes(i));
    const PreparedSample pa = prepare_sample(a, i, protocol, config, 150);
    const PreparedSample pb = prepare_sample(b, i, protocol, config, 150);
    EXPECT_EQ(sha256_hex(pa.pixels.raw(), pa.pixels.nbytes()),
              sha256_hex(pb.pixels.raw(), pb.pixels.nbytes()));
    EXPECT_EQ(pa.labels, pb.labels);
    EXPECT_EQ(pa.logits_resize_chain, pb.logits_resize_chain);
  }
}

TEST(Dataset, ZipReadInPlaceEqualsFolder) {
  test::TempDir dir("zip");
  const std::string root = write_ade_tree(dir.path(), "validation", kIds);
  const auto folder = open_dataset(data_options(root));
  for (bool store : {false, true}) {
    for (const std::string prefix : {"ADEChallengeData2016/", ""}) {
      const std::string zip = dir.path() + "/ade.zip";
      auto members = tree_members(root, prefix);
      members.emplace_back("__MACOSX/" + prefix + "images/validation/._x.jpg", "junk");
      test::write_zip(zip, members, store);
      const auto zipped = open_dataset(data_options(zip));
      EXPECT_EQ(zipped->image_location(0),
                zip + ":" + prefix + "images/validation/ADE_val_00000001.jpg");
      expect_same_samples(*folder, *zipped, Protocol::Hf);
      const std::string msg =
          error_of<UsageError>([&] { open_dataset(data_options(zip, "training")); });
      EXPECT_NE(msg.find(zip + ": no images"), std::string::npos) << msg;
    }
  }
  // A folder holding ADEChallengeData2016.zip (and no extracted tree) is read through the zip.
  test::TempDir holder("zip-parent");
  test::write_zip(holder.path() + "/ADEChallengeData2016.zip",
                  tree_members(root, "ADEChallengeData2016/"), false);
  const auto via_parent = open_dataset(data_options(holder.path()));
  EXPECT_EQ(via_parent->image_location(0).rfind(holder.path() + "/ADEChallengeData2016.zip:", 0),
            0u);
  expect_same_samples(*folder, *via_parent, Protocol::Seed);
}

TEST(Dataset, ZipReadsAreThreadSafe) {
  test::TempDir dir("zip-threads");
  std::vector<std::string> ids;
  for (int i = 0; i < 24; ++i) ids.push_back(str_cat("s", 100 + i));
  const std::string root = write_ade_tree(dir.path(), "validation", ids);
  test::write_zip(dir.path() + "/a.zip", tree_members(root, "ADEChallengeData2016/"), false);
  const auto folder = open_dataset(data_options(root));
  const auto zipped = open_dataset(data_options(dir.path() + "/a.zip"));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (size_t i = t; i < ids.size(); i += 2) {
          if (zipped->read_image_bytes(i) != folder->read_image_bytes(i)) ++mismatches;
          if (zipped->read_label_bytes(i) != folder->read_label_bytes(i)) ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(Dataset, UnreadableZipMemberIsABadSample) {
  test::TempDir dir("zip-corrupt");
  const std::string root = write_ade_tree(dir.path(), "validation", kIds);
  const std::string zip = dir.path() + "/c.zip";
  test::write_zip(zip, tree_members(root, "ADEChallengeData2016/"), /*store=*/true);
  // Flip one byte inside the stored data of ADE_val_00000002.jpg (written with seed 3).
  std::string bytes = read_file(zip);
  const std::string member = jpeg_bytes(3);
  // Entropy-coded data near the end of the member (headers are shared by all members).
  const size_t at = bytes.find(member.substr(member.size() - 60, 40));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 10] = char(bytes[at + 10] ^ 0x01);
  write_file_atomic(zip, bytes);
  const auto d = open_dataset(data_options(zip));
  ASSERT_EQ(d->samples()[1].id, "ADE_val_00000002");
  EXPECT_EQ(d->read_image_bytes(0), jpeg_bytes(1));
  try {
    d->read_image_bytes(1);
    FAIL() << "expected BadSampleError";
  } catch (const BadSampleError& e) {
    EXPECT_EQ(e.index(), 1u);
    EXPECT_EQ(e.id(), "ADE_val_00000002");
    const std::string msg = e.what();
    EXPECT_NE(msg.find(zip), std::string::npos) << msg;
    EXPECT_NE(msg.find("ADEChallengeData2016/images/validation/ADE_val_00000002.jpg"),
              std::string::npos)
        << msg;
  }
  PreprocessConfig config;
  EXPECT_THROW(prepare_sample(*d, 1, Protocol::Hf, config, 150), BadSampleError);
}

// Each broken sample gives a BadSampleError naming the file; the others still load.
TEST(Dataset, BadSamplesNameTheFile) {
  test::TempDir dir("bad");
  const std::vector<std::string> ids = {"good", "cutjpeg", "badpng", "size", "value"};
  const std::string root = write_ade_tree(dir.path(), "validation", ids);
  const std::string img = root + "/images/validation/", lab = root + "/annotations/validation/";
  const std::string jpeg = jpeg_bytes(1);
  write_file_atomic(img + "cutjpeg.jpg", jpeg.substr(0, jpeg.size() / 2));
  std::string png = label_bytes(2);
  write_file_atomic(lab + "badpng.png", png.substr(0, png.size() - 20));
  write_file_atomic(lab + "size.png", label_bytes(3, 24, 31));
  write_file_atomic(lab + "value.png", label_bytes(4, 24, 32, 200));
  const auto d = open_dataset(data_options(root));
  PreprocessConfig config;
  config.reduce_labels = true;
  struct Expect {
    std::string id, needle;
  };
  for (const Expect& e : {Expect{"cutjpeg", img + "cutjpeg.jpg: cannot decode JPEG"},
                          Expect{"badpng", lab + "badpng.png: cannot decode PNG"},
                          Expect{"size", lab + "size.png: label map is 31x24"},
                          Expect{"value", lab + "value.png: label map holds values"}}) {
    const auto& samples = d->samples();
    const size_t i = size_t(std::find_if(samples.begin(), samples.end(),
                                         [&](const Sample& s) { return s.id == e.id; }) -
                            samples.begin());
    try {
      prepare_sample(*d, i, Protocol::Hf, config, 150);
      ADD_FAILURE() << e.id << ": expected BadSampleError";
    } catch (const BadSampleError& err) {
      EXPECT_EQ(err.index(), i);
      EXPECT_EQ(err.id(), e.id);
      EXPECT_NE(std::string(err.what()).find(e.needle), std::string::npos) << err.what();
    }
  }
  const size_t good = 2;  // sorted: badpng, cutjpeg, good, size, value
  ASSERT_EQ(d->samples()[good].id, "good");
  EXPECT_NO_THROW(prepare_sample(*d, good, Protocol::Hf, config, 150));
  // A missing file is a bad sample too (deleted after listing).
  fs::remove(img + "good.jpg");
  EXPECT_THROW(prepare_sample(*d, good, Protocol::Hf, config, 150), BadSampleError);
}

// Acceptance: zip and folder give identical results on the real ADE sample.
TEST(Dataset, AdeSampleZipEqualsFolder) {
  if (!test::have_ade_sample()) GTEST_SKIP() << "needs ../shared/data";
  test::TempDir dir("ade-sample-zip");
  const std::string zip = dir.path() + "/ADEChallengeData2016.zip";
  test::write_zip(zip, tree_members(test::ade_sample_dir(), "ADEChallengeData2016/"), false);
  const auto folder = open_dataset(data_options(test::ade_sample_dir()));
  const auto zipped = open_dataset(data_options(zip));
  for (Protocol p : {Protocol::Hf, Protocol::Seed, Protocol::Mmseg}) {
    expect_same_samples(*folder, *zipped, p);
  }
}

}  // namespace
}  // namespace segq
