//! The city's base data (一标三实): standard addresses in every grid, the houses at them, the
//! households living there and the establishments on the street. A blocking thread makes the
//! rows grid by grid (names, ID numbers, encryption) while the async side writes the previous
//! chunk, so the two cores work at once.
//!
//! Invariant: the same seed gives the same city, whatever the day: ages count from
//! [`REFERENCE_DAY`], not from today.
//! Invariant: ID numbers are unique (the sequence digits count up per birthplace, birthday and
//! sex) and carry a valid GB 11643 check digit; every phone starts with 19903 (a million numbers: at city scale a
//! number is shared by a person or two, as family members share a landline, not by hundreds).

mod household;
mod rows;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use geo::{BoundingRect, Contains, MultiPolygon, Point};

use super::bulk;
use super::city::Grid;
use super::names::{self, Lcg};
use super::words::{self, COUNTIES};
use crate::basedata::model::address_key;
use crate::db::{Backend, Tx};
use crate::pii::mask::Phone;
use crate::pii::DataKey;
pub use household::with_check;
use rows::{AddressRow, Chunk, ShopRow, Writer};

/// Ages count back from here, so the city does not change from one day to the next.
const REFERENCE_DAY: (i32, u32, u32) = (2025, 6, 30);
/// Rows are sent to the writer in chunks of about this many residents.
const CHUNK_RESIDENTS: usize = 20_000;

/// Fills every grid; `houses` and `shops` are the plan's means per grid.
#[allow(clippy::too_many_arguments)]
pub async fn seed(
    tx: &mut Tx,
    backend: Backend,
    key: Arc<DataKey>,
    grids: Vec<Grid>,
    seed: u64,
    houses: u64,
    shops: u64,
    now: i64,
) -> anyhow::Result<()> {
    let first = [
        bulk::next_id(tx, "addresses").await?,
        bulk::next_id(tx, "houses").await?,
        bulk::next_id(tx, "residents").await?,
        bulk::next_id(tx, "establishments").await?,
    ];
    let (send, mut chunks) = tokio::sync::mpsc::channel::<Chunk>(2);
    let maker = tokio::task::spawn_blocking(move || {
        let mut city = Maker::new(&key, seed, first);
        for grid in &grids {
            city.grid(grid, houses, shops);
            if city.chunk.residents.len() >= CHUNK_RESIDENTS
                && send.blocking_send(std::mem::take(&mut city.chunk)).is_err()
            {
                return; // the writer failed; its error is the one to report
            }
        }
        let _ = send.blocking_send(std::mem::take(&mut city.chunk));
    });
    let writer = Writer::new(backend, now);
    while let Some(chunk) = chunks.recv().await {
        writer.write(tx, &chunk).await?;
    }
    maker.await?;
    bulk::move_sequences(tx, backend, &["addresses", "houses", "residents", "establishments"]).await?;
    Ok(())
}

struct Maker<'k> {
    key: &'k DataKey,
    rng: Lcg,
    born_before: NaiveDate,
    next: [i64; 4],
    chunk: Chunk,
    /// The next ID sequence number per (birthplace, birthday, sex).
    sequences: HashMap<(&'static str, i32, bool), u16>,
    /// The next number on each (county, street), so addresses never repeat.
    numbers: HashMap<(usize, usize), u32>,
    villages: HashSet<(usize, &'static str, String)>,
    address_keys: HashSet<String>,
}

impl<'k> Maker<'k> {
    fn new(key: &'k DataKey, seed: u64, next: [i64; 4]) -> Maker<'k> {
        let (y, m, d) = REFERENCE_DAY;
        Maker {
            key,
            rng: Lcg(seed ^ 0x4241_5345),
            born_before: NaiveDate::from_ymd_opt(y, m, d).expect("BUG: a valid date"),
            next,
            chunk: Chunk::default(),
            sequences: HashMap::new(),
            numbers: HashMap::new(),
            villages: HashSet::new(),
            address_keys: HashSet::new(),
        }
    }

    /// Demo phone number `n` as stored: ciphertext, keyed hash and masked form.
    fn phone(&self, n: u64) -> (Vec<u8>, Arc<[u8]>, Arc<str>) {
        let p = Phone::parse(&names::mobile_number(n)).expect("BUG: demo phones parse");
        (
            self.key.encrypt_str(p.as_str()),
            Arc::from(self.key.lookup_hash(crate::pii::PHONE, p.as_str())),
            Arc::from(p.masked()),
        )
    }

    fn below(&mut self, n: u64) -> u64 {
        self.rng.next() % n.max(1)
    }

    fn unit(&mut self) -> f64 {
        self.rng.unit()
    }

    fn id(&mut self, table: usize) -> i64 {
        self.next[table] += 1;
        self.next[table] - 1
    }

    fn grid(&mut self, grid: &Grid, houses: u64, shops: u64) {
        let county = &COUNTIES[grid.county];
        let Some(bbox) = grid.shape.bounding_rect() else { return };
        let houses = (houses as f64 * (0.6 + 0.8 * self.unit())).round() as u64;
        let shops = if county.urban { shops } else { shops / 2 };
        let shops = (shops as f64 * (0.5 + self.unit())).round() as u64;
        if county.urban {
            let street = self.below(words::STREETS.len() as u64) as usize;
            let number = self.number(grid.county, street);
            let compound = words::compound(&mut self.rng);
            let gate = format!("新乡市{}{}{number}号{compound}", county.name, words::STREETS[street]);
            let (mut made, mut building) = (0, 1);
            while made < houses {
                let (floors, units) = (6 + self.below(12), 1 + self.below(3));
                let Some(address) = self.address(grid, &bbox, format!("{gate}{building}号楼")) else { break };
                'building: for u in 1..=units {
                    for f in 1..=floors {
                        for d in 1..=2 {
                            if made == houses {
                                break 'building;
                            }
                            self.house(grid, address, format!("{u}单元{f}{d:02}"), true);
                            made += 1;
                        }
                    }
                }
                building += 1;
            }
            for _ in 0..shops {
                let street = self.below(words::STREETS.len() as u64) as usize;
                let number = self.number(grid.county, street);
                let text = format!("新乡市{}{}{number}号", county.name, words::STREETS[street]);
                self.shop(grid, &bbox, text);
            }
        } else {
            let village = self.village(grid);
            let place = format!("新乡市{}{}镇{village}村", county.name, grid.town);
            for n in 1..=houses {
                if let Some(address) = self.address(grid, &bbox, format!("{place}{n}号")) {
                    self.house(grid, address, String::new(), false);
                }
            }
            for n in 1..=shops {
                self.shop(grid, &bbox, format!("{place}{}号", houses + n));
            }
        }
    }

    fn number(&mut self, county: usize, street: usize) -> u32 {
        let step = 1 + self.below(3) as u32;
        let n = self.numbers.entry((county, street)).or_insert(0);
        *n += step;
        *n
    }

    fn village(&mut self, grid: &Grid) -> String {
        for attempt in 0.. {
            let mut v = words::village(&mut self.rng);
            if attempt >= 20 {
                v = format!("{v}{attempt}");
            }
            if self.villages.insert((grid.county, grid.town, v.clone())) {
                return v;
            }
        }
        unreachable!("BUG: a numbered village name is always new")
    }

    /// A standard address at a random point of the grid; None if the text is taken (the grid
    /// then simply has one address fewer).
    fn address(&mut self, grid: &Grid, bbox: &geo::Rect<f64>, text: String) -> Option<i64> {
        let key = address_key(&text);
        if !self.address_keys.insert(key.clone()) {
            return None;
        }
        let p = point_inside(&mut self.rng, &grid.shape, bbox)?;
        let id = self.id(0);
        self.chunk.addresses.push(AddressRow { id, text, key, lon: p.x(), lat: p.y(), grid: grid.id });
        Some(id)
    }

    fn shop(&mut self, grid: &Grid, bbox: &geo::Rect<f64>, text: String) {
        let Some(address) = self.address(grid, bbox, text) else { return };
        let (word, kind) = words::SHOPS[self.below(words::SHOPS.len() as u64) as usize];
        let owner_male = self.below(100) < 65;
        let owner = format!("{}{}", words::surname(&mut self.rng), self.given(owner_male, 45));
        let name = match kind {
            "factory" | "logistics" | "finance" | "office" | "school" => format!("{}{word}", grid.town),
            _ => format!("{}记{word}", owner.chars().next().unwrap_or('王')),
        };
        let n = self.below(names::MOBILES);
        let (phone_enc, phone_hash, phone_masked) = self.phone(n);
        let id = self.id(3);
        self.chunk.shops.push(ShopRow {
            id,
            name,
            kind,
            legal_rep: owner,
            phone_enc,
            phone_hash,
            phone_masked,
            address,
            grid: grid.id,
        });
    }
}

pub fn point_inside(rng: &mut Lcg, shape: &MultiPolygon<f64>, r: &geo::Rect<f64>) -> Option<Point<f64>> {
    (0..50).find_map(|_| {
        let x = r.min().x + (rng.next() % 100_000) as f64 / 100_000.0 * r.width();
        let y = r.min().y + (rng.next() % 100_000) as f64 / 100_000.0 * r.height();
        let p = Point::new(x, y);
        shape.contains(&p).then_some(p)
    })
}
