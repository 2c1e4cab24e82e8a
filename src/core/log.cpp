#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace segq {

namespace {
std::atomic<int> g_level = [] {
  const char* env = std::getenv("SEGQ_LOG");
  if (!env) return static_cast<int>(LogLevel::Info);
  if (!std::strcmp(env, "error")) return static_cast<int>(LogLevel::Error);
  if (!std::strcmp(env, "warn")) return static_cast<int>(LogLevel::Warn);
  if (!std::strcmp(env, "debug")) return static_cast<int>(LogLevel::Debug);
  return static_cast<int>(LogLevel::Info);
}();
std::mutex g_log_mu;
}  // namespace

LogLevel log_level() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }
void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }

void log_write(LogLevel level, const std::string& message) {
  static const char* prefix[] = {"error: ", "warning: ", "", "debug: "};
  std::lock_guard<std::mutex> lock(g_log_mu);
  std::fprintf(stderr, "%s%s\n", prefix[static_cast<int>(level)], message.c_str());
}

}  // namespace segq
