//! pushpull: compare push-based delivery pipelines with pull-based GitOps reconcilers.
//!
//! Pure layers (`scenario`, `metric`, `model`, `measure`) hold no I/O; `sim`, `emulator` and
//! `report` are the shells that execute and write them.

pub mod check;
pub mod cli;
pub use pushpull_emulator as emulator;
pub mod live;
pub mod measure;
pub mod metric;
pub mod model;
pub mod outdir;
pub mod plan;
pub mod release;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod sweep;
mod world;
