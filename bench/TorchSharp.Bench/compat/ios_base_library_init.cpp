// GCC 13's libstdc++ exports std::ios_base_library_init(), which initialises the standard streams; libLibTorchSharp.so
// references it. With GCC 12's libstdc++ the streams are initialised by this std::ios_base::Init object instead.
#include <ios>
namespace std { void ios_base_library_init() { static ios_base::Init init; } }
