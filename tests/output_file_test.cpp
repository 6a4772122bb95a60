// Output files (captures, reports, screenshots) are created only at the path the user named:
// links, FIFOs, devices and hard-linked files are refused and left untouched; a capture's pcap
// header is on disk before anything else happens, so a recorder killed at once leaves a
// capture that reads.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "captures/format/capture_file.hpp"
#include "captures/format/output_file.hpp"
#include "support/temp_dir.hpp"

namespace vhs {
namespace {

namespace fs = std::filesystem;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0);
  return st.st_mode & 07777;
}

TEST(OutputFile, SymlinkToAnExistingFileIsRefusedAndTheTargetUntouched) {
  test::TempDir dir;
  const std::string target = (dir / "precious.txt");
  write_text(target, "keep me");
  ::chmod(target.c_str(), 0644);
  const std::string link = (dir / "capture.pcap");
  fs::create_symlink(target, link);

  std::string error;
  EXPECT_EQ(CaptureWriter::create(link, error), nullptr);
  EXPECT_NE(error.find("symbolic link"), std::string::npos) << error;
  EXPECT_EQ(read_all(target), "keep me");
  EXPECT_EQ(mode_of(target), 0644u);
  EXPECT_EQ(open_output_stream(link, error), nullptr);
  EXPECT_EQ(read_all(target), "keep me");
}

TEST(OutputFile, DanglingSymlinkDoesNotCreateItsTarget) {
  test::TempDir dir;
  const std::string target = (dir / "created-by-attacker");
  const std::string link = (dir / "capture.pcap");
  fs::create_symlink(target, link);
  std::string error;
  EXPECT_EQ(CaptureWriter::create(link, error), nullptr);
  EXPECT_FALSE(fs::exists(target));
}

TEST(OutputFile, FifoIsRefusedWithoutBlocking) {
  test::TempDir dir;
  const std::string fifo = (dir / "capture.pcap");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string error;
  EXPECT_EQ(CaptureWriter::create(fifo, error), nullptr);  // would block forever if opened plainly
  EXPECT_NE(error.find("FIFO"), std::string::npos) << error;
  // With a reader waiting the open succeeds, and the type check still refuses it.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  EXPECT_EQ(open_output_fd(fifo, error), -1);
  EXPECT_NE(error.find("FIFO"), std::string::npos) << error;
  ::close(reader);
}

TEST(OutputFile, DeviceAndDirectoryAreRefused) {
  test::TempDir dir;
  std::string error;
  EXPECT_EQ(open_output_fd("/dev/null", error), -1);
  EXPECT_NE(error.find("character device"), std::string::npos) << error;
  EXPECT_EQ(open_output_fd(dir.path(), error), -1);
}

TEST(OutputFile, HardLinkedFileIsRefused) {
  test::TempDir dir;
  const std::string other = (dir / "other-name");
  write_text(other, "shared inode");
  const std::string path = (dir / "capture.pcap");
  ASSERT_EQ(::link(other.c_str(), path.c_str()), 0);
  std::string error;
  EXPECT_EQ(open_output_fd(path, error), -1);
  EXPECT_NE(error.find("hard links"), std::string::npos) << error;
  EXPECT_EQ(read_all(other), "shared inode");
}

TEST(OutputFile, ExistingRegularFileIsReplacedAndMade0600) {
  test::TempDir dir;
  const std::string path = (dir / "report.md");
  write_text(path, "an old report that is longer than the new one");
  ::chmod(path.c_str(), 0644);
  std::string error;
  FILE* f = open_output_stream(path, error);
  ASSERT_NE(f, nullptr) << error;
  std::fputs("new", f);
  std::fclose(f);
  EXPECT_EQ(read_all(path), "new");
  EXPECT_EQ(mode_of(path), 0600u);
}

TEST(OutputFile, NewFileIsCreated0600) {
  test::TempDir dir;
  const std::string path = (dir / "new.pcap");
  std::string error;
  const int fd = open_output_fd(path, error);
  ASSERT_GE(fd, 0) << error;
  ::close(fd);
  EXPECT_EQ(mode_of(path), 0600u);
}

// kill -9 right after start: the pcap header must already be on disk (not in a stdio buffer),
// and a reader opens the capture with no records.
TEST(OutputFile, CaptureHeaderIsOnDiskBeforeAnyRecord) {
  test::TempDir dir;
  const std::string path = (dir / "capture.pcap");
  std::string error;
  auto writer = CaptureWriter::create(path, error);
  ASSERT_NE(writer, nullptr) << error;
  EXPECT_EQ(fs::file_size(path), 24u);  // classic pcap file header, nothing buffered
  auto reader = CaptureReader::open(path, error);
  ASSERT_NE(reader, nullptr) << error;
}

}  // namespace
}  // namespace vhs
