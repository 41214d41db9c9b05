#include "io/npy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/file.hpp"

namespace ttlm::io {

// The data is copied as is and the header's lengths read in place.
static_assert(std::endian::native == std::endian::little, "the io readers assume a little-endian host");

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
// numpy refuses headers longer than this unless told to trust the file (format._MAX_HEADER_SIZE);
// a header describing any array we read is a few hundred bytes.
constexpr size_t kMaxHeaderBytes = 10000;
// numpy aligns the data to this many bytes and pads the header for the first axis to grow up to
// this many digits in place (format.ARRAY_ALIGN, format.GROWTH_AXIS_MAX_DIGITS).
constexpr size_t kArrayAlign = 64;
constexpr size_t kGrowthAxisMaxDigits = 21;

// How a descr is read: the file's item size and the tensor dtype it becomes.
struct Descr {
    std::string_view name;
    size_t item_size;
    ttl::DType dtype;
};
constexpr Descr kDescrs[] = {
    {"<f4", 4, ttl::DType::F32},
    {"<f8", 8, ttl::DType::F32},
    {"<i4", 4, ttl::DType::I32},
    {"<i8", 8, ttl::DType::I64},
};

std::string shape_repr(const ttl::Shape& shape) {  // Python's repr of the shape tuple
    if (shape.size() == 1) return fmt::format("({},)", shape[0]);
    return fmt::format("({})", fmt::join(shape, ", "));
}

// The header's Python dict literal, the subset numpy writes: string keys, and values that are
// strings, True/False or tuples of integers.
class HeaderParser {
   public:
    struct Value {
        enum class Kind { String, Bool, Int, Tuple } kind;
        std::string text;            // String
        bool flag = false;           // Bool
        std::vector<int64_t> items;  // Int (one item), Tuple
    };

    HeaderParser(const std::string& path, std::string_view text, bool allow_long_suffix)
        : path_(path), text_(text), allow_long_suffix_(allow_long_suffix) {}

    // Calls on_item(key, value) for each entry of the dict.
    template <class OnItem> void parse_dict(OnItem on_item) {
        skip_space();
        expect('{');
        skip_space();
        while (peek() != '}') {
            if (pos_ >= text_.size()) fail("expected '}'");
            std::string key = parse_string();
            skip_space();
            expect(':');
            skip_space();
            on_item(key, parse_value(key));
            skip_space();
            if (peek() != ',') break;
            ++pos_;
            skip_space();
        }
        expect('}');
        skip_space();
        if (pos_ != text_.size()) fail("unexpected text after the dict");
    }

   private:
    [[noreturn]] void fail(std::string_view what) const {
        throw FormatError(fmt::format("{}: header: {} at offset {} of the dict literal", path_, what, pos_));
    }
    char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
    void skip_space() {
        while (pos_ < text_.size() &&
               (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
            ++pos_;
    }
    void expect(char c) {
        if (peek() != c || pos_ >= text_.size()) fail(fmt::format("expected '{}'", c));
        ++pos_;
    }

    std::string parse_string() {
        const char quote = peek();
        if (quote != '\'' && quote != '"') fail("expected a quoted string");
        const size_t begin = ++pos_;
        while (pos_ < text_.size() && text_[pos_] != quote) {
            if (text_[pos_] == '\\') fail("escape sequences in strings are not supported");
            ++pos_;
        }
        if (pos_ >= text_.size()) fail("unterminated string");
        return std::string(text_.substr(begin, pos_++ - begin));
    }

    int64_t parse_int() {
        const bool negative = peek() == '-';
        if (negative) ++pos_;
        if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected an integer");
        uint64_t magnitude = 0;
        while (std::isdigit(static_cast<unsigned char>(peek()))) {
            if (__builtin_mul_overflow(magnitude, uint64_t{10}, &magnitude) ||
                __builtin_add_overflow(magnitude, static_cast<uint64_t>(peek() - '0'), &magnitude) ||
                magnitude > static_cast<uint64_t>(INT64_MAX))
                fail("integer too large");
            ++pos_;
        }
        // Python 2 wrote longs as 3L; numpy still reads such version 1.0 and 2.0 files.
        if (allow_long_suffix_ && (peek() == 'L' || peek() == 'l')) ++pos_;
        return negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
    }

    Value parse_value(std::string_view key) {
        Value v{};
        const char c = peek();
        if (c == '\'' || c == '"') {
            v.kind = Value::Kind::String;
            v.text = parse_string();
        } else if (text_.substr(pos_, 4) == "True" || text_.substr(pos_, 5) == "False") {
            v.kind = Value::Kind::Bool;
            v.flag = c == 'T';
            pos_ += v.flag ? 4 : 5;
        } else if (c == '(') {
            v.kind = Value::Kind::Tuple;
            ++pos_;
            skip_space();
            bool trailing_comma = false;
            while (peek() != ')') {
                v.items.push_back(parse_int());
                skip_space();
                trailing_comma = peek() == ',';
                if (!trailing_comma) break;
                ++pos_;
                skip_space();
            }
            expect(')');
            // (3) is an integer in Python, not a tuple.
            if (v.items.size() == 1 && !trailing_comma) fail("expected a tuple, got a parenthesised integer");
        } else if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
            v.kind = Value::Kind::Int;
            v.items.push_back(parse_int());
        } else {
            fail(
                fmt::format("the value of '{}' must be a string, True, False, an integer or a tuple of integers "
                            "(lists, dicts and structured dtypes are not supported)",
                            key));
        }
        return v;
    }

    const std::string& path_;
    std::string_view text_;
    bool allow_long_suffix_;
    size_t pos_ = 0;
};

struct Header {
    const Descr* descr = nullptr;
    ttl::Shape shape;
    size_t data_offset = 0;  // bytes before the array data
};

// Reads exactly `size` bytes at `offset`; the caller checked the file is long enough, so running
// out means it shrank under us.
void read_exactly(int fd, const std::string& path, void* destination, size_t size, size_t offset) {
    auto* out = static_cast<char*>(destination);
    while (size > 0) {
        ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno(fmt::format("cannot read '{}'", path));
        if (n == 0)
            throw FormatError(fmt::format("{}: data: the file ended early (was it truncated while reading?)", path));
        out += n;
        size -= static_cast<size_t>(n);
        offset += static_cast<size_t>(n);
    }
}

Header read_header(int fd, const std::string& path, size_t file_size) {
    std::array<char, 12> preamble{};
    if (file_size < 10)
        throw FormatError(
            fmt::format("{}: the file is {} bytes, too short for a .npy preamble (10 bytes)", path, file_size));
    read_exactly(fd, path, preamble.data(), std::min(file_size, preamble.size()), 0);
    if (std::string_view(preamble.data(), kMagic.size()) != kMagic)
        throw FormatError(fmt::format("{}: magic: not a .npy file (expected it to start with \\x93NUMPY)", path));
    const int major = static_cast<unsigned char>(preamble[6]);
    const int minor = static_cast<unsigned char>(preamble[7]);
    if (minor != 0 || major < 1 || major > 3)
        throw FormatError(fmt::format("{}: version: format version {}.{} is not supported (expected 1.0, 2.0 or 3.0)",
                                      path, major, minor));

    Header h;
    size_t header_size = 0;
    if (major == 1) {
        uint16_t length = 0;
        std::memcpy(&length, preamble.data() + 8, 2);
        header_size = length;
        h.data_offset = 10;
    } else {
        if (file_size < 12)
            throw FormatError(fmt::format("{}: the file is {} bytes, too short for a version {}.0 preamble (12 bytes)",
                                          path, file_size, major));
        uint32_t length = 0;
        std::memcpy(&length, preamble.data() + 8, 4);
        header_size = length;
        h.data_offset = 12;
    }
    if (header_size > kMaxHeaderBytes)
        throw FormatError(
            fmt::format("{}: header: length {} is over numpy's limit of {} bytes", path, header_size, kMaxHeaderBytes));
    if (header_size > file_size - h.data_offset)
        throw FormatError(
            fmt::format("{}: header: length {} runs past the end of the {}-byte file", path, header_size, file_size));
    std::string text(header_size, '\0');
    read_exactly(fd, path, text.data(), header_size, h.data_offset);
    h.data_offset += header_size;

    // Version 3.0 headers are UTF-8, older ones latin-1; either way the keys and values we accept
    // are ASCII, so any other byte fails the parse with its offset.
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<std::vector<int64_t>> shape;
    auto once = [&](auto& slot, std::string_view key) {
        if (slot) throw FormatError(fmt::format("{}: header: key '{}' appears twice", path, key));
    };
    HeaderParser(path, text, major <= 2).parse_dict([&](const std::string& key, HeaderParser::Value v) {
        using Kind = HeaderParser::Value::Kind;
        auto check_kind = [&](Kind want, std::string_view expected) {
            if (v.kind != want) throw FormatError(fmt::format("{}: header: '{}' must be {}", path, key, expected));
        };
        if (key == "descr") {
            once(descr, key);
            check_kind(Kind::String, "a dtype string such as '<f4' (structured dtypes are not supported)");
            descr = v.text;
        } else if (key == "fortran_order") {
            once(fortran_order, key);
            check_kind(Kind::Bool, "True or False");
            fortran_order = v.flag;
        } else if (key == "shape") {
            once(shape, key);
            check_kind(Kind::Tuple, "a tuple of integers");
            shape = v.items;
        } else {
            throw FormatError(
                fmt::format("{}: header: unexpected key '{}' (expected descr, fortran_order, shape)", path, key));
        }
    });
    if (!descr || !fortran_order || !shape)
        throw FormatError(fmt::format("{}: header: missing '{}' (expected descr, fortran_order and shape)", path,
                                      !descr           ? "descr"
                                      : !fortran_order ? "fortran_order"
                                                       : "shape"));

    for (const Descr& d : kDescrs)
        if (d.name == *descr) h.descr = &d;
    if (!h.descr) {
        if (!descr->empty() && descr->front() == '>')
            throw FormatError(
                fmt::format("{}: descr: '{}' is big-endian; only little-endian data is supported "
                            "(save it with array.astype('<{}'))",
                            path, *descr, descr->substr(1)));
        throw FormatError(fmt::format("{}: descr: dtype '{}' is not supported (expected '<f4', '<f8', '<i4' or '<i8')",
                                      path, *descr));
    }
    h.shape = *shape;
    for (int64_t d : h.shape)
        if (d < 0) throw FormatError(fmt::format("{}: shape: {} has a negative dimension", path, shape_repr(h.shape)));
    // Fortran order stores the transpose; with at most one dimension it is the same bytes.
    if (*fortran_order && h.shape.size() > 1)
        throw FormatError(
            fmt::format("{}: fortran_order: True (column-major) is not supported; save a C-order "
                        "array (np.ascontiguousarray)",
                        path));
    return h;
}

}  // namespace

ttl::Tensor load_npy(const std::string& path) {
    const InputFile file(path);
    const size_t file_size = file.size();
    const Header h = read_header(file.fd(), path, file_size);

    uint64_t numel = 1, data_size = 0;
    bool overflow = false;
    for (int64_t d : h.shape) overflow = overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel);
    overflow = overflow || __builtin_mul_overflow(numel, h.descr->item_size, &data_size);
    if (overflow || data_size != file_size - h.data_offset)
        throw FormatError(
            fmt::format("{}: data: shape {} of '{}' needs {} bytes after the {}-byte header, but the "
                        "file has {}",
                        path, shape_repr(h.shape), h.descr->name, overflow ? "more" : std::to_string(data_size),
                        h.data_offset, file_size - h.data_offset));

    ttl::Tensor out = ttl::Tensor::empty(h.shape, h.descr->dtype);
    if (h.descr->item_size == ttl::dtype_size(h.descr->dtype)) {
        read_exactly(file.fd(), path, out.raw(), data_size, h.data_offset);
        return out;
    }
    // '<f8': read in chunks and round each value to f32 (IEEE nearest-even, as numpy's astype).
    float* dst = out.data<float>();
    std::vector<double> chunk(std::min<uint64_t>(numel, 1 << 16));
    for (uint64_t done = 0; done < numel;) {
        const size_t n = std::min<uint64_t>(chunk.size(), numel - done);
        read_exactly(file.fd(), path, chunk.data(), n * sizeof(double), h.data_offset + done * sizeof(double));
        for (size_t i = 0; i < n; ++i) dst[done + i] = static_cast<float>(chunk[i]);
        done += n;
    }
    return out;
}

void save_npy(const std::string& path, const ttl::Tensor& tensor) {
    std::string_view descr;
    switch (tensor.dtype()) {
        case ttl::DType::F32: descr = "<f4"; break;
        case ttl::DType::I32: descr = "<i4"; break;
        case ttl::DType::I64: descr = "<i8"; break;
        case ttl::DType::BF16:
            throw std::invalid_argument(
                fmt::format("save_npy('{}'): .npy has no bfloat16 type; convert the tensor "
                            "with to(ttl::DType::F32) first",
                            path));
    }
    if (!tensor.defined()) throw std::invalid_argument(fmt::format("save_npy('{}'): the tensor has no data", path));

    // numpy.lib.format._write_array_header, byte for byte: sorted keys, spare room for the first
    // axis to grow, then _wrap_header's padding to a multiple of 64 (a full 64 when already aligned).
    const ttl::Shape& shape = tensor.shape();
    std::string header =
        fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape_repr(shape));
    if (!shape.empty()) header.append(kGrowthAxisMaxDigits - std::to_string(shape[0]).size(), ' ');
    const size_t with_newline = header.size() + 1;
    size_t preamble_size = kMagic.size() + 2 + 2;  // version 1.0: u16 length
    size_t padding = kArrayAlign - (preamble_size + with_newline) % kArrayAlign;
    const bool version1 = with_newline + padding <= UINT16_MAX;
    if (!version1) {
        preamble_size = kMagic.size() + 2 + 4;
        padding = kArrayAlign - (preamble_size + with_newline) % kArrayAlign;
    }
    const auto length = static_cast<uint32_t>(with_newline + padding);

    std::string prefix(kMagic);
    prefix += static_cast<char>(version1 ? 1 : 2);
    prefix += '\0';
    prefix.append(reinterpret_cast<const char*>(&length), version1 ? 2 : 4);
    prefix += header;
    prefix.append(padding, ' ');
    prefix += '\n';

    const std::span<const std::byte> pieces[] = {
        std::as_bytes(std::span(prefix)),
        {static_cast<const std::byte*>(tensor.raw()), tensor.nbytes()},
    };
    write_file_atomically(path, pieces);
}

}  // namespace ttlm::io
