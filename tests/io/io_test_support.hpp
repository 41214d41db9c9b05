// What the io format tests share: the golden data folder, file bytes in and out, a scratch
// folder per test, and checks on the FormatError a malformed file raises.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>

#include "io/errors.hpp"

namespace ttlm::io::testing {

namespace fs = std::filesystem;

inline const fs::path kData = fs::path(TTLM_SOURCE_DIR) / "tests" / "io" / "data";

inline std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

inline void write_bytes(const fs::path& p, std::string_view bytes) {
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The message of the exception `f` throws, which must be a FormatError.
template <class F> std::string format_error_of(F f) {
    try {
        f();
    } catch (const FormatError& e) {
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "expected FormatError, got another exception: " << e.what();
        return {};
    }
    ADD_FAILURE() << "expected FormatError, nothing was thrown";
    return {};
}

inline void expect_words(const std::string& message, std::initializer_list<std::string_view> words) {
    for (std::string_view w : words)
        EXPECT_NE(message.find(w), std::string::npos) << "'" << w << "' not in: " << message;
}

// A fixture with a scratch folder of its own per test (tests of one binary may run in parallel).
class ScratchDirTest : public ::testing::Test {
   protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("ttlm_io_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() +
                                            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }

    fs::path dir_;
};

}  // namespace ttlm::io::testing
