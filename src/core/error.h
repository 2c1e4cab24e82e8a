// Errors at boundaries (files, network, user input) are exceptions carrying context: which file,
// tensor or field, and what was expected. Programmer errors inside kernels are asserts.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace segq {

// Concatenates its arguments with operator<< (g++ 12 has no <format>).
template <class... Args>
std::string str_cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

// A failure during a run: bad input data, I/O, network. Exit code 1.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// The user asked for something that cannot be done as asked (unknown method, bad flag value,
// missing input folder). Exit code 2.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what) {}
};

// The run was interrupted (SIGINT/SIGTERM); partial results are on disk and resumable.
class Interrupted : public Error {
 public:
  explicit Interrupted(const std::string& what = "interrupted") : Error(what) {}
};

}  // namespace segq

// Throws segq::Error with the streamed message when cond is false.
#define SEGQ_CHECK(cond, ...)                                \
  do {                                                       \
    if (!(cond)) throw ::segq::Error(::segq::str_cat(__VA_ARGS__)); \
  } while (0)
