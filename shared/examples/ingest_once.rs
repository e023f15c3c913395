//! Runs the ingest of one upload exactly as the Lambda does (process the object, then rebuild the
//! corpus from every source in the store), over a folder standing in for the bucket. Used by
//! `shared/benches/ingest_memory.sh` to measure peak memory without the SDK in the picture.
//!
//! Usage: ingest_once <bucket-folder> <file> [<file>...]

use hawkins::ingest::{DEFAULT_NETWORK_WINDOW, Ingest};
use hawkins::store::{AlertLog, DirStore, Object};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = args
        .next()
        .ok_or("usage: ingest_once <bucket-folder> <file>...")?;
    let store = DirStore::new(root);
    let alerts = AlertLog::default();
    let ingest = Ingest {
        store: &store,
        notifier: &alerts,
        location: "bench".into(),
        network_window: DEFAULT_NETWORK_WINDOW,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(async {
        for path in args {
            let bytes = std::fs::read(&path)?;
            let name = std::path::Path::new(&path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let outcome = ingest
                .upload(
                    &format!("raw/{name}"),
                    &Object {
                        bytes,
                        last_modified: None,
                    },
                )
                .await?;
            println!("{}", serde_json::to_string(&outcome)?);
        }
        let corpus = ingest.corpus().await?;
        println!("{}", serde_json::to_string(&corpus)?);
        Ok(())
    })
}
