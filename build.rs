// Older glibc (before 2.34) keeps dlsym in libdl.so.2. Naming it keeps the library loadable
// there; glibc 2.34+ and musl treat libdl.so.2 as part of the C library itself.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,--push-state,--no-as-needed,-l:libdl.so.2,--pop-state");
    }
}
