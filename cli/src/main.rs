//! `hawkins`: preview a corpus offline, run the whole pipeline on the local AWS, and operate a
//! deployed stack (doctor, status, logs, approvals, training and deploy requests, costs, chat,
//! cleanup).
//!
//! `--json` makes every command print one JSON document on standard output instead of its text;
//! the exit codes are in [`exit`], listed at the end of `hawkins --help`.

mod cloud;
mod config_check;
mod exit;
mod local;
mod preprocess;
mod summary;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "hawkins",
    version,
    about = "Hawkins: Stranger Things NLP models, from subtitles to endpoints",
    after_help = exit::help()
)]
struct Cli {
    /// Print one JSON document on standard output instead of text (logs and chat: one JSON
    /// document per line); a failure prints {"error": {"message", "exit", "kind"}}.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Process subtitles, transcripts and lists offline, writing exactly what the pipeline would
    /// write to its bucket into a folder.
    ///
    /// Example: hawkins preprocess ~/subs/season1 transcripts/ --out /tmp/hawkins-preview
    Preprocess {
        /// Files, or folders to read recursively (.srt, .csv, locations/characters .jsonl).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The folder to write processed/, datasets/, manifest/ and quarantine/ into.
        #[arg(long)]
        out: PathBuf,
    },
    /// Work with the model configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Run the pipeline on the local AWS (moto, installed into .venv when missing) with the
    /// project's sample corpus, and print what it produced.
    ///
    /// Example: hawkins local
    #[command(args_conflicts_with_subcommands = true)]
    Local {
        #[command(subcommand)]
        action: Option<LocalCommand>,
        /// Sample uploads to use instead of the project's own (files or folders).
        #[arg(long)]
        samples: Vec<PathBuf>,
        /// Where to copy the pages to open (character network).
        #[arg(long, default_value = "target/hawkins-local")]
        out: PathBuf,
        /// Put a fault layer between the functions and the local AWS, seeded with SEED: a fifth
        /// of their calls are throttled, fail or time out, and some invocations crash between two
        /// writes. The run must still end with every upload, job, package and alert, once.
        #[arg(long, value_name = "SEED")]
        faults: Option<u64>,
        /// After the run, keep the local AWS and the web app running until Ctrl-C: files
        /// uploaded in the browser go through the pipeline, approvals deploy.
        #[arg(long)]
        serve: bool,
    },
    #[command(flatten)]
    Cloud(cloud::CloudCommand),
}

#[derive(Subcommand)]
enum LocalCommand {
    /// Start the local AWS with the stack's resources and keep it running (Ctrl-C stops it), for
    /// running the functions with `cargo lambda watch` and the samples in events/.
    ///
    /// The bucket is named as in the samples and holds the upload that
    /// events/s3-object-created.json announces; the functions' environment (the local endpoint,
    /// its fixed credentials, the bucket, topic, queue and role) is written to
    /// <OUT>/lambda.env for `cargo lambda watch --env-file`.
    ///
    /// Example: hawkins local up   (then, in another shell: cargo lambda watch -A 127.0.0.1 --env-file target/hawkins-local/lambda.env)
    Up {
        /// Where to write lambda.env.
        #[arg(long, default_value = "target/hawkins-local")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a model config file; prints every problem as file:line:column: field: message.
    ///
    /// Exits with 3 when the config is not valid; with --json the problems are a list of
    /// {line, column, field, message}.
    ///
    /// Example: hawkins config check infra/hawkins.toml
    Check {
        /// The TOML file.
        file: PathBuf,
    },
    /// Check a model config and, when it is valid, upload it to where the stack's functions read
    /// it; they use it from their next invocation, without a deploy.
    ///
    /// The file is checked as `config check` does: a file with problems is refused (every problem
    /// printed, exit 3) and nothing is uploaded. The place is the stack's ConfigLocation
    /// parameter, else config/hawkins.toml in its bucket (the stack's ConfigUri output), or --to.
    /// Prints the place and the new object's version and ETag.
    ///
    /// Example: hawkins config push infra/hawkins.toml --stack hawkins
    Push {
        #[command(flatten)]
        connection: cloud::Connection,
        /// The TOML file.
        file: PathBuf,
        /// Upload here instead (s3://bucket/key).
        #[arg(long, value_name = "S3_URI")]
        to: Option<String>,
    },
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let result = match cli.command {
        Command::Preprocess { paths, out } => preprocess::run(&paths, &out, json).await,
        Command::Local {
            action: Some(LocalCommand::Up { out }),
            ..
        } => local::up(&out, json).await,
        Command::Local {
            samples,
            out,
            faults,
            serve,
            ..
        } => local::run(&samples, &out, faults, serve, json).await,
        Command::Cloud(command) => cloud::run(command, json).await,
        Command::Config {
            command: ConfigCommand::Check { file },
        } => config_check::run(&file, json),
        Command::Config {
            command:
                ConfigCommand::Push {
                    connection,
                    file,
                    to,
                },
        } => cloud::config_push::run(&connection, &file, to.as_deref(), json).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hawkins: {error:#}");
            if json && !exit::printed(&error) {
                println!("{}", exit::error_json(&error));
            }
            ExitCode::from(exit::of(&error).code())
        }
    }
}
