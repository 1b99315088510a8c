//! `pingan import warnings FILE`: a warnings file loaded on the server's shell, the same way the
//! API loads it.

use std::path::Path;

use super::import::{import_warnings, Options};
use crate::app::AppState;
use crate::audit::Entry;
use crate::auth::{Caller, Permission};
use crate::tabular::Limits;

pub async fn run(state: &AppState, file: &Path, opts: Options, rejects: Option<&Path>) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let mut operator = Caller::operator(state).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    operator.permissions.insert(Permission::WarningsWrite);
    let started = std::time::Instant::now();
    let entry = Entry::cli("antifraud.warnings.import");
    let report = import_warnings(state, entry, &operator, &bytes, &Limits::CLI, opts)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::basedata::import_cli::print_errors(&report.errors);
    if let Some(path) = rejects {
        crate::basedata::import_cli::write_rejects(path, &report.errors)?;
    }
    if !report.written {
        anyhow::bail!("{} problem(s); nothing was imported", report.errors.len());
    }
    println!(
        "{} rows: {} warnings created, {} duplicates, {} conflicts, {} rows refused{} ({:.1} s)",
        report.received,
        report.created,
        report.duplicates,
        report.conflicts,
        report.refused,
        if opts.history { " (loaded as history)" } else { "" },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
