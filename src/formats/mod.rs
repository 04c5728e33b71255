//! File formats: what the library reads and writes, built on the core numerics only (never the
//! reverse).
//!
//! | file | concept |
//! |---|---|
//! | [`atomic`] | crash-safe writes of files and folders (temporary name, fsync, rename, folder fsync) |
//! | [`killpoint`] | the `MODADD_KILL_AT` test hook: SIGKILL at a named point of the write path |
//! | [`table`] | CSV tables and shortest round-trip numbers |
//! | [`stream`] | tables written row by row during a run and continued on resume |
//! | [`manifest`] | the `manifest.csv` every output folder gets |
//! | [`pairs`] | the pairs file (`x,y`) of splits and evaluations |
//! | [`weights`] | the weight folder (CSV) and [`weights::read_weights_any`] |
//! | [`npy`] | NumPy `.npy` arrays (checkpoints) |
//! | [`pth`] | PyTorch `.pth` checkpoints (zip + pickle) |

pub mod atomic;
pub mod killpoint;
pub mod manifest;
pub mod npy;
pub mod pairs;
pub mod pth;
pub mod stream;
pub mod table;
pub mod weights;
