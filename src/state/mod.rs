//! What is known to have happened: the state model and the journal with its pure fold
//! (`model`, `journal`), and `store`, the only code that writes state, journal, lock and
//! backup files.

pub mod journal;
pub mod model;
pub mod postgres;
pub mod store;

pub use model::{ChangeOrderRecord, RecordStatus, RollbackStatus, STATE_FORMAT_VERSION, State};
