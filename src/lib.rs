//! pushpull: compare push-based delivery pipelines with pull-based GitOps reconcilers.
//!
//! Pure layers (`scenario`, `model`, `measure`) hold no I/O; `sim` and the report writers
//! are the shells that execute them.

pub mod emulator;
