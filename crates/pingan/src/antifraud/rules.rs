//! Grading (红黄蓝) and deadlines: business settings, versioned in the database, edited by the
//! anti-fraud manager, every change audited. [`grade`] is pure, so every rule has a unit test.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{Grade, Reason, Warning};

pub const GRADING: &str = "antifraud.grading";
pub const DEADLINES: &str = "antifraud.deadlines";

/// How a warning is graded. Red: money moving now, or a long call with a fraud number. Yellow:
/// a fraud app installed, or repeated contacts. Blue: a single short contact. Age over
/// `raise_age_over` or living alone raises one grade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradingRules {
    /// Any amount of at least this many fen moving now makes a warning red.
    #[schema(minimum = 1, maximum = 100000000)]
    pub red_amount_fen: i64,
    /// A call with a fraud number at least this long (seconds) makes it red.
    #[schema(minimum = 10, maximum = 86400)]
    pub red_call_seconds: i64,
    /// A fraud app installed makes it yellow.
    pub yellow_app_installed: bool,
    /// At least this many contacts with fraud numbers make it yellow.
    #[schema(minimum = 2, maximum = 1000)]
    pub yellow_contacts: i64,
    /// Older than this (years, at the warning's time) raises one grade.
    #[schema(minimum = 40, maximum = 100)]
    pub raise_age_over: i64,
    /// Living alone (the resident's 独居老人 tag) raises one grade.
    pub raise_living_alone: bool,
    /// Warnings about one person within this many hours of a case's opening join that case.
    #[schema(minimum = 1, maximum = 720)]
    pub merge_window_hours: i64,
}

impl Default for GradingRules {
    fn default() -> Self {
        GradingRules {
            red_amount_fen: 1,
            red_call_seconds: 300,
            yellow_app_installed: true,
            yellow_contacts: 2,
            raise_age_over: 60,
            raise_living_alone: true,
            merge_window_hours: 72,
        }
    }
}

impl GradingRules {
    /// The merge window in milliseconds, the unit of every stored time.
    pub fn merge_window_ms(&self) -> i64 {
        self.merge_window_hours * 3_600_000
    }

    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        let in_range = |v: i64, lo: i64, hi: i64| (lo..=hi).contains(&v);
        if !in_range(self.red_amount_fen, 1, 100_000_000) {
            return Err(("red_amount_fen", "between 1 and 100000000"));
        }
        if !in_range(self.red_call_seconds, 10, 86_400) {
            return Err(("red_call_seconds", "between 10 and 86400"));
        }
        if !in_range(self.yellow_contacts, 2, 1000) {
            return Err(("yellow_contacts", "between 2 and 1000"));
        }
        if !in_range(self.raise_age_over, 40, 100) {
            return Err(("raise_age_over", "between 40 and 100"));
        }
        if !in_range(self.merge_window_hours, 1, 720) {
            return Err(("merge_window_hours", "between 1 and 720"));
        }
        Ok(())
    }
}

/// How long each grade may wait, counted from our receipt of the warning, and when an overdue
/// case goes on from the station head to the branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    #[schema(minimum = 1, maximum = 10080)]
    pub red_contact_minutes: i64,
    /// Red warnings also need a face-to-face visit (见面劝阻).
    #[schema(minimum = 1, maximum = 10080)]
    pub red_visit_minutes: i64,
    #[schema(minimum = 1, maximum = 10080)]
    pub yellow_contact_minutes: i64,
    #[schema(minimum = 1, maximum = 10080)]
    pub blue_contact_minutes: i64,
    /// Minutes after the station head is alerted that the branch is.
    #[schema(minimum = 1, maximum = 10080)]
    pub branch_after_minutes: i64,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            red_contact_minutes: 10,
            red_visit_minutes: 60,
            yellow_contact_minutes: 120,
            blue_contact_minutes: 24 * 60,
            branch_after_minutes: 30,
        }
    }
}

impl Deadlines {
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        for (field, v) in [
            ("red_contact_minutes", self.red_contact_minutes),
            ("red_visit_minutes", self.red_visit_minutes),
            ("yellow_contact_minutes", self.yellow_contact_minutes),
            ("blue_contact_minutes", self.blue_contact_minutes),
            ("branch_after_minutes", self.branch_after_minutes),
        ] {
            if !(1..=10_080).contains(&v) {
                return Err((field, "between 1 and 10080 minutes"));
            }
        }
        if self.red_visit_minutes < self.red_contact_minutes {
            return Err(("red_visit_minutes", "the visit cannot be due before the first contact"));
        }
        Ok(())
    }

    /// (contact due, visit due) for a case of `grade` from `received_at`.
    pub fn due(&self, grade: Grade, received_at: i64) -> (i64, Option<i64>) {
        let min = 60_000;
        match grade {
            Grade::Red => {
                (received_at + self.red_contact_minutes * min, Some(received_at + self.red_visit_minutes * min))
            }
            Grade::Yellow => (received_at + self.yellow_contact_minutes * min, None),
            Grade::Blue => (received_at + self.blue_contact_minutes * min, None),
        }
    }
}

/// What we know of the person a warning is about, from base data or the ID number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Person {
    /// Age in whole years at the warning's time.
    pub age: Option<i64>,
    pub living_alone: bool,
}

/// The grade of one warning and why.
pub fn grade(w: &Warning, person: Person, rules: &GradingRules) -> (Grade, Vec<Reason>) {
    let mut reasons = Vec::new();
    if w.amount_fen.is_some_and(|a| a >= rules.red_amount_fen) {
        reasons.push(Reason::MoneyMoving);
    }
    if w.longest_call_s.is_some_and(|s| s >= rules.red_call_seconds) {
        reasons.push(Reason::LongCall);
    }
    let mut grade = if reasons.is_empty() { None } else { Some(Grade::Red) };
    if grade.is_none() {
        if rules.yellow_app_installed && w.app_installed == Some(true) {
            reasons.push(Reason::AppInstalled);
        }
        if w.contacts_count.is_some_and(|c| c >= rules.yellow_contacts) {
            reasons.push(Reason::RepeatedContacts);
        }
        if !reasons.is_empty() {
            grade = Some(Grade::Yellow);
        }
    }
    let mut grade = grade.unwrap_or_else(|| {
        reasons.push(Reason::SingleContact);
        Grade::Blue
    });
    // One raise at most, however many of the person's circumstances apply.
    let elderly = person.age.is_some_and(|a| a > rules.raise_age_over);
    let alone = rules.raise_living_alone && person.living_alone;
    if elderly {
        reasons.push(Reason::Elderly);
    }
    if alone {
        reasons.push(Reason::LivingAlone);
    }
    if elderly || alone {
        grade = grade.raised();
    }
    (grade, reasons)
}

/// Whole years between a date of birth and a moment (Beijing calendar).
pub fn age_at(birth: chrono::NaiveDate, at_ms: i64) -> i64 {
    use chrono::Datelike;
    let today = crate::clock::beijing_today(at_ms);
    let mut years = i64::from(today.year() - birth.year());
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

pub fn reasons_code(reasons: &[Reason]) -> String {
    reasons.iter().map(|r| r.code()).collect::<Vec<_>>().join(",")
}

pub fn parse_reasons(s: &str) -> Vec<Reason> {
    s.split(',').filter_map(|c| Reason::parse(c.trim())).collect()
}

#[cfg(test)]
mod tests {
    use super::super::model::Kind;
    use super::*;

    fn warning() -> Warning {
        Warning {
            source: "fzzx".into(),
            upstream_id: "1".into(),
            event_at: 0,
            name: None,
            id_number: None,
            phone: None,
            kind: Kind::Investment,
            contacts_count: Some(1),
            longest_call_s: Some(20),
            app_installed: Some(false),
            app_name: None,
            amount_fen: None,
            flagged_account: None,
        }
    }

    fn graded(w: &Warning, p: Person) -> (Grade, Vec<Reason>) {
        grade(w, p, &GradingRules::default())
    }

    #[test]
    fn a_single_short_contact_is_blue() {
        assert_eq!(graded(&warning(), Person::default()), (Grade::Blue, vec![Reason::SingleContact]));
    }

    #[test]
    fn money_moving_now_is_red() {
        let w = Warning { amount_fen: Some(50_000), ..warning() };
        assert_eq!(graded(&w, Person::default()), (Grade::Red, vec![Reason::MoneyMoving]));
    }

    #[test]
    fn a_long_call_with_a_fraud_number_is_red() {
        let w = Warning { longest_call_s: Some(300), ..warning() };
        assert_eq!(graded(&w, Person::default()).0, Grade::Red);
        let w = Warning { longest_call_s: Some(299), ..warning() };
        assert_eq!(graded(&w, Person::default()).0, Grade::Blue);
    }

    #[test]
    fn an_installed_app_or_repeated_contacts_is_yellow() {
        let app = Warning { app_installed: Some(true), ..warning() };
        assert_eq!(graded(&app, Person::default()), (Grade::Yellow, vec![Reason::AppInstalled]));
        let repeated = Warning { contacts_count: Some(2), ..warning() };
        assert_eq!(graded(&repeated, Person::default()), (Grade::Yellow, vec![Reason::RepeatedContacts]));
    }

    #[test]
    fn age_over_sixty_or_living_alone_raises_one_grade_once() {
        let old = Person { age: Some(61), living_alone: false };
        assert_eq!(graded(&warning(), old).0, Grade::Yellow);
        assert_eq!(graded(&warning(), Person { age: Some(60), living_alone: false }).0, Grade::Blue, "over 60, not 60");
        let both = Person { age: Some(75), living_alone: true };
        let (g, reasons) = graded(&warning(), both);
        assert_eq!(g, Grade::Yellow, "two circumstances still raise one grade");
        assert!(reasons.contains(&Reason::Elderly) && reasons.contains(&Reason::LivingAlone));
        let red = Warning { amount_fen: Some(1), ..warning() };
        assert_eq!(graded(&red, both).0, Grade::Red);
    }

    #[test]
    fn rules_from_settings_change_the_grade() {
        let rules = GradingRules { red_call_seconds: 20, ..GradingRules::default() };
        assert_eq!(grade(&warning(), Person::default(), &rules).0, Grade::Red);
        let rules = GradingRules { raise_living_alone: false, ..GradingRules::default() };
        assert_eq!(grade(&warning(), Person { age: None, living_alone: true }, &rules).0, Grade::Blue);
    }

    #[test]
    fn deadlines_run_from_receipt_by_grade() {
        let d = Deadlines::default();
        assert_eq!(d.due(Grade::Red, 0), (600_000, Some(3_600_000)));
        assert_eq!(d.due(Grade::Yellow, 0), (7_200_000, None));
        assert_eq!(d.due(Grade::Blue, 1), (1 + 86_400_000, None));
        assert!(Deadlines { red_visit_minutes: 5, ..d }.check().is_err());
    }

    #[test]
    fn ages_count_whole_years() {
        let birth = chrono::NaiveDate::from_ymd_opt(1960, 6, 15).unwrap();
        let before = crate::clock::parse_beijing("2020-06-14").unwrap();
        let on = crate::clock::parse_beijing("2020-06-15").unwrap();
        assert_eq!((age_at(birth, before), age_at(birth, on)), (59, 60));
    }
}
