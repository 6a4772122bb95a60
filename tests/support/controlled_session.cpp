#include "support/controlled_session.hpp"

#include <gtest/gtest.h>

namespace vhs::test {

bool ControlledSession::start(std::vector<std::string> extra) {
  be_listen = listen_on(rec.backend_sock);
  extra.insert(extra.end(), {"--control", control, "--sample-interval", "0"});
  if (!rec.start(extra)) return false;
  fe = connect_to(rec.frontend_sock, kArrives);
  if (fe) be = accept_from(be_listen.get(), kArrives);
  return fe && be;
}

CommandResult ControlledSession::ctl(std::vector<std::string> args) {
  args.insert(args.begin(), {"ctl", control});
  return vhostscope(std::move(args));
}

CommandResult ControlledSession::vhostscope(std::vector<std::string> args) {
  args.insert(args.begin(), vhostscope_binary());
  return run_command(args, rec.dir.path(), Millis(10000));
}

void ControlledSession::send(const Bytes& bytes, const std::vector<int>& fds) {
  ASSERT_EQ(send_message(fe.get(), bytes, fds), IoStatus::Ok);
}

ReceivedMessage ControlledSession::expect_at_backend(const Bytes& bytes, Millis timeout) {
  ReceivedMessage m;
  EXPECT_EQ(recv_message(be.get(), m, timeout), IoStatus::Ok);
  EXPECT_EQ(m.bytes, bytes);
  return m;
}

ReceivedMessage ControlledSession::relay(const Bytes& bytes, const std::vector<int>& fds) {
  send(bytes, fds);
  return expect_at_backend(bytes);
}

bool ControlledSession::backend_gets_nothing() {
  ReceivedMessage m;
  return recv_message(be.get(), m, kNothingArrives) == IoStatus::Timeout && m.bytes.empty();
}

}  // namespace vhs::test
