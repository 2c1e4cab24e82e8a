#include "track/events.h"

#include <chrono>

namespace segq::track {

double unix_now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string model_short_name(const std::string& model_id) {
  std::string id = model_id;
  while (!id.empty() && id.back() == '/') id.pop_back();
  const size_t slash = id.find_last_of('/');
  return slash == std::string::npos ? id : id.substr(slash + 1);
}

nlohmann::json summary_values(const MethodSummary& s) {
  nlohmann::json j = {{"mean_iou", s.metrics.mean_iou},
                      {"mean_accuracy", s.metrics.mean_accuracy},
                      {"overall_accuracy", s.metrics.overall_accuracy},
                      {"size_bytes", s.size_bytes},
                      {"size_mb", s.size_mb},
                      {"bits_per_weight", s.bits_per_weight},
                      {"compression", s.compression},
                      {"ms_per_image", s.ms_per_image},
                      {"images_per_s", s.images_per_s},
                      {"num_images", s.num_images}};
  if (s.delta_miou_vs_fp32) j["delta_miou_vs_fp32"] = *s.delta_miou_vs_fp32;
  if (s.delta_miou_ci95_low) j["delta_miou_vs_fp32_ci95_low"] = *s.delta_miou_ci95_low;
  if (s.delta_miou_ci95_high) j["delta_miou_vs_fp32_ci95_high"] = *s.delta_miou_ci95_high;
  if (s.agreement_vs_fp32) j["agreement_vs_fp32"] = *s.agreement_vs_fp32;
  if (s.extra.is_object()) {
    for (const auto& [key, value] : s.extra.items()) j[key] = value;
  }
  return j;
}

}  // namespace segq::track
