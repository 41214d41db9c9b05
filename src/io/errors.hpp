// The error every io reader throws for input it cannot accept.
#pragma once

#include <stdexcept>

namespace ttlm::io {

// A file that does not hold what its format, or the caller, requires: malformed or truncated
// bytes, an unsupported variant of the format, a missing tensor, a dtype or shape other than the
// one asked for. The message names the file, the field (a tensor, "header", a key) and what was
// expected, so a person can act on it without a debugger.
//
// Failing to open or read a file at all is not a FormatError: that is a std::system_error.
class FormatError : public std::runtime_error {
   public:
    using std::runtime_error::runtime_error;
};

}  // namespace ttlm::io
