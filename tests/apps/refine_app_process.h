#pragma once
// Running the real refine_app binary from a test: output to a log file, exit code back.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "apps/file_io.h"

namespace rf::test {

// Starts refine_app with `args`, stdout and stderr to `log`.
inline pid_t spawn(const std::vector<std::string>& args, const std::filesystem::path& log) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    std::string exe = RF_REFINE_APP;
    argv.push_back(exe.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

// Exit code, or 1000 + signal number when killed.
inline int wait_for(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

// Runs refine_app to the end; its output is shown when it fails.
inline int run(const std::vector<std::string>& args, const std::filesystem::path& log) {
  const int rc = wait_for(spawn(args, log));
  if (rc != 0) MESSAGE("refine_app output:\n" << rf::app::read_text_file(log));
  return rc;
}

}  // namespace rf::test
