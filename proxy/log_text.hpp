// Small pieces of the proxy's log and record texts, shared by the relay and the replay peers.
#pragma once

#include <chrono>
#include <string>

namespace vhs {

// "5.0 s": a timeout as the messages name it.
std::string seconds_text(std::chrono::milliseconds ms);

// " (pid 1234)" for the process at the other end of a unix socket (SO_PEERCRED), "" if unknown.
std::string peer_pid_note(int fd);

}  // namespace vhs
