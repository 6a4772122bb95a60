// pcap writer and reader for vhostscope captures (libpcap; layout in docs/capture-format.md).
#include "captures/format/capture_file.hpp"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "captures/format/growing_file.hpp"
#include "captures/format/output_file.hpp"
#include "captures/format/pseudo_header.hpp"

namespace vhs {
namespace {

// stdio buffer for the dump file: fewer write(2) calls when messages come in bursts.
constexpr size_t kWriteBufferSize = 256 * 1024;

std::string link_type_label(int dlt) {
  // libpcap has no name for the user link types; spell ours the way the tcpdump.org list does.
  const char* name = dlt == kCaptureLinkType ? "USER0" : pcap_datalink_val_to_name(dlt);
  return fmt::format("{} ({})", dlt, name != nullptr ? name : "unknown");
}

// The classic pcap seconds field is an unsigned 32-bit count, but libpcap sign-extends it into
// time_t; undo that so dates after 2038 survive. pcapng seconds never come back negative.
uint64_t timestamp_ns(const timeval& ts) {
  int64_t sec = ts.tv_sec;
  if (sec < 0) sec += int64_t{1} << 32;
  return static_cast<uint64_t>(sec) * kCaptureNanosPerSecond + static_cast<uint64_t>(ts.tv_usec);
}

// `-w -`: the pcap stream goes to our own descriptor for stdout (the process's stdio buffer for
// fd 1 stays unused). A terminal is refused: a binary stream would garble it.
int open_standard_output(std::string& error) {
  if (::isatty(STDOUT_FILENO) != 0) {
    error =
        "refusing to write a capture to a terminal: redirect standard output or pipe it "
        "(e.g. '-w - | vhostscope dump -')";
    return -1;
  }
  const int fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    error = fmt::format("cannot write capture to standard output: {}", std::strerror(errno));
  return fd;
}

}  // namespace

// ---------------------------------------------------------------------------------- writer

struct CaptureWriter::Impl {
  std::string path;
  pcap_t* dead = nullptr;
  pcap_dumper_t* dumper = nullptr;
  std::vector<uint8_t> packet;  // reused for every record: no allocation per write
  std::string error;
  uint64_t written = 0;
  uint64_t bytes = 24;  // the pcap file header

  ~Impl() {
    if (dumper != nullptr) pcap_dump_close(dumper);  // flushes and closes the FILE
    if (dead != nullptr) pcap_close(dead);
  }

  // Latches the first stdio error: later ones are consequences of it.
  void check_stream(int saved_errno) {
    if (!error.empty() || dumper == nullptr) return;
    if (std::ferror(pcap_dump_file(dumper)) != 0) {
      error = fmt::format("cannot write capture '{}': {}", path,
                          std::strerror(saved_errno != 0 ? saved_errno : EIO));
    }
  }
};

std::unique_ptr<CaptureWriter> CaptureWriter::create(const std::string& path, std::string& error) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;

  std::string open_error;
  const int fd = path == kStandardStream ? open_standard_output(open_error)
                                         : open_output_fd(path, open_error);  // see output_file.hpp
  if (fd < 0) {
    error = open_error;
    return nullptr;
  }
  FILE* file = ::fdopen(fd, "wb");
  if (file == nullptr) {
    error = fmt::format("cannot create capture '{}': {}", path, std::strerror(errno));
    ::close(fd);
    return nullptr;
  }
  std::setvbuf(file, nullptr, _IOFBF, kWriteBufferSize);

  impl->dead = pcap_open_dead_with_tstamp_precision(kCaptureLinkType, kCaptureSnapLen,
                                                    PCAP_TSTAMP_PRECISION_NANO);
  if (impl->dead == nullptr) {
    error = fmt::format("cannot create capture '{}': libpcap could not allocate a handle", path);
    std::fclose(file);
    return nullptr;
  }
  impl->dumper = pcap_dump_fopen(impl->dead, file);
  if (impl->dumper == nullptr) {
    error = fmt::format("cannot create capture '{}': {}", path, pcap_geterr(impl->dead));
    std::fclose(file);
    return nullptr;
  }
  // The pcap file header goes to disk now, before any peer connects: a recorder killed before its
  // first timed flush still leaves a capture that reads (with no records).
  if (pcap_dump_flush(impl->dumper) != 0) {
    error = fmt::format("cannot write capture '{}': {}", path, std::strerror(errno));
    return nullptr;
  }
  return std::unique_ptr<CaptureWriter>(new CaptureWriter(std::move(impl)));
}

CaptureWriter::CaptureWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CaptureWriter::~CaptureWriter() = default;

void CaptureWriter::write(const Record& record) {
  Impl& s = *impl_;
  s.packet.clear();
  encode_packet(record, s.packet);

  pcap_pkthdr h{};
  // With nanosecond precision libpcap stores tv_usec as the nanosecond part unchanged.
  h.ts.tv_sec = static_cast<time_t>(record.timestamp_ns / kCaptureNanosPerSecond);
  h.ts.tv_usec = static_cast<suseconds_t>(record.timestamp_ns % kCaptureNanosPerSecond);
  h.len = static_cast<bpf_u_int32>(s.packet.size());
  // Never exceed the snaplen: readers reject such packets outright. A cut record reads back
  // with kRecordIncomplete.
  h.caplen = std::min<bpf_u_int32>(h.len, kCaptureSnapLen);

  errno = 0;
  pcap_dump(reinterpret_cast<u_char*>(s.dumper), &h, s.packet.data());
  s.check_stream(errno);
  ++s.written;
  s.bytes += sizeof(uint32_t) * 4 + h.caplen;  // packet header (ts_sec, ts_nsec, caplen, len)
}

bool CaptureWriter::flush() {
  Impl& s = *impl_;
  errno = 0;
  if (pcap_dump_flush(s.dumper) != 0) {
    const int saved = errno;
    if (s.error.empty()) {
      s.error = fmt::format("cannot write capture '{}': {}", s.path,
                            std::strerror(saved != 0 ? saved : EIO));
    }
  }
  s.check_stream(errno);
  return s.error.empty();
}

const std::string& CaptureWriter::error() const { return impl_->error; }
uint64_t CaptureWriter::records_written() const { return impl_->written; }
uint64_t CaptureWriter::bytes_written() const { return impl_->bytes; }

// ---------------------------------------------------------------------------------- reader

struct CaptureReader::Impl {
  std::string path;
  pcap_t* pcap = nullptr;
  CaptureProgress progress;

  ~Impl() {
    if (pcap != nullptr) pcap_close(pcap);
  }
};

std::unique_ptr<CaptureReader> CaptureReader::open(const std::string& path, std::string& error) {
  FILE* file = nullptr;
  if (path == kStandardStream) {
    // Our own descriptor for stdin, so closing the reader leaves fd 0 to the process.
    const int fd = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
    file = fd < 0 ? nullptr : ::fdopen(fd, "rb");
    if (file == nullptr && fd >= 0) ::close(fd);
  } else {
    // Open the file ourselves so a missing file reads as errno text, not as libpcap's wording.
    file = std::fopen(path.c_str(), "rbe");
  }
  if (file == nullptr) {
    error = fmt::format("cannot open capture '{}': {}", path, std::strerror(errno));
    return nullptr;
  }
  return from_stream(file, path, error);
}

std::unique_ptr<CaptureReader> CaptureReader::open_growing(const std::string& path,
                                                           const GrowingFileOptions& options,
                                                           std::string& error) {
  FILE* file = open_growing_file(path, options, error);
  if (file == nullptr) return nullptr;
  return from_stream(file, path, error);
}

std::unique_ptr<CaptureReader> CaptureReader::from_stream(FILE* file, const std::string& path,
                                                          std::string& error) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  // Nanosecond precision: libpcap scales microsecond files (and any pcapng if_tsresol) to ns.
  pcap_t* pcap = pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (pcap == nullptr) {
    std::fclose(file);
    error = fmt::format("cannot read capture '{}': {}", path, errbuf);
    return nullptr;
  }
  const int dlt = pcap_datalink(pcap);
  if (dlt != kCaptureLinkType) {
    pcap_close(pcap);
    error = fmt::format("'{}' is not a vhostscope capture: link type {}, expected {}", path,
                        link_type_label(dlt), link_type_label(kCaptureLinkType));
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->pcap = pcap;
  return std::unique_ptr<CaptureReader>(new CaptureReader(std::move(impl)));
}

CaptureReader::CaptureReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CaptureReader::~CaptureReader() = default;

bool CaptureReader::next(Record& out) {
  CaptureProgress& p = impl_->progress;
  while (!p.done) {
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    const int rc = pcap_next_ex(impl_->pcap, &h, &data);
    if (rc == PCAP_ERROR_BREAK) break;  // clean end of file
    if (rc != 1) {
      // libpcap reports a cut-off file as an error ("truncated dump file; tried to read ...").
      p.truncated(pcap_geterr(impl_->pcap));
      break;
    }
    const bool captured_short = h->caplen < h->len;
    if (p.accept(decode_packet({data, h->caplen}, captured_short, out, p.why))) {
      out.timestamp_ns = timestamp_ns(h->ts);
      return true;
    }
  }
  p.done = true;
  return false;
}

const std::string& CaptureReader::warning() const { return impl_->progress.warning; }
uint64_t CaptureReader::records_read() const { return impl_->progress.records; }

bool CaptureProgress::accept(PacketStatus status) {
  ++packets;
  switch (status) {
    case PacketStatus::Ok: ++records; return true;
    case PacketStatus::UnknownKind: return false;  // written by a newer vhostscope; skippable
    case PacketStatus::Corrupt:
      warning = fmt::format("record {} is corrupt: {}; stopped reading there", packets, why);
      done = true;
      return false;
  }
  done = true;
  return false;
}

void CaptureProgress::truncated(std::string_view detail) {
  warning = fmt::format("capture truncated after record {}: {}", packets, detail);
  done = true;
}

}  // namespace vhs
