#include "report/run_results.h"

#include <cmath>
#include <filesystem>
#include <limits>

#include "core/error.h"
#include "io/file_util.h"

namespace segq::report {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string join_field(const std::string& a, const std::string& b) {
  return a.empty() ? b : a + "." + b;
}

// Errors name the file and the field path.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& expected,
                         const json& got) const {
    throw Error(str_cat(file_, ": field '", field, "': expected ", expected, ", got ",
                        got.type_name(), got.is_primitive() ? " " + got.dump() : std::string()));
  }

  // The value at a dotted path under `j` ("metrics.mean_iou"), or nullptr when a step is absent.
  static const json* find(const json& j, const std::string& dotted) {
    const json* cur = &j;
    size_t start = 0;
    while (true) {
      const size_t dot = dotted.find('.', start);
      const std::string key = dotted.substr(start, dot == std::string::npos ? dot : dot - start);
      if (!cur->is_object()) return nullptr;
      auto it = cur->find(key);
      if (it == cur->end()) return nullptr;
      cur = &*it;
      if (dot == std::string::npos) return cur;
      start = dot + 1;
    }
  }

  // The first of `paths` present under `j` as a number; absent/null -> NaN.
  double number(const json& j, const std::string& where,
                std::initializer_list<const char*> paths) const {
    for (const char* p : paths) {
      const json* v = find(j, p);
      if (!v) continue;
      if (v->is_null()) return kNaN;
      if (!v->is_number()) fail(join_field(where, p), "a number or null", *v);
      return v->get<double>();
    }
    return kNaN;
  }

  std::string string(const json& j, const std::string& where, const char* key, bool required,
                     const std::string& fallback = "") const {
    const json* v = find(j, key);
    if (!v || v->is_null()) {
      if (required) throw Error(str_cat(file_, ": missing field '", join_field(where, key), "'"));
      return fallback;
    }
    if (!v->is_string()) fail(join_field(where, key), "a string", *v);
    return v->get<std::string>();
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

// A readable name for "model" / "dataset": a string, or an object's name-like field.
std::string describe(const json* v) {
  if (!v || v->is_null()) return "";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object()) {
    for (const char* k : {"name", "id", "repo_id", "description", "path"}) {
      auto it = v->find(k);
      if (it != v->end() && it->is_string() && !it->get<std::string>().empty()) {
        return it->get<std::string>();
      }
    }
  }
  return "";
}

// The first object named "id2label" anywhere in `j` (depth first), or nullptr.
const json* find_id2label(const json& j, int depth = 0) {
  if (!j.is_object() || depth > 6) return nullptr;
  auto it = j.find("id2label");
  if (it != j.end() && it->is_object()) return &*it;
  for (const auto& [key, child] : j.items()) {
    if (const json* found = find_id2label(child, depth + 1)) return found;
  }
  return nullptr;
}

// A relative path inside the run directory; "" when absent or null.
std::string sample_path(const Reader& r, const json* v, const std::string& field) {
  if (!v || v->is_null()) return "";
  if (!v->is_string()) r.fail(field, "a string (a path inside the run directory)", *v);
  const std::string p = v->get<std::string>();
  const fs::path path(p);
  bool escapes = path.is_absolute();
  for (const fs::path& part : path) escapes = escapes || part == "..";
  if (escapes) {
    throw Error(str_cat(r.file(), ": field '", field, "': expected a path inside the run ",
                        "directory, got \"", p, "\""));
  }
  return p;
}

MethodSummary parse_method(const Reader& r, const json& m, const std::string& where,
                           const json* id2label, const json* class_names) {
  if (!m.is_object()) r.fail(where, "an object", m);
  MethodSummary s;
  s.name = r.string(m, where, "name", true);
  s.spec = r.string(m, where, "spec", false, s.name);
  s.num_images = r.number(m, where, {"num_images"});
  s.mean_iou = r.number(m, where, {"mean_iou", "metrics.mean_iou"});
  s.mean_accuracy = r.number(m, where, {"mean_accuracy", "metrics.mean_accuracy"});
  s.overall_accuracy = r.number(m, where, {"overall_accuracy", "metrics.overall_accuracy"});
  s.size_bytes = r.number(m, where, {"size_bytes", "size.bytes", "size.total_bytes"});
  s.size_mb = r.number(m, where, {"size_mb", "size.mb"});
  if (std::isnan(s.size_mb) && !std::isnan(s.size_bytes)) s.size_mb = s.size_bytes / 1e6;
  s.bits_per_weight = r.number(m, where, {"bits_per_weight", "size.bits_per_weight"});
  s.compression = r.number(m, where, {"compression", "size.compression"});
  s.agreement_vs_fp32 = r.number(m, where, {"agreement_vs_fp32", "metrics.agreement_vs_fp32"});
  s.logit_nmse_vs_fp32 = r.number(m, where, {"logit_nmse_vs_fp32", "metrics.logit_nmse_vs_fp32"});
  s.ms_per_image = r.number(m, where, {"ms_per_image", "timings.ms_per_image"});
  s.images_per_s = r.number(m, where, {"images_per_s", "timings.images_per_s"});

  s.delta_miou = {kNaN, kNaN, kNaN};
  for (const char* key : {"delta_miou_vs_fp32", "metrics.delta_miou_vs_fp32"}) {
    const json* d = Reader::find(m, key);
    if (!d) continue;
    const std::string field = join_field(where, key);
    if (d->is_number()) {
      s.delta_miou.value = d->get<double>();
    } else if (d->is_object()) {
      s.delta_miou = {r.number(*d, field, {"value"}), r.number(*d, field, {"low"}),
                      r.number(*d, field, {"high"})};
    } else if (!d->is_null()) {
      r.fail(field, "an object {value, low, high}, a number or null", *d);
    }
    break;
  }

  auto class_name = [&](int id) {
    const std::string key = std::to_string(id);
    if (class_names && static_cast<size_t>(id) < class_names->size() &&
        (*class_names)[id].is_string()) {
      return (*class_names)[id].get<std::string>();
    }
    if (id2label && id2label->contains(key) && id2label->at(key).is_string()) {
      return id2label->at(key).get<std::string>();
    }
    return str_cat("class ", id);
  };
  if (const json* pc = Reader::find(m, "per_class")) {
    const std::string field = join_field(where, "per_class");
    if (!pc->is_array()) r.fail(field, "an array", *pc);
    for (size_t i = 0; i < pc->size(); ++i) {
      const json& c = (*pc)[i];
      const std::string cw = str_cat(field, "[", i, "]");
      if (!c.is_object()) r.fail(cw, "an object", c);
      ClassResult cr;
      const double id = r.number(c, cw, {"id"});
      cr.id = std::isnan(id) ? static_cast<int>(i) : static_cast<int>(id);
      cr.name = r.string(c, cw, "name", false);
      if (cr.name.empty()) cr.name = class_name(cr.id);
      cr.iou = r.number(c, cw, {"iou"});
      cr.accuracy = r.number(c, cw, {"accuracy"});
      s.per_class.push_back(std::move(cr));
    }
  } else if (const json* ious = Reader::find(m, "metrics.per_class_iou")) {
    const std::string field = join_field(where, "metrics.per_class_iou");
    if (!ious->is_array()) r.fail(field, "an array", *ious);
    const json* accs = Reader::find(m, "metrics.per_class_accuracy");
    if (accs && !accs->is_array()) {
      r.fail(join_field(where, "metrics.per_class_accuracy"), "an array", *accs);
    }
    for (size_t i = 0; i < ious->size(); ++i) {
      ClassResult cr;
      cr.id = static_cast<int>(i);
      cr.name = class_name(cr.id);
      const json& v = (*ious)[i];
      if (!v.is_null() && !v.is_number())
        r.fail(str_cat(field, "[", i, "]"), "a number or null", v);
      cr.iou = v.is_number() ? v.get<double>() : kNaN;
      cr.accuracy = kNaN;
      if (accs && i < accs->size()) {
        const json& a = (*accs)[i];
        if (!a.is_null() && !a.is_number()) {
          r.fail(str_cat(where, ".metrics.per_class_accuracy[", i, "]"), "a number or null", a);
        }
        if (a.is_number()) cr.accuracy = a.get<double>();
      }
      s.per_class.push_back(std::move(cr));
    }
  }
  return s;
}

void flatten_into(const json& j, const std::string& prefix, size_t max_array,
                  std::vector<std::pair<std::string, std::string>>* out) {
  if (j.is_object() && !j.empty()) {
    for (const auto& [key, child] : j.items()) {
      flatten_into(child, prefix.empty() ? key : prefix + "." + key, max_array, out);
    }
    return;
  }
  std::string value;
  if (j.is_string()) {
    value = j.get<std::string>();
  } else if (j.is_array() && j.size() > max_array) {
    value = str_cat("[", j.size(), " values]");
  } else {
    value = j.dump();
  }
  out->emplace_back(prefix, value);
}

json read_json_file(const std::string& path) {
  try {
    return json::parse(read_file(path));
  } catch (const json::exception& e) {
    throw Error(str_cat(path, ": malformed JSON: ", e.what()));
  }
}

}  // namespace

std::vector<std::pair<std::string, std::string>> flatten_settings(const json& j, size_t max_array) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!j.is_null()) flatten_into(j, "", max_array, &out);
  return out;
}

RunResults parse_run(const json& results, const std::string& results_path, const json& config,
                     const std::string& config_path) {
  const Reader r(results_path);
  if (!results.is_object()) r.fail("(top level)", "an object", results);
  const std::string kind = r.string(results, "", "kind", true);
  if (kind != "segq-results") {
    throw Error(
        str_cat(results_path, ": field 'kind': expected \"segq-results\", got \"", kind, "\""));
  }
  if (!config.is_null() && !config.is_object()) {
    Reader(config_path).fail("(top level)", "an object", config);
  }
  RunResults run;
  run.results_path = results_path;
  run.run_dir = fs::path(results_path).parent_path().string();
  run.segq_version = r.string(results, "", "segq_version", false);

  auto name_of = [&](const char* key, std::initializer_list<const char*> info_keys) {
    std::string s = describe(Reader::find(results, key));
    if (s.empty() && config.is_object()) s = describe(Reader::find(config, key));
    for (const char* k : info_keys) {
      if (s.empty()) s = describe(Reader::find(results, k));
    }
    return s.empty() ? std::string("n/a") : s;
  };
  run.model = name_of("model", {"info.model"});
  run.dataset = name_of("dataset", {"info.data"});

  const json* id2label = find_id2label(results);
  if (!id2label && config.is_object()) id2label = find_id2label(config);
  const json* class_names = Reader::find(results, "class_names");
  if (class_names && !class_names->is_array()) r.fail("class_names", "an array", *class_names);

  const json* methods = Reader::find(results, "methods");
  if (!methods) throw Error(str_cat(results_path, ": missing field 'methods'"));
  if (!methods->is_array()) r.fail("methods", "an array", *methods);
  for (size_t i = 0; i < methods->size(); ++i) {
    run.methods.push_back(
        parse_method(r, (*methods)[i], str_cat("methods[", i, "]"), id2label, class_names));
  }
  for (size_t i = 0; i < run.methods.size() && run.baseline < 0; ++i) {
    if (run.methods[i].name == "fp32" || run.methods[i].spec == "fp32") {
      run.baseline = static_cast<int>(i);
    }
  }
  if (run.baseline >= 0) {
    const double base = run.methods[run.baseline].mean_iou;
    for (MethodSummary& m : run.methods) {
      if (std::isnan(m.delta_miou.value)) m.delta_miou.value = m.mean_iou - base;
    }
  }

  if (const json* samples = Reader::find(results, "samples")) {
    if (!samples->is_array()) r.fail("samples", "an array", *samples);
    for (size_t i = 0; i < samples->size(); ++i) {
      const json& s = (*samples)[i];
      const std::string where = str_cat("samples[", i, "]");
      if (!s.is_object()) r.fail(where, "an object", s);
      SampleEntry e;
      e.id = r.string(s, where, "id", false, str_cat("sample ", i));
      e.image = sample_path(r, Reader::find(s, "image"), where + ".image");
      e.label = sample_path(r, Reader::find(s, "label"), where + ".label");
      if (const json* preds = Reader::find(s, "predictions")) {
        if (!preds->is_object()) r.fail(where + ".predictions", "an object", *preds);
        for (const auto& [method, path] : preds->items()) {
          e.predictions.emplace_back(method,
                                     sample_path(r, &path, where + ".predictions." + method));
        }
      }
      run.samples.push_back(std::move(e));
    }
  }

  if (config.is_object()) {
    run.settings = flatten_settings(config);
    run.settings_from_config = true;
  } else {
    for (const char* key : {"info", "fingerprint"}) {
      if (const json* j = Reader::find(results, key)) {
        for (auto& row : flatten_settings(*j)) {
          run.settings.emplace_back(str_cat(key, ".", row.first), std::move(row.second));
        }
      }
    }
  }
  return run;
}

RunResults read_run(const std::string& run_dir) {
  const std::string results_path = (fs::path(run_dir) / "results.json").string();
  if (!fs::is_regular_file(results_path)) {
    throw UsageError(str_cat(results_path, ": no such file (is ", run_dir,
                             " a finished segq eval run directory?)"));
  }
  const std::string config_path = (fs::path(run_dir) / "config.json").string();
  const json config = fs::is_regular_file(config_path) ? read_json_file(config_path) : json();
  RunResults run = parse_run(read_json_file(results_path), results_path, config, config_path);
  run.run_dir = run_dir;
  return run;
}

}  // namespace segq::report
