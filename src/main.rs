// jemalloc, not glibc's malloc: a daemon that runs for months must hand
// back what a burst of requests allocated. With glibc its resident size
// grew by 40 % over a 30-minute soak while the live heap stayed flat (the
// arenas kept freed pages); jemalloc returns dirty pages after a second
// (`dirty_decay_ms`) from a background thread, so an idle daemon shrinks
// too (RELIABILITY.md, Soak). It also stands in for C's `malloc` (the
// crate's `unprefixed_malloc_on_supported_platforms`), so that SQLite's
// allocations do not grow in glibc's arenas beside it.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once at its first allocation. Unprefixed,
/// jemalloc reads C's own name for them; `MALLOC_CONF` in the environment
/// overrides them (for experiments).
#[export_name = "malloc_conf"]
static ALLOCATOR_OPTIONS: AllocatorOptions =
    AllocatorOptions(c"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr());

/// A C string pointer jemalloc reads as `const char *malloc_conf`.
#[repr(transparent)]
struct AllocatorOptions(*const std::ffi::c_char);

// SAFETY: it points to a static, immutable C string literal.
unsafe impl Sync for AllocatorOptions {}

fn main() -> std::process::ExitCode {
    // First, while this is the only thread (see its safety note).
    skillreg::store::configure_sqlite();
    skillreg::cli::main()
}
