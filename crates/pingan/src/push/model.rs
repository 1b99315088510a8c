//! The rules of prevention pushes, pure: what a destination may be, what a message may hold,
//! how long to wait before the next attempt, and what each kind of webhook is sent.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Deliveries stop being retried this long after they were queued; then they are dead letters.
pub const GIVE_UP_AFTER_MS: i64 = 24 * 3_600_000;
/// The first retry waits this long; each next one twice as long, up to [`MAX_BACKOFF_MS`].
pub const FIRST_BACKOFF_MS: i64 = 30_000;
pub const MAX_BACKOFF_MS: i64 = 4 * 3_600_000;

crate::antifraud::model::codes! {
    /// Which webhook a destination is.
    DestinationKind {
        Wecom = "wecom", "企业微信群机器人", "WeCom group bot";
        Dingtalk = "dingtalk", "钉钉自定义机器人", "DingTalk robot";
        Json = "json", "通用 JSON", "Generic JSON";
    }
}

crate::antifraud::model::codes! {
    /// Where a delivery stands.
    DeliveryState {
        Pending = "pending", "待发送", "Pending";
        Delivered = "delivered", "已送达", "Delivered";
        Dead = "dead", "发送失败（已停止重试）", "Failed (no more retries)";
    }
}

/// A webhook address: http or https, a host, no user name or password (they would sit in the
/// database and the logs in clear), at most 2,000 characters.
pub fn check_url(url: &str) -> Result<(), &'static str> {
    if url.chars().count() > 2000 {
        return Err("at most 2000 characters");
    }
    let url = url.trim();
    let rest =
        url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or("an http:// or https:// address")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Err("an address with a host");
    }
    if authority.contains('@') {
        return Err("no user name or password in the address");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("no spaces or control characters");
    }
    Ok(())
}

/// Messages go to chat groups of hundreds of residents: they must name nobody. Refuses anything
/// shaped like a mainland ID number (15 or 18 characters) or a mobile number, however spaced.
pub fn check_no_personal_data(text: &str) -> Result<(), &'static str> {
    // Digits (and a trailing X) with separators folded away, so "139 1234 5678" is caught too.
    let mut run = String::new();
    let mut runs = Vec::new();
    for c in text.chars() {
        match c {
            '0'..='9' => run.push(c),
            'X' | 'x' if !run.is_empty() => run.push('X'),
            ' ' | '-' | '\u{3000}' if !run.is_empty() => {}
            _ => {
                if !run.is_empty() {
                    runs.push(std::mem::take(&mut run));
                }
            }
        }
    }
    runs.push(run);
    for r in runs {
        let digits = r.trim_end_matches('X');
        if r.len() >= 15 {
            return Err("an ID number: messages to chat groups may not name anyone");
        }
        if digits.len() == 11 && digits.starts_with('1') && matches!(digits.as_bytes()[1], b'3'..=b'9') {
            return Err("a phone number: messages to chat groups may not name anyone");
        }
    }
    Ok(())
}

/// The wait before attempt `attempts + 1`, after `attempts` failed ones (1, 2, …).
pub fn backoff_ms(attempts: i64) -> i64 {
    let doubled = FIRST_BACKOFF_MS.saturating_mul(1i64 << (attempts - 1).clamp(0, 20));
    doubled.min(MAX_BACKOFF_MS)
}

/// When to try next after `attempts` failures of a delivery queued at `created_at`; `None` once
/// that would be past the 24 hours: the delivery is a dead letter.
pub fn next_attempt(created_at: i64, attempts: i64, now: i64) -> Option<i64> {
    let next = now + backoff_ms(attempts);
    (next <= created_at + GIVE_UP_AFTER_MS).then_some(next)
}

/// The text a chat group reads: the title on its own line, then the body.
pub fn chat_text(title: &str, body: &str) -> String {
    format!("【{title}】\n{body}")
}

/// DingTalk's signature for a robot with 加签: HMAC-SHA256 over "timestamp\nsecret" keyed with
/// the secret, base64, URL-encoded, added to the address with the timestamp.
pub fn dingtalk_signed_url(url: &str, secret: &str, timestamp_ms: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("BUG: HMAC takes keys of any length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    let sign = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let sign: String = form_urlencoded::byte_serialize(sign.as_bytes()).collect();
    let joiner = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joiner}timestamp={timestamp_ms}&sign={sign}")
}

/// WeCom and DingTalk answer 200 with `{"errcode": 0}` on success and 200 with another code on
/// failure (a wrong key, a rate limit): only errcode 0 is delivered.
pub fn chat_answer_ok(body: &str) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|_| "the answer is not JSON".to_string())?;
    match v.get("errcode").and_then(|c| c.as_i64()) {
        Some(0) => Ok(()),
        Some(code) => Err(format!("errcode {code}: {}", v.get("errmsg").and_then(|m| m.as_str()).unwrap_or(""))),
        None => Err("the answer has no errcode".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_plain_http_addresses_without_credentials() {
        assert!(check_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc").is_ok());
        assert!(check_url("http://10.1.2.3:8080/hook").is_ok());
        assert_eq!(check_url("ftp://x/y"), Err("an http:// or https:// address"));
        assert_eq!(check_url("https://user:pw@host/x"), Err("no user name or password in the address"));
        assert_eq!(check_url("https:///x"), Err("an address with a host"));
        assert!(check_url("https://host/a b").is_err());
    }

    #[test]
    fn messages_naming_someone_are_refused() {
        assert!(check_no_personal_data("近期刷单返利诈骗高发，凡是先垫付的都是诈骗！如遇可疑请拨打96110。").is_ok());
        assert!(check_no_personal_data("2026年12月起，已劝阻120人，挽损300000元").is_ok());
        assert!(check_no_personal_data("请联系13912345678").is_err());
        assert!(check_no_personal_data("请联系 139 1234 5678").is_err());
        assert!(check_no_personal_data("受害人41070219800202021X已报案").is_err());
        assert!(check_no_personal_data("身份证 410702 19800202 0210").is_err());
    }

    #[test]
    fn retries_back_off_and_stop_after_a_day() {
        assert_eq!((backoff_ms(1), backoff_ms(2), backoff_ms(3)), (30_000, 60_000, 120_000));
        assert_eq!(backoff_ms(30), MAX_BACKOFF_MS);
        let queued = 1_000_000;
        assert_eq!(next_attempt(queued, 1, queued + 1_000), Some(queued + 31_000));
        let late = queued + GIVE_UP_AFTER_MS - 60_000;
        assert_eq!(next_attempt(queued, 12, late), None, "the next try would be past the day: a dead letter");
    }

    #[test]
    fn dingtalk_signatures_follow_its_recipe() {
        let url =
            dingtalk_signed_url("https://oapi.dingtalk.com/robot/send?access_token=t", "SECxyz", 1_700_000_000_000);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"SECxyz").unwrap();
        mac.update(b"1700000000000\nSECxyz");
        let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let expected: String = form_urlencoded::byte_serialize(expected.as_bytes()).collect();
        assert_eq!(
            url,
            format!("https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000000&sign={expected}")
        );
    }

    #[test]
    fn chat_answers_count_only_errcode_zero() {
        assert!(chat_answer_ok(r#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
        assert_eq!(
            chat_answer_ok(r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#).unwrap_err(),
            "errcode 93000: invalid webhook url"
        );
        assert!(chat_answer_ok("<html>").is_err());
    }
}
