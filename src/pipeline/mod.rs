//! Everything that writes results to disk, above the library's computations: a typed study
//! folder with one rule for whether a stage is finished ([`folder`]), stage locks that hold
//! across hosts ([`lock`]), what a run reads ([`inputs`]), run records with the fingerprint of
//! their inputs ([`record`]), the base model ([`base`]), the eigen baseline ([`eigen`]), one
//! decomposition run ([`run`]), the runs of a sweep and the share of them one process does
//! ([`spec`]), resumable sweeps ([`sweep`]), the analyses of a folder ([`analyses`]) and the
//! results table ([`results`]). The report reads what these write; the whole study
//! (`crate::study`) runs them all, then the report.

pub mod analyses;
pub mod base;
pub mod compare;
pub mod eigen;
pub mod folder;
pub mod inputs;
pub mod lock;
pub mod record;
pub mod results;
pub mod run;
pub mod spec;
pub mod sweep;

pub use base::{Base, BaseSource, base_model};
pub use folder::{FolderLock, StudyFolder};
pub use results::ResultRow;
pub use run::{Outcome, decompose};
pub use spec::{RunSpec, Share};
pub use sweep::SweepFile;
