//! Build script: only with the feature `kernel-emu` does it compile `kernels/emu.cpp` (the CUDA
//! kernels as host C++, for tests without a GPU) with the system C++ compiler ($CXX or c++).
//! Default builds do nothing here.

use std::path::PathBuf;
use std::process::Command;

fn run(cmd: &mut Command, what: &str) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("kernel-emu: cannot run {what}: {e}"));
    assert!(status.success(), "kernel-emu: {what} failed ({status})");
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_KERNEL_EMU").is_none() {
        return;
    }
    for f in ["kernels/emu.cpp", "kernels/train_step.cu"] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=CXX");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let obj = out.join("emu.o");
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    // -ffp-contract=off: every f32 operation rounded on its own, as in the PTX.
    run(
        Command::new(&cxx)
            .args([
                "-std=c++17",
                "-O2",
                "-ffp-contract=off",
                "-fno-fast-math",
                "-fPIC",
                "-c",
            ])
            .arg("kernels/emu.cpp")
            .arg("-o")
            .arg(&obj),
        "the C++ compiler",
    );
    let lib = out.join("libmodadd_kernel_emu.a");
    let _ = std::fs::remove_file(&lib);
    run(Command::new("ar").arg("crs").arg(&lib).arg(&obj), "ar");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=modadd_kernel_emu");
    println!("cargo:rustc-link-lib=dylib=stdc++");
}
