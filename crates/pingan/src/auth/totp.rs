//! RFC 6238 TOTP (HMAC-SHA1, 30 s, 6 digits) and recovery codes.
//!
//! Written by hand because it is short and the parameters are fixed: SHA-1,
//! 6 digits and 30 s are what every authenticator app supports by default.

use std::collections::HashSet;
use std::fmt;

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha1::Sha1;
use sha2::{Digest, Sha256};

const SECRET_LEN: usize = 20;
const DIGITS: u32 = 6;

/// A 160-bit shared secret, the length RFC 4226 recommends for HMAC-SHA1.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret([u8; SECRET_LEN]);

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_LEN];
        OsRng.fill_bytes(&mut bytes);
        TotpSecret(bytes)
    }

    /// `None` unless exactly 20 bytes, so a truncated stored secret is noticed
    /// rather than silently producing codes no app will match.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        <[u8; SECRET_LEN]>::try_from(b).ok().map(TotpSecret)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32 without padding, the form authenticator apps expect.
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

fn base32_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in data {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 0x1f) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 0x1f) as usize]));
    }
    out
}

pub const STEP_SECONDS: i64 = 30;

pub fn step_at(unix_ms: i64) -> i64 {
    // Euclidean division keeps steps monotonic across zero, should a clock
    // ever report a time before 1970.
    unix_ms.div_euclid(STEP_SECONDS * 1000)
}

/// RFC 4226 HOTP with dynamic truncation; `digits` is a parameter only so the
/// RFC's 8-digit test vectors can be checked.
fn hotp(secret: &[u8], counter: u64, digits: u32) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("BUG: HMAC-SHA1 accepts keys of any length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary =
        u32::from_be_bytes([digest[offset] & 0x7f, digest[offset + 1], digest[offset + 2], digest[offset + 3]]);
    let code = binary % 10u32.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

pub fn code_for_step(secret: &TotpSecret, step: i64) -> String {
    // The RFC's counter is unsigned; a negative step only arises from a clock
    // before 1970 and wraps the same way on both sides.
    hotp(&secret.0, step as u64, DIGITS)
}

/// Accepts the code for the current step or one step either side (clock
/// drift), but only a step strictly greater than `last_used_step`, so no code
/// is accepted twice. Returns the matched step for the caller to store.
/// Constant-time comparison.
pub fn verify(secret: &TotpSecret, code: &str, unix_ms: i64, last_used_step: Option<i64>) -> Option<i64> {
    // Apps show codes as "123 456"; people type them that way.
    let code: Vec<u8> = code.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if code.len() != DIGITS as usize || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let now = step_at(unix_ms);
    let mut matched = None;
    // Every candidate is computed and compared, so timing does not reveal
    // which window step (if any) matched.
    for step in [now - 1, now, now + 1] {
        let candidate = code_for_step(secret, step);
        let equal = constant_time_eq(candidate.as_bytes(), &code);
        let fresh = last_used_step.is_none_or(|last| step > last);
        if equal && fresh {
            matched = Some(step);
        }
    }
    matched
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        percent_encode(account),
        secret.to_base32(),
    )
}

/// Encodes everything but RFC 3986 unreserved characters, so a ':' in the
/// issuer or account cannot be mistaken for the label separator, and '&' or
/// '#' cannot end the query early. Non-ASCII (Chinese names) goes as UTF-8.
fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// An SVG QR code for inline use in HTML (the XML prolog is stripped, as it
/// is not allowed inside an HTML document). If `uri` is too long for any QR
/// code, a placeholder SVG of the same size says so: setup can still go on
/// with the secret typed in by hand.
pub fn qr_svg(uri: &str) -> String {
    use qrcode::render::svg;
    use qrcode::{EcLevel, QrCode};

    let code = QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M)
        .or_else(|_| QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::L));
    let svg = match code {
        Ok(code) => code.render::<svg::Color>().min_dimensions(200, 200).quiet_zone(true).build(),
        Err(_) => concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200" viewBox="0 0 200 200">"#,
            r##"<rect width="200" height="200" fill="#fff" stroke="#000"/>"##,
            r#"<text x="100" y="104" font-size="12" text-anchor="middle">QR code unavailable</text>"#,
            "</svg>"
        )
        .to_string(),
    };
    strip_xml_prolog(svg)
}

fn strip_xml_prolog(svg: String) -> String {
    let trimmed = svg.trim_start();
    if trimmed.starts_with("<?xml") {
        if let Some(end) = trimmed.find("?>") {
            return trimmed[end + 2..].trim_start().to_string();
        }
    }
    svg
}

/// No 0/o, 1/l/i: codes are read off paper and typed in under stress.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const RECOVERY_CODES: usize = 10;
const RECOVERY_HALF: usize = 5;

/// 10 distinct codes of the form "xxxxx-xxxxx" (about 49 bits each).
pub fn generate_recovery_codes() -> Vec<String> {
    let mut seen = HashSet::with_capacity(RECOVERY_CODES);
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    // A duplicate is astronomically unlikely, but two equal codes would
    // silently leave the user with one fewer than printed.
    while codes.len() < RECOVERY_CODES {
        let code = random_recovery_code();
        if seen.insert(code.clone()) {
            codes.push(code);
        }
    }
    codes
}

fn random_recovery_code() -> String {
    let mut rng = OsRng;
    let mut code = String::with_capacity(2 * RECOVERY_HALF + 1);
    for i in 0..2 * RECOVERY_HALF {
        if i == RECOVERY_HALF {
            code.push('-');
        }
        // gen_range is unbiased, unlike taking a random byte modulo 31.
        let idx = rng.gen_range(0..RECOVERY_ALPHABET.len());
        code.push(char::from(RECOVERY_ALPHABET[idx]));
    }
    code
}

/// Lowercase, spaces and dashes stripped, so "ABCDE-FGHJK", "abcde fghjk" and
/// "abcdefghjk" are the same code.
pub fn normalize_recovery_code(input: &str) -> String {
    input.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect()
}

/// SHA-256 of the normalized code. No salt or slow hash is needed: the codes
/// are random with ~49 bits each, not chosen by people.
pub fn hash_recovery_code(code: &str) -> Vec<u8> {
    Sha256::digest(normalize_recovery_code(code).as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890").expect("20 bytes")
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        // Appendix B, SHA-1 rows: (T seconds, 8-digit TOTP).
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        let secret = rfc_secret();
        for (t, eight) in vectors {
            let step = step_at(t * 1000);
            assert_eq!(hotp(secret.as_bytes(), step as u64, 8), eight, "T={t}");
            assert_eq!(code_for_step(&secret, step), eight[2..], "T={t}");
        }
        assert_eq!(code_for_step(&secret, step_at(59_000)), "287082");
        assert_eq!(code_for_step(&secret, step_at(1_111_111_109_000)), "081804");
        assert_eq!(code_for_step(&secret, step_at(1_234_567_890_000)), "005924");
    }

    #[test]
    fn rfc4226_hotp_vectors() {
        // Appendix D: same secret, counters 0..9, 6 digits.
        let expected =
            ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(code_for_step(&rfc_secret(), counter as i64), *code);
        }
    }

    #[test]
    fn step_boundaries() {
        assert_eq!(step_at(0), 0);
        assert_eq!(step_at(29_999), 0);
        assert_eq!(step_at(30_000), 1);
        assert_eq!(step_at(-1), -1);
    }

    #[test]
    fn drift_window_is_one_step_each_side() {
        let secret = TotpSecret::generate();
        let now_ms = 1_700_000_015_000;
        let now = step_at(now_ms);
        for (offset, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = code_for_step(&secret, now + offset);
            let result = verify(&secret, &code, now_ms, None);
            if accepted {
                assert_eq!(result, Some(now + offset), "offset {offset}");
            } else {
                assert_eq!(result, None, "offset {offset}");
            }
        }
    }

    #[test]
    fn replay_refused_via_last_used_step() {
        let secret = TotpSecret::generate();
        let now_ms = 1_700_000_000_000;
        let now = step_at(now_ms);
        let code = code_for_step(&secret, now);
        let used = verify(&secret, &code, now_ms, None).expect("first use accepted");
        assert_eq!(used, now);
        assert_eq!(verify(&secret, &code, now_ms, Some(used)), None);
        // Still refused 30 s later while the code is inside the drift window.
        assert_eq!(verify(&secret, &code, now_ms + 30_000, Some(used)), None);
        // A code from before the last used step is refused too.
        let earlier = code_for_step(&secret, now - 1);
        assert_eq!(verify(&secret, &earlier, now_ms, Some(used)), None);
        // The next step's code is fresh.
        let next = code_for_step(&secret, now + 1);
        assert_eq!(verify(&secret, &next, now_ms + 30_000, Some(used)), Some(now + 1));
    }

    #[test]
    fn malformed_codes_refused() {
        let secret = rfc_secret();
        let ms = 59_000;
        assert_eq!(verify(&secret, "287 082", ms, None), Some(1));
        assert_eq!(verify(&secret, " 287082\n", ms, None), Some(1));
        for bad in ["", "28708", "2870822", "94287082", "28708a", "２８７０８２", "-87082"] {
            assert_eq!(verify(&secret, bad, ms, None), None, "{bad:?}");
        }
        assert_eq!(verify(&TotpSecret::generate(), "287082", ms, None), None);
    }

    #[test]
    fn secret_bytes_and_debug() {
        assert!(TotpSecret::from_bytes(&[0u8; 19]).is_none());
        assert!(TotpSecret::from_bytes(&[0u8; 21]).is_none());
        let s = TotpSecret::from_bytes(&[7u8; 20]).expect("20 bytes");
        assert_eq!(s.as_bytes(), &[7u8; 20]);
        assert_eq!(format!("{s:?}"), "TotpSecret(<redacted>)");
        assert_ne!(TotpSecret::generate(), TotpSecret::generate());
    }

    #[test]
    fn base32_known_vectors() {
        // RFC 4648 section 10, without padding.
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ];
        for (input, expected) in cases {
            assert_eq!(base32_encode(input), expected);
        }
        assert_eq!(rfc_secret().to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(TotpSecret::generate().to_base32().len(), 32);
    }

    #[test]
    fn otpauth_uri_is_encoded() {
        let uri = otpauth_uri(&rfc_secret(), "Pingan", "alice");
        assert_eq!(
            uri,
            "otpauth://totp/Pingan:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Pingan&algorithm=SHA1&digits=6&period=30"
        );
        let uri = otpauth_uri(&rfc_secret(), "平安 Bureau", "a:b&c#d@x.cn");
        assert!(uri.starts_with("otpauth://totp/%E5%B9%B3%E5%AE%89%20Bureau:a%3Ab%26c%23d%40x.cn?"), "{uri}");
        assert!(uri.contains("&issuer=%E5%B9%B3%E5%AE%89%20Bureau&"), "{uri}");
    }

    #[test]
    fn qr_svg_is_inline_ready() {
        let svg = qr_svg(&otpauth_uri(&rfc_secret(), "Pingan", "alice"));
        assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
        assert!(!svg.contains("<?xml"));
        assert!(svg.trim_end().ends_with("</svg>"));
        let width: u32 = svg
            .split("width=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|w| w.parse().ok())
            .expect("width attribute");
        assert!(width >= 200, "width {width}");

        let too_long = qr_svg(&"x".repeat(5000));
        assert!(too_long.starts_with("<svg"));
        assert!(too_long.contains("unavailable"));
    }

    #[test]
    fn recovery_codes() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), 10);
        let distinct: HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 11, "{code}");
            assert_eq!(&code[5..6], "-");
            assert!(code.bytes().filter(|&b| b != b'-').all(|b| RECOVERY_ALPHABET.contains(&b)));
            assert!(!code.contains(['0', 'o', '1', 'l', 'i']));
            assert_eq!(normalize_recovery_code(code).len(), 10);
        }
        assert_ne!(generate_recovery_codes(), codes);
    }

    #[test]
    fn recovery_code_normalization_and_hash() {
        assert_eq!(normalize_recovery_code("ABCDE-FGHJK"), "abcdefghjk");
        assert_eq!(normalize_recovery_code(" abcde fghjk \n"), "abcdefghjk");
        assert_eq!(normalize_recovery_code("ab-cd-ef"), "abcdef");
        let h = hash_recovery_code("abcde-fghjk");
        assert_eq!(h.len(), 32);
        assert_eq!(h, hash_recovery_code("ABCDE FGHJK"));
        assert_eq!(h, Sha256::digest(b"abcdefghjk").to_vec());
        assert_ne!(h, hash_recovery_code("abcde-fghjm"));
    }
}
