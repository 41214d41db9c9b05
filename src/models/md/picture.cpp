#include "models/md/picture.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <numeric>
#include <stdexcept>

#include <fmt/core.h>

#ifdef TTLM_MD_HAVE_ZLIB
#include <zlib.h>
#endif

namespace ttlm::md {
namespace {

struct Style {
    std::array<double, 3> color;
    double radius;   // in sigma
    double opacity;  // 1 = opaque
};

Style style_of(const System& system, int64_t atom) {
    const std::string& name = system.atom_types[system.types[atom]].name;
    if (name == "HEAD") return {{0.90, 0.22, 0.20}, 0.5, 1.0};
    if (name == "TAIL") return {{0.98, 0.80, 0.25}, 0.5, 1.0};
    if (name == "WATER") return {{0.35, 0.60, 0.95}, 0.3, 0.18};
    if (name == "NA") return {{0.65, 0.30, 0.85}, 0.45, 1.0};
    if (name == "CL") return {{0.25, 0.78, 0.35}, 0.45, 1.0};
    double q = system.charges[atom];
    if (q > 0) return {{0.85, 0.35, 0.30}, 0.45, 1.0};
    if (q < 0) return {{0.30, 0.45, 0.90}, 0.45, 1.0};
    return {{0.70, 0.70, 0.70}, 0.45, 1.0};
}

// The view: a rotation (yaw about z, then pitch about x) of coordinates centred on the box.
struct View {
    double yaw = 0.55, pitch = -1.05;
    Vec3 centre;
    double scale = 1, offset_x = 0, offset_y = 0;
    Vec3 rotate(const Vec3& p) const {
        Vec3 d = p - centre;
        double x = d.x * std::cos(yaw) - d.y * std::sin(yaw), y = d.x * std::sin(yaw) + d.y * std::cos(yaw);
        double y2 = y * std::cos(pitch) - d.z * std::sin(pitch), z2 = y * std::sin(pitch) + d.z * std::cos(pitch);
        return {x, y2, z2};  // z2 grows towards the viewer
    }
    std::array<double, 2> screen(const Vec3& r) const { return {offset_x + r.x * scale, offset_y - r.y * scale}; }
};

void put_line(Image& img, std::array<double, 2> a, std::array<double, 2> b, std::array<double, 3> color) {
    int steps = static_cast<int>(std::max(std::abs(b[0] - a[0]), std::abs(b[1] - a[1]))) + 1;
    for (int s = 0; s <= steps; ++s) {
        double t = static_cast<double>(s) / steps;
        int x = static_cast<int>(std::lround(a[0] + t * (b[0] - a[0])));
        int y = static_cast<int>(std::lround(a[1] + t * (b[1] - a[1])));
        if (x < 0 || y < 0 || x >= img.width || y >= img.height) continue;
        for (int c = 0; c < 3; ++c) img.rgb[(int64_t{y} * img.width + x) * 3 + c] = static_cast<uint8_t>(255 * color[c]);
    }
}

uint32_t crc32(const uint8_t* data, size_t n, uint32_t crc = 0) {
    static const std::array<uint32_t, 256> table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    crc = ~crc;
    for (size_t i = 0; i < n; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}

void put_chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& data) {
    put_u32(out, static_cast<uint32_t>(data.size()));
    size_t start = out.size();
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), data.begin(), data.end());
    put_u32(out, crc32(out.data() + start, out.size() - start));
}

std::vector<uint8_t> deflate(const std::vector<uint8_t>& raw) {
#ifdef TTLM_MD_HAVE_ZLIB
    uLongf size = compressBound(static_cast<uLong>(raw.size()));
    std::vector<uint8_t> out(size);
    if (compress2(out.data(), &size, raw.data(), static_cast<uLong>(raw.size()), 6) != Z_OK)
        throw std::runtime_error("png: zlib compression failed");
    out.resize(size);
    return out;
#else
    // A zlib stream of stored (uncompressed) deflate blocks.
    std::vector<uint8_t> out = {0x78, 0x01};
    size_t pos = 0;
    do {
        size_t len = std::min<size_t>(65535, raw.size() - pos);
        out.push_back(pos + len == raw.size() ? 1 : 0);
        out.push_back(static_cast<uint8_t>(len & 0xFF));
        out.push_back(static_cast<uint8_t>(len >> 8));
        out.push_back(static_cast<uint8_t>(~len & 0xFF));
        out.push_back(static_cast<uint8_t>((~len >> 8) & 0xFF));
        out.insert(out.end(), raw.begin() + pos, raw.begin() + pos + len);
        pos += len;
    } while (pos < raw.size());
    uint32_t a = 1, b = 0;
    for (uint8_t v : raw) a = (a + v) % 65521, b = (b + a) % 65521;
    put_u32(out, (b << 16) | a);
    return out;
#endif
}

}  // namespace

Image render_picture(const System& system, int size) {
    if (size < 16 || size > 8192) throw std::invalid_argument(fmt::format("picture: size {} out of 16..8192", size));
    Image img{size, size, std::vector<uint8_t>(int64_t{size} * size * 3)};
    const std::array<double, 3> background{0.07, 0.08, 0.10};
    for (int64_t p = 0; p < int64_t{size} * size; ++p)
        for (int c = 0; c < 3; ++c) img.rgb[p * 3 + c] = static_cast<uint8_t>(255 * background[c]);

    View view;
    view.centre = system.box.lo + system.box.length * 0.5;
    std::vector<Vec3> corners;
    for (int k = 0; k < 8; ++k)
        corners.push_back(view.rotate(system.box.lo + Vec3{k & 1 ? system.box.length.x : 0,
                                                           k & 2 ? system.box.length.y : 0,
                                                           k & 4 ? system.box.length.z : 0}));
    double extent = 0;
    for (const Vec3& c : corners) extent = std::max({extent, std::abs(c.x), std::abs(c.y)});
    view.scale = 0.47 * size / (extent + 1);
    view.offset_x = view.offset_y = 0.5 * size;

    // Back edges first, atoms back to front, then the front edges over them.
    auto edges = [&](bool front) {
        for (int a = 0; a < 8; ++a)
            for (int bit : {1, 2, 4}) {
                int b = a | bit;
                if (b == a) continue;
                bool is_front = corners[a].z + corners[b].z > 0;
                if (is_front == front) put_line(img, view.screen(corners[a]), view.screen(corners[b]), {0.5, 0.5, 0.55});
            }
    };
    edges(false);
    const int64_t n = system.size();
    std::vector<Vec3> rotated(n);
    for (int64_t i = 0; i < n; ++i) rotated[i] = view.rotate(system.positions[i]);
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return rotated[a].z < rotated[b].z; });
    const Vec3 light{-0.45, 0.55, 0.70};
    const double depth_range = extent + 1;
    for (int64_t i : order) {
        Style st = style_of(system, i);
        auto [cx, cy] = view.screen(rotated[i]);
        double r = st.radius * view.scale;
        double fog = 0.55 + 0.45 * std::clamp((rotated[i].z + depth_range) / (2 * depth_range), 0.0, 1.0);
        int x0 = std::max(0, static_cast<int>(cx - r)), x1 = std::min(size - 1, static_cast<int>(cx + r) + 1);
        int y0 = std::max(0, static_cast<int>(cy - r)), y1 = std::min(size - 1, static_cast<int>(cy + r) + 1);
        for (int y = y0; y <= y1; ++y)
            for (int x = x0; x <= x1; ++x) {
                double dx = (x + 0.5 - cx) / r, dy = (cy - y - 0.5) / r, d2 = dx * dx + dy * dy;
                if (d2 > 1) continue;
                double nz = std::sqrt(1 - d2);
                double diffuse = std::max(0.0, dx * light.x + dy * light.y + nz * light.z);
                double specular = std::pow(std::max(0.0, nz * 0.9 + diffuse * 0.1), 40) * 0.35;
                uint8_t* px = &img.rgb[(int64_t{y} * size + x) * 3];
                for (int c = 0; c < 3; ++c) {
                    double shade = fog * (st.color[c] * (0.25 + 0.75 * diffuse) + specular);
                    double blended = st.opacity * shade + (1 - st.opacity) * px[c] / 255.0;
                    px[c] = static_cast<uint8_t>(255 * std::clamp(blended, 0.0, 1.0));
                }
            }
    }
    edges(true);
    return img;
}

std::vector<uint8_t> encode_png(const Image& image) {
    std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    std::vector<uint8_t> header;
    put_u32(header, static_cast<uint32_t>(image.width));
    put_u32(header, static_cast<uint32_t>(image.height));
    header.insert(header.end(), {8, 2, 0, 0, 0});  // 8-bit, RGB, deflate, no filter, no interlace
    put_chunk(out, "IHDR", header);
    std::vector<uint8_t> raw;
    raw.reserve((int64_t{image.width} * 3 + 1) * image.height);
    for (int y = 0; y < image.height; ++y) {
        raw.push_back(0);  // filter: none
        auto row = image.rgb.begin() + int64_t{y} * image.width * 3;
        raw.insert(raw.end(), row, row + int64_t{image.width} * 3);
    }
    put_chunk(out, "IDAT", deflate(raw));
    put_chunk(out, "IEND", {});
    return out;
}

void write_picture(const System& system, const std::string& path, int size) {
    std::vector<uint8_t> png = encode_png(render_picture(system, size));
    std::ofstream file(path, std::ios::binary);
    if (!file) throw std::runtime_error(fmt::format("{}: cannot create the picture", path));
    file.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
    if (!file.flush()) throw std::runtime_error(fmt::format("{}: write failed", path));
}

}  // namespace ttlm::md
