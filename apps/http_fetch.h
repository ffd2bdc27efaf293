#pragma once
// Fetches a URL (http or https, redirects followed) into a file, through libcurl: TLS, proxies
// ($https_proxy, ...) and redirects are its business, not ours.
#include <filesystem>
#include <string>

namespace rf::app {

// Writes the body to `file` (created or truncated). Throws naming the URL on a network error or
// an HTTP status >= 400; the file may then hold a partial body, so callers download to a
// temporary name.
void http_fetch(const std::string& url, const std::filesystem::path& file);

}  // namespace rf::app
