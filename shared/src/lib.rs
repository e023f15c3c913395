//! Hawkins' shared crate: every decision the functions make, as plain functions over typed values,
//! and the narrow traits through which the functions reach AWS.
//!
//! - Reading user files: [`text`] (bytes to text), [`srt`] (cues), [`clean`] (dialogue lines with
//!   speakers), [`transcript`] (`name,line` CSV), [`jsonl`] (locations and characters lists).
//! - What the files become: [`characters`] (who is who), [`network`] (co-occurrence graph),
//!   [`datasets`] (training sets), [`manifest`] (lineage and the corpus version).
//! - Deciding: [`source`] (what an uploaded key is), [`ingest`] (the plan for one upload).
//! - Reaching AWS: [`events`] (envelopes), [`store`] (object store and notifier traits), and,
//!   behind features, the SDK adapters in `aws` and their in-memory stand-ins in `fakes`.

pub mod characters;
pub mod clean;
pub mod config;
pub mod costs;
pub mod datasets;
pub mod dialogue;
#[cfg(feature = "lambda")]
pub mod entry;
pub mod error;
pub mod events;
#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
pub mod hash;
pub mod ingest;
pub mod jsonl;
pub mod lifecycle;
pub mod manifest;
pub mod network;
mod simd;
pub mod source;
pub mod srt;
pub mod store;
pub mod text;
pub mod time;
pub mod training;
pub mod transcript;

#[cfg(feature = "aws")]
pub mod aws;
