#include "apps/multi_gpu.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <thread>

#include "apps/chain.h"
#include "apps/file_io.h"
#include "apps/grid.h"
#include "apps/merge.h"
#include "apps/teacher.h"
#include "engine/atomic_file.h"
#include "engine/check.h"

extern char** environ;

namespace rf::app {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> environment_with(const std::vector<std::pair<std::string, std::string>>& set) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string_view entry(*e);
    bool replaced = false;
    for (const auto& [name, value] : set) replaced = replaced || entry.rfind(name + "=", 0) == 0;
    if (!replaced) env.emplace_back(entry);
  }
  for (const auto& [name, value] : set) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

pid_t start_child(const fs::path& exe, const ChildProcess& c) {
  // Everything the child needs is made before fork: between fork and exec only system calls.
  std::vector<std::string> args = {exe.string()};
  args.insert(args.end(), c.args.begin(), c.args.end());
  std::vector<std::string> env = environment_with(c.env);
  const std::vector<char*> argv = pointers(args), envp = pointers(env);
  const std::string log = c.log.string();
  const pid_t parent = ::getpid();
  // Until exec the child runs this program's signal handlers: a stop passed on that early must
  // find the default action (it ends the child) rather than a handler the exec then forgets.
  sigset_t stops, mask;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &stops, &mask);
  const pid_t pid = ::fork();
  if (pid == 0) {
    struct sigaction default_action = {};
    default_action.sa_handler = SIG_DFL;
    ::sigaction(SIGINT, &default_action, nullptr);
    ::sigaction(SIGTERM, &default_action, nullptr);
    ::sigprocmask(SIG_SETMASK, &mask, nullptr);
    // Its own process group: a Ctrl-C reaches the parent alone, which passes it on once (a
    // second SIGINT would kill the child outright instead of letting it stop between batches).
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execve(argv[0], argv.data(), envp.data());
    constexpr char msg[] = "refine_app: cannot execute the child process\n";
    [[maybe_unused]] const ssize_t n = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  const int fork_error = errno;
  ::pthread_sigmask(SIG_SETMASK, &mask, nullptr);
  RF_CHECK(pid >= 0, "cannot start " << c.name << ": fork failed: " << std::strerror(fork_error));
  ::setpgid(pid, pid);  // here too, so that the group exists before either returns
  return pid;
}

std::string exit_text(int code) {
  return code >= 1000 ? "killed by signal " + std::to_string(code - 1000) : "exit code " + std::to_string(code);
}

// The last `n` lines of a log, indented, to show with a failure.
std::string log_tail(const fs::path& log, size_t n) {
  if (!fs::exists(log)) return "";
  std::istringstream in(read_text_file(log));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  std::string out;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) out += "      " + lines[i] + "\n";
  return out;
}

}  // namespace

std::vector<int> run_children(const fs::path& exe, const std::vector<ChildProcess>& children,
                              const std::atomic<bool>* stop) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  std::vector<pid_t> pids;
  for (const ChildProcess& c : children) {
    pids.push_back(start_child(exe, c));
    std::printf("started %s: pid %d, output in %s\n", c.name.c_str(), int(pids.back()), c.log.string().c_str());
  }
  std::fflush(stdout);
  std::vector<int> codes(children.size(), -1);
  size_t running = children.size();
  bool passed_on = false;
  while (running > 0) {
    for (size_t i = 0; i < pids.size(); ++i) {
      if (codes[i] >= 0) continue;
      int status = 0;
      if (::waitpid(pids[i], &status, WNOHANG) != pids[i]) continue;
      codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
      --running;
      const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
      std::printf("%s: %s after %.0f s\n", children[i].name.c_str(),
                  codes[i] == 0 ? "done" : ("failed, " + exit_text(codes[i])).c_str(), seconds);
      std::fflush(stdout);
    }
    if (stop && stop->load() && !passed_on) {
      for (size_t i = 0; i < pids.size(); ++i)
        if (codes[i] < 0) ::kill(-pids[i], SIGINT);
      passed_on = true;
    }
    if (running > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return codes;
}

std::vector<fs::path> run_shards_on_gpus(const fs::path& exe, const fs::path& run, const Json& record,
                                         const std::vector<std::string>& gpus, int threads_per_child,
                                         const std::vector<std::string>& extra_args, const std::atomic<bool>* stop) {
  const int n = int(gpus.size());
  std::vector<fs::path> dirs;
  std::vector<ChildProcess> children;
  for (int k = 0; k < n; ++k) {
    const std::string id = std::to_string(k) + "/" + std::to_string(n);
    const fs::path dir = run / ("shard-" + std::to_string(k) + "-of-" + std::to_string(n));
    if (!fs::exists(dir / "config.json")) {
      fs::create_directories(dir);
      Json shard = record;
      shard["shard"] = shard_to_json(Shard{k, n});
      shard["gpus"] = nullptr;
      if (json_integer<int>(record.at("threads")) == 0) shard["threads"] = threads_per_child;
      // A shard resumes from its own directory, so it needs the run's kept --teacher there.
      if (fs::exists(run / kTeacherFileName)) link_file(run / kTeacherFileName, dir / kTeacherFileName);
      write_file_atomic(dir / "config.json", shard.dump() + "\n");
    }
    ChildProcess c{"shard " + id + " (GPU " + gpus[size_t(k)] + ")", {"--resume", dir.string()},
                   {{"CUDA_VISIBLE_DEVICES", gpus[size_t(k)]}}, dir / "output.log"};
    c.args.insert(c.args.end(), extra_args.begin(), extra_args.end());
    children.push_back(std::move(c));
    dirs.push_back(dir);
  }
  const std::vector<int> codes = run_children(exe, children, stop);
  if (stop && stop->load()) throw Interrupted("interrupted while the shards ran");
  std::string failures;
  int failed = 0;
  for (size_t i = 0; i < codes.size(); ++i)
    if (codes[i] != 0) {
      ++failed;
      failures += "  " + children[i].name + ": " + exit_text(codes[i]) + "; its output: " +
                  children[i].log.string() + ", ending\n" + log_tail(children[i].log, 4);
    }
  if (failed > 0) {
    failures.pop_back();  // the last newline
    throw Error(std::to_string(failed) + " of " + std::to_string(n) + " shards failed (the cells finished are kept; "
                "once the cause is fixed, refine_app --resume " + run.string() + " continues every shard):\n" + failures);
  }
  return dirs;
}

}  // namespace rf::app
