// An in-process DriverIo for the exercise workload tests: the "device" is a C++ object that sees
// every posted chain and completes it when it likes, so a workload runs unchanged against a fake
// virtio-net that reflects frames or a fake virtio-fs FUSE server, well-behaved or not.
// Everything is synchronous: wait_used() never sleeps; what the device has not completed by
// then is reported as the engine reports a timeout.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "proxy/exercise/driver_io.hpp"

namespace vhs::test {

class FakeDriverIo;

class FakeDevice {
 public:
  virtual ~FakeDevice() = default;
  // A chain was placed on `queue`; complete it through io.complete() now or later (or never).
  virtual void on_post(FakeDriverIo& io, unsigned queue, uint64_t token,
                       const exercise::ChainRequest& chain) = 0;
};

class FakeDriverIo : public exercise::DriverIo {
 public:
  FakeDriverIo(unsigned queues, uint16_t queue_size, FakeDevice& device)
      : queues_(queues), size_(queue_size), device_(device), used_(queues), in_use_(queues) {}

  unsigned queue_count() const override { return queues_; }
  uint16_t queue_size(unsigned) const override { return size_; }
  exercise::Outcome<std::vector<uint64_t>> post(
      unsigned queue, std::span<const exercise::ChainRequest> chains) override;
  exercise::Outcome<std::vector<exercise::ChainCompletion>> wait_used(
      unsigned queue, size_t count, std::chrono::milliseconds timeout) override;

  // The device side: the chain is used, `used_len` bytes written; `written` is cut or padded to
  // the chain's writable buffer sizes.
  void complete(uint64_t token, uint32_t used_len, std::vector<std::vector<uint8_t>> written);
  // Writes `bytes` across the chain's writable buffers in order and completes it.
  void complete_with(uint64_t token, const std::vector<uint8_t>& bytes);

  size_t posted_chains(unsigned queue) const;  // chains posted on `queue` so far
  size_t in_flight(unsigned queue) const;      // posted and not yet used

 private:
  struct Chain {
    unsigned queue = 0;
    exercise::ChainRequest request;
    uint32_t descriptors = 0;
  };
  unsigned queues_;
  uint16_t size_;
  FakeDevice& device_;
  uint64_t next_token_ = 1;
  std::map<uint64_t, Chain> in_flight_;
  std::vector<std::deque<exercise::ChainCompletion>> used_;
  std::vector<uint32_t> in_use_;  // descriptors in flight per queue
  std::map<unsigned, size_t> posted_;
};

// virtio-net that sends every transmitted frame back on the receive queue, like testpmd in io or
// macswap forwarding, placing it in one receive buffer or (mergeable) in as many as it needs.
struct FakeNetOptions {
  uint32_t header_size = 12;
  bool mergeable = false;
  bool macswap = false;
  bool header_alone = false;     // legacy without ANY_LAYOUT: the header has its own descriptor
  std::set<uint32_t> drop_seqs;  // frames never sent back
  std::optional<uint32_t> corrupt_seq;  // frame whose byte corrupt_byte is flipped
  uint32_t corrupt_byte = 0;
};

class FakeNetDevice : public FakeDevice {
 public:
  explicit FakeNetDevice(FakeNetOptions options) : options_(std::move(options)) {}
  void on_post(FakeDriverIo& io, unsigned queue, uint64_t token,
               const exercise::ChainRequest& chain) override;

  size_t frames_sent_back() const { return sent_back_; }
  size_t layout_errors() const { return layout_errors_; }
  uint16_t most_buffers_used() const { return most_buffers_; }

 private:
  void deliver(FakeDriverIo& io);
  FakeNetOptions options_;
  std::deque<std::pair<uint64_t, uint32_t>> rx_buffers_;  // token, writable bytes
  std::deque<std::vector<uint8_t>> waiting_frames_;
  size_t sent_back_ = 0;
  size_t layout_errors_ = 0;
  uint16_t most_buffers_ = 0;
};

// virtio-fs: a FUSE server over an in-memory copy of a host directory's regular files, writing
// what it is asked to create, write and unlink through to that directory.
struct FakeFuseOptions {
  std::filesystem::path dir;
  uint32_t minor = 36;
  uint32_t max_write = 128 * 1024;
  std::optional<uint64_t> corrupt_read_offset;  // a READ that covers it returns that byte flipped
  std::map<uint32_t, int> fail_opcodes;         // opcode -> errno to answer with
  std::set<uint32_t> ignore_opcodes;            // never completed
  std::set<std::string> hide_from_readdir;
};

class FakeFuseServer : public FakeDevice {
 public:
  explicit FakeFuseServer(FakeFuseOptions options);
  void on_post(FakeDriverIo& io, unsigned queue, uint64_t token,
               const exercise::ChainRequest& chain) override;

  std::vector<uint32_t> opcodes_seen() const { return opcodes_; }
  uint64_t forgotten_lookups() const { return forgotten_; }

 private:
  struct Node {
    std::string name;
    std::vector<uint8_t> data;
  };
  std::vector<uint8_t> serve(uint32_t opcode, uint64_t nodeid, std::span<const uint8_t> args,
                             int& error);
  FakeFuseOptions options_;
  std::map<uint64_t, Node> nodes_;  // regular files; node 1 is the root directory
  uint64_t next_node_ = 2;
  uint64_t next_fh_ = 100;
  std::map<uint64_t, uint64_t> open_files_;  // fh -> node
  std::vector<uint32_t> opcodes_;
  uint64_t forgotten_ = 0;
  bool initialised_ = false;
};

}  // namespace vhs::test
