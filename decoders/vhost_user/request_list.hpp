// The list every vhost-user request fact is generated from: one row per request of each channel,
// expanded by registry.hpp into the FrontendRequest / BackendRequest enums and by registry.cpp
// into the RequestInfo table. Adding or fixing a request means editing its row here and nowhere
// else. Rows are in request-number order; registry.cpp static_asserts that.
//
// Columns (spec "Front-end message types" / "Back-end message types" and "Message Specification"):
//   NAME           spec name without the VHOST_USER_ prefix (also the enumerator)
//   number         request code on the wire
//   old_name       pre-rename alias (SLAVE_*), "" if none
//   payload        PayloadKind of the request
//   fds            FdRule: how many fds the request carries
//   fd_role        FdRole: what those fds are
//   reply          ReplyRule: when the receiver answers
//   reply_payload  PayloadKind of the answer (Ack for requests answered only under NEED_REPLY)
//   reply_fds      FdRule of the answer
//   reply_fd_role  FdRole of the answer's fds
//   gate           ProtocolFeature (features.hpp) that must be negotiated before the request is
//                  legal, NONE if always legal (spec "Protocol features")
//   waits          the front-end blocks on the reply (a missing reply hangs QEMU); QEMU's
//                  vhost-user.c waits on every intrinsic reply, and on SET_LOG_BASE's
//   category       broad purpose, for colouring and grouping
//   meaning        one line for people
#pragma once

// clang-format off
// NAME, number, old_name, payload, fds, fd_role, reply, reply_payload, reply_fds, reply_fd_role, gate, waits, category, meaning
#define VHS_FRONTEND_REQUESTS(X) \
  X(GET_FEATURES, 1, "", None, None, None, Always, Features, None, None, NONE, true, Negotiation, "read the back-end's virtio + vhost feature bits") \
  X(SET_FEATURES, 2, "", Features, None, None, AckIfNeedReply, Ack, None, None, NONE, false, Negotiation, "set the acked virtio + vhost feature bits") \
  X(SET_OWNER, 3, "", None, None, None, AckIfNeedReply, Ack, None, None, NONE, false, Negotiation, "claim the back-end for this front-end (session start)") \
  X(RESET_OWNER, 4, "", None, None, None, AckIfNeedReply, Ack, None, None, NONE, false, Negotiation, "deprecated: release ownership of the back-end") \
  X(SET_MEM_TABLE, 5, "", MemTable, OnePerRegion, MemoryRegion, AckIfNeedReply, Ack, None, None, NONE, false, Memory, "replace the guest memory map (one fd per region)") \
  X(SET_LOG_BASE, 6, "", Log, OneIfLogShmfd, LogBitmap, IfLogShmfd, U64, None, None, NONE, true, Migration, "set the dirty-page log buffer (migration)") \
  X(SET_LOG_FD, 7, "", None, One, LogEventfd, AckIfNeedReply, Ack, None, None, NONE, false, Migration, "set the eventfd signalled when the log changes") \
  X(SET_VRING_NUM, 8, "", VringState, None, None, AckIfNeedReply, Ack, None, None, NONE, false, Vring, "set a queue's size") \
  X(SET_VRING_ADDR, 9, "", VringAddr, None, None, AckIfNeedReply, Ack, None, None, NONE, false, Vring, "set a queue's descriptor/used/avail addresses") \
  X(SET_VRING_BASE, 10, "", VringState, None, None, AckIfNeedReply, Ack, None, None, NONE, false, Vring, "set the next avail index the back-end reads") \
  X(GET_VRING_BASE, 11, "", VringState, None, None, Always, VringState, None, None, NONE, true, Vring, "stop a queue and read back its avail index") \
  X(SET_VRING_KICK, 12, "", VringIndexFd, OneUnlessNofd, Kick, AckIfNeedReply, Ack, None, None, NONE, false, Vring, "set a queue's kick eventfd (starts the queue)") \
  X(SET_VRING_CALL, 13, "", VringIndexFd, OneUnlessNofd, Call, AckIfNeedReply, Ack, None, None, NONE, false, Vring, "set a queue's call (interrupt) eventfd") \
  X(SET_VRING_ERR, 14, "", VringIndexFd, OneUnlessNofd, Err, AckIfNeedReply, Ack, None, None, NONE, false, Vring, "set a queue's error eventfd") \
  X(GET_PROTOCOL_FEATURES, 15, "", None, None, None, Always, ProtocolFeatures, None, None, NONE, true, Negotiation, "read the back-end's vhost-user protocol feature bits") \
  X(SET_PROTOCOL_FEATURES, 16, "", ProtocolFeatures, None, None, AckIfNeedReply, Ack, None, None, NONE, false, Negotiation, "set the acked protocol feature bits") \
  X(GET_QUEUE_NUM, 17, "", None, None, None, Always, U64, None, None, MQ, true, Negotiation, "read the maximum number of queues") \
  X(SET_VRING_ENABLE, 18, "", VringState, None, None, AckIfNeedReply, Ack, None, None, NONE, false, Vring, "enable (num=1) or disable a queue") \
  X(SEND_RARP, 19, "", Mac, None, None, AckIfNeedReply, Ack, None, None, RARP, false, Device, "ask the back-end to broadcast a RARP for this MAC") \
  X(NET_SET_MTU, 20, "", U64, None, None, AckIfNeedReply, Ack, None, None, NET_MTU, false, Device, "tell a net back-end the MTU") \
  X(SET_BACKEND_REQ_FD, 21, "SET_SLAVE_REQ_FD", None, One, BackendChannel, AckIfNeedReply, Ack, None, None, BACKEND_REQ, false, BackendChannel, "hand over the socket of the back-end channel") \
  X(IOTLB_MSG, 22, "", Iotlb, None, None, Always, Ack, None, None, NONE, true, Memory, "IOTLB update or invalidate (ACCESS_PLATFORM)") \
  X(SET_VRING_ENDIAN, 23, "", VringState, None, None, AckIfNeedReply, Ack, None, None, CROSS_ENDIAN, false, Vring, "set a legacy queue's endianness") \
  X(GET_CONFIG, 24, "", Config, None, None, Always, Config, None, None, CONFIG, true, Config, "read device config space") \
  X(SET_CONFIG, 25, "", Config, None, None, AckIfNeedReply, Ack, None, None, CONFIG, false, Config, "write device config space") \
  X(CREATE_CRYPTO_SESSION, 26, "", Opaque, None, None, Always, Opaque, None, None, CRYPTO_SESSION, true, Device, "create a crypto session (QEMU-private layout)") \
  X(CLOSE_CRYPTO_SESSION, 27, "", U64, None, None, AckIfNeedReply, Ack, None, None, CRYPTO_SESSION, false, Device, "close a crypto session by id") \
  X(POSTCOPY_ADVISE, 28, "", None, None, None, Always, None, One, Userfaultfd, PAGEFAULT, true, Migration, "prepare postcopy; the reply carries a userfaultfd") \
  X(POSTCOPY_LISTEN, 29, "", None, None, None, Always, Ack, None, None, PAGEFAULT, true, Migration, "enter postcopy listening mode") \
  X(POSTCOPY_END, 30, "", None, None, None, Always, Ack, None, None, PAGEFAULT, true, Migration, "postcopy finished") \
  X(GET_INFLIGHT_FD, 31, "", Inflight, None, None, Always, Inflight, OneIfMmapSize, Inflight, INFLIGHT_SHMFD, true, Vring, "get the shared inflight-tracking buffer (reply carries its fd)") \
  X(SET_INFLIGHT_FD, 32, "", Inflight, One, Inflight, AckIfNeedReply, Ack, None, None, INFLIGHT_SHMFD, false, Vring, "give the inflight buffer back after a reconnect") \
  X(GPU_SET_SOCKET, 33, "", None, One, GpuSocket, AckIfNeedReply, Ack, None, None, NONE, false, Device, "hand over the vhost-user-gpu socket") \
  X(RESET_DEVICE, 34, "", None, None, None, AckIfNeedReply, Ack, None, None, RESET_DEVICE, false, Device, "reset the device to its initial state") \
  X(VRING_KICK, 35, "", VringState, None, None, AckIfNeedReply, Ack, None, None, INBAND_NOTIFICATIONS, false, Vring, "in-band kick of a queue") \
  X(GET_MAX_MEM_SLOTS, 36, "", None, None, None, Always, U64, None, None, CONFIGURE_MEM_SLOTS, true, Memory, "read how many memory slots the back-end supports") \
  X(ADD_MEM_REG, 37, "", SingleRegion, One, MemoryRegion, AckIfNeedReply, Ack, None, None, CONFIGURE_MEM_SLOTS, false, Memory, "add one guest memory region (with its fd)") \
  X(REM_MEM_REG, 38, "", SingleRegion, ZeroOrOne, MemoryRegionRemoved, AckIfNeedReply, Ack, None, None, CONFIGURE_MEM_SLOTS, false, Memory, "remove one guest memory region") \
  X(SET_STATUS, 39, "", Status, None, None, AckIfNeedReply, Ack, None, None, STATUS, false, Device, "set the virtio device status byte") \
  X(GET_STATUS, 40, "", None, None, None, Always, Status, None, None, STATUS, true, Device, "read the virtio device status byte") \
  X(GET_SHARED_OBJECT, 41, "", SharedObject, None, None, Always, SharedObject, OneOnSuccess, SharedObject, SHARED_OBJECT, true, Device, "look up a shared object by UUID (reply carries a dmabuf fd)") \
  X(SET_DEVICE_STATE_FD, 42, "", DeviceStateParams, One, DeviceState, Always, DeviceStateResult, OneUnlessNoFdBit, DeviceState, DEVICE_STATE, true, Migration, "start a device state transfer over a pipe") \
  X(CHECK_DEVICE_STATE, 43, "", None, None, None, Always, Ack, None, None, DEVICE_STATE, true, Migration, "ask whether the device state transfer succeeded") \
  X(GET_SHMEM_CONFIG, 44, "", None, None, None, Always, ShmemConfig, None, None, SHMEM, true, Memory, "read the sizes of the shared memory regions")

#define VHS_BACKEND_REQUESTS(X) \
  X(BACKEND_IOTLB_MSG, 1, "SLAVE_IOTLB_MSG", Iotlb, None, None, AckIfNeedReply, Ack, None, None, NONE, false, BackendChannel, "IOTLB miss or access failure reported by the back-end") \
  X(BACKEND_CONFIG_CHANGE_MSG, 2, "SLAVE_CONFIG_CHANGE_MSG", None, None, None, AckIfNeedReply, Ack, None, None, CONFIG, false, BackendChannel, "device config space changed") \
  X(BACKEND_VRING_HOST_NOTIFIER_MSG, 3, "SLAVE_VRING_HOST_NOTIFIER_MSG", VringArea, OneUnlessNofd, HostNotifier, AckIfNeedReply, Ack, None, None, HOST_NOTIFIER, false, BackendChannel, "set or clear a queue's host notifier area") \
  X(BACKEND_VRING_CALL, 4, "SLAVE_VRING_CALL", VringState, None, None, AckIfNeedReply, Ack, None, None, INBAND_NOTIFICATIONS, false, BackendChannel, "in-band call (interrupt) for a queue") \
  X(BACKEND_VRING_ERR, 5, "SLAVE_VRING_ERR", VringState, None, None, AckIfNeedReply, Ack, None, None, INBAND_NOTIFICATIONS, false, BackendChannel, "in-band error notification for a queue") \
  X(BACKEND_SHARED_OBJECT_ADD, 6, "", SharedObject, None, None, AckIfNeedReply, Ack, None, None, SHARED_OBJECT, false, BackendChannel, "export a shared object under a UUID") \
  X(BACKEND_SHARED_OBJECT_REMOVE, 7, "", SharedObject, None, None, AckIfNeedReply, Ack, None, None, SHARED_OBJECT, false, BackendChannel, "withdraw a shared object") \
  X(BACKEND_SHARED_OBJECT_LOOKUP, 8, "", SharedObject, None, None, Always, Ack, OneOnSuccess, SharedObject, SHARED_OBJECT, false, BackendChannel, "look up a shared object (reply carries a dmabuf fd)") \
  X(BACKEND_SHMEM_MAP, 9, "", ShmemMap, One, ShmemMapping, AckIfNeedReply, Ack, None, None, SHMEM, false, BackendChannel, "map an fd into a shared memory region") \
  X(BACKEND_SHMEM_UNMAP, 10, "", ShmemMap, None, None, AckIfNeedReply, Ack, None, None, SHMEM, false, BackendChannel, "unmap part of a shared memory region")

// clang-format on
