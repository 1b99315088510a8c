//! Bulk import of residents with their addresses and houses, the way offices hand data over.
//!
//! Merge rules, stated once: people with the same ID number are one person. Within a file the
//! first row is kept and later rows only add phones and tags; against the database the existing
//! record is kept (it is the earliest) and the file only adds phones and tags, never removing
//! one. Addresses with the same standard text are one address, and an existing address keeps its
//! point. By default nothing is written if any row is bad; `skip_invalid` writes the good rows.

use std::collections::HashSet;

use serde::Serialize;
use utoipa::ToSchema;

use super::import_template::{split_list, RESIDENTS};
use super::model::{check_text, DatumCode, HouseRelation, HouseUse, Residence, Sex, Tag};
use super::resident::{self, Resident, ResidentInput};
use crate::app::AppState;
use crate::audit::Entry;
use crate::auth::{Caller, Permission};
use crate::tabular::{self, Limits, Record};
use crate::web::error::{AppError, RowError};

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ResidentImportReport {
    /// Data rows read.
    pub rows: u64,
    pub created: u64,
    /// Rows that were a person already recorded (in the file or the database).
    pub merged: u64,
    pub phones_added: u64,
    pub addresses_created: u64,
    pub houses_created: u64,
    /// Bad rows left out (only with skip_invalid).
    pub skipped: u64,
    /// Whether anything was written.
    pub written: bool,
    pub errors: Vec<RowError>,
}

/// Reports progress as (rows done, rows in all, phase).
pub type Progress<'a> = &'a (dyn Fn(u64, u64, &str) + Sync);

pub(super) struct Row {
    pub line: u64,
    pub resident: Resident,
    pub address: String,
    pub point: Option<(f64, f64, DatumCode)>,
    pub unit: Option<String>,
    pub house_use: Option<HouseUse>,
}

pub(super) fn row_error(line: u64, field: &str, reason: impl Into<String>) -> RowError {
    RowError { line, field: field.into(), reason: reason.into() }
}

/// A cell holding one of a vocabulary's codes or labels; empty is None, anything else an error.
fn enum_of<T>(r: &Record<'_>, field: &str, parse: fn(&str) -> Option<T>, errors: &mut Vec<RowError>) -> Option<T> {
    let value = r.get(field);
    if value.is_empty() {
        return None;
    }
    let v = parse(value);
    if v.is_none() {
        errors.push(row_error(r.line, field, format!("not one of the listed values: {value}")));
    }
    v
}

fn parse_row(r: &Record<'_>, today: chrono::NaiveDate) -> Result<Row, Vec<RowError>> {
    let line = r.line;
    let mut errors = Vec::new();
    let sex = enum_of(r, "sex", Sex::parse, &mut errors);
    let residence = enum_of(r, "residence", Residence::parse, &mut errors);
    let relation = enum_of(r, "relation", HouseRelation::parse, &mut errors);
    let house_use = enum_of(r, "house_use", HouseUse::parse, &mut errors);
    let mut tags = Vec::new();
    for t in split_list(r.get("tags")) {
        match Tag::parse(t) {
            Some(t) => tags.push(t),
            None => errors.push(row_error(line, "tags", format!("unknown tag: {t}"))),
        }
    }
    if residence.is_none() && r.get("residence").is_empty() {
        errors.push(row_error(line, "residence", "required: 户籍人口 or 流动人口"));
    }
    let input = ResidentInput {
        name: r.get("name").to_string(),
        sex,
        id_number: Some(r.get("id_number").to_string()).filter(|s| !s.is_empty()),
        phones: split_list(r.get("phones")).map(str::to_string).collect(),
        residence: residence.unwrap_or(Residence::Registered),
        registered_address: r.get("registered_address").to_string(),
        address_id: None,
        house_id: None,
        house_relation: None,
        tags,
        note: r.get("note").to_string(),
    };
    let checked = resident::check(&input, today);
    if let Err(e) = &checked {
        errors.extend(e.iter().map(|(f, reason)| row_error(line, f, reason.clone())));
    }
    let address = check_text(r.get("address"), 2, 200).map_err(|e| errors.push(row_error(line, "address", e))).ok();
    let point = match (r.get("lon"), r.get("lat")) {
        ("", "") => None,
        (lon, lat) => match (lon.parse::<f64>(), lat.parse::<f64>()) {
            (Ok(x), Ok(y)) => {
                let datum = match r.get("datum") {
                    "" => Some(DatumCode::Wgs84),
                    d => match d.parse::<pingan_geo::Datum>() {
                        Ok(pingan_geo::Datum::Wgs84) => Some(DatumCode::Wgs84),
                        Ok(pingan_geo::Datum::Gcj02) => Some(DatumCode::Gcj02),
                        Ok(pingan_geo::Datum::Cgcs2000) => Some(DatumCode::Cgcs2000),
                        Err(_) => {
                            errors.push(row_error(line, "datum", "WGS84, GCJ02 or CGCS2000"));
                            None
                        }
                    },
                };
                datum.map(|d| (x, y, d))
            }
            _ => {
                errors.push(row_error(line, "lon", "longitude and latitude must both be decimal numbers"));
                None
            }
        },
    };
    let unit = check_text(r.get("unit"), 0, 50).map_err(|e| errors.push(row_error(line, "unit", e))).ok();
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut resident = checked.map_err(|_| Vec::new())?;
    resident.house_relation = relation;
    let unit = unit.filter(|u| !u.is_empty() || house_use.is_some() || relation.is_some());
    Ok(Row { line, resident, address: address.unwrap_or_default(), point, unit, house_use })
}

/// Imports residents from CSV or XLSX bytes. Returns the report; `Err` only for failures that are
/// not about the file (permission, database, audit).
pub async fn import_residents(
    state: &AppState,
    entry: Entry,
    caller: &Caller,
    bytes: &[u8],
    limits: &Limits,
    skip_invalid: bool,
    progress: Progress<'_>,
) -> Result<ResidentImportReport, AppError> {
    caller.require(Permission::BaseDataWrite)?;
    let mut report = ResidentImportReport::default();
    let sheet = match tabular::open(bytes, &RESIDENTS, limits) {
        Ok(s) => s,
        Err(errors) => {
            report.errors = errors;
            return Ok(report);
        }
    };
    let total = sheet.approx_rows() as u64;
    let grids = super::import_plan::GridIndexSoon::start(state);
    let today = crate::clock::beijing_today(state.clock.now_ms());
    // Sized once: grown by doubling, a million rows were copied into fresh memory again and again.
    let mut rows: Vec<Row> = Vec::with_capacity((total as usize).min(limits.max_rows));
    for record in sheet.records() {
        report.rows += 1;
        match record.map_err(|e| vec![e]).and_then(|r| parse_row(&r, today)) {
            Ok(row) => rows.push(row),
            Err(errors) => report.errors.extend(errors),
        }
        if report.rows.is_multiple_of(10_000) {
            progress(report.rows, total, "check");
        }
    }
    let plan = super::import_plan::plan(state, caller, rows, grids, &mut report).await?;
    let bad_lines: HashSet<u64> = report.errors.iter().map(|e| e.line).collect();
    report.skipped = bad_lines.len() as u64;
    if !report.errors.is_empty() && !skip_invalid {
        report.skipped = 0;
        return Ok(report);
    }
    super::import_plan::write(state, entry, caller, plan, &mut report, progress).await?;
    Ok(report)
}
