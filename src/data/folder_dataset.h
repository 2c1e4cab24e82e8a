// Datasets stored as files in two folders: ADE20K's
// ADEChallengeData2016/{images,annotations}/<split> and a generic pair of folders. Samples are
// paired by file stem and sorted by id.
#pragma once

#include <memory>
#include <string>

#include "data/dataset.h"

namespace segq {

// `root` is the ADEChallengeData2016 folder. UsageError when images/<split> or
// annotations/<split> is missing or holds no images / label maps; Error when files do not pair up.
std::unique_ptr<Dataset> open_ade_folder(const std::string& root, const std::string& split);

// Images (*.jpg, *.jpeg, *.png) in `images_dir` paired with label maps (*.png) in `labels_dir`.
std::unique_ptr<Dataset> open_folder_pair(const std::string& images_dir,
                                          const std::string& labels_dir);

}  // namespace segq
