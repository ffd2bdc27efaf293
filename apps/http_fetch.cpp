#include "apps/http_fetch.h"

#include <curl/curl.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "engine/check.h"

namespace rf::app {

namespace {

struct Sink {
  std::FILE* file = nullptr;
  std::chrono::steady_clock::time_point last_report = std::chrono::steady_clock::now();
};

size_t write_body(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  return std::fwrite(data, size, n, sink->file) * size;
}

// A progress line at most once a second (stderr, so stdout stays the run's log).
int report_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto* sink = static_cast<Sink*>(user);
  const auto t = std::chrono::steady_clock::now();
  if (t - sink->last_report < std::chrono::seconds(1)) return 0;
  sink->last_report = t;
  if (total > 0)
    std::fprintf(stderr, "  %.1f / %.1f MB\n", double(now) / 1e6, double(total) / 1e6);
  return 0;
}

}  // namespace

void http_fetch(const std::string& url, const std::filesystem::path& file) {
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  RF_CHECK(init == CURLE_OK, "libcurl initialisation failed: " << curl_easy_strerror(init));
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  RF_CHECK(curl, "libcurl: cannot create a transfer");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen(file.c_str(), "wb"), std::fclose);
  RF_CHECK(out, file.string() << ": cannot create");
  Sink sink{out.get()};
  char error[CURL_ERROR_SIZE] = "";
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, report_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &sink);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  // A stalled transfer (under 1 kB/s for a minute) fails instead of hanging forever.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  const CURLcode rc = curl_easy_perform(c);
  RF_CHECK(rc == CURLE_OK, url << ": download failed: " << (*error ? error : curl_easy_strerror(rc)));
  RF_CHECK(std::fflush(out.get()) == 0, file.string() << ": write failed");
}

}  // namespace rf::app
