//! The households of the demo city: who lives in each house, with ID numbers that hold.

use chrono::{Datelike, Duration, NaiveDate};

use super::rows::{HouseRow, PhoneRow, ResidentRow};
use super::{Grid, Maker};
use crate::basedata::resident::{id_columns, id_kind_code};
use crate::demo::names::{self, Lcg};
use crate::demo::words::{self, COUNTIES};
use crate::pii::id_number::IdNumber;

impl Maker<'_> {
    pub(super) fn house(&mut self, grid: &Grid, address: i64, unit: String, urban: bool) {
        let roll = self.below(100);
        let (use_kind, people) = match (urban, roll) {
            (true, 0..8) | (false, 0..6) => ("vacant", 0),
            (true, 8..28) | (false, 6..12) => ("rented", 1 + pick(&mut self.rng, &[25, 35, 25, 15])),
            _ => ("owner_occupied", 1 + pick(&mut self.rng, &[8, 17, 28, 27, 13, 7])),
        };
        let area = if urban { 50.0 + self.below(100) as f64 } else { 100.0 + self.below(150) as f64 };
        let id = self.id(1);
        self.chunk.houses.push(HouseRow { id, address, unit, use_kind, area, grid: grid.id });
        if use_kind == "rented" {
            for _ in 0..people {
                let (region, from) = words::ELSEWHERE[self.below(words::ELSEWHERE.len() as u64) as usize];
                let age = 18 + self.below(32) as i32;
                let male = self.below(100) < 55;
                let name = format!("{}{}", words::surname(&mut self.rng), self.given(male, age));
                self.resident(grid, address, id, name, male, age, (region, "floating", from.to_string()), "tenant");
            }
            return;
        }
        // A family: the head, a spouse, then children (or, for an old head, grown children).
        let county = &COUNTIES[grid.county];
        let registered = format!("河南省新乡市{}", county.name);
        // Heads of three or more are old enough to have had the children.
        let head_age = if people >= 3 { 30 } else { 22 } + self.below(55) as i32;
        let head_male = self.below(100) < 70;
        let head_surname = words::surname(&mut self.rng);
        let spouse_surname = words::surname(&mut self.rng);
        let father = if head_male { head_surname } else { spouse_surname };
        for k in 0..people {
            let (surname, male, age, relation) = match k {
                0 => (head_surname, head_male, head_age, "owner"),
                1 => (spouse_surname, !head_male, (head_age + self.below(11) as i32 - 5).max(20), "family"),
                _ => {
                    let age = head_age - 24 - 3 * (k as i32 - 2) - self.below(5) as i32;
                    let age = if age < 0 { self.below(3) as i32 } else { age };
                    (father, self.below(100) < 52, age, "family")
                }
            };
            let name = format!("{surname}{}", self.given(male, age));
            let r = self.resident(
                grid,
                address,
                id,
                name,
                male,
                age,
                (county.region, "registered", registered.clone()),
                relation,
            );
            if people == 1 && age >= 70 {
                self.chunk.tags.push((r, "elderly_alone"));
            }
            if !urban && age < 16 && self.below(50) == 0 {
                self.chunk.tags.push((r, "left_behind_child"));
            }
        }
    }

    pub(super) fn given(&mut self, male: bool, age: i32) -> &'static str {
        words::given(&mut self.rng, male, self.born_before.year() - age)
    }

    #[allow(clippy::too_many_arguments)]
    fn resident(
        &mut self,
        grid: &Grid,
        address: i64,
        house: i64,
        name: String,
        male: bool,
        age: i32,
        (region, residence, registered): (&'static str, &'static str, String),
        relation: &'static str,
    ) -> i64 {
        let birth = self.born_before - Duration::days(age as i64 * 365 + self.below(365) as i64);
        let id_number = self.id_number(region, birth, male);
        let id = self.id(2);
        self.chunk.residents.push(ResidentRow {
            id,
            name,
            sex: if male { "male" } else { "female" },
            birth: id_number.as_ref().map(|_| birth.format("%Y-%m-%d").to_string()),
            id_kind: id_number.as_ref().map(id_kind_code),
            id_cols: id_number.as_ref().map(|n| id_columns(self.key, n)),
            residence,
            registered,
            address,
            house,
            relation,
            grid: grid.id,
        });
        if age >= 16 {
            let phones = if self.below(100) < 8 { 2 } else { 1 };
            let first = self.below(names::MOBILES);
            for ord in 0..phones {
                let n = (first + ord * 333_331) % names::MOBILES;
                let (enc, hash, masked) = self.phone(n);
                self.chunk.phones.push(PhoneRow { resident: id, hash, enc, masked, ord: ord as i64 });
            }
        }
        // Roughly the shares a city records (关注对象), per thousand.
        for (tag, per_mille) in
            [("disabled", 10), ("fraud_victim", 12), ("mental_health", 3), ("released", 2), ("community_correction", 1)]
        {
            if self.below(1000) < per_mille {
                self.chunk.tags.push((id, tag));
            }
        }
        id
    }

    /// A GB 11643 number: birthplace, birthday, a sequence whose last digit is odd for men,
    /// and the check digit. None when a birthday's 250 numbers per sex have run out.
    fn id_number(&mut self, region: &'static str, birth: NaiveDate, male: bool) -> Option<IdNumber> {
        let day = birth.num_days_from_ce();
        let n = self.sequences.entry((region, day, male)).or_insert(0);
        if *n >= 250 {
            return None;
        }
        // Start at a birthday-dependent place, so the numbers do not all end in 00x.
        let seq = 2 * ((day as u32 * 7) % 250 + *n as u32) + u32::from(male);
        *n += 1;
        let seventeen = format!("{region}{}{:03}", birth.format("%Y%m%d"), seq % 1000);
        IdNumber::parse(&with_check(&seventeen), self.born_before).ok()
    }
}

/// An index drawn with the given weights.
fn pick(rng: &mut Lcg, weights: &[u64]) -> u64 {
    let mut r = rng.next() % weights.iter().sum::<u64>();
    for (i, w) in weights.iter().enumerate() {
        if r < *w {
            return i as u64;
        }
        r -= w;
    }
    0
}

/// 17 digits and the GB 11643 check digit.
pub fn with_check(seventeen: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = seventeen.bytes().zip(W).map(|(b, w)| (b - b'0') as u32 * w).sum();
    format!("{seventeen}{}", C[(sum % 11) as usize])
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::pii::DataKey;

    #[test]
    fn id_numbers_are_valid_and_unique_per_birthday() {
        let key = DataKey::generate();
        let mut m = Maker::new(&key, 1, [1; 4]);
        let day = NaiveDate::from_ymd_opt(1980, 5, 17).unwrap();
        let mut seen = HashSet::new();
        for i in 0..500 {
            let id = m.id_number("410702", day, i % 2 == 0).expect("500 numbers fit one birthday");
            assert_eq!(id.is_male(), i % 2 == 0);
            assert!(seen.insert(id.as_str().to_string()));
        }
        assert!(m.id_number("410702", day, true).is_none(), "the 251st man of a birthday gets none");
        assert!(crate::demo::names::mobile(&mut Lcg(3)).starts_with("19903"));
    }
}
