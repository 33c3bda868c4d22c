//! Re-embeds the browser UI when it is rebuilt.
//!
//! `eio serve` carries `ui/dist` inside the binary (`src/serve/ui.rs`, rust-embed, read at
//! compile time). A proc macro can't tell cargo which files it read, so this script does:
//! any change under `ui/dist` (a new `npm run build`) recompiles this crate.
//!
//! When `ui/dist` doesn't exist yet, cargo would treat the missing path as changed and
//! rebuild this crate on every build; this script creates the (git-ignored) empty
//! directory instead, so the first `npm run build` is what triggers the re-embed.
//! It never writes anything else and never fails the build: an `eio` without a built UI
//! still compiles and says so when it serves.
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dist = manifest.join("../../ui/dist");
    if !dist.exists() {
        let _ = std::fs::create_dir_all(&dist);
    }
    println!("cargo:rerun-if-changed={}", dist.display());
    println!("cargo:rerun-if-changed=build.rs");
}
