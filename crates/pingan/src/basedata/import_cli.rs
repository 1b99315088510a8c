//! `pingan import`: base data from a file on the server's shell, with progress on stderr, and the
//! blank templates offices fill in.

use std::io::Write;
use std::path::PathBuf;

use super::import::import_residents;
use crate::app::AppState;
use crate::audit::Entry;
use crate::auth::{Caller, Permission};
use crate::tabular::{Limits, Template};
use crate::web::error::RowError;

pub struct Args {
    pub template: Option<String>,
    pub format: String,
    pub out: Option<PathBuf>,
    pub kind: Option<String>,
    pub file: Option<PathBuf>,
    pub skip_invalid: bool,
    pub rejects: Option<PathBuf>,
}

/// Writes the blank template `template` (looked up by the caller, which knows every capability's
/// templates) in the format and place `a` asks for.
pub fn write_template(a: &Args, template: &Template) -> anyhow::Result<()> {
    let name = template.name;
    let bytes = match a.format.as_str() {
        "csv" => template.csv_header_file(),
        "xlsx" => template.xlsx_file(),
        other => anyhow::bail!("--format: {other:?} is neither csv nor xlsx"),
    };
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from(format!("{name}-template.{}", a.format)));
    std::fs::write(&out, bytes).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    println!("wrote {} ({} columns; see README, \"Import templates\")", out.display(), template.columns.len());
    Ok(())
}

pub async fn run(state: &AppState, a: &Args) -> anyhow::Result<()> {
    let kind = a.kind.as_deref().ok_or_else(|| anyhow::anyhow!("say what to import: pingan import residents FILE"))?;
    if kind != "residents" {
        anyhow::bail!("cannot import {kind:?}; try residents or warnings");
    }
    let file = a.file.as_ref().ok_or_else(|| anyhow::anyhow!("give the file: pingan import residents FILE"))?;
    if a.rejects.is_some() && !a.skip_invalid {
        anyhow::bail!("--rejects needs --skip-invalid (without it nothing is written if any row is bad)");
    }
    let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let operator = data_operator(state).await?;
    let started = std::time::Instant::now();
    let progress = |done: u64, total: u64, phase: &str| {
        let mut err = std::io::stderr();
        let _ = write!(err, "\r{phase}: {done} of about {total} rows ({:.0} s)   ", started.elapsed().as_secs_f64());
        let _ = err.flush();
    };
    let report = import_residents(
        state,
        Entry::cli("resident.import"),
        &operator,
        &bytes,
        &Limits::CLI,
        a.skip_invalid,
        &progress,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!();
    print_errors(&report.errors);
    if let Some(path) = &a.rejects {
        write_rejects(path, &report.errors)?;
    }
    if !report.written {
        anyhow::bail!("{} problem(s); nothing was imported", report.errors.len());
    }
    println!(
        "{} rows: {} residents created, {} merged into existing records ({} phones added), {} addresses and {} houses created, {} rows skipped ({:.1} s)",
        report.rows,
        report.created,
        report.merged,
        report.phones_added,
        report.addresses_created,
        report.houses_created,
        report.skipped,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The first 50 problems on stderr: enough to see what is wrong, the rest go to --rejects.
pub fn print_errors(errors: &[RowError]) {
    for e in errors.iter().take(50) {
        eprintln!("line {}: {}: {}", e.line, e.field, e.reason);
    }
    if errors.len() > 50 {
        eprintln!("… and {} more", errors.len() - 50);
    }
}

/// Every problem as CSV (UTF-8 with BOM, so Excel on a Chinese Windows opens it right).
pub fn write_rejects(path: &std::path::Path, errors: &[RowError]) -> anyhow::Result<()> {
    let mut out = String::from("\u{feff}line,field,reason\r\n");
    for e in errors {
        out.push_str(&format!("{},{},\"{}\"\r\n", e.line, e.field, e.reason.replace('"', "\"\"")));
    }
    std::fs::write(path, out).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The operator at the server's shell importing base data: the whole bureau, audited as `cli:`.
async fn data_operator(state: &AppState) -> anyhow::Result<Caller> {
    let mut op = Caller::operator(state).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    op.permissions.insert(Permission::BaseDataWrite);
    op.permissions.insert(Permission::PeopleRead);
    Ok(op)
}
