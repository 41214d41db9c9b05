// Seeded random mutations of valid safetensors and .npy files. Every outcome must be a clean
// success (whose result we check from the outside) or a FormatError naming the file: never
// another exception, a crash, or (under -DTTLM_SANITIZE=ON) a sanitizer report.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <typeinfo>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io_test_support.hpp"
#include "io/npy.hpp"
#include "io/safetensors.hpp"

namespace fs = std::filesystem;
using namespace ttlm::io::testing;
using ttlm::io::FormatError;

namespace {

constexpr int kIterationsPerFormat = 5000;


// Replaces the file's content in place. Truncating to zero first would make ext4 flush the file
// to disk on close, and creating a fresh file costs an inode search: both make each iteration wait.
void overwrite(const std::string& path, std::string_view bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(bytes.size())), 0);
    ::close(fd);
}

uint64_t read_u64(std::string_view bytes, size_t at, size_t width) {
    uint64_t v = 0;
    std::memcpy(&v, bytes.data() + at, width);
    return v;
}

// Reads every byte of a tensor, so an out-of-bounds view faults or trips AddressSanitizer.
uint8_t touch(const ttl::Tensor& t) {
    uint8_t sum = 0;
    const auto* bytes = static_cast<const uint8_t*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); ++i) sum = static_cast<uint8_t>(sum + bytes[i]);
    return sum;
}

class Mutator {
   public:
    explicit Mutator(uint64_t seed) : rng_(seed) {}

    size_t below(size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
    template <class T> const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

    // A byte-level mutation anywhere in the file; `length_width` is the size of the header length
    // field at `length_at` (8 at 0 for safetensors, 2 or 4 at 8 for .npy).
    std::string mutate_bytes(std::string b, size_t length_at, size_t length_width) {
        static const std::string kInteresting = "{}[]\",:-019.eE \x00\xff\\'()TFL";
        switch (below(7)) {
            case 0:  // flip a few bits
                for (size_t n = 1 + below(4); n > 0 && !b.empty(); --n)
                    b[below(b.size())] ^= static_cast<char>(1 << below(8));
                break;
            case 1:  // truncate
                b.resize(below(b.size() + 1));
                break;
            case 2: {  // insert random bytes
                std::string junk(1 + below(16), '\0');
                for (char& c : junk) c = static_cast<char>(below(256));
                b.insert(below(b.size() + 1), junk);
                break;
            }
            case 3:  // delete a range
                if (!b.empty()) {
                    size_t at = below(b.size());
                    b.erase(at, 1 + below(std::min<size_t>(32, b.size() - at)));
                }
                break;
            case 4:  // a syntax character where the parser looks
                if (!b.empty()) b[below(b.size())] = kInteresting[below(kInteresting.size())];
                break;
            case 5:  // edit the header length field
                if (b.size() >= length_at + length_width) {
                    uint64_t length = read_u64(b, length_at, length_width);
                    switch (below(3)) {
                        case 0: length += below(33) - 16; break;
                        case 1: length = below(b.size() + 1); break;
                        default: length = std::uniform_int_distribution<uint64_t>()(rng_); break;
                    }
                    std::memcpy(b.data() + length_at, &length, length_width);
                }
                break;
            default:  // duplicate a chunk
                if (!b.empty()) {
                    size_t at = below(b.size());
                    b.insert(below(b.size() + 1), b.substr(at, 1 + below(64)));
                }
                break;
        }
        return b;
    }

    // Replaces one value of a safetensors header with another JSON value, keeping the file
    // otherwise valid: reaches the checks behind the JSON parser.
    std::string mutate_safetensors_header(const std::string& b) {
        const uint64_t n = read_u64(b, 0, 8);
        nlohmann::ordered_json header = nlohmann::ordered_json::parse(b.substr(8, n));
        static const std::vector<nlohmann::ordered_json> kValues = {-1,
                                                                    0,
                                                                    1,
                                                                    3,
                                                                    7,
                                                                    1.5,
                                                                    "F32",
                                                                    "BF16",
                                                                    "F16",
                                                                    "F4",
                                                                    "I64",
                                                                    "nope",
                                                                    nullptr,
                                                                    true,
                                                                    nlohmann::ordered_json::array(),
                                                                    nlohmann::ordered_json::object(),
                                                                    {0},
                                                                    {0, 4},
                                                                    {4, 0},
                                                                    {0, 1, 2},
                                                                    18446744073709551615ull,
                                                                    9223372036854775807ll,
                                                                    {"x"},
                                                                    {{"k", "v"}},
                                                                    {{"k", 1}}};
        std::vector<std::string> keys;
        for (const auto& [k, v] : header.items()) keys.push_back(k);
        if (keys.empty()) return b;
        auto& entry = header[pick(keys)];
        switch (below(4)) {
            case 0: entry = pick(kValues); break;
            case 1:
                if (entry.is_object() && !entry.empty()) {
                    std::vector<std::string> fields;
                    for (const auto& [k, v] : entry.items()) fields.push_back(k);
                    const std::string field = pick(fields);
                    if (entry[field].is_array() && !entry[field].empty() && below(2))
                        entry[field][below(entry[field].size())] = pick(kValues);
                    else
                        entry[field] = pick(kValues);
                }
                break;
            case 2:
                if (entry.is_object() && !entry.empty()) entry.erase(entry.begin());
                break;
            default: header[pick(keys) + "_copy"] = entry; break;
        }
        std::string text = header.dump();
        std::string out(8, '\0');
        const uint64_t length = text.size();
        std::memcpy(out.data(), &length, 8);
        return out + text + b.substr(8 + n);
    }

    // Rewrites a piece of a .npy header dict with a token its parser must handle.
    std::string mutate_npy_header(std::string b) {
        static const std::vector<std::string> kTokens = {"True",      "False",
                                                         "(",         ")",
                                                         ",",         "'<f8'",
                                                         "'>f4'",     "'|b1'",
                                                         "-1",        "99999999999999999999",
                                                         "L",         "'shape'",
                                                         "{",         "}",
                                                         "()",        "(0,)",
                                                         "(1, 2, 3)", "'",
                                                         "\"",        " ",
                                                         "\n",        "0",
                                                         "None",      "[('a', '<f4')]"};
        if (b.size() < 12) return b;
        const size_t begin = 10 + below(b.size() - 10);
        b.replace(begin, below(6), pick(kTokens));
        return b;
    }

   private:
    std::mt19937_64 rng_;
};

class FormatFuzz : public ttlm::io::testing::ScratchDirTest {
   protected:

    // Runs `check` on the file holding `bytes`: success and FormatError are counted, anything
    // else fails the test with the iteration and bytes needed to reproduce it.
    template <class Check> void run(int iteration, const std::string& bytes, const std::string& path, Check check) {
        overwrite(path, bytes);
        try {
            check(path, bytes);
            ++successes_;
        } catch (const FormatError& e) {
            ++format_errors_;
            if (std::string_view(e.what()).substr(0, path.size()) != path)
                ADD_FAILURE() << "iteration " << iteration
                              << ": the message does not start with the file: " << e.what();
        } catch (const std::exception& e) {
            ADD_FAILURE() << "iteration " << iteration << ": " << typeid(e).name() << ": " << e.what() << "\nbytes ("
                          << bytes.size()
                          << "): " << nlohmann::json(nlohmann::json::binary({bytes.begin(), bytes.end()}));
        }
    }

    int successes_ = 0, format_errors_ = 0;
};

// What a successful open promises, checked from the outside: every tensor lies in the data
// section, its byte count matches shape x dtype, and the tensors tile the section exactly.
void check_safetensors(const std::string& path, const std::string& bytes) {
    auto f = ttlm::io::SafetensorsFile::open(path);
    const uint64_t data_size = bytes.size() - 8 - read_u64(bytes, 0, 8);
    std::vector<std::pair<size_t, size_t>> spans;
    for (const auto& name : f.names()) {
        const auto& e = f.entry(name);
        ASSERT_LE(e.begin, e.end);
        ASSERT_LE(e.end, data_size);
        spans.emplace_back(e.begin, e.end);
        try {
            const ttl::Tensor t = f.tensor(name);
            ASSERT_EQ(t.nbytes(), e.end - e.begin) << name;
            touch(t);
        } catch (const FormatError&) {  // a dtype ttl::Tensor lacks
        }
        try {
            touch(f.tensor_f32(name));
        } catch (const FormatError&) {  // not a float dtype
        }
    }
    std::sort(spans.begin(), spans.end());
    size_t covered = 0;
    for (const auto& [begin, end] : spans) {
        ASSERT_EQ(begin, covered);
        covered = end;
    }
    ASSERT_EQ(covered, data_size);
}

void check_npy(const std::string& path, const std::string& bytes) {
    const ttl::Tensor t = ttlm::io::load_npy(path);
    touch(t);
    const size_t data_offset = bytes[6] == 1 ? 10 + read_u64(bytes, 8, 2) : 12 + read_u64(bytes, 8, 4);
    const size_t data_bytes = bytes.size() - data_offset;
    // '<f8' arrives as F32: 8 bytes in the file per element.
    ASSERT_TRUE(data_bytes == t.nbytes() || (t.dtype() == ttl::DType::F32 && data_bytes == 2 * t.nbytes()));
}

TEST_F(FormatFuzz, MutatedSafetensorsOpenOrFailCleanly) {
    // Seeds: the goldens and a file with every dtype the writer knows, several tensors of each.
    std::vector<std::string> seeds;
    for (const char* name : {"tiny.safetensors", "convert.safetensors", "unpadded.safetensors"})
        seeds.push_back(read_bytes(kData / name));
    std::vector<std::pair<std::string, ttl::Tensor>> tensors;
    for (int i = 0; i < 6; ++i) {
        const ttl::DType dtypes[] = {ttl::DType::F32, ttl::DType::BF16, ttl::DType::I32, ttl::DType::I64};
        tensors.emplace_back(fmt::format("t{}", i), ttl::Tensor({i % 3, 3}, dtypes[i % 4]));
    }
    ttlm::io::save_safetensors((dir_ / "seed.safetensors").string(), tensors, {{"k", "v"}});
    seeds.push_back(read_bytes(dir_ / "seed.safetensors"));

    Mutator m(0x5afe7e45);
    const std::string path = (dir_ / "fuzz.safetensors").string();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kIterationsPerFormat; ++i) {
        std::string bytes = m.pick(seeds);
        bytes = m.below(3) == 0 ? m.mutate_safetensors_header(bytes) : m.mutate_bytes(bytes, 0, 8);
        if (m.below(4) == 0) bytes = m.mutate_bytes(bytes, 0, 8);  // sometimes two mutations
        run(i, bytes, path, check_safetensors);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("safetensors: %d mutations in %.2f s: %d opened, %d FormatError\n", kIterationsPerFormat, seconds,
                successes_, format_errors_);
    // The mix must exercise both paths, or the mutations are too weak (or too strong) to test much.
    EXPECT_GT(successes_, kIterationsPerFormat / 100);
    EXPECT_GT(format_errors_, kIterationsPerFormat / 2);
}

TEST_F(FormatFuzz, MutatedNpyLoadsOrFailsCleanly) {
    std::vector<std::string> seeds;
    for (const auto& file : fs::directory_iterator(kData))
        if (file.path().extension() == ".npy") seeds.push_back(read_bytes(file.path()));
    ASSERT_GE(seeds.size(), 10u);

    Mutator m(0x0e0e9e);
    const std::string path = (dir_ / "fuzz.npy").string();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kIterationsPerFormat; ++i) {
        std::string bytes = m.pick(seeds);
        const size_t length_width = bytes[6] == 1 ? 2 : 4;
        bytes = m.below(3) == 0 ? m.mutate_npy_header(bytes) : m.mutate_bytes(bytes, 8, length_width);
        if (m.below(4) == 0) bytes = m.mutate_bytes(bytes, 8, length_width);
        run(i, bytes, path, check_npy);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("npy: %d mutations in %.2f s: %d loaded, %d FormatError\n", kIterationsPerFormat, seconds, successes_,
                format_errors_);
    EXPECT_GT(successes_, kIterationsPerFormat / 100);
    EXPECT_GT(format_errors_, kIterationsPerFormat / 2);
}

}  // namespace
