#include "support/fake_driver_io.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "proxy/exercise/fuse_messages.hpp"
#include "proxy/exercise/net_frames.hpp"

namespace vhs::test {

using exercise::ChainCompletion;
using exercise::ChainRequest;
using exercise::Outcome;

// ---- FakeDriverIo ----

Outcome<std::vector<uint64_t>> FakeDriverIo::post(unsigned queue,
                                                  std::span<const ChainRequest> chains) {
  if (queue >= queues_)
    return Outcome<std::vector<uint64_t>>::fail("no queue " + std::to_string(queue));
  uint32_t needed = 0;
  for (const auto& c : chains)
    needed += static_cast<uint32_t>(c.readable.size() + c.writable_sizes.size());
  if (in_use_[queue] + needed > size_)
    return Outcome<std::vector<uint64_t>>::fail(
        "queue " + std::to_string(queue) + ": " + std::to_string(needed) +
        " descriptors do not fit the " + std::to_string(size_ - in_use_[queue]) + " free");
  std::vector<uint64_t> tokens;
  for (const auto& c : chains) {
    const uint64_t token = next_token_++;
    const auto descriptors = static_cast<uint32_t>(c.readable.size() + c.writable_sizes.size());
    in_flight_[token] = Chain{queue, c, descriptors};
    in_use_[queue] += descriptors;
    tokens.push_back(token);
  }
  posted_[queue] += chains.size();
  // The device sees them once all are published (one kick).
  for (size_t i = 0; i < tokens.size(); ++i) device_.on_post(*this, queue, tokens[i], chains[i]);
  return Outcome<std::vector<uint64_t>>::ok(std::move(tokens));
}

Outcome<std::vector<ChainCompletion>> FakeDriverIo::wait_used(unsigned queue, size_t count,
                                                              std::chrono::milliseconds timeout) {
  auto& used = used_.at(queue);
  if (used.size() < count) {
    const auto ms = timeout.count();
    const std::string span =
        ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
    return Outcome<std::vector<ChainCompletion>>::timed_out("queue " + std::to_string(queue) +
                                                            ": no completion for " + span);
  }
  std::vector<ChainCompletion> out(
      std::make_move_iterator(used.begin()),
      std::make_move_iterator(used.begin() + static_cast<ptrdiff_t>(count)));
  used.erase(used.begin(), used.begin() + static_cast<ptrdiff_t>(count));
  return Outcome<std::vector<ChainCompletion>>::ok(std::move(out));
}

void FakeDriverIo::complete(uint64_t token, uint32_t used_len,
                            std::vector<std::vector<uint8_t>> written) {
  auto it = in_flight_.find(token);
  if (it == in_flight_.end()) return;
  const auto& sizes = it->second.request.writable_sizes;
  written.resize(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) written[i].resize(sizes[i], 0);
  used_[it->second.queue].push_back(ChainCompletion{token, used_len, std::move(written)});
  in_use_[it->second.queue] -= it->second.descriptors;
  in_flight_.erase(it);
}

void FakeDriverIo::complete_with(uint64_t token, const std::vector<uint8_t>& bytes) {
  auto it = in_flight_.find(token);
  if (it == in_flight_.end()) return;
  std::vector<std::vector<uint8_t>> written;
  size_t at = 0;
  for (uint32_t size : it->second.request.writable_sizes) {
    const size_t take = std::min<size_t>(size, bytes.size() - at);
    written.emplace_back(bytes.begin() + static_cast<ptrdiff_t>(at),
                         bytes.begin() + static_cast<ptrdiff_t>(at + take));
    at += take;
  }
  complete(token, static_cast<uint32_t>(at), std::move(written));
}

size_t FakeDriverIo::posted_chains(unsigned queue) const {
  auto it = posted_.find(queue);
  return it == posted_.end() ? 0 : it->second;
}

size_t FakeDriverIo::in_flight(unsigned queue) const {
  return static_cast<size_t>(
      std::count_if(in_flight_.begin(), in_flight_.end(),
                    [&](const auto& kv) { return kv.second.queue == queue; }));
}

namespace {

std::vector<uint8_t> readable_bytes(const ChainRequest& chain) {
  std::vector<uint8_t> bytes;
  for (const auto& b : chain.readable) bytes.insert(bytes.end(), b.begin(), b.end());
  return bytes;
}

uint32_t writable_bytes(const ChainRequest& chain) {
  uint32_t total = 0;
  for (uint32_t s : chain.writable_sizes) total += s;
  return total;
}

}  // namespace

// ---- FakeNetDevice ----

void FakeNetDevice::on_post(FakeDriverIo& io, unsigned queue, uint64_t token,
                            const ChainRequest& chain) {
  const bool header_first =
      queue == 0 ? !chain.writable_sizes.empty() && chain.writable_sizes[0] == options_.header_size
                 : !chain.readable.empty() && chain.readable[0].size() == options_.header_size;
  if (options_.header_alone && !header_first) ++layout_errors_;
  if (queue == 0) {
    rx_buffers_.emplace_back(token, writable_bytes(chain));
  } else {
    std::vector<uint8_t> bytes = readable_bytes(chain);
    io.complete(token, 0, {});
    if (bytes.size() < options_.header_size) return;
    std::vector<uint8_t> frame(bytes.begin() + options_.header_size, bytes.end());
    auto seq = exercise::exercise_frame_seq(frame);
    if (seq && options_.drop_seqs.count(*seq)) return;
    if (seq && options_.corrupt_seq == *seq && options_.corrupt_byte < frame.size())
      frame[options_.corrupt_byte] ^= 0xff;
    if (options_.macswap) frame = exercise::mac_swapped(frame);
    waiting_frames_.push_back(std::move(frame));
  }
  deliver(io);
}

void FakeNetDevice::deliver(FakeDriverIo& io) {
  while (!waiting_frames_.empty() && !rx_buffers_.empty()) {
    const auto& frame = waiting_frames_.front();
    std::vector<uint8_t> packet(options_.header_size, 0);
    packet.insert(packet.end(), frame.begin(), frame.end());
    if (!options_.mergeable) {
      auto [token, room] = rx_buffers_.front();
      rx_buffers_.pop_front();
      if (packet.size() > room) {  // a real device drops what does not fit
        waiting_frames_.pop_front();
        continue;
      }
      if (options_.header_size >= 12) packet[10] = 1;
      io.complete_with(token, packet);
    } else {
      // Enough posted buffers for the whole packet, or wait for more.
      size_t count = 0, room = 0;
      while (room < packet.size() && count < rx_buffers_.size())
        room += rx_buffers_[count++].second;
      if (room < packet.size()) return;
      packet[10] = static_cast<uint8_t>(count & 0xff);
      packet[11] = static_cast<uint8_t>(count >> 8);
      size_t at = 0;
      for (size_t i = 0; i < count; ++i) {
        auto [token, size] = rx_buffers_.front();
        rx_buffers_.pop_front();
        const size_t take = std::min<size_t>(size, packet.size() - at);
        io.complete_with(token,
                         std::vector<uint8_t>(packet.begin() + static_cast<ptrdiff_t>(at),
                                              packet.begin() + static_cast<ptrdiff_t>(at + take)));
        at += take;
      }
      most_buffers_ = std::max<uint16_t>(most_buffers_, static_cast<uint16_t>(count));
    }
    waiting_frames_.pop_front();
    ++sent_back_;
  }
}

// ---- FakeFuseServer ----

FakeFuseServer::FakeFuseServer(FakeFuseOptions options) : options_(std::move(options)) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir))
    if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    Node node{path.filename().string(),
              std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {})};
    nodes_[next_node_++] = std::move(node);
  }
}

void FakeFuseServer::on_post(FakeDriverIo& io, unsigned queue, uint64_t token,
                             const ChainRequest& chain) {
  const std::vector<uint8_t> bytes = readable_bytes(chain);
  auto in = exercise::read_struct<fuse_in_header>(bytes);
  if (!in) return;
  opcodes_.push_back(in->opcode);
  if (options_.ignore_opcodes.count(in->opcode)) return;
  const size_t end = std::min<size_t>(bytes.size(), in->len);
  std::span<const uint8_t> args(bytes.data() + sizeof(fuse_in_header),
                                end > sizeof(fuse_in_header) ? end - sizeof(fuse_in_header) : 0);
  if (in->opcode == FUSE_FORGET) {  // no reply, and only on the hiprio queue
    if (auto f = exercise::read_struct<fuse_forget_in>(args); f && queue == 0)
      forgotten_ += f->nlookup;
    io.complete(token, 0, {});
    return;
  }
  int error = 0;
  std::vector<uint8_t> body;
  if (auto fail = options_.fail_opcodes.find(in->opcode); fail != options_.fail_opcodes.end())
    error = fail->second;
  else
    body = serve(in->opcode, in->nodeid, args, error);
  if (error) body.clear();
  fuse_out_header out{};
  out.len = static_cast<uint32_t>(sizeof out + body.size());
  out.error = -error;
  out.unique = in->unique;
  std::vector<uint8_t> reply;
  exercise::append_struct(reply, out);
  reply.insert(reply.end(), body.begin(), body.end());
  io.complete_with(token, reply);
}

std::vector<uint8_t> FakeFuseServer::serve(uint32_t opcode, uint64_t nodeid,
                                           std::span<const uint8_t> args, int& error) {
  std::vector<uint8_t> body;
  auto attr_of = [&](uint64_t node) {
    fuse_attr a{};
    a.ino = node;
    a.nlink = 1;
    if (node == FUSE_ROOT_ID) {
      a.mode = S_IFDIR | 0755;
    } else {
      a.mode = S_IFREG | 0644;
      a.size = nodes_.at(node).data.size();
    }
    return a;
  };
  auto name_arg = [&](size_t offset) {
    if (offset >= args.size()) return std::string();
    const auto* p = reinterpret_cast<const char*>(args.data() + offset);
    return std::string(p, strnlen(p, args.size() - offset));
  };
  auto node_named = [&](const std::string& name) -> uint64_t {
    for (const auto& [id, node] : nodes_)
      if (node.name == name) return id;
    return 0;
  };
  auto write_through = [&](uint64_t node) {
    std::ofstream out(options_.dir / nodes_.at(node).name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(nodes_.at(node).data.data()),
              static_cast<std::streamsize>(nodes_.at(node).data.size()));
  };
  auto entry_for = [&](uint64_t node) {
    fuse_entry_out e{};
    e.nodeid = node;
    e.attr = attr_of(node);
    exercise::append_struct(body, e);
  };

  if (opcode != FUSE_INIT && !initialised_) {
    error = EIO;
    return {};
  }
  switch (opcode) {
    case FUSE_INIT: {
      auto in = exercise::read_struct<fuse_init_in>(args);
      if (!in) {
        error = EINVAL;
        return {};
      }
      fuse_init_out out{};
      out.major = FUSE_KERNEL_VERSION;
      out.minor = options_.minor;
      out.max_readahead = in->max_readahead;
      out.flags = FUSE_BIG_WRITES | FUSE_ASYNC_READ;
      out.max_write = options_.max_write;
      exercise::append_struct(body, out);
      initialised_ = true;
      return body;
    }
    case FUSE_LOOKUP: {
      const uint64_t node = nodeid == FUSE_ROOT_ID ? node_named(name_arg(0)) : 0;
      if (!node)
        error = ENOENT;
      else
        entry_for(node);
      return body;
    }
    case FUSE_GETATTR: {
      if (nodeid != FUSE_ROOT_ID && !nodes_.count(nodeid)) {
        error = ENOENT;
        return {};
      }
      fuse_attr_out out{};
      out.attr = attr_of(nodeid);
      exercise::append_struct(body, out);
      return body;
    }
    case FUSE_OPEN:
    case FUSE_OPENDIR: {
      if ((opcode == FUSE_OPEN) != (nodes_.count(nodeid) == 1)) {
        error = opcode == FUSE_OPEN ? ENOENT : ENOTDIR;
        return {};
      }
      fuse_open_out out{};
      out.fh = next_fh_++;
      open_files_[out.fh] = nodeid;
      exercise::append_struct(body, out);
      return body;
    }
    case FUSE_READ: {
      auto in = exercise::read_struct<fuse_read_in>(args);
      auto fh = in ? open_files_.find(in->fh) : open_files_.end();
      if (fh == open_files_.end() || !nodes_.count(fh->second)) {
        error = EBADF;
        return {};
      }
      const auto& data = nodes_.at(fh->second).data;
      const uint64_t begin = std::min<uint64_t>(in->offset, data.size());
      const uint64_t end = std::min<uint64_t>(begin + in->size, data.size());
      body.assign(data.begin() + static_cast<ptrdiff_t>(begin),
                  data.begin() + static_cast<ptrdiff_t>(end));
      if (options_.corrupt_read_offset && *options_.corrupt_read_offset >= begin &&
          *options_.corrupt_read_offset < end)
        body[*options_.corrupt_read_offset - begin] ^= 0xff;
      return body;
    }
    case FUSE_WRITE: {
      auto in = exercise::read_struct<fuse_write_in>(args);
      auto fh = in ? open_files_.find(in->fh) : open_files_.end();
      if (fh == open_files_.end() || !nodes_.count(fh->second) ||
          args.size() < sizeof(fuse_write_in) + in->size) {
        error = EBADF;
        return {};
      }
      auto& data = nodes_.at(fh->second).data;
      if (data.size() < in->offset + in->size) data.resize(in->offset + in->size);
      std::copy_n(args.begin() + sizeof(fuse_write_in), in->size,
                  data.begin() + static_cast<ptrdiff_t>(in->offset));
      write_through(fh->second);
      fuse_write_out out{};
      out.size = in->size;
      exercise::append_struct(body, out);
      return body;
    }
    case FUSE_CREATE: {
      const std::string name = name_arg(sizeof(fuse_create_in));
      if (nodeid != FUSE_ROOT_ID || name.empty()) {
        error = EINVAL;
        return {};
      }
      if (node_named(name)) {
        error = EEXIST;
        return {};
      }
      const uint64_t node = next_node_++;
      nodes_[node] = Node{name, {}};
      write_through(node);
      entry_for(node);
      fuse_open_out out{};
      out.fh = next_fh_++;
      open_files_[out.fh] = node;
      exercise::append_struct(body, out);
      return body;
    }
    case FUSE_RELEASE:
    case FUSE_RELEASEDIR: {
      auto in = exercise::read_struct<fuse_release_in>(args);
      if (!in || !open_files_.erase(in->fh)) error = EBADF;
      return {};
    }
    case FUSE_READDIR: {
      auto in = exercise::read_struct<fuse_read_in>(args);
      if (!in || !open_files_.count(in->fh)) {
        error = EBADF;
        return {};
      }
      std::vector<exercise::FuseDirEntry> all = {{FUSE_ROOT_ID, 0, 4, "."},
                                                 {FUSE_ROOT_ID, 0, 4, ".."}};
      for (const auto& [id, node] : nodes_)
        if (!options_.hide_from_readdir.count(node.name)) all.push_back({id, 0, 8, node.name});
      for (size_t i = in->offset; i < all.size(); ++i) {
        all[i].off = i + 1;
        std::vector<uint8_t> one;
        exercise::append_fuse_dirent(one, all[i]);
        if (body.size() + one.size() > in->size) break;
        body.insert(body.end(), one.begin(), one.end());
      }
      return body;
    }
    case FUSE_UNLINK: {
      const uint64_t node = nodeid == FUSE_ROOT_ID ? node_named(name_arg(0)) : 0;
      if (!node) {
        error = ENOENT;
        return {};
      }
      std::filesystem::remove(options_.dir / nodes_.at(node).name);
      nodes_.erase(node);
      return {};
    }
    default: error = ENOSYS; return {};
  }
}

}  // namespace vhs::test
