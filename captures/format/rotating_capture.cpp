// Capture files rotated by size (see rotating_capture.hpp).
#include "captures/format/rotating_capture.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace vhs {
namespace {

constexpr uint64_t kPcapFileHeaderSize = 24;

}  // namespace

std::string rotated_file_name(const std::string& path, uint64_t index) {
  const size_t slash = path.rfind('/');
  const size_t name_start = slash == std::string::npos ? 0 : slash + 1;
  size_t dot = path.rfind('.');
  // A leading dot is part of the name (".cap"), not an extension.
  if (dot == std::string::npos || dot <= name_start) dot = path.size();
  return fmt::format("{}-{:06}{}", path.substr(0, dot), index, path.substr(dot));
}

RotatingCaptureWriter::RotatingCaptureWriter(RotationOptions options)
    : options_(std::move(options)) {}

RotatingCaptureWriter::~RotatingCaptureWriter() = default;

std::unique_ptr<RotatingCaptureWriter> RotatingCaptureWriter::create(RotationOptions options,
                                                                     std::string& error) {
  std::unique_ptr<RotatingCaptureWriter> w(new RotatingCaptureWriter(std::move(options)));
  if (!w->open_next(error)) return nullptr;
  return w;
}

std::string RotatingCaptureWriter::current_path() const {
  return kept_.empty() ? std::string() : kept_.back().path;
}

bool RotatingCaptureWriter::open_next(std::string& error) {
  const std::string path = rotated_file_name(options_.path, next_index_);
  std::unique_ptr<CaptureWriter> next = CaptureWriter::create(path, error);
  if (!next) return false;
  if (current_ && !current_->flush() && error_.empty()) error_ = current_->error();
  current_ = std::move(next);
  current_records_ = 0;
  ++next_index_;
  struct stat st {};
  Created created{path, 0, 0};
  if (::lstat(path.c_str(), &st) == 0) {
    created.dev = st.st_dev;
    created.ino = st.st_ino;
  }
  kept_.push_back(std::move(created));
  remove_oldest();
  return true;
}

void RotatingCaptureWriter::remove_oldest() {
  while (options_.max_files != 0 && kept_.size() > options_.max_files) {
    const Created& old = kept_.front();
    // Only the file this writer created: if the name now holds something else (replaced by
    // someone), it is left alone.
    struct stat st {};
    if (::lstat(old.path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == old.dev &&
        st.st_ino == old.ino)
      ::unlink(old.path.c_str());
    kept_.pop_front();
  }
}

void RotatingCaptureWriter::write(const Record& record) {
  if (!error_.empty() || !current_) return;
  // As tcpdump -C: a file that has reached the size is closed before the next record, so a file
  // is at most one record larger than SIZE. The size counts the file's own records: the
  // repeated ones come on top, so a large preamble cannot make every record a file of its own.
  if (current_records_ > 0 && current_->bytes_written() - repeated_bytes_ >= options_.max_bytes) {
    std::string error;
    if (!open_next(error)) {
      error_ = error;
      current_.reset();
      return;
    }
    if (options_.preamble)
      for (const Record& repeated : options_.preamble()) current_->write(repeated);
    repeated_bytes_ = current_->bytes_written() - kPcapFileHeaderSize;
  }
  current_->write(record);
  ++current_records_;
  ++records_;
}

bool RotatingCaptureWriter::flush() {
  if (current_ && !current_->flush() && error_.empty()) error_ = current_->error();
  return error_.empty();
}

}  // namespace vhs
