//! The rows of the demo city and the INSERT statements that write them.

use std::sync::Arc;

use crate::db::{Backend, Tx};
use crate::demo::bulk::Insert;

pub(super) struct AddressRow {
    pub(super) id: i64,
    pub(super) text: String,
    pub(super) key: String,
    pub(super) lon: f64,
    pub(super) lat: f64,
    pub(super) grid: i64,
}

pub(super) struct HouseRow {
    pub(super) id: i64,
    pub(super) address: i64,
    pub(super) unit: String,
    pub(super) use_kind: &'static str,
    pub(super) area: f64,
    pub(super) grid: i64,
}

pub(super) struct ResidentRow {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) sex: &'static str,
    pub(super) birth: Option<String>,
    pub(super) id_kind: Option<&'static str>,
    pub(super) id_cols: Option<(Vec<u8>, Vec<u8>, String, String)>,
    pub(super) residence: &'static str,
    pub(super) registered: String,
    pub(super) address: i64,
    pub(super) house: i64,
    pub(super) relation: &'static str,
    pub(super) grid: i64,
}

pub(super) struct PhoneRow {
    pub(super) resident: i64,
    pub(super) hash: Arc<[u8]>,
    pub(super) enc: Vec<u8>,
    pub(super) masked: Arc<str>,
    pub(super) ord: i64,
}

pub(super) struct ShopRow {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) kind: &'static str,
    pub(super) legal_rep: String,
    pub(super) phone_enc: Vec<u8>,
    pub(super) phone_hash: Arc<[u8]>,
    pub(super) phone_masked: Arc<str>,
    pub(super) address: i64,
    pub(super) grid: i64,
}

#[derive(Default)]
pub(super) struct Chunk {
    pub(super) addresses: Vec<AddressRow>,
    pub(super) houses: Vec<HouseRow>,
    pub(super) residents: Vec<ResidentRow>,
    pub(super) phones: Vec<PhoneRow>,
    pub(super) tags: Vec<(i64, &'static str)>,
    pub(super) shops: Vec<ShopRow>,
}

/// The INSERT statements, made once.
pub(super) struct Writer {
    pub(super) addresses: Insert,
    pub(super) houses: Insert,
    pub(super) residents: Insert,
    pub(super) phones: Insert,
    pub(super) tags: Insert,
    pub(super) shops: Insert,
}

impl Writer {
    pub(super) fn new(backend: Backend, now: i64) -> Writer {
        let at = || vec![("created_at", now.to_string()), ("updated_at", now.to_string())];
        let datum = pingan_geo::Datum::from(crate::basedata::model::DatumCode::Wgs84).as_str();
        let mut address_fixed = at();
        address_fixed.push(("source_datum", format!("'{datum}'")));
        let mut resident_fixed = at();
        resident_fixed.push(("note", "''".into()));
        Writer {
            addresses: Insert::new(
                backend,
                "addresses",
                &["id", "text", "text_key", "lon", "lat", "grid_id", "node_id"],
                &address_fixed,
            ),
            houses: Insert::new(
                backend,
                "houses",
                &["id", "address_id", "unit", "use_kind", "area_m2", "node_id"],
                &at(),
            ),
            residents: Insert::new(
                backend,
                "residents",
                &[
                    "id",
                    "name",
                    "sex",
                    "birth_date",
                    "id_kind",
                    "id_enc",
                    "id_hash",
                    "id_head",
                    "id_tail",
                    "residence",
                    "registered_address",
                    "address_id",
                    "house_id",
                    "house_relation",
                    "grid_id",
                    "node_id",
                ],
                &resident_fixed,
            ),
            phones: Insert::new(
                backend,
                "resident_phones",
                &["resident_id", "phone_hash", "phone_enc", "phone_masked", "ord"],
                &[("added_at", now.to_string())],
            ),
            tags: Insert::new(backend, "resident_tags", &["resident_id", "tag"], &[]),
            shops: Insert::new(
                backend,
                "establishments",
                &[
                    "id",
                    "name",
                    "kind",
                    "legal_rep",
                    "phone_enc",
                    "phone_hash",
                    "phone_masked",
                    "address_id",
                    "grid_id",
                    "node_id",
                ],
                &at(),
            ),
        }
    }

    /// Parents before children, so every foreign key holds as each statement runs.
    pub(super) async fn write(&self, tx: &mut Tx, c: &Chunk) -> sqlx::Result<()> {
        self.addresses
            .run(tx, &c.addresses, |q, a| {
                q.bind(a.id)
                    .bind(a.text.as_str())
                    .bind(a.key.as_str())
                    .bind(a.lon)
                    .bind(a.lat)
                    .bind(a.grid)
                    .bind(a.grid)
            })
            .await?;
        self.houses
            .run(tx, &c.houses, |q, h| {
                q.bind(h.id).bind(h.address).bind(h.unit.as_str()).bind(h.use_kind).bind(h.area).bind(h.grid)
            })
            .await?;
        self.residents
            .run(tx, &c.residents, |q, r| {
                let (enc, hash, head, tail) = match &r.id_cols {
                    Some((e, h, a, b)) => (Some(e.as_slice()), Some(h.as_slice()), Some(a.as_str()), Some(b.as_str())),
                    None => (None, None, None, None),
                };
                q.bind(r.id)
                    .bind(r.name.as_str())
                    .bind(r.sex)
                    .bind(r.birth.as_deref())
                    .bind(r.id_kind)
                    .bind(enc)
                    .bind(hash)
                    .bind(head)
                    .bind(tail)
                    .bind(r.residence)
                    .bind(r.registered.as_str())
                    .bind(r.address)
                    .bind(r.house)
                    .bind(r.relation)
                    .bind(r.grid)
                    .bind(r.grid)
            })
            .await?;
        self.phones
            .run(tx, &c.phones, |q, p| {
                q.bind(p.resident).bind(&p.hash[..]).bind(p.enc.as_slice()).bind(&p.masked[..]).bind(p.ord)
            })
            .await?;
        self.tags.run(tx, &c.tags, |q, t| q.bind(t.0).bind(t.1)).await?;
        self.shops
            .run(tx, &c.shops, |q, s| {
                q.bind(s.id)
                    .bind(s.name.as_str())
                    .bind(s.kind)
                    .bind(s.legal_rep.as_str())
                    .bind(s.phone_enc.as_slice())
                    .bind(&s.phone_hash[..])
                    .bind(&s.phone_masked[..])
                    .bind(s.address)
                    .bind(s.grid)
                    .bind(s.grid)
            })
            .await?;
        Ok(())
    }
}
