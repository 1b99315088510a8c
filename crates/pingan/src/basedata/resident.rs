//! Residents (实有人口): input checks, create and edit, the masked view and the audited unmask.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{check_person_name, check_text, HouseRelation, Residence, Sex, Tag};
use super::{visible, Table};
use crate::app::AppState;
use crate::audit::{self, Entry};
use crate::auth::{Caller, Permission};
use crate::db::Tx;
use crate::jurisdiction::Level;
use crate::pii::id_number::IdNumber;
use crate::pii::mask::{mask_id_number, mask_name, Phone, Viewer};
use crate::pii::{self, DataKey};
use crate::web::error::AppError;
use crate::web::middleware::RequestMeta;

pub const MAX_PHONES: usize = 10;

/// A resident as the API and forms send one. Identifiers travel only in bodies.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResidentInput {
    #[schema(min_length = 1, max_length = 50)]
    pub name: String,
    /// Taken from the ID number when there is one; must agree with it when both are given.
    pub sex: Option<Sex>,
    /// 18 digits (or 15, upgraded); a resident may have none.
    #[schema(max_length = 30)]
    pub id_number: Option<String>,
    #[serde(default)]
    #[schema(max_items = 10)]
    pub phones: Vec<String>,
    pub residence: Residence,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub registered_address: String,
    pub address_id: Option<i64>,
    pub house_id: Option<i64>,
    pub house_relation: Option<HouseRelation>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: String,
}

/// A checked resident: every field parsed, identifiers typed.
#[derive(Debug, Clone)]
pub struct Resident {
    pub name: String,
    pub sex: Sex,
    pub id_number: Option<IdNumber>,
    pub phones: Vec<Phone>,
    pub residence: Residence,
    pub registered_address: String,
    pub address_id: Option<i64>,
    pub house_id: Option<i64>,
    pub house_relation: Option<HouseRelation>,
    pub tags: Vec<Tag>,
    pub note: String,
}

/// Checks every field and reports every problem, as (field, reason).
pub fn check(input: &ResidentInput, today: NaiveDate) -> Result<Resident, Vec<(String, String)>> {
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut bad = |field: &str, reason: &str| errors.push((field.to_string(), reason.to_string()));
    let name = check_person_name(&input.name).map_err(|r| bad("name", r)).unwrap_or_default();
    if input.id_number.as_deref().is_some_and(|s| s.chars().count() > 30) {
        bad("id_number", "at most 30 characters");
    }
    let id_number = match input.id_number.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => IdNumber::parse(s, today).map_err(|r| bad("id_number", r)).ok(),
        None => None,
    };
    let sex = match (&id_number, input.sex) {
        (Some(id), given) => {
            let from_id = if id.is_male() { Sex::Male } else { Sex::Female };
            if given.is_some_and(|g| g != from_id && g != Sex::Unknown) {
                bad("sex", "does not match the ID number");
            }
            from_id
        }
        (None, given) => given.unwrap_or(Sex::Unknown),
    };
    if input.phones.len() > MAX_PHONES {
        bad("phones", "at most 10 phone numbers");
    }
    let mut phones: Vec<Phone> = Vec::new();
    for (i, p) in input.phones.iter().enumerate().filter(|(_, p)| !p.trim().is_empty()) {
        if p.chars().count() > 30 {
            bad(&format!("phones[{i}]"), "at most 30 characters");
            continue;
        }
        match Phone::parse(p) {
            Ok(p) if !phones.contains(&p) => phones.push(p),
            Ok(_) => {}
            Err(r) => bad(&format!("phones[{i}]"), r),
        }
    }
    let registered_address =
        check_text(&input.registered_address, 0, 200).map_err(|r| bad("registered_address", r)).unwrap_or_default();
    let note = super::model::check_multiline(&input.note, 500).map_err(|r| bad("note", r)).unwrap_or_default();
    if input.house_relation.is_some() && input.house_id.is_none() {
        bad("house_relation", "give the house the resident lives in");
    }
    let mut tags = input.tags.clone();
    tags.sort_by_key(|t| t.code());
    tags.dedup();
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Resident {
        name,
        sex,
        id_number,
        phones,
        residence: input.residence,
        registered_address,
        address_id: input.address_id,
        house_id: input.house_id,
        house_relation: input.house_relation,
        tags,
        note,
    })
}

fn first_error(errors: Vec<(String, String)>) -> AppError {
    let (field, reason) = errors.into_iter().next().unwrap_or(("body".into(), "invalid".into()));
    AppError::invalid(field, reason)
}

/// Where a resident lives decides who owns the record: the address's grid, or the caller's unit.
pub struct Placement {
    pub address_id: Option<i64>,
    pub grid_id: Option<i64>,
    pub node_id: i64,
}

/// Resolves the address (from the house when only the house is given) and checks both are in
/// the caller's scope; a house at another address than the one given is refused.
pub async fn placement(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    r: &Resident,
) -> Result<Placement, AppError> {
    let mut address_id = r.address_id;
    if let Some(house) = r.house_id {
        visible(state, meta, caller, Table::House, house, "house.view")
            .await
            .map_err(|_| AppError::invalid("house_id", "no such house in your jurisdiction"))?;
        let at: i64 = sqlx::query_scalar("SELECT address_id FROM houses WHERE id = $1")
            .bind(house)
            .fetch_one(state.db.reader())
            .await?;
        if address_id.is_some_and(|a| a != at) {
            return Err(AppError::invalid("house_id", "the house is at another address"));
        }
        address_id = Some(at);
    }
    let Some(address) = address_id else {
        return Ok(Placement { address_id: None, grid_id: None, node_id: caller.node_id });
    };
    let (node_id, _) = visible(state, meta, caller, Table::Address, address, "address.view")
        .await
        .map_err(|_| AppError::invalid("address_id", "no such address in your jurisdiction"))?;
    let grid_id: Option<i64> = sqlx::query_scalar("SELECT grid_id FROM addresses WHERE id = $1")
        .bind(address)
        .fetch_one(state.db.reader())
        .await?;
    Ok(Placement { address_id: Some(address), grid_id, node_id })
}

/// Inserts a checked resident; the caller has placed it. Returns the new id.
pub async fn insert(
    tx: &mut Tx,
    key: &DataKey,
    r: &Resident,
    at: &Placement,
    by: Option<i64>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let id_fields = r.id_number.as_ref().map(|id| id_columns(key, id));
    let (enc, hash, head, tail) = split(id_fields);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO residents (name, sex, birth_date, id_kind, id_enc, id_hash, id_head, id_tail, residence, \
         registered_address, address_id, house_id, house_relation, grid_id, node_id, note, created_at, created_by, \
         updated_at, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $17, $18) RETURNING id",
    )
    .bind(&r.name)
    .bind(r.sex.code())
    .bind(r.id_number.as_ref().map(|i| i.birth_date().format("%Y-%m-%d").to_string()))
    .bind(r.id_number.as_ref().map(id_kind_code))
    .bind(enc)
    .bind(hash)
    .bind(head)
    .bind(tail)
    .bind(r.residence.code())
    .bind(&r.registered_address)
    .bind(at.address_id)
    .bind(r.house_id)
    .bind(r.house_relation.map(|h| h.code()))
    .bind(at.grid_id)
    .bind(at.node_id)
    .bind(&r.note)
    .bind(now)
    .bind(by)
    .fetch_one(&mut **tx)
    .await?;
    // A new record has no phones or tags yet: insert them without looking first.
    for (ord, p) in r.phones.iter().enumerate() {
        insert_phone(tx, key, id, p, ord as i64, now).await?;
    }
    for t in &r.tags {
        sqlx::query("INSERT INTO resident_tags (resident_id, tag) VALUES ($1, $2)")
            .bind(id)
            .bind(t.code())
            .execute(&mut **tx)
            .await?;
    }
    Ok(id)
}

async fn insert_phone(tx: &mut Tx, key: &DataKey, id: i64, p: &Phone, ord: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO resident_phones (resident_id, phone_hash, phone_enc, phone_masked, ord, added_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(key.lookup_hash(pii::PHONE, p.as_str()))
    .bind(key.encrypt_str(p.as_str()))
    .bind(p.masked())
    .bind(ord)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// (ciphertext, keyed hash, first 4, last 4): the masked display needs no decryption.
pub fn id_columns(key: &DataKey, id: &IdNumber) -> (Vec<u8>, Vec<u8>, String, String) {
    id_columns_hashed(key, id, key.lookup_hash(pii::ID_NUMBER, id.as_str()))
}

/// [`id_columns`] for a caller that already holds the ID number's lookup hash.
pub fn id_columns_hashed(key: &DataKey, id: &IdNumber, hash: Vec<u8>) -> (Vec<u8>, Vec<u8>, String, String) {
    let s = id.as_str();
    (key.encrypt_str(s), hash, s[..4].to_string(), s[s.len() - 4..].to_string())
}

type IdCols = (Option<Vec<u8>>, Option<Vec<u8>>, Option<String>, Option<String>);

/// [`id_columns`], or four nulls for a person without an ID number.
pub(super) fn split(f: Option<(Vec<u8>, Vec<u8>, String, String)>) -> IdCols {
    match f {
        Some((a, b, c, d)) => (Some(a), Some(b), Some(c), Some(d)),
        None => (None, None, None, None),
    }
}

pub fn id_kind_code(id: &IdNumber) -> &'static str {
    use crate::pii::id_number::IdKind;
    match id.kind() {
        IdKind::Resident => "resident",
        IdKind::ResidencePermit => "residence_permit",
        IdKind::ForeignPermanentResident => "foreign_permanent_resident",
    }
}

/// Adds phones a resident does not have yet; never removes one. Returns how many were added.
pub async fn add_phones(tx: &mut Tx, key: &DataKey, id: i64, phones: &[Phone], now: i64) -> Result<u64, sqlx::Error> {
    let (mut ord,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM resident_phones WHERE resident_id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    let mut added = 0;
    for p in phones {
        let have: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM resident_phones WHERE resident_id = $1 AND phone_hash = $2")
                .bind(id)
                .bind(key.lookup_hash(pii::PHONE, p.as_str()))
                .fetch_one(&mut **tx)
                .await?;
        if have == 0 {
            insert_phone(tx, key, id, p, ord, now).await?;
            added += 1;
            ord += 1;
        }
    }
    Ok(added)
}

pub async fn set_tags(tx: &mut Tx, id: i64, tags: &[Tag]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM resident_tags WHERE resident_id = $1").bind(id).execute(&mut **tx).await?;
    for t in tags {
        sqlx::query("INSERT INTO resident_tags (resident_id, tag) VALUES ($1, $2)")
            .bind(id)
            .bind(t.code())
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Creates a resident; a second record for an ID number already recorded is refused (409).
pub async fn create(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    input: &ResidentInput,
) -> Result<i64, AppError> {
    caller.require(Permission::BaseDataWrite)?;
    let today = crate::clock::beijing_today(state.clock.now_ms());
    let r = check(input, today).map_err(first_error)?;
    let at = placement(state, meta, caller, &r).await?;
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let id = insert(&mut tx, &state.key, &r, &at, caller.account_id, now).await.map_err(duplicate_id)?;
    let entry = Entry::new(meta, Some(caller), "resident.create").record(Table::Resident.record(id));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(id)
}

fn duplicate_id(e: sqlx::Error) -> AppError {
    if crate::db::is_unique_violation(&e) {
        AppError::conflict("id_number", "a resident with this ID number is already recorded; search for them instead")
    } else {
        e.into()
    }
}

/// Replaces a resident's fields. Phones are the set given (an officer may correct a wrong one;
/// imports only ever add).
pub async fn update(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    input: &ResidentInput,
) -> Result<(), AppError> {
    caller.require(Permission::BaseDataWrite)?;
    visible(state, meta, caller, Table::Resident, id, "resident.update").await?;
    let today = crate::clock::beijing_today(state.clock.now_ms());
    let r = check(input, today).map_err(first_error)?;
    let at = placement(state, meta, caller, &r).await?;
    let now = state.clock.now_ms();
    let (enc, hash, head, tail) = split(r.id_number.as_ref().map(|i| id_columns(&state.key, i)));
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "UPDATE residents SET name = $1, sex = $2, birth_date = $3, id_kind = $4, id_enc = $5, id_hash = $6, \
         id_head = $7, id_tail = $8, residence = $9, registered_address = $10, address_id = $11, house_id = $12, \
         house_relation = $13, grid_id = $14, node_id = $15, note = $16, updated_at = $17, updated_by = $18 WHERE id = $19",
    )
    .bind(&r.name)
    .bind(r.sex.code())
    .bind(r.id_number.as_ref().map(|i| i.birth_date().format("%Y-%m-%d").to_string()))
    .bind(r.id_number.as_ref().map(id_kind_code))
    .bind(enc)
    .bind(hash)
    .bind(head)
    .bind(tail)
    .bind(r.residence.code())
    .bind(&r.registered_address)
    .bind(at.address_id)
    .bind(r.house_id)
    .bind(r.house_relation.map(|h| h.code()))
    .bind(at.grid_id)
    .bind(at.node_id)
    .bind(&r.note)
    .bind(now)
    .bind(caller.account_id)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(duplicate_id)?;
    sqlx::query("DELETE FROM resident_phones WHERE resident_id = $1").bind(id).execute(&mut *tx).await?;
    add_phones(&mut tx, &state.key, id, &r.phones, now).await?;
    set_tags(&mut tx, id, &r.tags).await?;
    let entry = Entry::new(meta, Some(caller), "resident.update").record(Table::Resident.record(id));
    audit::append(&mut tx, &state.db, &state.key, now, &entry).await.map_err(|e| audit::audit_failed(state, e))?;
    tx.commit().await?;
    Ok(())
}

/// Which identifier to show in full.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UnmaskField {
    IdNumber,
    Phones,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnmaskInput {
    pub field: UnmaskField,
    /// Why the full value is needed; kept in the audit log.
    #[schema(min_length = 4, max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unmasked {
    pub id_number: Option<String>,
    pub phones: Vec<String>,
}

/// The full ID number or phones of one resident, for a stated reason, audited with it.
pub async fn unmask(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
    input: &UnmaskInput,
) -> Result<Unmasked, AppError> {
    caller.require(Permission::PiiUnmask)?;
    let reason = pii::check_unmask_reason(&input.reason).map_err(|r| AppError::invalid("reason", r))?;
    let (_, level) = visible(state, meta, caller, Table::Resident, id, "resident.unmask").await?;
    if level < Level::Full {
        return Err(AppError::Forbidden("your access to this unit is masked".into()));
    }
    let entry = Entry::new(meta, Some(caller), "resident.unmask")
        .record(Table::Resident.record(id))
        .detail(serde_json::json!({"field": match input.field { UnmaskField::IdNumber => "id_number", UnmaskField::Phones => "phones" }, "reason": reason}));
    audit::write(state, entry).await?;
    let decrypt = |blob: &[u8]| state.key.decrypt_str(blob).map_err(|e| AppError::Internal(e.into()));
    let mut out = Unmasked { id_number: None, phones: Vec::new() };
    match input.field {
        UnmaskField::IdNumber => {
            let enc: Option<Vec<u8>> = sqlx::query_scalar("SELECT id_enc FROM residents WHERE id = $1")
                .bind(id)
                .fetch_one(state.db.reader())
                .await?;
            out.id_number = enc.as_deref().map(decrypt).transpose()?;
        }
        UnmaskField::Phones => {
            let encs: Vec<Vec<u8>> =
                sqlx::query_scalar("SELECT phone_enc FROM resident_phones WHERE resident_id = $1 ORDER BY ord")
                    .bind(id)
                    .fetch_all(state.db.reader())
                    .await?;
            out.phones = encs.iter().map(|e| decrypt(e)).collect::<Result<_, _>>()?;
        }
    }
    Ok(out)
}

/// The masked ID number from its kept characters: police 4 + 4, others 3 + 4.
pub fn masked_id(head: Option<&str>, tail: Option<&str>, viewer: Viewer) -> Option<String> {
    let (head, tail) = (head?, tail?);
    Some(mask_id_number(&format!("{head}{}{tail}", "0".repeat(10)), viewer))
}

pub fn shown_name(name: &str, viewer: Viewer) -> String {
    mask_name(name, viewer)
}

/// The recorded ID number and phones in full, for the edit form: it shows them masked and posts
/// back only whether to keep them, so [`update`] takes the kept values from here. They are never
/// rendered or logged; the update that stores them again is audited.
pub async fn recorded_identifiers(
    state: &AppState,
    meta: &RequestMeta,
    caller: &Caller,
    id: i64,
) -> Result<(Option<String>, Vec<String>), AppError> {
    caller.require(Permission::BaseDataWrite)?;
    visible(state, meta, caller, Table::Resident, id, "resident.update").await?;
    let decrypt = |blob: &[u8]| state.key.decrypt_str(blob).map_err(|e| AppError::Internal(e.into()));
    let enc: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT id_enc FROM residents WHERE id = $1").bind(id).fetch_one(state.db.reader()).await?;
    let phones: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT phone_enc FROM resident_phones WHERE resident_id = $1 ORDER BY ord")
            .bind(id)
            .fetch_all(state.db.reader())
            .await?;
    Ok((enc.as_deref().map(decrypt).transpose()?, phones.iter().map(|p| decrypt(p)).collect::<Result<_, _>>()?))
}
