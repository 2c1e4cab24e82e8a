// Leveled logging to stderr. Level from SEGQ_LOG (error|warn|info|debug), default info.
#pragma once

#include "core/error.h"

namespace segq {

enum class LogLevel { Error = 0, Warn = 1, Info = 2, Debug = 3 };

LogLevel log_level();
void set_log_level(LogLevel level);
void log_write(LogLevel level, const std::string& message);

template <class... Args>
void log_info(Args&&... args) {
  if (log_level() >= LogLevel::Info) log_write(LogLevel::Info, str_cat(std::forward<Args>(args)...));
}
template <class... Args>
void log_warn(Args&&... args) {
  if (log_level() >= LogLevel::Warn) log_write(LogLevel::Warn, str_cat(std::forward<Args>(args)...));
}
template <class... Args>
void log_debug(Args&&... args) {
  if (log_level() >= LogLevel::Debug) log_write(LogLevel::Debug, str_cat(std::forward<Args>(args)...));
}
template <class... Args>
void log_error(Args&&... args) {
  log_write(LogLevel::Error, str_cat(std::forward<Args>(args)...));
}

}  // namespace segq
