// Replays the inputs a fuzz run kept (tests/data/fixtures/fuzz/<target>/) through the same fuzz
// target, as a plain CTest: each must pass the target's checks, that is parse or fail cleanly.
// usage: replay_fuzz_<target> DIR (a missing DIR holds no inputs)
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  int inputs = 0;
  if (std::filesystem::is_directory(argv[1]))
    for (const auto& e : std::filesystem::directory_iterator(argv[1])) {
      std::ifstream in(e.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::printf("%s\n", e.path().c_str());
      std::fflush(stdout);
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++inputs;
    }
  std::printf("%d kept fuzz inputs replayed\n", inputs);
  return 0;
}
