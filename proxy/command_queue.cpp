// Command queue of the relay (see command_queue.hpp).
#include "proxy/command_queue.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "proxy/sys_error.hpp"

namespace vhs {

std::unique_ptr<CommandQueue> CommandQueue::create(FdWatcher& loop, Runner runner,
                                                   std::string& error) {
  UniqueFd event(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  std::unique_ptr<CommandQueue> queue;
  if (event) queue.reset(new CommandQueue(std::move(runner), std::move(event)));
  if (!queue || !loop.watch(queue->event_.get(), *queue)) {
    error = "cannot set up the event loop: " + errno_text(errno);
    return nullptr;
  }
  return queue;
}

std::string CommandQueue::submit(std::string_view line, std::chrono::milliseconds timeout) {
  auto reply = std::make_shared<std::promise<std::string>>();
  std::future<std::string> answer = reply->get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    lines_.emplace_back(line);
    replies_.push_back(reply);
  }
  uint64_t one = 1;
  ssize_t rc = ::write(event_.get(), &one, sizeof one);
  (void)rc;
  if (answer.wait_for(timeout) != std::future_status::ready)
    return "error: the relay is not running\n";
  return answer.get();
}

void CommandQueue::on_ready(uint64_t) {
  uint64_t count;
  while (::read(event_.get(), &count, sizeof count) < 0 && errno == EINTR) {
  }
  std::deque<std::string> lines;
  std::deque<std::shared_ptr<std::promise<std::string>>> replies;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    lines.swap(lines_);
    replies.swap(replies_);
  }
  for (size_t i = 0; i < lines.size(); ++i) replies[i]->set_value(runner_(lines[i]));
}

}  // namespace vhs
