#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io_test_support.hpp"
#include "io/npy.hpp"

namespace fs = std::filesystem;
using namespace ttlm::io::testing;
using ttlm::io::FormatError;

namespace {




// A .npy file from a header dict written by hand: magic, version, length field, the dict padded
// with spaces and a newline to a multiple of `align` bytes, then `data`.
std::string npy_bytes(std::string_view dict, std::string_view data, int major = 1, size_t align = 64) {
    const size_t preamble = major == 1 ? 10 : 12;
    std::string header(dict);
    header.append(align - 1 - (preamble + header.size()) % align, ' ');
    header += '\n';
    std::string out = "\x93NUMPY";
    out += static_cast<char>(major);
    out += '\0';
    const uint32_t length = static_cast<uint32_t>(header.size());
    out.append(reinterpret_cast<const char*>(&length), preamble - 8);
    return out + header + std::string(data);
}

const std::string kSixFloats(24, '\0');
constexpr std::string_view kGoodDict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

class Npy : public ttlm::io::testing::ScratchDirTest {
   protected:

    std::string load_error(std::string_view bytes) {
        const std::string p = path("bad.npy");
        write_bytes(p, bytes);
        return format_error_of([&] { ttlm::io::load_npy(p); });
    }

};

TEST_F(Npy, ReadsWhatNumpyWrote) {
    const auto expected = nlohmann::json::parse(read_bytes(kData / "expected.json"));
    const auto& all = expected["npy"];
    ASSERT_GE(all.size(), 8u);
    for (const auto& [name, want] : all.items()) {
        const ttl::Tensor t = ttlm::io::load_npy((kData / name).string());
        EXPECT_EQ(t.shape(), want["shape"].get<ttl::Shape>()) << name;
        EXPECT_EQ(std::string(ttl::dtype_name(t.dtype())), std::string(want["dtype"] == "F32"   ? "f32"
                                                                       : want["dtype"] == "I32" ? "i32"
                                                                                                : "i64"))
            << name;
        ASSERT_EQ(static_cast<size_t>(t.numel()), want["values"].size()) << name;
        for (int64_t i = 0; i < t.numel(); ++i) {
            if (t.dtype() == ttl::DType::F32)
                EXPECT_EQ(t.data<float>()[i], want["values"][i].get<float>()) << name << "[" << i << "]";
            else if (t.dtype() == ttl::DType::I32)
                EXPECT_EQ(t.data<int32_t>()[i], want["values"][i].get<int32_t>()) << name << "[" << i << "]";
            else
                EXPECT_EQ(t.data<int64_t>()[i], want["values"][i].get<int64_t>()) << name << "[" << i << "]";
        }
    }
}

TEST_F(Npy, WritesExactlyWhatNumpyWrites) {
    for (const char* name : {"f32_2x3.npy", "i32_4.npy", "i64_2x2x2.npy", "f32_scalar.npy", "f32_empty.npy"}) {
        const ttl::Tensor t = ttlm::io::load_npy((kData / name).string());
        ttlm::io::save_npy(path(name), t);
        EXPECT_EQ(read_bytes(path(name)), read_bytes(kData / name)) << name;
        EXPECT_FALSE(fs::exists(path(name) + ".tmp"));
    }
}

TEST_F(Npy, RoundTripsLargeAndManyDimensionalTensors) {
    ttl::Tensor t = ttl::Tensor::empty({3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5},
                                       ttl::DType::I64);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<int64_t>()[i] = i * 7919 - 40;
    ttlm::io::save_npy(path("t.npy"), t);
    const ttl::Tensor back = ttlm::io::load_npy(path("t.npy"));
    EXPECT_EQ(back.shape(), t.shape());
    EXPECT_EQ(std::memcmp(back.raw(), t.raw(), t.nbytes()), 0);
    EXPECT_EQ(fs::file_size(path("t.npy")) % 64, t.nbytes() % 64);  // data starts 64-byte aligned
}

TEST_F(Npy, AcceptsHeadersOlderWritersProduce) {
    // No growth padding, Python 2 long suffixes (version 1.0), double quotes, keys in another
    // order, a 1-D array marked Fortran order (same bytes as C order), and numpy < 1.14's 16-byte
    // alignment.
    std::string data(8, '\0');
    const float values[2] = {1.5f, -2.0f};
    std::memcpy(data.data(), values, 8);
    for (std::string_view dict : {"{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }",
                                  "{\"shape\": (2,), \"descr\": \"<f4\", \"fortran_order\": True}",
                                  "{'descr':'<f4','fortran_order':False,'shape':( 2 , )}"}) {
        const std::string p = path("old.npy");
        write_bytes(p, npy_bytes(dict, data));
        const ttl::Tensor t = ttlm::io::load_npy(p);
        ASSERT_EQ(t.shape(), (ttl::Shape{2})) << dict;
        EXPECT_EQ(t.data<float>()[1], -2.0f) << dict;
    }
    write_bytes(path("sixteen.npy"),
                npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data, 1, 16));
    EXPECT_EQ(ttlm::io::load_npy(path("sixteen.npy")).data<float>()[0], 1.5f);
}

TEST_F(Npy, SaveRefusesBf16) {
    try {
        ttlm::io::save_npy(path("b.npy"), ttl::Tensor({2}, ttl::DType::BF16));
        ADD_FAILURE() << "no exception";
    } catch (const std::invalid_argument& e) {
        expect_words(e.what(), {"b.npy", "bfloat16"});
    }
    EXPECT_FALSE(fs::exists(path("b.npy")));
}

TEST_F(Npy, OpenFailureNamesTheFile) {
    try {
        ttlm::io::load_npy(path("missing.npy"));
        ADD_FAILURE() << "no exception";
    } catch (const std::system_error& e) {
        expect_words(e.what(), {"missing.npy"});
    }
}

// One test per class of malformed input the reader must refuse.

TEST_F(Npy, RejectsBadMagic) {
    std::string bytes = read_bytes(kData / "f32_2x3.npy");
    bytes[1] = 'n';
    expect_words(load_error(bytes), {"bad.npy", "magic", "\\x93NUMPY"});
    expect_words(load_error("\x93NUM"), {"bad.npy", "4 bytes", "too short"});
}

TEST_F(Npy, RejectsUnsupportedVersion) {
    std::string bytes = read_bytes(kData / "f32_2x3.npy");
    bytes[6] = 4;
    expect_words(load_error(bytes), {"bad.npy", "version", "4.0", "1.0, 2.0 or 3.0"});
    bytes[6] = 1;
    bytes[7] = 1;
    expect_words(load_error(bytes), {"bad.npy", "version", "1.1"});
}

TEST_F(Npy, RejectsHeaderLengthPastTheEnd) {
    std::string bytes = read_bytes(kData / "f32_2x3.npy");
    bytes[8] = static_cast<char>(0xff);
    bytes[9] = 0x00;
    expect_words(load_error(bytes.substr(0, 100)), {"bad.npy", "header", "length 255", "past the end"});
    std::string v2 = read_bytes(kData / "f32_v2.npy");
    v2[10] = 0x7f;  // 2^23 + the real length: over numpy's limit
    expect_words(load_error(v2), {"bad.npy", "header", "limit of 10000"});
}

TEST_F(Npy, RejectsHeaderDictParseErrors) {
    auto error_for = [&](std::string_view dict) { return load_error(npy_bytes(dict, kSixFloats)); };
    expect_words(error_for("['descr', '<f4']"), {"bad.npy", "header", "expected '{'"});
    expect_words(error_for("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "), {"header", "expected '}'"});
    expect_words(error_for("{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}"), {"header"});
    expect_words(error_for("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x"),
                 {"header", "after the dict"});
    expect_words(error_for("{'descr': '<f4', 'fortran_order': None, 'shape': (2, 3)}"), {"header", "True, False"});
    expect_words(error_for("{'descr': '<f4', 'fortran_order': False}"), {"bad.npy", "header", "missing 'shape'"});
    expect_words(error_for("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}"),
                 {"header", "'extra'"});
    expect_words(error_for("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}"),
                 {"header", "'descr'", "twice"});
    expect_words(error_for("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3)}"),
                 {"header", "'descr'", "structured"});
    expect_words(error_for("{'descr': '<f4', 'fortran_order': 'no', 'shape': (2, 3)}"),
                 {"header", "'fortran_order' must be True or False"});
    expect_words(error_for("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}"), {"header", "tuple"});
    expect_words(error_for("{'descr': '<f4', 'fortran_order': False, 'shape': (6)}"),
                 {"header", "parenthesised integer"});
    expect_words(error_for("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"),
                 {"header", "too large"});
    expect_words(error_for("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}"),
                 {"bad.npy", "shape", "(2, -3)", "negative"});
}

TEST_F(Npy, RejectsUnsupportedDescr) {
    expect_words(format_error_of([&] { ttlm::io::load_npy((kData / "u8_3.npy").string()); }),
                 {"u8_3.npy", "descr", "'|u1'", "not supported", "'<f4'"});
    expect_words(load_error(npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", kSixFloats)),
                 {"bad.npy", "descr", "'<c8'"});
}

TEST_F(Npy, RejectsBigEndian) {
    expect_words(format_error_of([&] { ttlm::io::load_npy((kData / "f32_bigendian.npy").string()); }),
                 {"f32_bigendian.npy", "descr", "'>f4'", "big-endian", "astype('<f4')"});
}

TEST_F(Npy, RejectsFortranOrder) {
    expect_words(format_error_of([&] { ttlm::io::load_npy((kData / "f32_fortran.npy").string()); }),
                 {"f32_fortran.npy", "fortran_order", "C-order"});
}

TEST_F(Npy, RejectsDataThatDoesNotMatchTheShape) {
    const std::string bytes = read_bytes(kData / "f32_2x3.npy");
    expect_words(load_error(bytes.substr(0, bytes.size() - 1)),
                 {"bad.npy", "data", "(2, 3)", "'<f4'", "needs 24 bytes", "has 23"});
    expect_words(load_error(bytes + "x"), {"bad.npy", "data", "needs 24 bytes", "has 25"});
    expect_words(load_error(npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}",
                                      kSixFloats)),
                 {"bad.npy", "data", "needs more bytes"});
}

}  // namespace
