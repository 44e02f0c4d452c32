//! pushpull: compare push-based delivery pipelines with pull-based GitOps reconcilers.
//!
//! The pure layers live in `pushpull-core` (re-exported here: `scenario`, `metric`,
//! `model`, `plan`, `measure`, `release`, `world`); the API emulator in
//! `pushpull-emulator` (`emulator`). This crate adds the shells that execute and write
//! them: the sim world, the live world, reports and the command line. docs/ARCHITECTURE.md
//! says what each layer may import.

pub mod check;
pub mod cli;
pub mod export;
pub mod fit;
pub use pushpull_emulator as emulator;
pub mod live;
pub use pushpull_core::{measure, metric, model, plan, release, world};
pub mod outdir;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sensitivity;
pub mod sim;
pub mod sweep;
