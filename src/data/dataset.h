// Datasets: an ordered list of (id, image, label) samples, sorted by id, whose bytes can be read
// from several threads at once. Implementations: ADE20K / Scene Parse 150 in the original layout
// (folder, its parent, or ADEChallengeData2016.zip read in place), a generic pair of folders.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace segq {

struct Sample {
  std::string id;          // file stem shared by image and label, e.g. "ADE_val_00000001"
  std::string image_name;  // member/file name of the image inside the dataset
  std::string label_name;  // member/file name of the label map
};

// One sample cannot be used: its image or label cannot be read or decoded, the sizes differ, or the
// label map holds values outside the label range. The message names the file. The evaluation's
// --skip-bad catches this type per sample; any other error aborts the run.
class BadSampleError : public Error {
 public:
  BadSampleError(size_t index, std::string id, const std::string& what)
      : Error(what), index_(index), id_(std::move(id)) {}
  size_t index() const { return index_; }        // in Dataset::samples()
  const std::string& id() const { return id_; }  // Sample::id

 private:
  size_t index_;
  std::string id_;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  // Sorted by id; never empty (opening an empty split is an error).
  virtual const std::vector<Sample>& samples() const = 0;
  // Encoded bytes (JPEG/PNG) of sample i's image / label. Thread-safe. Throws BadSampleError
  // when the file or archive member cannot be read.
  virtual std::string read_image_bytes(size_t i) const = 0;
  virtual std::string read_label_bytes(size_t i) const = 0;
  // Where sample i's image / label lives, for error messages ("x.zip:ADEChallengeData2016/...").
  virtual std::string image_location(size_t i) const = 0;
  virtual std::string label_location(size_t i) const = 0;
  // A stable description used in fingerprints, e.g. "ade20k:validation".
  virtual std::string description() const = 0;
};

struct DatasetOptions {
  std::string data;                  // --data: ADEChallengeData2016 folder, its parent, or the .zip
  std::string split = "validation";  // --split: validation | training
  std::string images_dir;            // --images (generic pair of folders)
  std::string labels_dir;            // --labels
};

// Throws UsageError for a missing path / unknown layout, Error for unmatched pairs (all listed).
std::unique_ptr<Dataset> open_dataset(const DatasetOptions& options);

}  // namespace segq
