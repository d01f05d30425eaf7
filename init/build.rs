//! Link the binary freestanding: no C runtime start files, no libc, fully static.
const NO_EH_FRAME: &str = "no-eh-frame.ld";

fn main() {
    for arg in [
        "-nostartfiles",
        "-nostdlib",
        "-static",
        "-no-pie",
        "-Wl,--gc-sections",
        "-Wl,--build-id=none",
        // panic=abort: nothing unwinds, so no lookup table for the unwinder.
        "-Wl,--no-eh-frame-hdr",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    // ...and no unwind tables either (a script that drops them from the default layout).
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{dir}/{NO_EH_FRAME}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={NO_EH_FRAME}");
}
