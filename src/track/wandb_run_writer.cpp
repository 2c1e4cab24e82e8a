#include "track/wandb_run_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string_view>

#include "core/error.h"
#include "io/file_util.h"
#include "track/wandb_log.h"
#include "track/wandb_records.pb.h"

namespace segq::track {

namespace fs = std::filesystem;

namespace {

template <class Item>
void add_items(const nlohmann::json& items, google::protobuf::RepeatedPtrField<Item>* out) {
  SEGQ_CHECK(items.is_object(), "W&B: items must be a JSON object, got ", items.type_name());
  for (const auto& [key, value] : items.items()) {
    Item* item = out->Add();
    item->set_key(key);
    item->set_value_json(wandb_value_json(value));
  }
}

void write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(str_cat(path, ": write failed: ", std::strerror(errno)));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: the rename itself is what readers depend on
  ::fsync(fd);
  ::close(fd);
}

std::string log_file_in(const std::string& run_dir) {
  for (const auto& entry : fs::directory_iterator(run_dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() > 6 && name.starts_with("run-") &&
        name.ends_with(".wandb")) {
      return entry.path().string();
    }
  }
  throw Error(str_cat(run_dir, ": no run-<id>.wandb transaction log in this directory"));
}

std::vector<segq::wandb::Record> parse_records(const std::string& log_path,
                                               const std::vector<WandbLogRecord>& raw) {
  std::vector<segq::wandb::Record> out(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    SEGQ_CHECK(out[i].ParseFromString(raw[i].payload), log_path, ": record at offset ",
               raw[i].offset, " is not a W&B Record");
  }
  return out;
}

}  // namespace

std::string wandb_padding_record(size_t payload_bytes) {
  // uuid (field 19) costs a 2-byte tag, a varint length and the filler; `num` (field 1) adds 2
  // or 3 bytes where the varint length would skip a size.
  for (int64_t num : {int64_t{0}, int64_t{1}, int64_t{128}}) {
    segq::wandb::Record r;
    r.set_num(num);
    const size_t base = r.ByteSizeLong();
    if (base == payload_bytes) return r.SerializeAsString();
    for (size_t filler = payload_bytes > base + 12 ? payload_bytes - base - 12 : 1;
         filler + base + 2 <= payload_bytes; ++filler) {
      r.set_uuid(std::string(filler, 'u'));
      if (r.ByteSizeLong() == payload_bytes) return r.SerializeAsString();
    }
  }
  throw Error(str_cat("no W&B record has exactly ", payload_bytes, " bytes"));
}

std::string wandb_offline_run_dir_name(double start_time_unix_s, const std::string& run_id) {
  const std::time_t t = static_cast<std::time_t>(std::floor(start_time_unix_s));
  std::tm local{};
  localtime_r(&t, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &local);
  return str_cat("offline-run-", stamp, "-", run_id);
}

namespace {

// "[offline-]run-YYYYMMDD_HHMMSS-<run_id>"
bool is_run_dir_name(std::string_view name, std::string_view run_id) {
  if (name.starts_with("offline-")) name.remove_prefix(8);
  if (!name.starts_with("run-")) return false;
  name.remove_prefix(4);
  static constexpr std::string_view kStamp = "dddddddd_dddddd-";
  if (name.size() != kStamp.size() + run_id.size()) return false;
  for (size_t i = 0; i < kStamp.size(); ++i) {
    const bool digit = name[i] >= '0' && name[i] <= '9';
    if (kStamp[i] == 'd' ? !digit : name[i] != kStamp[i]) return false;
  }
  return name.substr(kStamp.size()) == run_id;
}

}  // namespace

std::vector<std::string> find_wandb_run_dirs(const std::string& wandb_dir,
                                             const std::string& run_id) {
  std::vector<std::string> found;
  std::error_code ec;
  if (!fs::is_directory(wandb_dir, ec)) return found;
  for (const auto& entry : fs::directory_iterator(wandb_dir)) {
    if (entry.is_directory() && is_run_dir_name(entry.path().filename().string(), run_id)) {
      found.push_back(entry.path().string());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

bool wandb_run_is_complete(const std::string& run_dir) {
  const std::string path = log_file_in(run_dir);
  const auto records = parse_records(path, wandb_log_read(read_file(path), path, true));
  bool seen_exit = false;
  for (const auto& r : records) seen_exit = seen_exit || r.has_exit();
  return seen_exit && !records.empty() && records.back().has_final();
}

WandbRunWriter WandbRunWriter::create(const std::string& wandb_dir, const WandbRunInfo& info,
                                      const nlohmann::json& config) {
  SEGQ_CHECK(!info.run_id.empty() && info.run_id.find_first_of(":;,#?/'") == std::string::npos,
             "W&B: run id \"", info.run_id, "\" is empty or contains one of :;,#?/'");
  for (const std::string& old : find_wandb_run_dirs(wandb_dir, info.run_id)) fs::remove_all(old);

  WandbRunWriter w;
  w.run_id_ = info.run_id;
  w.start_time_unix_s_ = info.start_time_unix_s;
  w.dir_ = (fs::path(wandb_dir) / wandb_offline_run_dir_name(info.start_time_unix_s, info.run_id))
               .string();
  std::error_code ec;
  fs::create_directories(fs::path(w.dir_) / "files", ec);
  if (ec) throw Error(str_cat(w.dir_, ": cannot create the W&B run directory: ", ec.message()));
  w.log_ = wandb_log_file_header();

  segq::wandb::Record header;
  auto* version = header.mutable_header()->mutable_version_info();
  version->set_producer(str_cat("segq ", SEGQ_VERSION));
  version->set_min_consumer("0.10.0");
  w.append(header);

  segq::wandb::Record record;
  auto* run = record.mutable_run();
  run->set_run_id(info.run_id);
  run->set_entity(info.entity);
  run->set_project(info.project);
  run->set_display_name(info.display_name);
  run->set_run_group(info.group);
  run->set_job_type(info.job_type);
  run->set_notes(info.notes);
  for (const std::string& tag : info.tags) run->add_tags(tag);
  run->set_host(info.host);
  const double whole_s = std::floor(info.start_time_unix_s);
  run->mutable_start_time()->set_seconds(static_cast<int64_t>(whole_s));
  run->mutable_start_time()->set_nanos(
      static_cast<int32_t>(std::lround((info.start_time_unix_s - whole_s) * 1e9) % 1000000000));
  if (!info.git_commit.empty()) run->mutable_git()->set_commit(info.git_commit);
  // Without a mailbox slot on the Run record, wandb 0.28's `wandb sync` waits forever for the
  // run to be initialised (see Control in wandb_records.proto).
  record.mutable_control()->set_mailbox_slot("segq-run-" + info.run_id);
  w.append(record);
  if (config.is_object() && !config.empty()) {
    segq::wandb::Record config_record;
    add_items(config, config_record.mutable_config()->mutable_update());
    w.append(config_record);
  }
  w.publish(false);
  return w;
}

WandbRunWriter WandbRunWriter::reopen(const std::string& run_dir) {
  const std::string path = log_file_in(run_dir);
  const std::string bytes = read_file(path);
  const auto raw = wandb_log_read(bytes, path);
  const auto records = parse_records(path, raw);
  WandbRunWriter w;
  w.dir_ = run_dir;
  size_t cut = bytes.size();
  bool has_exit = false;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].has_run()) {
      w.run_id_ = records[i].run().run_id();
      w.start_time_unix_s_ = static_cast<double>(records[i].run().start_time().seconds()) +
                             records[i].run().start_time().nanos() * 1e-9;
    }
    if (records[i].has_exit() && !has_exit) {
      has_exit = true;
      cut = raw[i].offset;
      w.previous_runtime_s_ = records[i].exit().runtime();
      w.previous_exit_code_ = records[i].exit().exit_code();
    }
  }
  SEGQ_CHECK(!w.run_id_.empty(), path, ": no Run record");
  SEGQ_CHECK(has_exit, path, ": the run has no Exit record (it did not finish), cannot reopen");
  w.log_ = bytes.substr(0, cut);
  return w;
}

WandbRunWriter::~WandbRunWriter() = default;

std::string WandbRunWriter::log_path() const {
  return (fs::path(dir_) / ("run-" + run_id_ + ".wandb")).string();
}

void WandbRunWriter::append(const segq::wandb::Record& record) {
  SEGQ_CHECK(!finished_, "W&B: run ", run_id_, " is finished; nothing can be added");
  std::string payload;
  SEGQ_CHECK(record.SerializeToString(&payload), "W&B: cannot serialize a record");
  wandb_log_append(log_, payload);
}

void WandbRunWriter::publish(bool durable) {
  const std::string target = log_path();
  const std::string tmp =
      (fs::path(dir_) / (".run-" + run_id_ + ".wandb.tmp-" + std::to_string(::getpid()))).string();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(str_cat(tmp, ": cannot create: ", std::strerror(errno)));
  try {
    write_all(fd, log_, tmp);
    if (durable && ::fsync(fd) != 0) {
      throw Error(str_cat(tmp, ": cannot flush to disk: ", std::strerror(errno)));
    }
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw Error(str_cat(tmp, ": close failed: ", std::strerror(errno)));
  }
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error(str_cat(target, ": cannot rename from ", tmp, ": ", std::strerror(err)));
  }
  if (durable) fsync_dir(dir_);
}

void WandbRunWriter::config(const nlohmann::json& items) {
  segq::wandb::Record record;
  add_items(items, record.mutable_config()->mutable_update());
  append(record);
  publish(false);
}

void WandbRunWriter::history(int64_t step, const nlohmann::json& items, double runtime_s,
                             double timestamp_unix_s) {
  segq::wandb::Record record;
  auto* history = record.mutable_history();
  add_items(items, history->mutable_item());
  nlohmann::json implicit = {
      {"_step", step}, {"_runtime", runtime_s}, {"_timestamp", timestamp_unix_s}};
  add_items(implicit, history->mutable_item());
  history->mutable_step()->set_num(step);
  append(record);
  publish(false);
}

void WandbRunWriter::summary(const nlohmann::json& items) {
  segq::wandb::Record record;
  add_items(items, record.mutable_summary()->mutable_update());
  append(record);
  publish(false);
}

void WandbRunWriter::add_media(const std::vector<WandbMediaFile>& files) {
  if (files.empty()) return;
  segq::wandb::Record record;
  for (const WandbMediaFile& f : files) {
    write_file_atomic((fs::path(dir_) / "files" / f.relative_path).string(), f.bytes);
    auto* item = record.mutable_files()->add_files();
    item->set_path(f.relative_path);
    item->set_policy(segq::wandb::FilesItem::NOW);
  }
  append(record);
  publish(false);
}

void WandbRunWriter::finish(int exit_code, double runtime_s) {
  segq::wandb::Record exit_record;
  exit_record.mutable_exit()->set_exit_code(exit_code);
  exit_record.mutable_exit()->set_runtime(static_cast<int32_t>(std::lround(runtime_s)));
  append(exit_record);
  segq::wandb::Record final_record;
  final_record.mutable_final();
  append(final_record);
  publish(true);
  finished_ = true;
}

}  // namespace segq::track
