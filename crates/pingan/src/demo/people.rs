//! The demo city's base data: addresses inside each grid, houses at them, residents in the
//! houses and establishments on the street, all from one seed so the same city comes back.

use geo::{BoundingRect, Contains, MultiPolygon, Point};

use super::base::with_check;
use super::names::{self, Lcg};
use crate::basedata::area::{BureauArea, Placed, BUREAU_AREA};
use crate::basedata::model::{DatumCode, EstablishmentKind, HouseRelation, HouseUse, Residence, Sex, Tag};
use crate::basedata::resident::{self, Placement, Resident};
use crate::db::Tx;
use crate::pii::id_number::IdNumber;
use crate::pii::mask::Phone;
use crate::pii::DataKey;

const STREETS: &[&str] =
    &["人民路", "平原路", "解放大道", "胜利路", "健康路", "和平大道", "新中大道", "金穗大道", "劳动街", "自由路"];
const SHOPS: &[&str] = &["便民超市", "家常菜馆", "快捷酒店", "网咖", "药店", "快递驿站", "五金店", "理发店"];

/// How much base data each grid gets.
pub struct Density {
    pub addresses_per_grid: usize,
    pub houses_per_address: usize,
}

pub const DISTRICT: Density = Density { addresses_per_grid: 6, houses_per_address: 4 };

/// Sets the bureau's area to the grids' extent (plus a margin) and fills every grid.
pub async fn seed(
    tx: &mut Tx,
    key: &DataKey,
    grids: &[(i64, String, MultiPolygon<f64>)],
    density: &Density,
    today: chrono::NaiveDate,
    now: i64,
) -> anyhow::Result<()> {
    if !set_area(tx, grids.iter().map(|(_, _, s)| s), now).await? {
        return Ok(());
    }
    let mut rng = Lcg(41_072_026);
    let mut serial = 0u32;
    let mut used = std::collections::HashSet::new();
    for (g, (grid_id, code, shape)) in grids.iter().enumerate() {
        let Some(r) = shape.bounding_rect() else { continue };
        let street = STREETS[g % STREETS.len()];
        for a in 0..density.addresses_per_grid {
            let Some(p) = point_inside(&mut rng, shape, r) else { continue };
            let text = format!("新乡市{street}{}号{}号楼", 10 + g * 20 + a, a + 1);
            let placed = Placed { lon: p.x(), lat: p.y(), grid_id: Some(*grid_id) };
            let address =
                crate::basedata::address::insert(tx, &text, &placed, DatumCode::Wgs84, *grid_id, None, now).await?;
            if a == 0 {
                establishment(tx, key, &mut rng, address, *grid_id, g, now).await?;
            }
            for h in 0..density.houses_per_address {
                let use_kind = match rng.next() % 10 {
                    0 => HouseUse::Vacant,
                    1..=3 => HouseUse::Rented,
                    _ => HouseUse::OwnerOccupied,
                };
                let house: i64 = sqlx::query_scalar(
                    "INSERT INTO houses (address_id, unit, use_kind, area_m2, node_id, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                )
                .bind(address)
                .bind(format!("{}单元{}0{}", h / 2 + 1, h % 2 + 1, h % 2 + 1))
                .bind(use_kind.code())
                .bind(60.0 + (rng.next() % 80) as f64)
                .bind(grid_id)
                .bind(now)
                .fetch_one(&mut **tx)
                .await?;
                let people = match use_kind {
                    HouseUse::Vacant => 0,
                    _ => 1 + rng.next() % 4,
                };
                for k in 0..people {
                    serial += 1;
                    let mut r = person(&mut rng, code, serial, use_kind, k, house, address, today);
                    // Two people drawn with one birthday and sequence: the second goes without.
                    if r.id_number.as_ref().is_some_and(|id| !used.insert(id.as_str().to_string())) {
                        r.id_number = None;
                    }
                    let at = Placement { address_id: Some(address), grid_id: Some(*grid_id), node_id: *grid_id };
                    resident::insert(tx, key, &r, &at, None, now).await?;
                }
            }
        }
    }
    Ok(())
}

/// Sets the bureau's area to the grids' extent plus a margin; false when there are no grids.
pub async fn set_area<'a>(
    tx: &mut Tx,
    shapes: impl Iterator<Item = &'a MultiPolygon<f64>>,
    now: i64,
) -> anyhow::Result<bool> {
    let mut bbox: Option<geo::Rect<f64>> = None;
    for shape in shapes {
        if let Some(r) = shape.bounding_rect() {
            bbox = Some(match bbox {
                None => r,
                Some(b) => geo::Rect::new(
                    (b.min().x.min(r.min().x), b.min().y.min(r.min().y)),
                    (b.max().x.max(r.max().x), b.max().y.max(r.max().y)),
                ),
            });
        }
    }
    let Some(b) = bbox else { return Ok(false) };
    let m = 0.05;
    let ring = vec![
        [b.min().x - m, b.min().y - m],
        [b.max().x + m, b.min().y - m],
        [b.max().x + m, b.max().y + m],
        [b.min().x - m, b.max().y + m],
    ];
    crate::settings::set(tx, BUREAU_AREA, &BureauArea { ring }, None, now).await?;
    Ok(true)
}

fn point_inside(rng: &mut Lcg, shape: &MultiPolygon<f64>, r: geo::Rect<f64>) -> Option<Point<f64>> {
    (0..50).find_map(|_| {
        let x = r.min().x + (rng.next() % 10_000) as f64 / 10_000.0 * r.width();
        let y = r.min().y + (rng.next() % 10_000) as f64 / 10_000.0 * r.height();
        let p = Point::new(x, y);
        shape.contains(&p).then_some(p)
    })
}

#[allow(clippy::too_many_arguments)]
fn person(
    rng: &mut Lcg,
    grid_code: &str,
    serial: u32,
    use_kind: HouseUse,
    k: u64,
    house: i64,
    address: i64,
    today: chrono::NaiveDate,
) -> Resident {
    let year = 1940 + (rng.next() % 80) as i32;
    let birth = chrono::NaiveDate::from_ymd_opt(year, 1 + (rng.next() % 12) as u32, 1 + (rng.next() % 28) as u32)
        .expect("BUG: day ≤ 28 is a date");
    // Region 410702 (红旗区) for registered people; floating people come from elsewhere in Henan.
    let floating = use_kind == HouseUse::Rented;
    let region = if floating { "411421" } else { "410702" };
    let id =
        IdNumber::parse(&with_check(&format!("{region}{}{:03}", birth.format("%Y%m%d"), serial % 1000)), today).ok();
    let relation = match (use_kind, k) {
        (HouseUse::Rented, _) => HouseRelation::Tenant,
        (_, 0) => HouseRelation::Owner,
        _ => HouseRelation::Family,
    };
    let mut tags = Vec::new();
    if year < 1950 && k == 0 {
        tags.push(Tag::ElderlyAlone);
    }
    if serial.is_multiple_of(97) {
        tags.push(Tag::FraudVictim);
    }
    Resident {
        name: names::person(rng),
        sex: if id.as_ref().is_some_and(|i| i.is_male()) { Sex::Male } else { Sex::Female },
        id_number: id,
        phones: Phone::parse(&names::mobile(rng)).into_iter().collect(),
        residence: if floating { Residence::Floating } else { Residence::Registered },
        registered_address: if floating {
            "河南省商丘市虞城县".into()
        } else {
            format!("新乡市红旗区 {grid_code}")
        },
        address_id: Some(address),
        house_id: Some(house),
        house_relation: Some(relation),
        tags,
        note: String::new(),
    }
}

async fn establishment(
    tx: &mut Tx,
    key: &DataKey,
    rng: &mut Lcg,
    address: i64,
    grid: i64,
    g: usize,
    now: i64,
) -> anyhow::Result<()> {
    let kinds = [
        EstablishmentKind::Shop,
        EstablishmentKind::Restaurant,
        EstablishmentKind::Hotel,
        EstablishmentKind::InternetCafe,
        EstablishmentKind::Hospital,
        EstablishmentKind::Logistics,
        EstablishmentKind::Shop,
        EstablishmentKind::Other,
    ];
    let phone = Phone::parse(&names::mobile(rng)).expect("BUG: demo phones parse");
    sqlx::query(
        "INSERT INTO establishments (name, kind, credit_code, legal_rep, phone_enc, phone_hash, phone_masked, address_id, \
         grid_id, node_id, created_at, updated_at) VALUES ($1, $2, NULL, $3, $4, $5, $6, $7, $8, $8, $9, $9)",
    )
    .bind(format!("{}{}", names::person(rng), SHOPS[g % SHOPS.len()]))
    .bind(kinds[g % kinds.len()].code())
    .bind(names::person(rng))
    .bind(key.encrypt_str(phone.as_str()))
    .bind(key.lookup_hash(crate::pii::PHONE, phone.as_str()))
    .bind(phone.masked())
    .bind(address)
    .bind(grid)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
