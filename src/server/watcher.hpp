// server/: notices changes to the config file, however they are made: an in-place
// write, an atomic rename over the file, or a Kubernetes ConfigMap update (the `..data`
// symlink swapped in the file's directory). Bursts are debounced into one callback.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <string>

namespace gatehouse::server {

class FileWatcher {
 public:
  FileWatcher(boost::asio::io_context& ctx, std::string path, std::function<void()> on_change,
              std::chrono::milliseconds debounce = std::chrono::milliseconds(200));
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Returns false (with `error`) when inotify cannot watch the directory.
  bool start(std::string& error);
  void stop();

 private:
  void read_events();
  void watch_file();  // (re)watches the file itself: its inode changes on every rename
  void schedule();

  boost::asio::io_context& ctx_;
  std::string path_;
  std::string dir_;
  std::string base_;  // the file's name in dir_
  std::function<void()> on_change_;
  std::chrono::milliseconds debounce_;
  boost::asio::posix::stream_descriptor stream_;
  boost::asio::steady_timer timer_;
  int file_wd_ = -1;
  bool pending_ = false;
  std::chrono::steady_clock::time_point first_event_{};
  bool stopped_ = false;
  alignas(8) char events_[8192];
};

}  // namespace gatehouse::server
