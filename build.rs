//! How the preload library is linked.
//!
//! Without the C compiler's start files (`crti.o`, `crtbeginS.o`, `crtendS.o`, `crtn.o`): they
//! serve C programs' global destructors and transactional memory, which the library has none
//! of, and each of their symbols (`__cxa_finalize`, `__gmon_start__`, two `_ITM_` ones) is one
//! more lookup for the dynamic loader in every process that loads us (about 3,400 instructions
//! together, measured with `make bench`). The constructor runs from `.init_array`, which the
//! linker makes itself.

fn main() {
    println!("cargo::rustc-cdylib-link-arg=-nostartfiles");
    println!("cargo::rerun-if-changed=build.rs");
}
