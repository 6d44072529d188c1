//! Giving memory back after a big request. The server runs on mimalloc (src/main.rs), which keeps
//! the pages a thread freed for that thread's next allocations; after an import of years of entries
//! (a parsed document of megabytes) those pages would stay resident for good on threads that
//! may not allocate that much again. Asking mimalloc to collect returns them to the system.

/// Returns the freed pages of the calling thread (and of threads that exited) to the system.
/// Cheap when there is nothing to return; a no-op for memory another allocator manages.
pub fn release_freed_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called from any thread at any time; it
    // only frees pages that hold no live allocation.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
