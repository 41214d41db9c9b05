#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "io_test_support.hpp"
#include "io/safetensors.hpp"

namespace fs = std::filesystem;
using namespace ttlm::io::testing;
using ttlm::io::FormatError;
using ttlm::io::SafetensorsFile;

namespace {



const nlohmann::json& expected() {
    static const nlohmann::json e = nlohmann::json::parse(read_bytes(kData / "expected.json"));
    return e;
}

// The tensor's values as doubles (every dtype here converts exactly).
std::vector<double> values_of(const ttl::Tensor& t) {
    std::vector<double> v;
    for (int64_t i = 0; i < t.numel(); ++i) {
        switch (t.dtype()) {
            case ttl::DType::F32: v.push_back(t.data<float>()[i]); break;
            case ttl::DType::BF16: v.push_back(ttl::bf16_bits_to_float(t.data<ttl::bf16>()[i].bits)); break;
            case ttl::DType::I32: v.push_back(t.data<int32_t>()[i]); break;
            case ttl::DType::I64: v.push_back(static_cast<double>(t.data<int64_t>()[i])); break;
        }
    }
    return v;
}

// Compares exactly, including the sign of zero; integers as int64 so none above 2^53 is rounded.
void expect_values(const ttl::Tensor& t, const nlohmann::json& want, const std::string& name) {
    ASSERT_EQ(static_cast<size_t>(t.numel()), want.size()) << name;
    for (int64_t i = 0; i < t.numel(); ++i) {
        if (t.dtype() == ttl::DType::I64) {
            EXPECT_EQ(t.data<int64_t>()[i], want[i].get<int64_t>()) << name << "[" << i << "]";
        } else {
            const double got = values_of(t)[i], w = want[i].get<double>();
            EXPECT_EQ(got, w) << name << "[" << i << "]";
            EXPECT_EQ(std::signbit(got), std::signbit(w)) << name << "[" << i << "]";
        }
    }
}


// A file built from a header and data section by hand; `length` overrides the header length field.
std::string safetensors_bytes(std::string_view header, std::string_view data = {},
                              std::optional<uint64_t> length = std::nullopt) {
    std::string out(8, '\0');
    const uint64_t n = length.value_or(header.size());
    std::memcpy(out.data(), &n, 8);
    return out.append(header).append(data);
}

class Safetensors : public ttlm::io::testing::ScratchDirTest {
   protected:


    // Writes a malformed file and returns the message of the FormatError that opening it throws.
    std::string open_error(std::string_view bytes) {
        const std::string p = path("bad.safetensors");
        write_bytes(p, bytes);
        return format_error_of([&] { SafetensorsFile::open(p); });
    }
    // Same, for one tensor entry with a 24-byte data section.
    std::string entry_error(std::string_view entry_json) {
        return open_error(safetensors_bytes(fmt::format(R"({{"w":{}}})", entry_json), std::string(24, '\0')));
    }

};

TEST_F(Safetensors, ReadsEveryTensorOfTheGoldenFile) {
    const auto& want = expected()["tiny.safetensors"];
    auto f = SafetensorsFile::open((kData / "tiny.safetensors").string());
    std::vector<std::string> names;
    for (const auto& [name, w] : want["tensors"].items()) names.push_back(name);
    std::sort(names.begin(), names.end());
    EXPECT_EQ(f.names(), names);
    EXPECT_TRUE(f.contains("ids"));
    EXPECT_FALSE(f.contains("id"));
    for (const auto& [name, w] : want["tensors"].items()) {
        const auto& e = f.entry(name);
        EXPECT_EQ(e.dtype, w["dtype"].get<std::string>()) << name;
        EXPECT_EQ(e.shape, w["shape"].get<ttl::Shape>()) << name;
        const ttl::Tensor t = f.tensor(name);
        EXPECT_EQ(t.shape(), e.shape) << name;
        expect_values(t, w["values"], name);
    }
    EXPECT_EQ(f.metadata(), (want["metadata"].get<std::map<std::string, std::string>>()));
}

TEST_F(Safetensors, ViewsAreZeroCopyOutliveTheFileAndNeverWriteIt) {
    const std::string p = path("copy.safetensors");
    fs::copy_file(kData / "tiny.safetensors", p);
    const std::string before = read_bytes(p);
    ttl::Tensor view;
    {
        auto f = SafetensorsFile::open(p);
        view = f.tensor("model.embed.weight");
        EXPECT_EQ(view.raw(), f.tensor("model.embed.weight").raw());  // the same bytes, not a copy
        EXPECT_EQ(reinterpret_cast<uintptr_t>(view.raw()) % 4, 0u);
    }
    // The mapping lives as long as a view does.
    expect_values(view, expected()["tiny.safetensors"]["tensors"]["model.embed.weight"]["values"], "after close");
    view.data<float>()[0] = 1234.0f;
    EXPECT_EQ(read_bytes(p), before);
    EXPECT_EQ(SafetensorsFile::open(p).tensor("model.embed.weight").data<float>()[0],
              expected()["tiny.safetensors"]["tensors"]["model.embed.weight"]["values"][0].get<float>());
}

TEST_F(Safetensors, TensorF32ConvertsEveryFloatType) {
    const auto& want = expected()["convert.safetensors"]["tensors"];
    auto f = SafetensorsFile::open((kData / "convert.safetensors").string());
    for (const auto& [name, w] : want.items()) {
        const ttl::Tensor t = f.tensor_f32(name);
        EXPECT_EQ(t.dtype(), ttl::DType::F32) << name;
        EXPECT_EQ(t.shape(), w["shape"].get<ttl::Shape>()) << name;
        expect_values(t, w["values"], name);
    }
    EXPECT_EQ(f.tensor_f32("single").raw(), f.tensor("single").raw());
    expect_words(format_error_of([&] { f.tensor("half"); }), {"convert.safetensors", "'half'", "F16", "tensor_f32"});
    auto tiny = SafetensorsFile::open((kData / "tiny.safetensors").string());
    expect_words(format_error_of([&] { tiny.tensor_f32("ids"); }), {"tiny.safetensors", "'ids'", "I64", "F32"});
}

TEST_F(Safetensors, CopiesTensorsStoredMisaligned) {
    // The golden's header is not padded, so its F32 tensor starts at an odd address in the mapping.
    auto f = SafetensorsFile::open((kData / "unpadded.safetensors").string());
    const ttl::Tensor t = f.tensor("odd");
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 4, 0u);
    expect_values(t, expected()["unpadded.safetensors"]["tensors"]["odd"]["values"], "odd");
}

TEST_F(Safetensors, CheckedLoadNamesFileTensorAndMismatch) {
    auto f = SafetensorsFile::open((kData / "tiny.safetensors").string());
    EXPECT_EQ(f.tensor("model.embed.weight", ttl::DType::F32, {3, 4}).shape(), (ttl::Shape{3, 4}));
    const std::string file = (kData / "tiny.safetensors").string();
    EXPECT_EQ(format_error_of([&] {
                  f.tensor("model.embed.weight", ttl::DType::F32, {4, 3});
              }),
              file + ": tensor 'model.embed.weight': shape [3, 4], expected [4, 3]");
    EXPECT_EQ(format_error_of([&] {
                  f.tensor("model.embed.weight", ttl::DType::BF16, {3, 4});
              }),
              file + ": tensor 'model.embed.weight': dtype F32, expected BF16");
}

TEST_F(Safetensors, MissingTensorListsCloseNames) {
    auto f = SafetensorsFile::open((kData / "tiny.safetensors").string());
    const std::string message = format_error_of([&] { f.entry("model.embed.weights"); });
    expect_words(message, {"tiny.safetensors", "'model.embed.weights'", "no such tensor", "'model.embed.weight'"});
    EXPECT_EQ(message.find("'ids'"), std::string::npos) << message;
    expect_words(format_error_of([&] { f.tensor("completely.unrelated.name"); }), {"none has a similar name"});
}

TEST_F(Safetensors, SavingTheGoldenTensorsReproducesItByteForByte) {
    const std::string golden = (kData / "tiny.safetensors").string();
    auto f = SafetensorsFile::open(golden);
    std::vector<std::pair<std::string, ttl::Tensor>> tensors;
    for (const auto& name : f.names()) tensors.emplace_back(name, f.tensor(name));
    std::reverse(tensors.begin(), tensors.end());  // the writer orders them itself
    ttlm::io::save_safetensors(path("out.safetensors"), tensors, f.metadata());
    EXPECT_EQ(read_bytes(path("out.safetensors")), read_bytes(golden));
    EXPECT_FALSE(fs::exists(path("out.safetensors.tmp")));
}

// Byte vectors from the reference implementation's own tests (huggingface/safetensors,
// safetensors/src/tensor.rs: test_serialization, test_serialization_forced_alignement, test_empty).
TEST_F(Safetensors, WritesWhatTheReferenceLibraryWrites) {
    auto bytes_of = [](std::initializer_list<int> v) {
        std::string s;
        for (int b : v) s += static_cast<char>(b);
        return s;
    };
    const auto data = ttl::Tensor::from_vector({0, 1, 2, 3, 4, 5}, {1, 2, 3});
    ttlm::io::save_safetensors(path("a.safetensors"), {{"attn.0", data}});
    EXPECT_EQ(read_bytes(path("a.safetensors")),
              bytes_of({64,  0,   0,   0,   0,   0,  0,  0,  123, 34, 97,  116, 116, 110, 46,  48,  34,  58,  123, 34,
                        100, 116, 121, 112, 101, 34, 58, 34, 70,  51, 50,  34,  44,  34,  115, 104, 97,  112, 101, 34,
                        58,  91,  49,  44,  50,  44, 51, 93, 44,  34, 100, 97,  116, 97,  95,  111, 102, 102, 115, 101,
                        116, 115, 34,  58,  91,  48, 44, 50, 52,  93, 125, 125, 0,   0,   0,   0,   0,   0,   128, 63,
                        0,   0,   0,   64,  0,   0,  64, 64, 0,   0,  128, 64,  0,   0,   160, 64}));
    ttlm::io::save_safetensors(path("b.safetensors"), {{"attn0", data.reshape({1, 1, 2, 3})}});
    EXPECT_EQ(
        read_bytes(path("b.safetensors")),
        bytes_of({72,  0,   0,   0,  0,  0,  0,  0,  123, 34,  97, 116, 116, 110, 48,  34,  58,  123, 34,  100, 116,
                  121, 112, 101, 34, 58, 34, 70, 51, 50,  34,  44, 34,  115, 104, 97,  112, 101, 34,  58,  91,  49,
                  44,  49,  44,  50, 44, 51, 93, 44, 34,  100, 97, 116, 97,  95,  111, 102, 102, 115, 101, 116, 115,
                  34,  58,  91,  48, 44, 50, 52, 93, 125, 125, 32, 32,  32,  32,  32,  32,  32,  0,   0,   0,   0,
                  0,   0,   128, 63, 0,  0,  0,  64, 0,   0,   64, 64,  0,   0,   128, 64,  0,   0,   160, 64}));
    ttlm::io::save_safetensors(path("c.safetensors"), {});
    EXPECT_EQ(read_bytes(path("c.safetensors")), bytes_of({8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32}));
    ttlm::io::save_safetensors(path("d.safetensors"), {}, {{"framework", "pt"}});
    EXPECT_EQ(read_bytes(path("d.safetensors")),
              bytes_of({40,  0,   0,   0,  0,  0,  0,   0,   123, 34,  95,  95,  109, 101, 116, 97,
                        100, 97,  116, 97, 95, 95, 34,  58,  123, 34,  102, 114, 97,  109, 101, 119,
                        111, 114, 107, 34, 58, 34, 112, 116, 34,  125, 125, 32,  32,  32,  32,  32}));
}

TEST_F(Safetensors, RoundTripsEveryDtypeAlignedAndExact) {
    std::mt19937 rng(3);
    std::vector<std::pair<std::string, ttl::Tensor>> tensors;
    const ttl::DType dtypes[] = {ttl::DType::BF16, ttl::DType::F32, ttl::DType::I32, ttl::DType::I64};
    for (int i = 0; i < 12; ++i) {
        // Odd element counts: only the writer's ordering keeps the larger types aligned.
        ttl::Tensor t = ttl::Tensor::empty({1 + i % 3, 2 * i + 1}, dtypes[i % 4]);
        auto* bytes = static_cast<uint8_t*>(t.raw());
        for (size_t b = 0; b < t.nbytes(); ++b) bytes[b] = static_cast<uint8_t>(rng());
        tensors.emplace_back("layer." + std::to_string(i), t);
    }
    const std::map<std::string, std::string> metadata{{"ünïcode", "välue \"quoted\"\n"}, {"empty", ""}};
    ttlm::io::save_safetensors(path("rt.safetensors"), tensors, metadata);
    auto f = SafetensorsFile::open(path("rt.safetensors"));
    EXPECT_EQ(f.metadata(), metadata);
    EXPECT_EQ(f.names().size(), tensors.size());
    for (const auto& [name, t] : tensors) {
        const ttl::Tensor back = f.tensor(name, t.dtype(), t.shape());
        EXPECT_EQ(reinterpret_cast<uintptr_t>(back.raw()) % ttl::dtype_size(t.dtype()), 0u) << name;
        EXPECT_EQ(std::memcmp(back.raw(), t.raw(), t.nbytes()), 0) << name;
    }
}

TEST_F(Safetensors, SaveRejectsBadArgumentsAndLeavesNoFileBehind) {
    const auto t = ttl::Tensor::from_vector({1, 2}, {2});
    EXPECT_THROW(ttlm::io::save_safetensors(path("x.safetensors"), {{"a", t}, {"a", t}}), std::invalid_argument);
    EXPECT_THROW(ttlm::io::save_safetensors(path("x.safetensors"), {{"__metadata__", t}}), std::invalid_argument);
    EXPECT_THROW(ttlm::io::save_safetensors(path("x.safetensors"), {{"a", ttl::Tensor()}}), std::invalid_argument);
    EXPECT_THROW(ttlm::io::save_safetensors(path("x.safetensors"), {{"\xff", t}}), std::invalid_argument);
    EXPECT_FALSE(fs::exists(path("x.safetensors")));
    EXPECT_THROW(ttlm::io::save_safetensors(path("no/such/dir/x.safetensors"), {{"a", t}}), std::system_error);
    // Replacing an existing file goes through the temporary and leaves none.
    write_bytes(path("x.safetensors"), "old");
    ttlm::io::save_safetensors(path("x.safetensors"), {{"a", t}});
    EXPECT_EQ(SafetensorsFile::open(path("x.safetensors")).tensor("a").data<float>()[1], 2.0f);
    EXPECT_FALSE(fs::exists(path("x.safetensors.tmp")));
}

TEST_F(Safetensors, OpenFailuresNameTheFile) {
    try {
        SafetensorsFile::open(path("missing.safetensors"));
        ADD_FAILURE() << "no exception";
    } catch (const std::system_error& e) {
        expect_words(e.what(), {"missing.safetensors"});
    }
    expect_words(format_error_of([&] { SafetensorsFile::open(dir_.string()); }), {"not a regular file"});
}

// One test per class of malformed input the reader must refuse.

TEST_F(Safetensors, RejectsFileShorterThanTheLengthField) {
    expect_words(open_error(std::string_view("\x10\0\0", 3)), {"bad.safetensors", "header", "3 bytes", "8-byte"});
    expect_words(open_error(""), {"bad.safetensors", "0 bytes"});
}

TEST_F(Safetensors, RejectsHeaderLengthPastTheEndOfTheFile) {
    expect_words(open_error(safetensors_bytes("{}", "", 3)), {"bad.safetensors", "header", "length 3", "10-byte"});
    expect_words(open_error(safetensors_bytes("{}", "", ~uint64_t{0} - 4)), {"bad.safetensors", "header", "limit"});
}

TEST_F(Safetensors, RejectsAbsurdHeaderLength) {
    expect_words(open_error(safetensors_bytes("{}", "", 100'000'001)),
                 {"bad.safetensors", "header", "100000001", "limit of 100000000"});
}

TEST_F(Safetensors, RejectsHeaderThatIsNotJson) {
    expect_words(open_error(safetensors_bytes(R"({"w": {"dtype": "F32",)")),
                 {"bad.safetensors", "header", "not valid JSON"});
    expect_words(open_error(safetensors_bytes("{} trailing")), {"bad.safetensors", "header", "not valid JSON"});
    expect_words(open_error(safetensors_bytes("{\"\xff\":1}")), {"bad.safetensors", "header", "UTF-8"});
    expect_words(open_error(safetensors_bytes(R"({"w":1e999})")), {"bad.safetensors", "header", "not valid JSON"});
}

TEST_F(Safetensors, RejectsHeaderThatIsNotAnObject) {
    expect_words(open_error(safetensors_bytes("[1, 2]   ")), {"bad.safetensors", "header", "JSON object"});
    expect_words(open_error(safetensors_bytes(" {}")), {"bad.safetensors", "header", "JSON object"});
    expect_words(open_error(safetensors_bytes("")), {"bad.safetensors", "header", "JSON object"});
}

TEST_F(Safetensors, RejectsEntryMissingAField) {
    expect_words(entry_error(R"({"shape":[6],"data_offsets":[0,24]})"), {"bad.safetensors", "'w'", "missing 'dtype'"});
    expect_words(entry_error(R"({"dtype":"F32","data_offsets":[0,24]})"), {"'w'", "missing 'shape'"});
    expect_words(entry_error(R"({"dtype":"F32","shape":[6]})"), {"'w'", "missing 'data_offsets'"});
}

TEST_F(Safetensors, RejectsEntryFieldsOfTheWrongJsonType) {
    expect_words(entry_error(R"([1,2])"), {"bad.safetensors", "tensor 'w'", "expected an object", "array"});
    expect_words(entry_error(R"({"dtype":32,"shape":[6],"data_offsets":[0,24]})"), {"'w'", "'dtype' must be a string"});
    expect_words(entry_error(R"({"dtype":"F32","shape":"6","data_offsets":[0,24]})"),
                 {"'w'", "'shape' must be an array"});
    expect_words(entry_error(R"({"dtype":"F32","shape":[6],"data_offsets":{"0":24}})"), {"'w'", "'data_offsets'"});
}

TEST_F(Safetensors, RejectsUnknownDtype) {
    expect_words(entry_error(R"({"dtype":"F33","shape":[6],"data_offsets":[0,24]})"),
                 {"bad.safetensors", "'w'", "unknown dtype", "F33", "BF16"});
}

TEST_F(Safetensors, RejectsNegativeOrNonIntegerShape) {
    expect_words(entry_error(R"({"dtype":"F32","shape":[-6],"data_offsets":[0,24]})"),
                 {"bad.safetensors", "'w'", "shape[0]", "negative"});
    expect_words(entry_error(R"({"dtype":"F32","shape":[2,3.0],"data_offsets":[0,24]})"),
                 {"'w'", "shape[1]", "not an integer"});
    expect_words(entry_error(R"({"dtype":"F32","shape":["6"],"data_offsets":[0,24]})"),
                 {"'w'", "shape[0]", "not a number"});
    expect_words(entry_error(R"({"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,24]})"),
                 {"'w'", "shape[0]", "too large"});
    expect_words(entry_error(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,24]})"),
                 {"'w'", "more bytes than any file"});
}

TEST_F(Safetensors, RejectsBadDataOffsets) {
    expect_words(entry_error(R"({"dtype":"F32","shape":[6],"data_offsets":[0]})"),
                 {"bad.safetensors", "'w'", "[begin, end]"});
    expect_words(entry_error(R"({"dtype":"F32","shape":[6],"data_offsets":[0,24,48]})"), {"'w'", "[begin, end]"});
    expect_words(entry_error(R"({"dtype":"F32","shape":[6],"data_offsets":[0,-24]})"),
                 {"'w'", "data_offsets[1]", "negative"});
    expect_words(entry_error(R"({"dtype":"F32","shape":[6],"data_offsets":[0.5,24]})"),
                 {"'w'", "data_offsets[0]", "not an integer"});
    expect_words(entry_error(R"({"dtype":"F32","shape":[0],"data_offsets":[24,0]})"), {"'w'", "end before they begin"});
    expect_words(entry_error(R"({"dtype":"F32","shape":[8],"data_offsets":[0,32]})"),
                 {"'w'", "[0, 32]", "past the end of the 24-byte data section"});
    expect_words(entry_error(R"({"dtype":"F32","shape":[5],"data_offsets":[0,24]})"),
                 {"'w'", "hold 24 bytes", "shape [5] of F32 needs 20"});
    expect_words(entry_error(R"({"dtype":"F4","shape":[3],"data_offsets":[0,24]})"),
                 {"'w'", "12 bits", "whole number of bytes"});
}

TEST_F(Safetensors, RejectsOverlappingTensors) {
    const std::string header =
        R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})";
    expect_words(open_error(safetensors_bytes(header, std::string(24, '\0'))),
                 {"bad.safetensors", "tensor 'b'", "[8, 24]", "overlap", "'a'"});
    // An empty tensor inside another one overlaps it too (the reference library refuses it as well).
    const std::string inside =
        R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]},"e":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}})";
    expect_words(open_error(safetensors_bytes(inside, std::string(24, '\0'))), {"tensor 'e'", "overlap", "'a'"});
}

TEST_F(Safetensors, RejectsHolesAndUncoveredBytes) {
    const std::string gap =
        R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})";
    expect_words(open_error(safetensors_bytes(gap, std::string(24, '\0'))),
                 {"bad.safetensors", "header", "bytes [8, 16)", "no tensor", "holes"});
    const std::string short_of_end = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    expect_words(open_error(safetensors_bytes(short_of_end, std::string(12, '\0'))),
                 {"bad.safetensors", "header", "12 bytes", "end at byte 8"});
}

TEST_F(Safetensors, RejectsMetadataThatIsNotStringToString) {
    expect_words(open_error(safetensors_bytes(R"({"__metadata__":{"epoch":3}})")),
                 {"bad.safetensors", "header", "__metadata__", "'epoch'", "number 3"});
    expect_words(open_error(safetensors_bytes(R"({"__metadata__":["a"]})")),
                 {"bad.safetensors", "header", "__metadata__", "array"});
}

TEST_F(Safetensors, RejectsDuplicateKeys) {
    const std::string twice =
        R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})";
    expect_words(open_error(safetensors_bytes(twice)), {"bad.safetensors", "header", "duplicate key", "\"a\""});
    expect_words(entry_error(R"({"dtype":"F32","dtype":"F16","shape":[6],"data_offsets":[0,24]})"),
                 {"duplicate key", "\"dtype\""});
}

TEST_F(Safetensors, SurvivesDeeplyNestedHeaders) {
    const std::string deep = R"({"w":)" + std::string(200000, '[') + std::string(200000, ']') + "}";
    expect_words(open_error(safetensors_bytes(deep)), {"bad.safetensors", "'w'", "expected an object"});
}

TEST_F(Safetensors, OpensAMultiGigabyteFileWithoutReadingIt) {
    // 2 GiB of F32 in a sparse file: opening must touch the header only.
    const uint64_t numel = uint64_t{1} << 29;
    std::string header =
        fmt::format(R"({{"big":{{"dtype":"F32","shape":[{}],"data_offsets":[0,{}]}}}})", numel, numel * 4);
    header.append((8 - header.size() % 8) % 8, ' ');  // aligned data: a view, not a copy
    const std::string p = path("big.safetensors");
    write_bytes(p, safetensors_bytes(header));
    fs::resize_file(p, 8 + header.size() + numel * 4);

    const auto start = std::chrono::steady_clock::now();
    auto f = SafetensorsFile::open(p);
    const ttl::Tensor t = f.tensor("big");
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("open + view of a 2 GiB file: %.3f ms\n", ms);
    EXPECT_LT(ms, 500.0);
    EXPECT_EQ(t.numel(), static_cast<int64_t>(numel));

    // No page of the data may be resident: nothing read it.
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const auto first = (reinterpret_cast<uintptr_t>(t.raw()) + page - 1) / page * page;
    const size_t pages = (numel * 4 - page) / page;
    std::vector<unsigned char> resident(pages);
    ASSERT_EQ(::mincore(reinterpret_cast<void*>(first), pages * page, resident.data()), 0);
    const size_t touched = std::count_if(resident.begin(), resident.end(), [](unsigned char r) { return r & 1; });
    EXPECT_EQ(touched, 0u);
}

}  // namespace
