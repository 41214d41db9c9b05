#include "io/safetensors.hpp"

#include "io/file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <system_error>
#include <tuple>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace ttlm::io {

// Tensors are little-endian in the file and viewed in place.
static_assert(std::endian::native == std::endian::little, "the io readers assume a little-endian host");

namespace {

using nlohmann::json;

// The reference library refuses larger headers; so do we, before allocating anything for one.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// Every dtype the format defines, with its size in bits (F4 and F6 pack below a byte). The order is
// the Rust library's Dtype enum, "increasing alignment": its writer sorts tensors by descending
// position here, then by name.
struct FormatDType {
    std::string_view name;
    int bits;
};
constexpr FormatDType kFormatDTypes[] = {
    {"BOOL", 8},    {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6},     {"U8", 8},          {"I8", 8},
    {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}, {"I16", 16},
    {"U16", 16},    {"F16", 16},    {"BF16", 16},   {"I32", 32},        {"U32", 32},        {"F32", 32},
    {"C64", 64},    {"F64", 64},    {"I64", 64},    {"U64", 64},
};

const FormatDType* find_format_dtype(std::string_view name) {
    for (const auto& d : kFormatDTypes)
        if (d.name == name) return &d;
    return nullptr;
}

size_t format_dtype_rank(std::string_view name) { return static_cast<size_t>(find_format_dtype(name) - kFormatDTypes); }

std::string_view format_name(ttl::DType t) {
    switch (t) {
        case ttl::DType::F32: return "F32";
        case ttl::DType::BF16: return "BF16";
        case ttl::DType::I32: return "I32";
        case ttl::DType::I64: return "I64";
    }
    throw std::invalid_argument("unknown ttl::DType");
}

// The ttl dtype a file dtype is viewed as, if any.
std::optional<ttl::DType> ttl_dtype(std::string_view name) {
    for (ttl::DType t : {ttl::DType::F32, ttl::DType::BF16, ttl::DType::I32, ttl::DType::I64})
        if (format_name(t) == name) return t;
    return std::nullopt;
}

// A short description of a JSON value for error messages. Never dumps arrays or objects: a hostile
// header could nest them deeply enough to exhaust the stack of a recursive printer.
std::string describe(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float: return "the number " + v.dump();
        case json::value_t::string: {
            const auto& s = v.get_ref<const std::string&>();
            return s.size() <= 40 ? "the string " + v.dump() : "a string of " + std::to_string(s.size()) + " bytes";
        }
        case json::value_t::array: return fmt::format("an array of {} items", v.size());
        case json::value_t::object: return fmt::format("an object of {} keys", v.size());
        default: return "binary data";
    }
}

// Parses the header; rejects duplicate keys at any depth (the format disallows them, and a parser
// that kept the last one would silently pick one tensor of two).
json parse_header(const std::string& path, std::string_view text) {
    std::vector<std::unordered_set<std::string>> open_objects;
    auto reject_duplicates = [&](int, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start: open_objects.emplace_back(); break;
            case json::parse_event_t::object_end: open_objects.pop_back(); break;
            case json::parse_event_t::key:
                if (!open_objects.back().insert(parsed.get<std::string>()).second)
                    throw FormatError(fmt::format("{}: header: duplicate key ({}); keys must be unique in each object",
                                                  path, describe(parsed)));
                break;
            default: break;
        }
        return true;
    };
    try {
        return json::parse(text.begin(), text.end(), reject_duplicates);
    } catch (const json::exception& e) {
        // nlohmann prefixes "[json.exception.parse_error.101] "; the rest says where and why.
        std::string_view why = e.what();
        if (auto bracket = why.find("] "); bracket != std::string_view::npos) why.remove_prefix(bracket + 2);
        throw FormatError(fmt::format("{}: header: not valid JSON: {}", path, why));
    }
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& value) {
    if (!value.is_object())
        throw FormatError(
            fmt::format("{}: header: __metadata__ must be an object of strings, got {}", path, describe(value)));
    std::map<std::string, std::string> metadata;
    for (const auto& [key, v] : value.items()) {
        if (!v.is_string())
            throw FormatError(fmt::format("{}: header: __metadata__ must map strings to strings, but key '{}' holds {}",
                                          path, key, describe(v)));
        metadata.emplace(key, v.get<std::string>());
    }
    return metadata;
}

// A JSON number that must be a non-negative integer no larger than `limit`; `what` names it in errors.
uint64_t parse_count(const json& v, uint64_t limit, const std::string& what) {
    if (v.is_number_unsigned() && v.get<uint64_t>() <= limit) return v.get<uint64_t>();
    const char* problem = v.is_number_unsigned()  ? "is too large"
                          : v.is_number_integer() ? "is negative"
                          : v.is_number_float()   ? "is not an integer"
                                                  : "is not a number";
    const std::string bound =
        limit == std::numeric_limits<uint64_t>::max() ? std::string() : fmt::format(" no larger than {}", limit);
    throw FormatError(fmt::format("{} {} ({}); expected a non-negative integer{}", what, problem, describe(v), bound));
}

SafetensorsFile::Entry parse_entry(const std::string& path, const std::string& name, const json& value,
                                   size_t data_size) {
    const std::string where = fmt::format("{}: tensor '{}':", path, name);
    if (!value.is_object())
        throw FormatError(
            fmt::format("{} expected an object with dtype, shape and data_offsets, got {}", where, describe(value)));
    for (const char* field : {"dtype", "shape", "data_offsets"})
        if (!value.contains(field)) throw FormatError(fmt::format("{} missing '{}'", where, field));

    SafetensorsFile::Entry e;
    e.name = name;
    const json& dtype = value.at("dtype");
    if (!dtype.is_string())
        throw FormatError(fmt::format("{} 'dtype' must be a string, got {}", where, describe(dtype)));
    e.dtype = dtype.get<std::string>();
    const FormatDType* format_dtype = find_format_dtype(e.dtype);
    if (!format_dtype) {
        std::vector<std::string_view> known;
        for (const auto& d : kFormatDTypes) known.push_back(d.name);
        throw FormatError(
            fmt::format("{} unknown dtype {}; expected one of {}", where, describe(dtype), fmt::join(known, ", ")));
    }

    const json& shape = value.at("shape");
    if (!shape.is_array())
        throw FormatError(
            fmt::format("{} 'shape' must be an array of non-negative integers, got {}", where, describe(shape)));
    // numel * bits must not overflow: dimensions are counted in u64 and checked at every step.
    uint64_t numel = 1;
    bool overflow = false;
    for (size_t i = 0; i < shape.size(); ++i) {
        uint64_t d = parse_count(shape[i], std::numeric_limits<int64_t>::max(), fmt::format("{} shape[{}]", where, i));
        e.shape.push_back(static_cast<int64_t>(d));
        overflow = overflow || __builtin_mul_overflow(numel, d, &numel);
    }
    uint64_t bits = 0;
    overflow = overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(format_dtype->bits), &bits);
    if (overflow)
        throw FormatError(
            fmt::format("{} shape {} of {} holds more bytes than any file", where, ttl::shape_str(e.shape), e.dtype));
    if (bits % 8 != 0)
        throw FormatError(fmt::format("{} shape {} of {} is {} bits, not a whole number of bytes", where,
                                      ttl::shape_str(e.shape), e.dtype, bits));

    const json& offsets = value.at("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2)
        throw FormatError(fmt::format("{} 'data_offsets' must be an array [begin, end] of two integers, got {}", where,
                                      describe(offsets)));
    constexpr uint64_t kAnyOffset = std::numeric_limits<uint64_t>::max();
    e.begin = parse_count(offsets[0], kAnyOffset, where + " data_offsets[0]");
    e.end = parse_count(offsets[1], kAnyOffset, where + " data_offsets[1]");
    if (e.end < e.begin)
        throw FormatError(fmt::format("{} data_offsets [{}, {}] end before they begin", where, e.begin, e.end));
    if (e.end > data_size)
        throw FormatError(fmt::format("{} data_offsets [{}, {}] run past the end of the {}-byte data section", where,
                                      e.begin, e.end, data_size));
    if (e.end - e.begin != bits / 8)
        throw FormatError(fmt::format("{} data_offsets [{}, {}] hold {} bytes, but shape {} of {} needs {}", where,
                                      e.begin, e.end, e.end - e.begin, ttl::shape_str(e.shape), e.dtype, bits / 8));
    return e;
}

// Tensors must tile the data section: sorted by offsets, each begins where the previous ended and
// the last ends at the end of the file (the format forbids holes, which would let a file hide
// other content, and overlaps, which would alias tensors).
void check_tiling(const std::string& path, const std::map<std::string, SafetensorsFile::Entry, std::less<>>& entries,
                  size_t data_size) {
    std::vector<const SafetensorsFile::Entry*> by_offset;
    for (const auto& [name, e] : entries) by_offset.push_back(&e);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const auto* a, const auto* b) { return std::tie(a->begin, a->end) < std::tie(b->begin, b->end); });
    size_t covered = 0;
    const SafetensorsFile::Entry* previous = nullptr;
    for (const auto* e : by_offset) {
        if (e->begin < covered)
            throw FormatError(fmt::format("{}: tensor '{}': data_offsets [{}, {}] overlap tensor '{}' [{}, {}]", path,
                                          e->name, e->begin, e->end, previous->name, previous->begin, previous->end));
        if (e->begin > covered)
            throw FormatError(
                fmt::format("{}: header: bytes [{}, {}) of the data section belong to no tensor "
                            "(tensor '{}' begins at {}); the format forbids holes",
                            path, covered, e->begin, e->name, e->begin));
        covered = e->end;
        previous = e;
    }
    if (covered != data_size)
        throw FormatError(
            fmt::format("{}: header: the data section is {} bytes but its tensors end at byte {}; "
                        "expected them to cover it exactly",
                        path, data_size, covered));
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t substitute = diagonal + (a[i - 1] != b[j - 1]);
            diagonal = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
        }
    }
    return row[b.size()];
}

float half_bits_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1fu;
    const uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in f32
        float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
        return sign ? -magnitude : magnitude;
    }
    return std::bit_cast<float>(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

// Converts `count` elements at `src` (any alignment) to f32 at `dst`.
template <class Stored, class Convert> void widen(const std::byte* src, float* dst, size_t count, Convert convert) {
    for (size_t i = 0; i < count; ++i) {
        Stored v;
        std::memcpy(&v, src + i * sizeof(Stored), sizeof(Stored));
        dst[i] = convert(v);
    }
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
    const InputFile file(path);
    const size_t file_size = file.size();
    if (file_size < 8)
        throw FormatError(
            fmt::format("{}: header: the file is {} bytes, shorter than the 8-byte header length", path, file_size));

    // Private and writable: a view handed out as a mutable ttl::Tensor can be written without
    // crashing and without touching the file (pages are copied on write). MAP_NORESERVE keeps the
    // kernel from charging the whole file against the commit limit up front.
    void* address = ::mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, file.fd(), 0);
    if (address == MAP_FAILED) throw_errno(fmt::format("cannot map '{}'", path));
    SafetensorsFile f;
    f.path_ = path;
    f.mapping_ = std::shared_ptr<std::byte>(static_cast<std::byte*>(address),
                                            [file_size](std::byte* p) { ::munmap(p, file_size); });
    std::byte* bytes = f.mapping_.get();

    uint64_t header_size = 0;
    std::memcpy(&header_size, bytes, 8);
    if (header_size > kMaxHeaderBytes)
        throw FormatError(fmt::format("{}: header: length {} is over the format's limit of {} bytes", path, header_size,
                                      kMaxHeaderBytes));
    if (header_size > file_size - 8)
        throw FormatError(
            fmt::format("{}: header: length {} runs past the end of the {}-byte file", path, header_size, file_size));
    const std::string_view text(reinterpret_cast<const char*>(bytes + 8), header_size);
    if (text.empty() || text.front() != '{')
        throw FormatError(fmt::format("{}: header: expected a JSON object starting with '{{'", path));
    const json header = parse_header(path, text);  // an object: it starts with '{' and parsed

    f.data_section_ = bytes + 8 + header_size;
    const size_t data_size = file_size - 8 - header_size;
    for (const auto& [name, value] : header.items()) {
        if (name == "__metadata__")
            f.metadata_ = parse_metadata(path, value);
        else
            f.entries_.emplace(name, parse_entry(path, name, value, data_size));
    }
    check_tiling(path, f.entries_, data_size);
    return f;
}

void SafetensorsFile::fail(std::string_view name, std::string_view what) const {
    throw FormatError(fmt::format("{}: tensor '{}': {}", path_, name, what));
}

std::vector<std::string> SafetensorsFile::names() const {
    std::vector<std::string> names;
    names.reserve(entries_.size());
    for (const auto& [name, e] : entries_) names.push_back(name);
    return names;
}

bool SafetensorsFile::contains(std::string_view name) const { return entries_.find(name) != entries_.end(); }

const SafetensorsFile::Entry& SafetensorsFile::entry(std::string_view name) const {
    if (auto it = entries_.find(name); it != entries_.end()) return it->second;
    // A typo or a renamed layer: list the closest names so the fix is obvious.
    std::vector<std::pair<size_t, std::string_view>> close;
    const size_t tolerance = std::max<size_t>(3, name.size() / 3);
    for (const auto& [candidate, e] : entries_) {
        const size_t length_gap = std::max(name.size(), candidate.size()) - std::min(name.size(), candidate.size());
        if (length_gap > tolerance) continue;  // the distance is at least the gap; skip the quadratic work
        if (size_t d = edit_distance(name, candidate); d <= tolerance) close.emplace_back(d, candidate);
    }
    std::sort(close.begin(), close.end());
    close.resize(std::min<size_t>(close.size(), 3));
    std::vector<std::string> quoted;
    for (const auto& [d, candidate] : close) quoted.push_back(fmt::format("'{}'", candidate));
    fail(name, fmt::format("no such tensor in the file ({} tensors; {})", entries_.size(),
                           quoted.empty() ? "none has a similar name"
                                          : fmt::format("close names: {}", fmt::join(quoted, ", "))));
}

ttl::Tensor SafetensorsFile::tensor(std::string_view name) const {
    const Entry& e = entry(name);
    const std::optional<ttl::DType> dtype = ttl_dtype(e.dtype);
    if (!dtype)
        fail(name, fmt::format("dtype {} has no ttl::Tensor equivalent; tensor() reads F32, BF16, I32 and I64 "
                               "(tensor_f32() converts F16 and F64)",
                               e.dtype));
    std::byte* data = data_of(e);
    if (reinterpret_cast<uintptr_t>(data) % ttl::dtype_size(*dtype) == 0)
        return ttl::Tensor::wrap(data, e.shape, *dtype, mapping_);
    ttl::Tensor copy = ttl::Tensor::empty(e.shape, *dtype);
    if (e.end > e.begin) std::memcpy(copy.raw(), data, e.end - e.begin);
    return copy;
}

ttl::Tensor SafetensorsFile::tensor(std::string_view name, ttl::DType dtype, const ttl::Shape& shape) const {
    const Entry& e = entry(name);
    if (e.dtype != format_name(dtype)) fail(name, fmt::format("dtype {}, expected {}", e.dtype, format_name(dtype)));
    if (e.shape != shape)
        fail(name, fmt::format("shape {}, expected {}", ttl::shape_str(e.shape), ttl::shape_str(shape)));
    return tensor(name);
}

ttl::Tensor SafetensorsFile::tensor_f32(std::string_view name) const {
    const Entry& e = entry(name);
    if (e.dtype == "F32") return tensor(name);
    ttl::Tensor out = ttl::Tensor::empty(e.shape, ttl::DType::F32);
    const auto count = static_cast<size_t>(out.numel());
    const std::byte* src = data_of(e);
    if (e.dtype == "BF16")
        widen<uint16_t>(src, out.data<float>(), count, ttl::bf16_bits_to_float);
    else if (e.dtype == "F16")
        widen<uint16_t>(src, out.data<float>(), count, half_bits_to_float);
    else if (e.dtype == "F64")
        // IEEE conversion: rounds to nearest even, overflows to infinity.
        widen<double>(src, out.data<float>(), count, [](double v) { return static_cast<float>(v); });
    else
        fail(name, fmt::format("dtype {} is not a float type tensor_f32() converts (F32, BF16, F16, F64)", e.dtype));
    return out;
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, ttl::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    const std::string where = fmt::format("save_safetensors('{}')", path);
    std::vector<const std::pair<std::string, ttl::Tensor>*> ordered;
    std::unordered_set<std::string_view> seen;
    for (const auto& item : tensors) {
        const auto& [name, t] = item;
        if (name == "__metadata__")
            throw std::invalid_argument(fmt::format("{}: '__metadata__' is reserved and cannot name a tensor", where));
        if (!seen.insert(name).second)
            throw std::invalid_argument(fmt::format("{}: tensor name '{}' appears twice", where, name));
        if (!t.defined()) throw std::invalid_argument(fmt::format("{}: tensor '{}' has no data", where, name));
        ordered.push_back(&item);
    }
    std::sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
        size_t rank_a = format_dtype_rank(format_name(a->second.dtype()));
        size_t rank_b = format_dtype_rank(format_name(b->second.dtype()));
        return rank_a != rank_b ? rank_a > rank_b : a->first < b->first;
    });

    // ordered_json keeps the reference writer's key order: __metadata__, then tensors as laid out.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::vector<std::span<const std::byte>> pieces(1);
    size_t offset = 0;
    for (const auto* item : ordered) {
        const auto& [name, t] = *item;
        header[name] = {
            {"dtype", format_name(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + t.nbytes()}}};
        if (t.nbytes()) pieces.emplace_back(static_cast<const std::byte*>(t.raw()), t.nbytes());
        offset += t.nbytes();
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::json::type_error&) {
        throw std::invalid_argument(fmt::format("{}: tensor names and metadata must be valid UTF-8", where));
    }
    text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
    std::string prefix(8, '\0');
    const uint64_t header_size = text.size();
    std::memcpy(prefix.data(), &header_size, 8);
    prefix += text;
    pieces[0] = std::as_bytes(std::span(prefix));
    write_file_atomically(path, pieces);
}


}  // namespace ttlm::io
