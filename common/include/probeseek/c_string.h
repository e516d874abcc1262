// The owner of a C string a C library hands over for the caller to free(3) (libtracefs'
// tracefs_instance_file_read, trace-cmd's listings): freed when the owner goes.
#pragma once

#include <cstdlib>
#include <memory>

namespace probeseek {

struct FreeDeleter {
  void operator()(void* p) const noexcept { std::free(p); }
};
using CString = std::unique_ptr<char, FreeDeleter>;

}  // namespace probeseek
