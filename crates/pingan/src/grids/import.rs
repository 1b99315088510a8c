//! Importing grid boundaries from a GeoJSON FeatureCollection. Each feature's properties give
//! its `code`, `name` and `station` (the code of the station or post it belongs to); the file
//! declares its datum (a top-level `"datum"` member) or the caller states it. Every bad feature
//! is reported (unreadable or invalid rings, self-intersections, grids overlapping each other or
//! a stored grid the file does not redraw); if any is bad nothing is written. Gaps inside a station's area are reported, not refused:
//! a bureau may leave ground unassigned while it redraws.

use std::collections::HashSet;

use geo::{MapCoords, MultiPolygon, Point};
use pingan_geo::Datum;
use serde::Serialize;
use utoipa::ToSchema;

use super::store;
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::basedata::Table;
use crate::org::service::{create_in, move_in, publish_change, NewNode};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct GridImportReport {
    pub created: u64,
    pub reshaped: u64,
    pub unchanged: u64,
    /// Addresses that lie in another grid after this import (with their houses, residents and
    /// establishments).
    pub addresses_moved: u64,
    pub errors: Vec<FeatureReport>,
    /// Holes in the union of a station's grids (after this import): reported, not refused.
    pub gaps: Vec<GapReport>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeatureReport {
    /// The feature's position in the file, from 0; null for the file as a whole.
    pub feature: Option<usize>,
    pub code: Option<String>,
    pub field: String,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GapReport {
    pub station: String,
    pub area_m2: f64,
}

struct Row {
    index: usize,
    code: String,
    name: String,
    station_id: i64,
    shape: MultiPolygon<f64>,
}

fn file_error(reason: impl Into<String>) -> FeatureReport {
    FeatureReport { feature: None, code: None, field: "file".into(), reason: reason.into() }
}

/// The datum the file declares, if any.
fn declared_datum(text: &str) -> Result<Option<Datum>, String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    match doc.get("datum").and_then(|d| d.as_str()) {
        Some(d) => d.parse().map(Some).map_err(|_| format!("the file's datum {d} is not wgs84, gcj02 or cgcs2000")),
        None => Ok(None),
    }
}

pub async fn import(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    text: &str,
    stated: Option<Datum>,
) -> Result<GridImportReport, AppError> {
    caller.require(Permission::OrgWrite)?;
    let mut report = GridImportReport::default();
    let datum = match (declared_datum(text), stated) {
        (Err(e), _) => {
            report.errors.push(file_error(e));
            return Ok(report);
        }
        (Ok(Some(a)), Some(b)) if a != b => {
            report.errors.push(file_error(format!("the file says its datum is {a}, the request says {b}")));
            return Ok(report);
        }
        (Ok(Some(d)), _) | (Ok(None), Some(d)) => d,
        (Ok(None), None) => {
            report.errors.push(file_error("state the datum: wgs84, gcj02 or cgcs2000"));
            return Ok(report);
        }
    };
    let parsed = match pingan_geo::geojson::parse_feature_collection(text) {
        Ok(p) => p,
        Err(e) => {
            report.errors.push(file_error(e.to_string()));
            return Ok(report);
        }
    };
    for e in &parsed.errors {
        report.errors.push(FeatureReport {
            feature: Some(e.index),
            code: None,
            field: "geometry".into(),
            reason: e.problem.to_string(),
        });
    }
    let tree = crate::org::service::tree(state, caller).await?;
    let mut rows = Vec::new();
    // Every code the file names, good feature or bad: a stored grid the file redraws is replaced,
    // so its old shape is no obstacle.
    let mut in_file = HashSet::new();
    for f in parsed.features {
        let prop =
            |k: &str| f.properties.get(k).and_then(|v| v.as_str()).map(|s| s.trim().to_string()).unwrap_or_default();
        let (code, name, station) = (prop("code"), prop("name"), prop("station"));
        in_file.insert(code.clone());
        let mut bad = |field: &str, reason: String| {
            report.errors.push(FeatureReport {
                feature: Some(f.index),
                code: Some(code.clone()).filter(|c| !c.is_empty()),
                field: field.into(),
                reason,
            })
        };
        if let Err(r) = crate::org::model::check_code(&code) {
            bad("code", r.into());
            continue;
        }
        if let Err(r) = crate::org::model::check_name(&name) {
            bad("name", r.into());
            continue;
        }
        let taken: Option<String> = sqlx::query_scalar("SELECT kind FROM org_nodes WHERE code = $1")
            .bind(&code)
            .fetch_optional(state.db.reader())
            .await?;
        if let Some(kind) = taken.filter(|k| k != "grid") {
            bad("code", format!("{code} is a {kind}, not a grid"));
            continue;
        }
        let Some((parent, _)) =
            tree.iter().find(|(n, _)| n.code == station && matches!(n.kind.as_str(), "station" | "post"))
        else {
            bad("station", format!("no station or post {station} in your jurisdiction"));
            continue;
        };
        let shape = f.geometry.map_coords(|c| pingan_geo::to_wgs84(Point::from(c), datum).into());
        let problems = pingan_geo::validate::validate_geometry(&shape);
        for p in &problems {
            bad("geometry", p.to_string());
        }
        if problems.is_empty() {
            rows.push(Row { index: f.index, code, name, station_id: parent.id, shape });
        }
    }
    let shapes: Vec<MultiPolygon<f64>> = rows.iter().map(|r| r.shape.clone()).collect();
    for o in pingan_geo::validate::find_overlaps(&shapes, MIN_OVERLAP_M2) {
        let (a, b) = (&rows[o.a], &rows[o.b]);
        report.errors.push(overlap(b, &a.code, o.area_m2));
    }
    for (row, code, area_m2) in overlaps_with_stored(state, &rows, &in_file).await? {
        report.errors.push(overlap(row, &code, area_m2));
    }
    if !report.errors.is_empty() {
        return Ok(report);
    }
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut touched = Vec::new();
    for row in &rows {
        let existing = sqlx::query_as::<_, (i64, String, String, Option<i64>)>(
            "SELECT id, kind, name, parent_id FROM org_nodes WHERE code = $1",
        )
        .bind(&row.code)
        .fetch_optional(&mut *tx)
        .await?;
        let id = match existing {
            Some((_, kind, _, _)) if kind != "grid" => {
                return Err(AppError::invalid("code", format!("{} is a {kind}, not a grid", row.code)));
            }
            Some((id, _, name, parent)) => {
                if name != row.name {
                    sqlx::query("UPDATE org_nodes SET name = $1, updated_at = $2 WHERE id = $3")
                        .bind(&row.name)
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                if parent != Some(row.station_id) {
                    move_in(&mut tx, caller.account_id, Some(caller.node_id), id, row.station_id, now).await?;
                }
                id
            }
            None => {
                let input = NewNode {
                    code: row.code.clone(),
                    kind: "grid".into(),
                    name: row.name.clone(),
                    parent_id: Some(row.station_id),
                    valid_from: None,
                };
                report.created += 1;
                create_in(&mut tx, caller.account_id, Some(caller.node_id), &input, now).await?
            }
        };
        let current: Option<Vec<u8>> = sqlx::query_scalar("SELECT shape FROM grid_shapes WHERE node_id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let wkb = pingan_geo::wkb::encode(&row.shape);
        if current.as_deref() == Some(wkb.as_slice()) {
            report.unchanged += 1;
            continue;
        }
        if current.is_some() {
            report.reshaped += 1;
        }
        store::put_shape(&mut tx, id, &row.shape, datum.as_str(), caller.account_id, now).await?;
        publish_change(&mut tx, state, id, "grid.import", now).await?;
        touched.push(id);
    }
    // Redrawn grids take their addresses, and everyone at them, along; audited in this entry.
    let moved = if touched.is_empty() { Vec::new() } else { crate::basedata::reassign::after_redraw(&mut tx).await? };
    report.addresses_moved = moved.len() as u64;
    let addresses: Vec<i64> = moved.iter().map(|m| m.address_id).collect();
    let along = moved_along(&mut tx, &addresses).await?;
    let entry = Entry::new(meta, Some(caller), "grid.import")
        .records(touched.iter().map(|id| format!("node:{id}")))
        .records(addresses.iter().map(|id| format!("address:{id}")))
        .records(along.iter().map(|(table, id)| table.record(*id)))
        .detail(serde_json::json!({
            "datum": datum.as_str(),
            "created": report.created,
            "reshaped": report.reshaped,
            "addresses_moved": moved.len(),
            "houses_moved": along.iter().filter(|(t, _)| *t == Table::House).count(),
            "residents_moved": along.iter().filter(|(t, _)| *t == Table::Resident).count(),
            "establishments_moved": along.iter().filter(|(t, _)| *t == Table::Establishment).count(),
        }));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    crate::events::wake(state);
    report.gaps = gaps_by_station(state, &rows).await?;
    Ok(report)
}

/// The houses, residents and establishments at `addresses`, which moved grid with them: a redraw
/// changes whose jurisdiction each is in, so the audit entry names every one, one record each so
/// a search for a person finds it.
async fn moved_along(tx: &mut crate::db::Tx, addresses: &[i64]) -> Result<Vec<(Table, i64)>, AppError> {
    let mut out = Vec::new();
    for chunk in addresses.chunks(1000) {
        // Our own integers, formatted: safe to inline.
        let ids = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        for (table, sql) in
            [(Table::House, "houses"), (Table::Resident, "residents"), (Table::Establishment, "establishments")]
        {
            let found: Vec<i64> =
                sqlx::query_scalar(&format!("SELECT id FROM {sql} WHERE address_id IN ({ids}) ORDER BY id"))
                    .fetch_all(&mut **tx)
                    .await?;
            out.extend(found.into_iter().map(|id| (table, id)));
        }
    }
    out.sort_by_key(|(t, id)| (*t as u8, *id));
    Ok(out)
}

/// Grids may touch along their edges; an overlap is shared ground beyond this, whether between
/// two grids of the file or a grid of the file and a stored one.
const MIN_OVERLAP_M2: f64 = 1.0;

fn overlap(row: &Row, other: &str, area_m2: f64) -> FeatureReport {
    FeatureReport {
        feature: Some(row.index),
        code: Some(row.code.clone()),
        field: "geometry".into(),
        reason: format!("overlaps grid {other} by {area_m2:.0} m²"),
    }
}

/// (row, stored grid's code, shared m²) for every row that overlaps a live stored grid which the
/// file does not redraw. Whole stored grids are compared, whoever's jurisdiction they are in: a
/// point must never fall in two grids, wherever the other one belongs.
async fn overlaps_with_stored<'a>(
    state: &AppState,
    rows: &'a [Row],
    in_file: &HashSet<String>,
) -> Result<Vec<(&'a Row, String, f64)>, AppError> {
    use geo::{BooleanOps, BoundingRect, ChamberlainDuquetteArea, Intersects};
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let boxes: Vec<Option<geo::Rect<f64>>> = rows.iter().map(|r| r.shape.bounding_rect()).collect();
    let mut out = Vec::new();
    for stored in store::shapes(&state.db, None).await?.into_iter().filter(|s| !in_file.contains(&s.code)) {
        let shape = pingan_geo::wkb::decode(&stored.shape)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("grid {} has a corrupt shape: {e}", stored.code)))?;
        let Some(bbox) = shape.bounding_rect() else { continue };
        // The bounding boxes rule out all but a stored grid's neighbours before any polygon work.
        for (row, _) in rows.iter().zip(&boxes).filter(|(_, b)| b.is_some_and(|b| b.intersects(&bbox))) {
            let area_m2 = row.shape.intersection(&shape).chamberlain_duquette_unsigned_area();
            if area_m2 > MIN_OVERLAP_M2 {
                out.push((row, stored.code.clone(), area_m2));
            }
        }
    }
    out.sort_by_key(|(row, code, _)| (row.index, code.clone()));
    Ok(out)
}

async fn gaps_by_station(state: &AppState, rows: &[Row]) -> Result<Vec<GapReport>, AppError> {
    let mut stations: Vec<i64> = rows.iter().map(|r| r.station_id).collect();
    stations.sort_unstable();
    stations.dedup();
    let mut out = Vec::new();
    for station in stations {
        let subtree = format!("SELECT descendant FROM org_closure WHERE ancestor = {station}");
        let shapes: Vec<MultiPolygon<f64>> = store::shapes(&state.db, Some(&subtree))
            .await?
            .iter()
            .filter_map(|r| pingan_geo::wkb::decode(&r.shape).ok())
            .collect();
        let code = crate::org::service::code_of(state, station).await?;
        for gap in pingan_geo::validate::find_gaps(&shapes, 1.0).gaps {
            out.push(GapReport { station: code.clone(), area_m2: gap.area_m2 });
        }
    }
    Ok(out)
}
