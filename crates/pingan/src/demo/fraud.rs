//! What the demo's fraud warnings look like, shared by the year of history and the live
//! trickle: the kinds, whose mix moves over the year the way the city's figures did (刷单返利
//! and 投资理财 rising, 冒充公检法 falling, so "rising kinds" has something to find), the
//! signals upstream sends for each grade, and the words officers write on a case.

use super::names::Lcg;
use crate::antifraud::model::{Kind, Outcome, Warning};

/// (kind, weight 400 days ago, weight today); in between the weights move linearly.
const KINDS: [(Kind, f64, f64); 8] = [
    (Kind::Brushing, 16.0, 28.0),
    (Kind::FakeService, 14.0, 12.0),
    (Kind::Investment, 11.0, 20.0),
    (Kind::Loan, 14.0, 11.0),
    (Kind::Impersonation, 18.0, 6.0),
    (Kind::Romance, 10.0, 9.0),
    (Kind::GameTrade, 9.0, 7.0),
    (Kind::Other, 8.0, 7.0),
];

/// A kind for a warning at `t`: 0 is 400 days ago, 1 is now.
pub fn kind(rng: &mut Lcg, t: f64) -> Kind {
    let t = t.clamp(0.0, 1.0);
    let weight = |(_, then, today): &(Kind, f64, f64)| then + (today - then) * t;
    let mut roll = rng.unit() * KINDS.iter().map(weight).sum::<f64>();
    for k in &KINDS {
        roll -= weight(k);
        if roll < 0.0 {
            return k.0;
        }
    }
    Kind::Other
}

/// The grade a warning's signals alone call for, before the person's age or living alone
/// raise it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Red,
    Yellow,
    Blue,
}

/// 10 % red, 30 % yellow, 60 % blue: the mix the city's anti-fraud centre reports.
pub fn signal(rng: &mut Lcg) -> Signal {
    match rng.next() % 100 {
        0..10 => Signal::Red,
        10..40 => Signal::Yellow,
        _ => Signal::Blue,
    }
}

/// A warning of `kind` whose signals grade it `signal` under the default rules; identifiers
/// and name are left to the caller.
pub fn warning(rng: &mut Lcg, upstream_id: String, event_at: i64, kind: Kind, signal: Signal) -> Warning {
    let mut w = Warning {
        source: "fzzx".into(),
        upstream_id,
        event_at,
        name: None,
        id_number: None,
        phone: None,
        kind,
        contacts_count: Some(1),
        longest_call_s: Some(5 + (rng.next() % 235) as i64),
        app_installed: Some(false),
        app_name: None,
        amount_fen: None,
        flagged_account: None,
    };
    match signal {
        Signal::Red if rng.next() % 100 < 55 => {
            // A bank's payment monitoring sees the money leave.
            w.source = "icbc".into();
            w.amount_fen = Some(yuan(rng, 500, 200_000) * 100);
            w.flagged_account = Some(format!("6230{:015}", rng.next() * 7_919 % 1_000_000_000_000_000));
        }
        Signal::Red => {
            w.source = "cmcc".into();
            w.longest_call_s = Some(300 + (rng.next() % 3_300) as i64);
        }
        Signal::Yellow if rng.next().is_multiple_of(2) => {
            w.app_installed = Some(true);
            w.app_name = Some(app(kind).into());
        }
        Signal::Yellow => w.contacts_count = Some(2 + (rng.next() % 7) as i64),
        Signal::Blue => {}
    }
    w
}

/// A fraud app of the kind, as upstream names it (invented names: never a real product).
fn app(kind: Kind) -> &'static str {
    match kind {
        Kind::Brushing => "淘金兼职",
        Kind::FakeService => "云端会议",
        Kind::Investment => "鑫盛财富",
        Kind::Loan => "速易借",
        Kind::Impersonation => "安全防护中心",
        Kind::Romance => "心遇交友",
        Kind::GameTrade => "游易宝",
        Kind::Other => "极速下载",
    }
}

/// Whole yuan between `lo` and `hi`, spread evenly on a log scale (small sums are far more
/// common than large ones), rounded as people state them.
pub fn yuan(rng: &mut Lcg, lo: i64, hi: i64) -> i64 {
    let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
    let v = (a + (b - a) * rng.unit()).exp();
    let step = if v >= 10_000.0 {
        1_000.0
    } else if v >= 1_000.0 {
        100.0
    } else {
        10.0
    };
    (((v / step).round() * step) as i64).clamp(lo, hi)
}

/// Dissuaded 80 %, defrauded 5 %, unreachable 7 %, not fraud 8 %.
pub fn outcome(rng: &mut Lcg) -> Outcome {
    match rng.next() % 100 {
        0..80 => Outcome::Dissuaded,
        80..85 => Outcome::Defrauded,
        85..92 => Outcome::Unreachable,
        _ => Outcome::NotFraud,
    }
}

/// What the officer wrote when closing the case.
pub fn closing_note(rng: &mut Lcg, outcome: Outcome) -> &'static str {
    let notes: &[&str] = match outcome {
        Outcome::Dissuaded => &[
            "电话联系本人，讲解诈骗手法，本人已停止转账",
            "见面劝阻，已协助卸载涉诈App并开启国家反诈中心App预警",
            "联系家属共同劝阻，本人表示不再与对方联系",
            "本人起初不信，经反复讲解典型案例后认识到被骗风险",
        ],
        Outcome::Defrauded => &["本人此前已转账，已指导报案并移交办案队", "核实已被骗，已开具受案回执，移交办案"],
        Outcome::Unreachable => &["多次电话无人接听，上门未见本人，已留言家属", "号码停机，户籍地址无人居住"],
        Outcome::NotFraud => {
            &["核实为正常网购退款来电，非诈骗", "核实为本人正常投资业务，已提示风险", "系快递员正常联系，非诈骗"]
        }
    };
    notes[(rng.next() as usize) % notes.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::antifraud::model::Grade;
    use crate::antifraud::rules::{grade, GradingRules, Person};

    #[test]
    fn signals_grade_as_named_under_the_default_rules() {
        let mut rng = Lcg(7);
        for (signal, expected) in
            [(Signal::Red, Grade::Red), (Signal::Yellow, Grade::Yellow), (Signal::Blue, Grade::Blue)]
        {
            for n in 0..200 {
                let w = warning(&mut rng, format!("t{n}"), 0, Kind::Loan, signal);
                assert_eq!(grade(&w, Person::default(), &GradingRules::default()).0, expected, "{w:?}");
            }
        }
    }

    #[test]
    fn brushing_rises_and_impersonation_falls_over_the_year() {
        let share = |t: f64, k: Kind| {
            let mut rng = Lcg(11);
            (0..10_000).filter(|_| kind(&mut rng, t) == k).count()
        };
        assert!(share(1.0, Kind::Brushing) > share(0.0, Kind::Brushing) * 3 / 2);
        assert!(share(1.0, Kind::Impersonation) < share(0.0, Kind::Impersonation) / 2);
    }

    #[test]
    fn amounts_stay_in_range() {
        let mut rng = Lcg(3);
        for _ in 0..1_000 {
            let y = yuan(&mut rng, 300, 300_000);
            assert!((300..=300_000).contains(&y), "{y}");
        }
    }
}
