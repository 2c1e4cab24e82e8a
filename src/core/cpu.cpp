#include "core/cpu.h"

#include <cstdlib>
#include <fstream>

namespace segq {

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures c;
    __builtin_cpu_init();
    c.avx2 = __builtin_cpu_supports("avx2");
    c.fma = __builtin_cpu_supports("fma");
    c.f16c = __builtin_cpu_supports("f16c");
    c.bmi2 = __builtin_cpu_supports("bmi2");
    return c;
  }();
  return f;
}

bool use_avx2() {
  static const bool on = [] {
    const char* force = std::getenv("SEGQ_FORCE_SCALAR");
    if (force && *force && std::string(force) != "0") return false;
    const CpuFeatures& f = cpu_features();
    return f.avx2 && f.fma && f.f16c && f.bmi2;
  }();
  return on;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(colon + 1);
        while (!name.empty() && name.front() == ' ') name.erase(name.begin());
        return name;
      }
    }
  }
  return "unknown";
}

}  // namespace segq
