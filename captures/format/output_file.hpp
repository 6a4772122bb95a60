// Opening the files vhostscope writes (captures, reports, screenshots) without letting the file
// system redirect them. vhostscope is often run as root next to directories other users can write
// (/tmp), so the path the user named is the only file it may create or replace:
//   - a symbolic link at the path is refused (never followed, so its target is never truncated
//     and a dangling link never creates one);
//   - a FIFO, socket or device is refused without blocking (a FIFO open would wait forever for a
//     reader);
//   - a regular file with other hard links is refused (replacing it would change the other names);
//   - an existing regular file is replaced (truncated), as tcpdump -w does, and its mode tightened
//     to 0600; a new file is created 0600.
#pragma once

#include <cstdio>
#include <string>

namespace vhs {

// An fd open for writing on an empty regular file at `path`, or -1 with `error` set ("cannot
// write 'x': it is a symbolic link ...").
int open_output_fd(const std::string& path, std::string& error);

// The same as a stdio stream ("w" mode); nullptr with `error` set.
FILE* open_output_stream(const std::string& path, std::string& error);

}  // namespace vhs
