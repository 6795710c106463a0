import Glibc

/// Whether this process runs under a sanitizer (`make sanitize`): its runtime's symbols are
/// then present. A sanitizer replaces malloc with its own allocator, so tests of what
/// Folio asks of glibc's allocator do not apply there.
public let runsUnderSanitizer = ["__tsan_init", "__asan_init"].contains { (name: String) in dlsym(nil, name) != nil }
