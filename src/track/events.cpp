#include "track/events.h"

#include <chrono>

#include "track/event_json.h"

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
  // The event's JSON form without its nested "extra", whose entries are flattened in instead.
  nlohmann::json j = method_summary_to_json(s);
  j.erase("extra");
  if (s.extra.is_object()) {
    for (const auto& [key, value] : s.extra.items()) j[key] = value;
  }
  return j;
}

}  // namespace segq::track
