// tauri.conf.json lives at the repository root (as the user asked) and the capabilities
// under src-tauri/capabilities; tell tauri-build where both are.
fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().capabilities_path_pattern("./src-tauri/capabilities/**/*"))
        .expect("tauri-build failed");
}
