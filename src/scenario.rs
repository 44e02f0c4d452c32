//! Scenarios: everything of `pushpull_core::scenario` (parsing and validation from text),
//! plus reading a scenario file, the one thing of a scenario that touches the file system.

pub use pushpull_core::scenario::*;
use std::path::Path;

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let bytes = std::fs::read(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let file = path.display().to_string();
    Scenario::parse(decode(&bytes, &file)?, &file)
}
