// A picture of a configuration: shaded spheres in an orthographic view of the box, drawn back to
// front, written as PNG. Lipid heads are red, tails yellow, water faint blue (so that aggregates show),
// ions purple and green; atoms of other types are coloured by the sign of their charge.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/md/system.hpp"

namespace ttlm::md {

struct Image {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel
};

Image render_picture(const System& system, int size);
// PNG (8-bit RGB, no interlace); deflate by zlib when the build found it, else stored blocks.
std::vector<uint8_t> encode_png(const Image& image);
void write_picture(const System& system, const std::string& path, int size = 800);

}  // namespace ttlm::md
