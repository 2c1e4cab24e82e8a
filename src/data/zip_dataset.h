// ADE20K read in place from the original ADEChallengeData2016.zip (no extraction): members
// <prefix>images/<split>/*.jpg paired with <prefix>annotations/<split>/*.png by file stem, where
// <prefix> is "ADEChallengeData2016/" in the original archive (any single prefix is accepted).
#pragma once

#include <memory>
#include <string>

#include "data/dataset.h"

namespace segq {

// UsageError when the archive has no such split (naming the member folder); Error when it is not
// a readable zip or the members do not pair up. Reads are thread-safe; a member that cannot be
// read (corrupt data, CRC mismatch) throws BadSampleError naming "archive.zip:member".
std::unique_ptr<Dataset> open_ade_zip(const std::string& zip_path, const std::string& split);

}  // namespace segq
