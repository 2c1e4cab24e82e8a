#include "eval/evaluator.h"

#include <malloc.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "eval/compare.h"
#include "eval/index_png.h"
#include "eval/palette.h"
#include "io/file_util.h"
#include "kernels/upsample_argmax.h"
#include "quant/size_report.h"

namespace segq {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_interrupt{false};

extern "C" void on_interrupt_signal(int) { g_interrupt.store(true); }

// Peak resident memory of this process so far (VmHWM), in bytes; 0 if unknown.
uint64_t vm_hwm_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// The fp32 baseline's output for one image, to compare a method with.
struct Reference {
  const float* logits = nullptr;  // [h, w, L] at the logits resolution; null: no comparison
  bool self = false;              // the method is the baseline itself
};

// Counts one batch's predictions. Scratch buffers per pool thread, reused across images.
class Scorer {
 public:
  Scorer(int num_labels, std::string save_dir, std::string samples_dir,
         const std::set<std::string>* preview_ids, const std::function<ImageU8(size_t)>* load_rgb)
      : num_labels_(num_labels),
        save_dir_(std::move(save_dir)),
        samples_dir_(std::move(samples_dir)),
        preview_ids_(preview_ids),
        load_rgb_(load_rgb) {}

  // logits: [h, w, L] of one sample. Returns the seconds spent on the reference comparison.
  double score(const float* logits, int h, int w, const PreparedSample& s, bool skip_bad,
               const Reference& ref, MethodResult* r) {
    std::vector<std::pair<int, int>> chain = s.logits_resize_chain;
    if (chain.empty() || chain.back() != std::make_pair(s.label_h, s.label_w)) {
      throw Error(str_cat(s.id, ": resize chain does not end at the label size ", s.label_h, "x",
                          s.label_w));
    }
    const UpsampleArgmaxPlan plan(h, w, num_labels_, chain);
    run_plan(plan, logits, &pred_);
    if (s.labels.size() != pred_.size()) {
      throw Error(str_cat(s.id, ": ", s.labels.size(), " labels for a ", s.label_h, "x", s.label_w,
                          " map"));
    }
    ImageCounts counts;
    try {
      counts = r->counts.add_image(s.id, pred_.data(), s.labels.data(), s.labels.size());
    } catch (const Error& e) {
      if (!skip_bad) throw;
      log_warn("skipping ", s.id, ": ", e.what());
      r->skipped.push_back({s.id, e.what()});
      return 0;
    }
    Stopwatch compare_time;
    if (ref.self) {
      counts.agree_pixels = counts.compared_pixels = pred_.size();
      counts.logit_nmse = 0;
    } else if (ref.logits != nullptr) {
      run_plan(plan, ref.logits, &ref_pred_);
      counts.agree_pixels = count_equal(pred_.data(), ref_pred_.data(), pred_.size());
      counts.compared_pixels = pred_.size();
      counts.logit_nmse = logit_nmse(logits, ref.logits, static_cast<size_t>(h) * w * num_labels_);
    }
    const double compare_s = ref.self ? 0 : compare_time.seconds();
    r->per_image.push_back(std::move(counts));
    if (!save_dir_.empty()) {
      const std::string path = (fs::path(save_dir_) / r->name / (s.id + ".png")).string();
      write_file_atomic(path, encode_index_png(pred_.data(), plan.out_h(), plan.out_w()));
    }
    if (!samples_dir_.empty() && preview_ids_ && preview_ids_->count(s.id)) {
      write_previews(s, plan.out_h(), plan.out_w(), r->name);
    }
    return compare_s;
  }

 private:
  void run_plan(const UpsampleArgmaxPlan& plan, const float* logits, std::vector<uint8_t>* out) {
    out->resize(static_cast<size_t>(plan.out_h()) * plan.out_w());
    ThreadPool& pool = global_pool();
    scratch_.resize(pool.num_threads());
    for (auto& sc : scratch_) sc.resize(std::max(sc.size(), plan.scratch_floats()));
    const int ow = plan.out_w();
    pool.parallel_for(plan.out_h(), 8, [&](int64_t y0, int64_t y1, int t) {
      plan.run(logits, static_cast<int>(y0), static_cast<int>(y1),
               out->data() + static_cast<size_t>(y0) * ow, scratch_[t].data());
    });
  }

  void write_previews(const PreparedSample& s, int h, int w, const std::string& method) {
    const fs::path dir = fs::path(samples_dir_) / s.id;
    write_file_atomic((dir / (method_file_stem(method) + ".png")).string(),
                      encode_png(colourize_index_map(pred_.data(), h, w)));
    const fs::path label = dir / "label.png";
    if (!fs::exists(label)) {
      write_file_atomic(label.string(),
                        encode_png(colourize_index_map(s.labels.data(), s.label_h, s.label_w)));
    }
    const fs::path image = dir / "image.png";
    if (load_rgb_ && *load_rgb_ && !fs::exists(image)) {
      write_file_atomic(image.string(), encode_png((*load_rgb_)(s.index)));
    }
  }

  int num_labels_;
  std::string save_dir_;
  std::string samples_dir_;
  const std::set<std::string>* preview_ids_;
  const std::function<ImageU8(size_t)>* load_rgb_;
  std::vector<uint8_t> pred_, ref_pred_;
  std::vector<std::vector<float>> scratch_;
};

// The fp32 baseline's logits per image id, up to a byte budget.
class ReferenceCache {
 public:
  explicit ReferenceCache(size_t budget_bytes) : budget_bytes_(budget_bytes) {}
  void put(const std::string& id, const float* logits, size_t n) {
    if (map_.count(id) || used_bytes_ + n * sizeof(float) > budget_bytes_) return;
    map_.emplace(id, std::vector<float>(logits, logits + n));
    used_bytes_ += n * sizeof(float);
  }
  const float* find(const std::string& id, size_t n) const {
    const auto it = map_.find(id);
    return it != map_.end() && it->second.size() == n ? it->second.data() : nullptr;
  }

 private:
  size_t budget_bytes_;
  size_t used_bytes_ = 0;
  std::unordered_map<std::string, std::vector<float>> map_;
};

void check_resumable(const ShardState& saved, const EvalJob& job, const EvalOptions& opt,
                     const std::string& path) {
  if (!(saved.shard == opt.shard)) {
    throw UsageError(str_cat(path, " is shard ", saved.shard.index, "/", saved.shard.count,
                             ", this process is shard ", opt.shard.index, "/", opt.shard.count));
  }
  if (saved.fingerprint != job.fingerprint) {
    std::string diff;
    for (auto it = job.fingerprint.begin(); it != job.fingerprint.end(); ++it) {
      if (!saved.fingerprint.contains(it.key()) || saved.fingerprint.at(it.key()) != it.value()) {
        diff = it.key();
        break;
      }
    }
    throw UsageError(str_cat("--resume: the run in ", opt.out_dir,
                             " was started with different settings (fingerprint field '", diff,
                             "' differs); use another --out for this evaluation"));
  }
}

}  // namespace

json make_fingerprint(const FingerprintInputs& in) {
  std::string keys;
  for (const std::string& k : in.sample_keys) {
    keys += k;
    keys += '\n';
  }
  json model = in.model;
  model["sha256"] = in.model_sha256;
  json methods = json::array();
  for (const EvalMethod& m : in.methods) methods.push_back({{"name", m.name}, {"spec", m.spec}});
  return {{"segq_version", SEGQ_VERSION},
          {"model", model},
          {"dataset",
           {{"description", in.dataset_description},
            {"num_samples", in.sample_keys.size()},
            {"sample_list_sha256", sha256_hex(keys)}}},
          {"protocol", in.protocol},
          {"preprocess", in.preprocess},
          {"num_labels", in.num_labels},
          {"ignore_index", kIgnoreLabel},
          {"methods", methods}};
}

std::string method_file_stem(const std::string& method) {
  std::string out = method;
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

std::vector<std::string> preview_sample_ids(const std::vector<std::string>& sample_ids, int count) {
  std::vector<std::string> ids = sample_ids;
  std::sort(ids.begin(), ids.end());
  if (count >= 0 && ids.size() > static_cast<size_t>(count)) ids.resize(count);
  return ids;
}

std::string shard_file_path(const std::string& out_dir, const ShardSpec& shard) {
  return (fs::path(out_dir) / "shards" / shard_file_name(shard)).string();
}

const std::atomic<bool>& interrupt_flag() { return g_interrupt; }

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // a second Ctrl-C kills at once
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// glibc raises its mmap threshold each time a large mmapped block is freed; after that the
// per-image buffers (pixels, labels, logits) that worker threads allocate and the consumer frees
// come from heap arenas, whose fragmentation made peak RSS grow with the number of images (32 MB
// for 20 images, 120 MB for 2000 with the tiny model). A fixed threshold keeps large buffers in
// mmap, returned to the system when freed: RSS stays flat. MALLOC_MMAP_THRESHOLD_ still wins.
void fix_malloc_mmap_threshold() {
#ifdef __GLIBC__
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  });
#endif
}

ShardState run_evaluation(const EvalJob& job, const EvalOptions& opt, EvalObserver* observer) {
  fix_malloc_mmap_threshold();
  SEGQ_CHECK(job.fp32_weights != nullptr && job.make_model && job.prepare,
             "evaluation job without weights, model factory or sample preparation");
  SEGQ_CHECK(!job.methods.empty(), "evaluation job without methods");
  if (opt.out_dir.empty()) throw UsageError("no output directory");
  const std::string path = shard_file_path(opt.out_dir, opt.shard);

  ShardState state;
  if (fs::exists(path)) {
    if (!opt.resume) {
      throw UsageError(str_cat(path, " exists: ", opt.out_dir,
                               " holds a run already; pass --resume to continue it, or another "
                               "--out"));
    }
    state = read_shard_file(path);
    check_resumable(state, job, opt, path);
    state.info = job.info;
    log_info("resuming ", path);
  } else {
    state.shard = opt.shard;
    state.fingerprint = job.fingerprint;
    state.info = job.info;
  }
  // Debug hook for crash tests: SEGQ_DEBUG_KILL_AFTER_IMAGES=N[:INT|:TERM] sends this process
  // SIGKILL (as a node failure would: the progress since the last checkpoint is lost) or the given
  // signal after scoring N images, counted over every method of this call.
  const char* kill_env = std::getenv("SEGQ_DEBUG_KILL_AFTER_IMAGES");
  const uint64_t kill_after = kill_env ? std::strtoull(kill_env, nullptr, 10) : 0;
  const std::string kill_how =
      kill_env && std::strchr(kill_env, ':') ? std::strchr(kill_env, ':') + 1 : "";
  const int kill_signal = kill_how == "INT" ? SIGINT : kill_how == "TERM" ? SIGTERM : SIGKILL;
  uint64_t images_this_call = 0;
  const uint64_t expected = state.expected_samples();
  SEGQ_CHECK(job.sample_ids.size() == job.fingerprint.at("dataset").at("num_samples").get<size_t>(),
             "job sample list and fingerprint disagree");
  const std::vector<size_t> shard_samples = shard_indices(job.sample_ids.size(), opt.shard);
  // The baseline every other method is compared with: the fp32 method, when evaluated.
  int baseline = -1;
  for (size_t k = 0; k < job.methods.size() && baseline < 0; ++k) {
    if (job.methods[k].spec == fp32_method().spec) baseline = static_cast<int>(k);
  }
  // Keep the baseline's logits only when a later method of this call will compare with them.
  bool cache_reference = false;
  for (size_t k = baseline + 1; baseline >= 0 && k < job.methods.size(); ++k) {
    cache_reference = cache_reference || k >= state.methods.size() || !state.methods[k].complete;
  }
  ReferenceCache ref_cache(cache_reference ? opt.reference_cache_bytes : 0);
  std::unique_ptr<Model> fp32_model;  // made when a batch's reference logits are not cached
  const std::vector<std::string> previews =
      opt.samples_dir.empty() ? std::vector<std::string>{}
                              : preview_sample_ids(job.sample_ids, opt.num_preview_samples);
  const std::set<std::string> preview_set(previews.begin(), previews.end());

  for (size_t k = 0; k < job.methods.size(); ++k) {
    const EvalMethod& method = job.methods[k];
    if (k == state.methods.size()) {
      MethodResult fresh;
      fresh.name = method.name;
      fresh.spec = method.spec;
      fresh.counts = SegmentationCounts(job.num_labels);
      state.methods.push_back(std::move(fresh));
    }
    MethodResult& r = state.methods[k];
    if (r.complete) {
      log_info(method.name, ": already complete in ", path);
      if (observer) observer->method_restored(r);
      continue;
    }
    std::unordered_set<std::string> done;
    for (const ImageCounts& im : r.per_image) done.insert(im.id);
    for (const SkippedSample& s : r.skipped) done.insert(s.id);
    std::vector<size_t> todo;
    for (size_t i : shard_samples) {
      if (!done.count(job.sample_ids[i])) todo.push_back(i);
    }
    if (!opt.save_preds_dir.empty() && !done.empty()) {
      log_warn(method.name, ": ", done.size(),
               " samples were counted before this resume; their predictions are in ",
               opt.save_preds_dir, " only if that run had --save-preds too");
    }
    if (observer) observer->method_started(method, expected, expected - todo.size());

    Stopwatch wall;
    double last_checkpoint = now_seconds();
    uint64_t images_since_checkpoint = 0;
    auto checkpoint = [&] {
      r.timings.wall_s += wall.seconds();
      wall.reset();
      r.timings.peak_rss_bytes = std::max(r.timings.peak_rss_bytes, vm_hwm_bytes());
      write_shard_file(path, state);
      last_checkpoint = now_seconds();
      images_since_checkpoint = 0;
    };
    try {
      Stopwatch weights_time;
      std::unique_ptr<Model> model;
      if (!todo.empty()) {
        const WeightSet weights = method.make_weights(*job.fp32_weights);
        const SizeReport size = make_size_report(weights, method.name);
        r.size = {size.total_bytes, size.total_params, size.quantized_params};
        model = job.make_model(weights);
        SEGQ_CHECK(model->num_labels() == job.num_labels, "method ", method.name, ": model has ",
                   model->num_labels(), " labels, the run expects ", job.num_labels);
      }
      r.timings.weights_s += weights_time.seconds();
      BatcherOptions bo;
      bo.batch_size = opt.batch_size;
      bo.num_workers = opt.data_workers;
      bo.skip_bad = opt.skip_bad;
      bo.is_bad_sample = opt.is_bad_sample;
      StreamingBatcher batcher(
          todo, job.prepare, [&](size_t i) { return job.sample_ids[i]; }, bo);
      Scorer scorer(job.num_labels, opt.save_preds_dir, opt.samples_dir, &preview_set,
                    &job.load_rgb);
      const bool is_baseline = static_cast<int>(k) == baseline;
      for (;;) {
        if (opt.interrupt && opt.interrupt->load()) {
          batcher.stop();
          checkpoint();
          throw Interrupted(str_cat("interrupted: progress saved in ", path,
                                    "; continue with --resume --out ", opt.out_dir));
        }
        Stopwatch wait;
        std::optional<Batch> batch = batcher.next();
        r.timings.data_wait_s += wait.seconds();
        for (BadSample& b : batcher.take_bad_samples()) {
          log_warn("skipping ", b.id, ": ", b.reason);
          r.skipped.push_back({b.id, b.reason});
        }
        if (!batch) break;
        Stopwatch fwd;
        const Tensor logits = model->forward(batch->pixels);
        r.timings.model_s += fwd.seconds();
        const int64_t bsz = static_cast<int64_t>(batch->samples.size());
        SEGQ_CHECK(logits.ndim() == 4 && logits.dim(0) == bsz && logits.dim(3) == job.num_labels,
                   "model returned logits ", shape_str(logits.shape()), " for a batch of ", bsz,
                   ", expected [", bsz, ", h, w, ", job.num_labels, "]");
        const int h = static_cast<int>(logits.dim(1)), w = static_cast<int>(logits.dim(2));
        const float* base = logits.data<float>();
        const size_t per_image = static_cast<size_t>(h) * w * job.num_labels;
        // The baseline's logits of this batch: cached, or the fp32 forward again.
        Stopwatch reference_time;
        Tensor ref_logits;
        std::vector<const float*> refs(static_cast<size_t>(bsz), nullptr);
        if (is_baseline) {  // its own reference: nothing to compute, maybe logits to keep
          for (int64_t b = 0; b < bsz && cache_reference; ++b) {
            ref_cache.put(batch->samples[b].id, base + b * per_image, per_image);
          }
        } else if (baseline >= 0) {
          bool all_cached = true;
          for (int64_t b = 0; b < bsz; ++b) {
            refs[b] = ref_cache.find(batch->samples[b].id, per_image);
            all_cached = all_cached && refs[b] != nullptr;
          }
          if (!all_cached) {
            if (!fp32_model) fp32_model = job.make_model(*job.fp32_weights);
            ref_logits = fp32_model->forward(batch->pixels);
            SEGQ_CHECK(ref_logits.shape() == logits.shape(), "fp32 logits ",
                       shape_str(ref_logits.shape()), " vs ", shape_str(logits.shape()));
            for (int64_t b = 0; b < bsz; ++b) {
              refs[b] = ref_logits.data<float>() + b * per_image;
            }
          }
        }
        const double reference_forward_s = reference_time.seconds();
        double compare_s = 0;
        Stopwatch post;
        for (int64_t b = 0; b < bsz; ++b) {
          Reference ref;
          ref.self = is_baseline;
          ref.logits = refs[b];
          compare_s +=
              scorer.score(base + b * per_image, h, w, batch->samples[b], opt.skip_bad, ref, &r);
          if (kill_after > 0 && ++images_this_call == kill_after) ::raise(kill_signal);
        }
        r.timings.reference_s += reference_forward_s + compare_s;
        r.timings.postprocess_s += post.seconds() - compare_s;
        images_since_checkpoint += static_cast<uint64_t>(bsz);
        if (observer) observer->progress(r, expected);
        if ((opt.checkpoint_every_images > 0 &&
             images_since_checkpoint >= static_cast<uint64_t>(opt.checkpoint_every_images)) ||
            now_seconds() - last_checkpoint >= opt.checkpoint_interval_s) {
          checkpoint();
        }
      }
    } catch (const Interrupted&) {
      throw;
    } catch (...) {
      try {
        checkpoint();
      } catch (const std::exception& e) {
        log_error("could not save progress to ", path, ": ", e.what());
      }
      throw;
    }
    const uint64_t seen = r.counts.num_images() + r.skipped.size();
    SEGQ_CHECK(seen == expected, "method ", method.name, ": accounted for ", seen, " of ", expected,
               " samples");
    r.complete = true;
    checkpoint();
    log_info(method.name, ": ", r.counts.num_images(), " images scored",
             r.skipped.empty() ? "" : str_cat(", ", r.skipped.size(), " skipped"));
    if (observer) observer->method_finished(r);
  }
  write_shard_file(path, state);
  if (opt.shard.count == 1) {
    write_results_file((fs::path(opt.out_dir) / "results.json").string(), state);
  }
  return state;
}

}  // namespace segq
