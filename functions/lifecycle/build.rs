//! Refuses to build (and so `sam build` refuses to deploy) a function whose embedded model config
//! is invalid, naming the file, line and field of every problem.

fn main() {
    hawkins::config::check_at_build(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../infra/hawkins.toml"
    ));
}
