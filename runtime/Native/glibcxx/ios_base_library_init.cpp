// GCC 13's libstdc++ (GLIBCXX_3.4.32) added std::ios_base_library_init(), which TorchSharp's native
// shim references. Older libstdc++ (Debian 12: GLIBCXX_3.4.30) lacks it. This one-function library
// provides it; TorchLoader loads it with global visibility before TorchSharp, only where needed.
#include <ios>
namespace std {
void ios_base_library_init() { static ios_base::Init init; }
}
