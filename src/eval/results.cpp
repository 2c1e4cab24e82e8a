// File formats (JSON, schema_version 1). Counts are JSON integers (uint64, exact); metric values
// are doubles printed with 17 significant digits (exact round trip), NaN written as null.
//
// Shard file (kind "segq-shard"):
//   {"kind", "schema_version", "shard": {"index", "count", "source"}, "complete",
//    "fingerprint": {...}, "fingerprint_sha256", "info": {...},
//    "methods": [{"name", "spec", "complete", "num_labels", "num_images", "num_pixels",
//                 "confusion_matrix": [[row = label][column = prediction]],
//                 "pred_out_of_range": [per label], "skipped": [{"id", "reason"}],
//                 "timings": {"wall_s", "weights_s", "model_s", "postprocess_s", "data_wait_s",
//                             "reference_s", "peak_rss_bytes"},
//                 "size": {"bytes", "params", "quantized_params"},
//                 "per_image": PER_IMAGE}]}
// PER_IMAGE, columnar, images sorted by id, per image only the classes present in its prediction
// or label: {"ids": [...], "num_pixels": [...], "class_offsets": [0, ...] (images + 1 entries),
//            "classes", "intersection", "predicted", "label": [...] (class_offsets.back() each),
//            "agree_pixels", "compared_pixels", "logit_nmse": [...] per image (vs fp32; 0, 0, null
//            when not compared; absent in files of segq before the comparisons)}
//
// results.json (kind "segq-results"):
//   {"kind", "schema_version", "segq_version", "fingerprint_sha256", "fingerprint", "info",
//    "num_shards", "model", "dataset", "protocol", "num_labels", "ignore_index",
//    "baseline": "fp32" | null,
//    "methods": [{"name", "spec",
//                 "size_bytes", "size_mb", "num_params", "bits_per_weight", "compression",
//                 "delta_miou_vs_fp32": {"value", "low", "high", "confidence", "resamples", "seed",
//                                        "num_images"} | null,
//                 "agreement_vs_fp32", "logit_nmse_vs_fp32", "ms_per_image", "images_per_s",
//                 "per_class": [{"id", "name", "iou", "accuracy"}],
//                 "metrics": {"mean_iou", "mean_accuracy", "overall_accuracy", "per_class_iou",
//                             "per_class_accuracy", "devkit_mean_iou", "devkit_mean_accuracy",
//                             "num_classes_present"},
//                 "confusion_matrix", "pred_out_of_range", "num_images", "num_pixels",
//                 "num_skipped", "skipped", "timings": {... + "ms_per_image", "images_per_s"},
//                 "per_image": PER_IMAGE}],
//    "samples": [{"id", "image", "label", "predictions": {method: path}}] (relative to the run)}
// ms_per_image = (model_s + postprocess_s) / images; images_per_s = images / (wall_s -
// reference_s): the fp32 comparison is not part of a method's speed.
#include "eval/results.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/error.h"
#include "eval/compare.h"
#include "eval/evaluator.h"
#include "eval/method.h"
#include "io/file_util.h"

namespace segq {

using nlohmann::json;

namespace {

const json& field(const json& j, const char* key, const std::string& what) {
  if (!j.is_object() || !j.contains(key)) throw Error(str_cat(what, ": missing field '", key, "'"));
  return j.at(key);
}

template <class T>
T get_field(const json& j, const char* key, const std::string& what) {
  const json& v = field(j, key, what);
  try {
    return v.get<T>();
  } catch (const json::exception& e) {
    throw Error(str_cat(what, ": field '", key, "' has the wrong type: ", e.what()));
  }
}

json per_image_json(std::vector<ImageCounts> images) {
  std::sort(images.begin(), images.end(),
            [](const ImageCounts& a, const ImageCounts& b) { return a.id < b.id; });
  json ids = json::array(), pixels = json::array(), offsets = json::array({0});
  json classes = json::array(), inter = json::array(), pred = json::array(), label = json::array();
  json agree = json::array(), compared = json::array(), nmse = json::array();
  uint64_t offset = 0;
  for (const ImageCounts& im : images) {
    ids.push_back(im.id);
    pixels.push_back(im.num_pixels);
    agree.push_back(im.agree_pixels);
    compared.push_back(im.compared_pixels);
    nmse.push_back(json_number(im.logit_nmse));
    for (size_t k = 0; k < im.classes.size(); ++k) {
      classes.push_back(im.classes[k]);
      inter.push_back(im.intersection[k]);
      pred.push_back(im.predicted[k]);
      label.push_back(im.label[k]);
    }
    offset += im.classes.size();
    offsets.push_back(offset);
  }
  return {{"ids", ids},         {"num_pixels", pixels},  {"class_offsets", offsets},
          {"classes", classes}, {"intersection", inter}, {"predicted", pred},
          {"label", label},     {"agree_pixels", agree}, {"compared_pixels", compared},
          {"logit_nmse", nmse}};
}

std::vector<ImageCounts> per_image_from_json(const json& j, int num_labels,
                                             const std::string& what) {
  const auto ids = get_field<std::vector<std::string>>(j, "ids", what);
  const auto pixels = get_field<std::vector<uint64_t>>(j, "num_pixels", what);
  const auto offsets = get_field<std::vector<uint64_t>>(j, "class_offsets", what);
  const auto classes = get_field<std::vector<int>>(j, "classes", what);
  const auto inter = get_field<std::vector<uint64_t>>(j, "intersection", what);
  const auto pred = get_field<std::vector<uint64_t>>(j, "predicted", what);
  const auto label = get_field<std::vector<uint64_t>>(j, "label", what);
  const size_t total = classes.size();
  if (pixels.size() != ids.size() || offsets.size() != ids.size() + 1 || offsets.front() != 0 ||
      offsets.back() != total || inter.size() != total || pred.size() != total ||
      label.size() != total) {
    throw Error(str_cat(what, ": inconsistent array lengths"));
  }
  // Comparisons with fp32 (absent in files of earlier segq versions).
  std::vector<uint64_t> agree(ids.size(), 0), compared(ids.size(), 0);
  std::vector<double> nmse(ids.size(), std::nan(""));
  if (j.contains("agree_pixels")) {
    agree = get_field<std::vector<uint64_t>>(j, "agree_pixels", what);
    compared = get_field<std::vector<uint64_t>>(j, "compared_pixels", what);
    const json& values = field(j, "logit_nmse", what);
    if (agree.size() != ids.size() || compared.size() != ids.size() || !values.is_array() ||
        values.size() != ids.size()) {
      throw Error(str_cat(what, ": inconsistent comparison array lengths"));
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      if (values[i].is_number()) nmse[i] = values[i].get<double>();
      if (agree[i] > compared[i]) throw Error(str_cat(what, ": agree_pixels > compared_pixels"));
    }
  }
  std::vector<ImageCounts> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    out[i].agree_pixels = agree[i];
    out[i].compared_pixels = compared[i];
    out[i].logit_nmse = nmse[i];
    if (offsets[i] > offsets[i + 1]) throw Error(str_cat(what, ": class_offsets not ascending"));
    ImageCounts& im = out[i];
    im.id = ids[i];
    im.num_pixels = pixels[i];
    for (uint64_t k = offsets[i]; k < offsets[i + 1]; ++k) {
      if (classes[k] < 0 || classes[k] >= num_labels) {
        throw Error(str_cat(what, ": class ", classes[k], " outside [0, ", num_labels, ")"));
      }
      im.classes.push_back(static_cast<uint16_t>(classes[k]));
      im.intersection.push_back(inter[k]);
      im.predicted.push_back(pred[k]);
      im.label.push_back(label[k]);
    }
  }
  return out;
}

json matrix_json(const SegmentationCounts& c) {
  json rows = json::array();
  const int n = c.num_labels();
  for (int r = 0; r < n; ++r) {
    json row = json::array();
    for (int p = 0; p < n; ++p) row.push_back(c.confusion_at(r, p));
    rows.push_back(std::move(row));
  }
  return rows;
}

json timings_json(const MethodTimings& t) {
  return {{"wall_s", t.wall_s},
          {"weights_s", t.weights_s},
          {"model_s", t.model_s},
          {"postprocess_s", t.postprocess_s},
          {"data_wait_s", t.data_wait_s},
          {"reference_s", t.reference_s},
          {"peak_rss_bytes", t.peak_rss_bytes}};
}

MethodTimings timings_from_json(const json& j, const std::string& what) {
  MethodTimings t;
  t.wall_s = get_field<double>(j, "wall_s", what);
  t.weights_s = get_field<double>(j, "weights_s", what);
  t.model_s = get_field<double>(j, "model_s", what);
  t.postprocess_s = get_field<double>(j, "postprocess_s", what);
  t.data_wait_s = get_field<double>(j, "data_wait_s", what);
  t.peak_rss_bytes = get_field<uint64_t>(j, "peak_rss_bytes", what);
  t.reference_s = j.value("reference_s", 0.0);
  return t;
}

json skipped_json(std::vector<SkippedSample> skipped) {
  std::sort(skipped.begin(), skipped.end(),
            [](const SkippedSample& a, const SkippedSample& b) { return a.id < b.id; });
  json out = json::array();
  for (const SkippedSample& s : skipped) out.push_back({{"id", s.id}, {"reason", s.reason}});
  return out;
}

json size_json(const MethodSize& z) {
  return {{"bytes", z.bytes}, {"params", z.params}, {"quantized_params", z.quantized_params}};
}

MethodSize size_from_json(const json& j, const std::string& what) {
  MethodSize z;
  if (j.is_null()) return z;
  z.bytes = get_field<int64_t>(j, "bytes", what);
  z.params = get_field<int64_t>(j, "params", what);
  z.quantized_params = get_field<int64_t>(j, "quantized_params", what);
  return z;
}

json method_json(const MethodResult& m) {
  return {{"name", m.name},
          {"spec", m.spec},
          {"complete", m.complete},
          {"num_labels", m.counts.num_labels()},
          {"num_images", m.counts.num_images()},
          {"num_pixels", m.counts.num_pixels()},
          {"confusion_matrix", matrix_json(m.counts)},
          {"pred_out_of_range", m.counts.pred_out_of_range()},
          {"skipped", skipped_json(m.skipped)},
          {"timings", timings_json(m.timings)},
          {"size", size_json(m.size)},
          {"per_image", per_image_json(m.per_image)}};
}

MethodResult method_from_json(const json& j, const std::string& file) {
  MethodResult m;
  m.name = get_field<std::string>(j, "name", file);
  const std::string what = str_cat(file, ": method '", m.name, "'");
  m.spec = get_field<std::string>(j, "spec", what);
  m.complete = get_field<bool>(j, "complete", what);
  const int n = get_field<int>(j, "num_labels", what);
  if (n < 1 || n > kIgnoreLabel) throw Error(str_cat(what, ": num_labels ", n, " out of range"));
  std::vector<uint64_t> flat;
  const json& rows = field(j, "confusion_matrix", what);
  if (!rows.is_array() || rows.size() != static_cast<size_t>(n)) {
    throw Error(str_cat(what, ": confusion_matrix must have ", n, " rows"));
  }
  for (const json& row : rows) {
    if (!row.is_array() || row.size() != static_cast<size_t>(n)) {
      throw Error(str_cat(what, ": confusion_matrix rows must have ", n, " columns"));
    }
    for (const json& v : row) {
      if (!v.is_number_unsigned()) {
        throw Error(str_cat(what, ": confusion_matrix holds a non-count value ", v.dump()));
      }
      flat.push_back(v.get<uint64_t>());
    }
  }
  try {
    m.counts = SegmentationCounts::from_totals(
        n, std::move(flat), get_field<std::vector<uint64_t>>(j, "pred_out_of_range", what),
        get_field<uint64_t>(j, "num_pixels", what), get_field<uint64_t>(j, "num_images", what));
  } catch (const Error& e) {
    throw Error(str_cat(what, ": ", e.what()));
  }
  for (const json& s : field(j, "skipped", what)) {
    m.skipped.push_back({get_field<std::string>(s, "id", what + " skipped"),
                         get_field<std::string>(s, "reason", what + " skipped")});
  }
  m.timings = timings_from_json(field(j, "timings", what), what + " timings");
  m.size = size_from_json(j.value("size", json()), what + " size");
  m.per_image = per_image_from_json(field(j, "per_image", what), n, what + " per_image");
  if (m.per_image.size() != m.counts.num_images()) {
    throw Error(str_cat(what, ": ", m.per_image.size(), " per-image records for ",
                        m.counts.num_images(), " images"));
  }
  return m;
}

// The first place where two fingerprints differ, as "a.b[2]".
bool first_difference(const json& a, const json& b, const std::string& path, std::string* where,
                      std::string* va, std::string* vb) {
  if (a.is_object() && b.is_object()) {
    std::vector<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.push_back(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) {
      if (!a.contains(it.key())) keys.push_back(it.key());
    }
    for (const std::string& k : keys) {
      const std::string p = path.empty() ? k : path + "." + k;
      const json na = a.contains(k) ? a.at(k) : json("<absent>");
      const json nb = b.contains(k) ? b.at(k) : json("<absent>");
      if (first_difference(na, nb, p, where, va, vb)) return true;
    }
    return false;
  }
  if (a.is_array() && b.is_array() && a.size() == b.size()) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (first_difference(a[i], b[i], str_cat(path, "[", i, "]"), where, va, vb)) return true;
    }
    return false;
  }
  if (a == b) return false;
  *where = path;
  *va = a.dump();
  *vb = b.dump();
  return true;
}

uint64_t fingerprint_num_samples(const json& fp) {
  if (!fp.contains("dataset") || !fp.at("dataset").contains("num_samples")) {
    throw Error("fingerprint without dataset.num_samples");
  }
  return fp.at("dataset").at("num_samples").get<uint64_t>();
}

}  // namespace

json json_number(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

bool ShardState::complete() const {
  if (!fingerprint.contains("methods") || methods.size() != fingerprint.at("methods").size()) {
    return false;
  }
  return std::all_of(methods.begin(), methods.end(),
                     [](const MethodResult& m) { return m.complete; });
}

uint64_t ShardState::expected_samples() const {
  const uint64_t n = fingerprint_num_samples(fingerprint);
  const uint64_t i = static_cast<uint64_t>(shard.index), c = static_cast<uint64_t>(shard.count);
  return n > i ? (n - i - 1) / c + 1 : 0;
}

std::string fingerprint_sha256(const json& fingerprint) {
  return sha256_hex(fingerprint.dump());  // object keys are sorted: canonical
}

json shard_to_json(const ShardState& s) {
  json methods = json::array();
  for (const MethodResult& m : s.methods) methods.push_back(method_json(m));
  return {
      {"kind", "segq-shard"},
      {"schema_version", kResultsSchemaVersion},
      {"shard", {{"index", s.shard.index}, {"count", s.shard.count}, {"source", s.shard.source}}},
      {"complete", s.complete()},
      {"fingerprint", s.fingerprint},
      {"fingerprint_sha256", fingerprint_sha256(s.fingerprint)},
      {"info", s.info},
      {"methods", methods}};
}

ShardState shard_from_json(const json& j, const std::string& what) {
  if (get_field<std::string>(j, "kind", what) != "segq-shard") {
    throw Error(
        str_cat(what, ": not a segq shard file (kind is '", j.at("kind").get<std::string>(), "')"));
  }
  const int version = get_field<int>(j, "schema_version", what);
  if (version != kResultsSchemaVersion) {
    throw Error(
        str_cat(what, ": schema_version ", version, ", this segq reads ", kResultsSchemaVersion));
  }
  ShardState s;
  const json& sh = field(j, "shard", what);
  s.shard.index = get_field<int>(sh, "index", what + " shard");
  s.shard.count = get_field<int>(sh, "count", what + " shard");
  s.shard.source = sh.value("source", "");
  if (s.shard.count < 1 || s.shard.index < 0 || s.shard.index >= s.shard.count) {
    throw Error(str_cat(what, ": bad shard ", s.shard.index, "/", s.shard.count));
  }
  s.fingerprint = field(j, "fingerprint", what);
  if (fingerprint_sha256(s.fingerprint) != get_field<std::string>(j, "fingerprint_sha256", what)) {
    throw Error(
        str_cat(what, ": fingerprint_sha256 does not match the fingerprint (edited file?)"));
  }
  s.info = j.value("info", json::object());
  for (const json& m : field(j, "methods", what)) s.methods.push_back(method_from_json(m, what));
  const uint64_t expected = s.expected_samples();
  for (const MethodResult& m : s.methods) {
    const uint64_t seen = m.counts.num_images() + m.skipped.size();
    if (seen > expected || (m.complete && seen != expected)) {
      throw Error(str_cat(what, ": method '", m.name, "' accounts for ", seen, " samples, shard ",
                          s.shard.index, "/", s.shard.count, " has ", expected));
    }
  }
  return s;
}

ShardState read_shard_file(const std::string& path) {
  json j;
  try {
    j = json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw Error(str_cat(path, ": malformed JSON: ", e.what()));
  }
  return shard_from_json(j, path);
}

void write_shard_file(const std::string& path, const ShardState& shard) {
  write_file_atomic(path, shard_to_json(shard).dump(1) + "\n");
}

ShardState merge_shards(const std::vector<std::pair<std::string, ShardState>>& shards) {
  if (shards.empty()) throw UsageError("merge: no shard files given");
  const auto& [first_path, first] = shards.front();
  std::map<int, std::string> seen;
  for (const auto& [path, s] : shards) {
    if (!s.complete()) {
      std::string detail;
      for (const MethodResult& m : s.methods) {
        if (!m.complete) {
          detail = str_cat(": method '", m.name, "' has ", m.counts.num_images() + m.skipped.size(),
                           " of ", s.expected_samples(), " samples");
          break;
        }
      }
      if (detail.empty()) detail = ": not every method was evaluated";
      throw Error(str_cat(path, ": shard ", s.shard.index, "/", s.shard.count, " is incomplete",
                          detail, " (finish it with segq eval --resume)"));
    }
    if (s.shard.count != first.shard.count) {
      throw Error(str_cat(path, " is shard ", s.shard.index, " of ", s.shard.count, " but ",
                          first_path, " is shard ", first.shard.index, " of ", first.shard.count));
    }
    std::string where, va, vb;
    if (first_difference(first.fingerprint, s.fingerprint, "", &where, &va, &vb)) {
      throw Error(str_cat(first_path, " and ", path,
                          " come from different runs: fingerprint field '", where, "' is ", va,
                          " vs ", vb));
    }
    const auto [it, inserted] = seen.emplace(s.shard.index, path);
    if (!inserted) {
      throw Error(str_cat(it->second, " and ", path, " are both shard ", s.shard.index, " of ",
                          s.shard.count));
    }
  }
  std::vector<int> missing;
  for (int i = 0; i < first.shard.count; ++i) {
    if (!seen.count(i)) missing.push_back(i);
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t k = 0; k < missing.size() && k < 20; ++k) {
      list += str_cat(k ? ", " : "", shard_file_name(ShardSpec{missing[k], first.shard.count, ""}));
    }
    if (missing.size() > 20) list += str_cat(", ... (", missing.size(), " in all)");
    throw Error(
        str_cat("merge: missing ", missing.size(), " of ", first.shard.count, " shards: ", list));
  }

  ShardState merged;
  merged.shard = ShardSpec{0, 1, "merge"};
  merged.fingerprint = first.fingerprint;
  merged.info = first.info;
  merged.info["num_shards"] = first.shard.count;
  for (size_t k = 0; k < first.methods.size(); ++k) {
    MethodResult m;
    m.name = first.methods[k].name;
    m.spec = first.methods[k].spec;
    m.complete = true;
    for (const auto& [path, s] : shards) {
      const MethodResult& part = s.methods.at(k);
      m.counts.merge(part.counts);
      m.per_image.insert(m.per_image.end(), part.per_image.begin(), part.per_image.end());
      m.skipped.insert(m.skipped.end(), part.skipped.begin(), part.skipped.end());
      m.timings.wall_s += part.timings.wall_s;
      m.timings.weights_s += part.timings.weights_s;
      m.timings.model_s += part.timings.model_s;
      m.timings.postprocess_s += part.timings.postprocess_s;
      m.timings.data_wait_s += part.timings.data_wait_s;
      m.timings.reference_s += part.timings.reference_s;
      if (m.size.bytes == 0) m.size = part.size;
      m.timings.peak_rss_bytes = std::max(m.timings.peak_rss_bytes, part.timings.peak_rss_bytes);
    }
    std::sort(m.per_image.begin(), m.per_image.end(),
              [](const ImageCounts& a, const ImageCounts& b) { return a.id < b.id; });
    std::sort(m.skipped.begin(), m.skipped.end(),
              [](const SkippedSample& a, const SkippedSample& b) { return a.id < b.id; });
    merged.methods.push_back(std::move(m));
  }
  return merged;
}

json method_results_json(const MethodResult& m, const MethodResult* baseline,
                         const json& class_names) {
  const SegmentationMetrics mt = compute_metrics(m.counts);
  json iou = json::array(), acc = json::array(), per_class = json::array();
  for (double v : mt.per_class_iou) iou.push_back(json_number(v));
  for (double v : mt.per_class_accuracy) acc.push_back(json_number(v));
  for (size_t c = 0; c < mt.per_class_iou.size(); ++c) {
    const std::string name = c < class_names.size() && class_names[c].is_string()
                                 ? class_names[c].get<std::string>()
                                 : std::to_string(c);
    per_class.push_back({{"id", c},
                         {"name", name},
                         {"iou", json_number(mt.per_class_iou[c])},
                         {"accuracy", json_number(mt.per_class_accuracy[c])}});
  }
  json timings = timings_json(m.timings);
  const double images = static_cast<double>(m.counts.num_images());
  const double ms_per_image =
      images > 0 ? (m.timings.model_s + m.timings.postprocess_s) * 1e3 / images : std::nan("");
  const double own_wall_s = m.timings.wall_s - m.timings.reference_s;
  const double images_per_s = own_wall_s > 0 ? images / own_wall_s : std::nan("");
  timings["ms_per_image"] = json_number(ms_per_image);
  timings["images_per_s"] = json_number(images_per_s);
  json delta = nullptr;
  if (baseline != nullptr) {
    const DeltaInterval d =
        bootstrap_delta_miou(m.per_image, baseline->per_image, m.counts.num_labels());
    delta = {{"value", json_number(d.value)}, {"low", json_number(d.low)},
             {"high", json_number(d.high)},   {"confidence", 0.95},
             {"resamples", d.resamples},      {"seed", kBootstrapSeed},
             {"num_images", d.num_images}};
  }
  const bool sized = m.size.bytes > 0;
  return {{"name", m.name},
          {"spec", m.spec},
          {"metrics",
           {{"mean_iou", json_number(mt.mean_iou)},
            {"mean_accuracy", json_number(mt.mean_accuracy)},
            {"overall_accuracy", json_number(mt.overall_accuracy)},
            {"per_class_iou", iou},
            {"per_class_accuracy", acc},
            {"devkit_mean_iou", json_number(mt.devkit_mean_iou)},
            {"devkit_mean_accuracy", json_number(mt.devkit_mean_accuracy)},
            {"num_classes_present", mt.num_classes_present}}},
          {"size_bytes", sized ? json(m.size.bytes) : json(nullptr)},
          {"size_mb", sized ? json(m.size.bytes / 1e6) : json(nullptr)},
          {"num_params", sized ? json(m.size.params) : json(nullptr)},
          {"bits_per_weight", sized ? json(m.size.bits_per_weight()) : json(nullptr)},
          {"compression", sized ? json(m.size.compression_vs_fp32()) : json(nullptr)},
          {"delta_miou_vs_fp32", delta},
          {"agreement_vs_fp32", json_number(mean_agreement(m.per_image))},
          {"logit_nmse_vs_fp32", json_number(mean_logit_nmse(m.per_image))},
          {"ms_per_image", json_number(ms_per_image)},
          {"images_per_s", json_number(images_per_s)},
          {"per_class", per_class},
          {"confusion_matrix", matrix_json(m.counts)},
          {"pred_out_of_range", m.counts.pred_out_of_range()},
          {"num_images", m.counts.num_images()},
          {"num_pixels", m.counts.num_pixels()},
          {"num_skipped", m.skipped.size()},
          {"skipped", skipped_json(m.skipped)},
          {"timings", timings},
          {"per_image", per_image_json(m.per_image)}};
}

json results_json(const ShardState& run) {
  SEGQ_CHECK(run.shard.count == 1, "results.json needs the whole run (got shard ", run.shard.index,
             "/", run.shard.count, "); merge the shards first");
  SEGQ_CHECK(run.complete(), "results.json needs a complete run");
  const json& fp = run.fingerprint;
  const MethodResult* baseline = nullptr;
  for (const MethodResult& m : run.methods) {
    if (m.spec == fp32_method().spec) {
      baseline = &m;
      break;
    }
  }
  const json class_names = run.info.value("class_names", json::array());
  json methods = json::array();
  for (const MethodResult& m : run.methods) {
    methods.push_back(method_results_json(m, baseline, class_names));
  }
  json samples = json::array();
  for (const json& id : run.info.value("preview_ids", json::array())) {
    const std::string dir = "samples/" + id.get<std::string>() + "/";
    json preds = json::object();
    for (const MethodResult& m : run.methods) {
      preds[m.name] = dir + method_file_stem(m.name) + ".png";
    }
    samples.push_back({{"id", id},
                       {"image", dir + "image.png"},
                       {"label", dir + "label.png"},
                       {"predictions", preds}});
  }
  return {{"kind", "segq-results"},
          {"schema_version", kResultsSchemaVersion},
          {"segq_version", fp.value("segq_version", "")},
          {"fingerprint_sha256", fingerprint_sha256(fp)},
          {"fingerprint", fp},
          {"info", run.info},
          {"num_shards", run.info.value("num_shards", 1)},
          {"model", fp.value("model", json::object())},
          {"dataset", fp.value("dataset", json::object())},
          {"protocol", fp.value("protocol", "")},
          {"num_labels", fp.value("num_labels", 0)},
          {"ignore_index", kIgnoreLabel},
          {"baseline", baseline ? json(baseline->name) : json(nullptr)},
          {"methods", methods},
          {"samples", samples}};
}

void write_results_file(const std::string& path, const ShardState& run) {
  write_file_atomic(path, results_json(run).dump(1) + "\n");
}

namespace {

std::string fixed(const json& v, int decimals, double scale = 1) {
  if (!v.is_number()) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, scale * v.get<double>());
  return buf;
}

std::string signed_pct(const json& v) {
  if (!v.is_number()) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.2f", 100.0 * v.get<double>());
  return buf;
}

}  // namespace

std::string results_summary(const json& results) {
  const std::vector<std::string> head = {"method",  "bits/w",   "size MB", "compr.",
                                         "mIoU",    "mAcc",     "aAcc",    "dmIoU [95% CI]",
                                         "agree %", "ms/image", "images/s"};
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> notes;
  for (const json& m : results.at("methods")) {
    const json& mt = m.at("metrics");
    std::string delta = "n/a";
    const json d = m.value("delta_miou_vs_fp32", json());
    if (d.is_object()) {
      delta = str_cat(signed_pct(d.at("value")), " [", signed_pct(d.at("low")), ", ",
                      signed_pct(d.at("high")), "]");
    }
    const json none;
    rows.push_back(
        {m.at("name").get<std::string>(), fixed(m.value("bits_per_weight", none), 2),
         fixed(m.value("size_mb", none), 2),
         m.value("compression", none).is_number() ? fixed(m.at("compression"), 2) + "x" : "n/a",
         fixed(mt.at("mean_iou"), 2, 100), fixed(mt.at("mean_accuracy"), 2, 100),
         fixed(mt.at("overall_accuracy"), 2, 100), delta,
         fixed(m.value("agreement_vs_fp32", none), 2, 100),
         fixed(m.value("ms_per_image", m.at("timings").value("ms_per_image", none)), 1),
         fixed(m.value("images_per_s", m.at("timings").value("images_per_s", none)), 1)});
    if (m.at("num_skipped").get<uint64_t>() > 0) {
      notes.push_back(str_cat(m.at("name").get<std::string>(), ": ",
                              m.at("num_skipped").get<uint64_t>(), " samples skipped"));
    }
  }
  std::vector<size_t> width(head.size());
  for (size_t c = 0; c < head.size(); ++c) {
    width[c] = head[c].size();
    for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string pad(width[c] - cells[c].size(), ' ');
      out += c == 0 ? cells[c] + pad : "  " + pad + cells[c];  // method left, numbers right
    }
    return out + "\n";
  };
  std::string out = line(head);
  for (const auto& r : rows) out += line(r);
  const uint64_t images =
      results.at("methods").empty() ? 0 : results.at("methods")[0].at("num_images").get<uint64_t>();
  out += str_cat(images,
                 " images; mIoU, mAcc, aAcc and agreement in %; dmIoU = mIoU - fp32 mIoU "
                 "in points, paired bootstrap over images\n");
  for (const std::string& n : notes) out += "  (" + n + ")\n";
  return out;
}

}  // namespace segq
