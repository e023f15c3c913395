//! Hawkins' shared crate: every decision the functions make, as plain functions over typed values,
//! and the narrow traits through which the functions reach AWS.
//!
//! - Reading user files: [`text`] (bytes to text), [`srt`] (cues), [`clean`] (dialogue lines with
//!   speakers; [`dialogue`] is one line), [`transcript`] (`name,line` CSV), [`jsonl`] (locations
//!   and characters lists).
//! - What the files become: [`characters`] (who is who), [`network`] (co-occurrence graph),
//!   [`datasets`] (training sets), [`manifest`] (lineage and the corpus version), [`hash`].
//! - The model config: [`config`] (`infra/hawkins.toml`, one module per section).
//! - Deciding, one module per function: [`source`] (what an uploaded key is) and [`ingest`] (the
//!   plan for one upload); [`training`] (the quiet period, one job per model per corpus version)
//!   and [`corpus`] (the corpus build it runs once uploads settle, one episode at a time);
//!   [`lifecycle`] (one module per SageMaker event: job, tuning, transform, package, endpoint);
//!   [`costs`] (prices, figures, report, budget alerts).
//! - Shared records: [`ledger`] (what ran and what is deployed), [`requests`] (what a person asked
//!   for: a training attempt, a deployment, a rollback), [`feedback`] (the chat's ratings, read by
//!   the A/B tests), [`time`] (UTC instants and days).
//! - Reaching AWS: [`events`] (envelopes), [`store`] (the object store and notifier traits, and
//!   the send-once alert), [`error`] (retryable or not); behind features, the SDK adapters in
//!   `aws`, the in-memory stand-ins of every trait in `fakes`, and `entry`, what every function's
//!   `main.rs` shares.
//!
//! The local AWS that `hawkins local` and the end-to-end tests run against is not here: it is the
//! `hawkins-localaws` crate (`tests/localaws`).

pub mod characters;
pub mod clean;
pub mod config;
pub mod corpus;
pub mod costs;
pub mod datasets;
pub mod dialogue;
#[cfg(feature = "lambda")]
pub mod entry;
pub mod error;
pub mod events;
#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
pub mod feedback;
pub mod hash;
pub mod ingest;
pub mod jsonl;
pub mod ledger;
pub mod lifecycle;
pub mod manifest;
pub mod network;
pub mod requests;
mod simd;
pub mod source;
pub mod srt;
pub mod storage;
pub mod store;
pub mod text;
pub mod themes;
pub mod time;
pub mod training;
pub mod transcript;

#[cfg(feature = "aws")]
pub mod aws;
