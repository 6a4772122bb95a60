// The inflight-tracking buffer of a back-end with INFLIGHT_SHMFD (spec "Inflight I/O tracking"):
// the back-end hands it over in the GET_INFLIGHT_FD reply, marks in it every descriptor chain it
// has taken from a ring and not yet completed, and gets it back (SET_INFLIGHT_FD) when it starts
// again, so a back-end that crashed resubmits what it had taken. The engine checks the reply (a
// hostile back-end may send no fd, a size that does not hold the rings, an fd that is too small to
// map) and reads the marks only to say what the back-end recorded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "decoders/vhost_user/payloads.hpp"
#include "proxy/exercise/driver_io.hpp"
#include "proxy/exercise/frontend_link.hpp"
#include "proxy/unique_fd.hpp"

namespace vhs::exercise {

struct InflightBuffer {
  // mmap_size and mmap_offset as the back-end answered; num_queues and queue_size as asked, which
  // SET_INFLIGHT_FD repeats (QEMU 7.2 does the same).
  InflightValue value;
  UniqueFd fd;  // invalid when the back-end declined (mmap_size 0)

  bool declined() const { return !fd; }
};

// The split layout's bytes for one queue: a 16-byte header and 16 bytes per descriptor (spec
// "Inflight I/O tracking", "split virtqueue").
uint64_t inflight_split_queue_bytes(uint16_t queue_size);

// Checks a GET_INFLIGHT_FD reply against what was asked and takes its fd. mmap_size 0 is the
// back-end declining (no fd needed, nothing tracked). Otherwise one fd, a page-aligned offset, and
// a size that holds `num_queues` split regions and fits in the fd; the buffer is mapped once, as
// QEMU maps it, so an fd that cannot be mapped fails here and not in the back-end that restarts.
Outcome<InflightBuffer> take_inflight_reply(Reply& reply, uint16_t num_queues,
                                            uint16_t queue_size);

// Per queue, the descriptor heads the buffer marks in flight (split layout; a queue region whose
// version is 0 was never used and marks none). Each queue region is mmap_size / num_queues bytes,
// as libvhost-user and DPDK lay them out. Read only while the back-end cannot shrink the fd (it is
// sealed, or the back-end is dead): reading past a shrunk memfd would fault.
Outcome<std::vector<std::vector<uint16_t>>> inflight_marked_heads(const InflightBuffer& buffer);

// True when the fd is sealed against shrinking (F_SEAL_SHRINK), so it can be read while the
// back-end runs.
bool inflight_fd_sealed(const InflightBuffer& buffer);

}  // namespace vhs::exercise
