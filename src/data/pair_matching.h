// Pairing image files with label files by file stem (never by listing order), shared by the folder
// and zip datasets.
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"

namespace segq {

// Image names ending in .jpg/.jpeg/.png (any case) and label names ending in .png; other names
// and hidden files (".xyz") are skipped by the callers through these predicates.
bool is_image_file_name(const std::string& name);
bool is_label_file_name(const std::string& name);
std::string file_stem(const std::string& name);  // "dir/a.b.jpg" -> "a.b"

// Pairs `image_names` and `label_names` (file names, relative to their folders) by stem and returns
// the samples sorted by id. Throws Error listing every unmatched file on both sides (and every
// stem that occurs twice on one side) in one message; `images_where` / `labels_where` name the
// folders in that message.
std::vector<Sample> match_pairs_by_stem(const std::vector<std::string>& image_names,
                                        const std::vector<std::string>& label_names,
                                        const std::string& images_where,
                                        const std::string& labels_where);

}  // namespace segq
