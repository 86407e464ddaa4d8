// Kiln is Linux only (Debian and Ubuntu tested). Its modules call glibc directly (sockets,
// poll, rlimits, posix_spawn, flock) and deliver through libcurl's multi interface on
// threads of their own; none of that is built or tested anywhere else. Every Kiln module
// depends on KilnCore, so this one check stops a build on any other system before any
// other module compiles, saying why.
#if !os(Linux)
#error("Kiln builds and runs on Linux only (Debian and Ubuntu tested): see README.md, 'Platform'.")
#endif
