//! Refuses to build (and so `sam build` refuses to deploy) a function whose embedded model config
//! is invalid, naming the file, line and field of every problem.

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/hawkins.toml");
    println!("cargo::rerun-if-changed={path}");
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => panic!("cannot read the model config {path}: {e}"),
    };
    if let Err(errors) = hawkins::config::parse("infra/hawkins.toml", &text) {
        panic!("the model config is invalid:\n{errors}");
    }
}
