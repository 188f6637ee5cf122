//! How the preload library is linked.
//!
//! Without the C compiler's start files (`crti.o`, `crtbeginS.o`, `crtendS.o`, `crtn.o`): they
//! serve C programs' global destructors and transactional memory, which the library has none
//! of, and each of their symbols (`__cxa_finalize`, `__gmon_start__`, two `_ITM_` ones) is one
//! more lookup for the dynamic loader in every process that loads us (about 3,400 instructions
//! together, measured with `make bench`). The constructor runs from `.init_array`, which the
//! linker makes itself. `crtendS.o` also ends `.eh_frame` with a zero word: LLD, which links
//! the x86_64 build, adds one itself; GNU ld (the aarch64 cross build) does not, which matters
//! only to an unwinder that scans `.eh_frame` without `.eh_frame_hdr`'s table, present in both.
//! The flag is for the C compiler driver, through which Rust links a cdylib.

fn main() {
    println!("cargo::rustc-cdylib-link-arg=-nostartfiles");
    println!("cargo::rerun-if-changed=build.rs");
}
