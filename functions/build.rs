//! The one build script of the functions that embed the model config (train, lifecycle, costs):
//! it refuses to build (and so `sam build` refuses to deploy) a function whose config is invalid,
//! naming the file, line and field of every problem, and tells the function where the file is
//! (`HAWKINS_CONFIG_FILE`, read by `hawkins::embedded_config!`). The embedded file is the
//! function's built-in config: the one in force while the stack's config location holds no object
//! (`hawkins::config::live`).

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/hawkins.toml");
    hawkins::config::check_at_build(path);
    println!("cargo::rustc-env=HAWKINS_CONFIG_FILE={path}");
}
