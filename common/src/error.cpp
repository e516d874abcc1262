#include "probeseek/error.h"

#include <cstring>

namespace probeseek {

std::string Error::message() const {
  std::string m = what;
  if (!object.empty()) m += ": " + object;
  if (err_no != 0) m += std::string(": ") + std::strerror(err_no);
  return m;
}

}  // namespace probeseek
