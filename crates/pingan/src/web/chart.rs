//! Charts as server-rendered SVG: no script, nothing fetched, readable when printed, and the same
//! numbers the table beside them holds. Colours are classes (`app.css`), so the page's
//! Content-Security-Policy needs no inline style.

use maud::{html, Markup};

/// One bar: its label, its value, and a class for its colour (e.g. `red`).
pub struct Bar<'a> {
    pub label: &'a str,
    pub value: i64,
    pub class: &'a str,
}

/// Horizontal bars, one per row, labelled and valued; fits any width (the SVG scales).
pub fn bars(title: &str, items: &[Bar<'_>]) -> Markup {
    const ROW: i64 = 26;
    const LABEL: i64 = 130;
    const WIDTH: i64 = 520;
    let max = items.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let height = ROW * items.len() as i64 + 8;
    let span = WIDTH - LABEL - 70;
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-label=(title) xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            @for (i, b) in items.iter().enumerate() {
                @let y = i as i64 * ROW + 4;
                @let w = if b.value > 0 { (b.value * span / max).max(2) } else { 0 };
                text.label x=(LABEL - 8) y=(y + 17) text-anchor="end" { (b.label) }
                rect class={ "bar " (b.class) } x=(LABEL) y=(y + 3) width=(w) height=(ROW - 8) rx="2" {}
                text.value x=(LABEL + w + 6) y=(y + 17) { (b.value) }
            }
        }
    }
}

/// One column per day with a few dates along the bottom: the shape of a month or a year.
pub fn columns(title: &str, days: &[(&str, i64)]) -> Markup {
    const WIDTH: i64 = 720;
    const HEIGHT: i64 = 180;
    const BOTTOM: i64 = 24;
    const LEFT: i64 = 40;
    let max = days.iter().map(|d| d.1).max().unwrap_or(0).max(1);
    let n = days.len().max(1) as i64;
    let plot = WIDTH - LEFT - 8;
    let step = plot as f64 / n as f64;
    let bar = (step * 0.8).max(1.0);
    let tall = HEIGHT - BOTTOM - 14;
    // Five or so dates under the axis, however many days.
    let every = (n / 5).max(1);
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(title) xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            line.axis x1=(LEFT) y1=(HEIGHT - BOTTOM) x2=(WIDTH - 8) y2=(HEIGHT - BOTTOM) {}
            text.label x=(LEFT - 6) y="16" text-anchor="end" { (max) }
            text.label x=(LEFT - 6) y=(HEIGHT - BOTTOM) text-anchor="end" { "0" }
            @for (i, (date, value)) in days.iter().enumerate() {
                @let h = value * tall / max;
                @let x = LEFT as f64 + i as f64 * step;
                rect.bar.day x=(format!("{x:.1}")) y=(HEIGHT - BOTTOM - h) width=(format!("{bar:.1}")) height=(h) {
                    title { (date) ": " (value) }
                }
                @if i as i64 % every == 0 {
                    text.label x=(format!("{x:.1}")) y=(HEIGHT - 6) { (date.get(5..).unwrap_or(date)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_show_every_value() {
        let svg = bars(
            "t",
            &[Bar { label: "红色", value: 10, class: "red" }, Bar { label: "蓝色", value: 5, class: "blue" }],
        )
        .into_string();
        assert!(svg.contains(r#"width="320""#), "{svg}");
        assert!(svg.contains(r#"width="160""#), "{svg}");
        assert!(svg.contains(">红色<") && svg.contains(">10<") && svg.contains(">5<"));
    }

    #[test]
    fn columns_draw_one_bar_per_day_with_its_date_in_the_tooltip() {
        let days = [("2026-12-01", 3), ("2026-12-02", 0), ("2026-12-03", 6)];
        let svg = columns("t", &days).into_string();
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("2026-12-03: 6"));
        assert!(!svg.contains("style="), "no inline style: the CSP forbids it");
    }
}
