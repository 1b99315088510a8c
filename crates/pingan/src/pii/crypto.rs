//! The data key and everything derived from it.
//!
//! The key lives in a file outside the database so that a stolen database
//! dump (or backup) alone does not reveal personal data. Every use of the key
//! gets its own subkey, derived with HMAC-SHA256 under a distinct label, so a
//! leak or misuse in one place (say, lookup hashes exposed in an export) gives
//! nothing towards another (decrypting stored fields, forging audit entries).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const KEY_LEN: usize = 32;
const FILE_HEADER: &str = "pingan-data-key-v1";
const BLOB_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

const LABEL_ENC: &[u8] = b"pingan/enc/v1";
const LABEL_LOOKUP: &[u8] = b"pingan/lookup/v1";
const LABEL_AUDIT: &[u8] = b"pingan/audit/v1";
const LABEL_FINGERPRINT: &[u8] = b"pingan/fingerprint/v1";

/// The master data key and its per-purpose subkeys.
pub struct DataKey {
    master: [u8; KEY_LEN],
    audit: [u8; KEY_LEN],
    fingerprint: String,
    /// Built once, not for each value (a bulk load encrypts millions). Wiped on drop (the `aes`
    /// crate's `zeroize`).
    cipher: Aes256Gcm,
    /// HMAC keyed with the lookup subkey, cloned per hash: the key's two pad blocks are hashed
    /// once. Not wiped on drop (the `hmac` crate keeps its state private), like any key
    /// material of a running process it lives as long as the key.
    lookup_mac: HmacSha256,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "data key file {} does not exist; create it once with the key generation command and keep a copy outside the database backups",
        .path.display()
    )]
    Missing { path: PathBuf },
    #[error("cannot read data key file {}: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write data key file {}: {source}", .path.display())]
    Unwritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("data key file {} is malformed: {reason}", .path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error(
        "data key file {} already exists; refusing to overwrite it because data encrypted with the old key would become unreadable",
        .path.display()
    )]
    Exists { path: PathBuf },
    #[error("decryption failed: the data was encrypted with another key or has been altered")]
    Decrypt,
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    mac_of(keyed(key), parts)
}

fn keyed(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key).expect("BUG: HMAC-SHA256 accepts keys of any length")
}

/// The MAC of `parts` concatenated, by an HMAC already keyed.
fn mac_of(mut mac: HmacSha256, parts: &[&[u8]]) -> [u8; 32] {
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl DataKey {
    fn from_master(master: [u8; KEY_LEN]) -> DataKey {
        let mut enc = hmac_sha256(&master, &[LABEL_ENC]);
        let mut lookup = hmac_sha256(&master, &[LABEL_LOOKUP]);
        let audit = hmac_sha256(&master, &[LABEL_AUDIT]);
        let mut fp_key = hmac_sha256(&master, &[LABEL_FINGERPRINT]);
        let fp = hmac_sha256(&fp_key, &[b"fingerprint"]);
        wipe(&mut fp_key);
        let cipher = Aes256Gcm::new_from_slice(&enc).expect("BUG: subkey is 32 bytes");
        let lookup_mac = keyed(&lookup);
        wipe(&mut enc);
        wipe(&mut lookup);
        DataKey { master, audit, fingerprint: hex::encode(&fp[..8]), cipher, lookup_mac }
    }

    pub fn generate() -> DataKey {
        let mut master = [0u8; KEY_LEN];
        OsRng.fill_bytes(&mut master);
        DataKey::from_master(master)
    }

    pub fn to_file_text(&self) -> String {
        format!("{FILE_HEADER} {}\n", base64::engine::general_purpose::STANDARD.encode(self.master))
    }

    /// Parses the key file's text; the error is a reason a person can act on.
    pub fn from_file_text(text: &str) -> Result<DataKey, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let Some(line) = lines.next() else {
            return Err("the file is empty".to_string());
        };
        if lines.next().is_some() {
            return Err("expected a single line, found more than one".to_string());
        }
        let mut fields = line.split_whitespace();
        let header = fields.next().unwrap_or_default();
        if header != FILE_HEADER {
            return Err(format!(
                "expected the line to start with \"{FILE_HEADER}\", found \"{}\"",
                truncate_for_message(header)
            ));
        }
        let Some(encoded) = fields.next() else {
            return Err(format!("the key is missing after \"{FILE_HEADER}\""));
        };
        if fields.next().is_some() {
            return Err("unexpected text after the key".to_string());
        }
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("the key is not valid base64 ({e})"))?;
        if bytes.len() != KEY_LEN {
            let n = bytes.len();
            wipe(&mut bytes);
            return Err(format!("the key decodes to {n} bytes, expected {KEY_LEN}"));
        }
        // An all-zero key is what a placeholder or a truncated write looks like,
        // never what generate() produces.
        if bytes.iter().all(|&b| b == 0) {
            return Err("the key is all zero bytes".to_string());
        }
        let mut master = [0u8; KEY_LEN];
        master.copy_from_slice(&bytes);
        wipe(&mut bytes);
        Ok(DataKey::from_master(master))
    }

    pub fn load(path: &Path) -> Result<DataKey, KeyError> {
        let mut bytes = std::fs::read(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                KeyError::Missing { path: path.to_path_buf() }
            } else {
                KeyError::Unreadable { path: path.to_path_buf(), source }
            }
        })?;
        let result = match std::str::from_utf8(&bytes) {
            Ok(text) => DataKey::from_file_text(text),
            Err(_) => Err("the file is not UTF-8 text".to_string()),
        };
        wipe(&mut bytes);
        result.map_err(|reason| KeyError::Malformed { path: path.to_path_buf(), reason })
    }

    /// Creates a fresh key file. Never overwrites: replacing a key in use would
    /// make every encrypted field unreadable.
    pub fn write_new(path: &Path) -> Result<DataKey, KeyError> {
        let unwritable = |source| KeyError::Unwritable { path: path.to_path_buf(), source };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dirs(parent).map_err(unwritable)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Set at creation so there is no window in which the key is world-readable.
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists { path: path.to_path_buf() }
            } else {
                unwritable(source)
            }
        })?;
        let key = DataKey::generate();
        let written = file.write_all(key.to_file_text().as_bytes()).and_then(|()| file.sync_all());
        if let Err(source) = written {
            drop(file);
            // A half-written file would block the retry and fail to load anyway.
            let _ = std::fs::remove_file(path);
            return Err(unwritable(source));
        }
        Ok(key)
    }

    /// Stored in the database so that starting with the wrong key file is caught
    /// before anything is encrypted under it. It is an HMAC output of a subkey
    /// used for nothing else, so it reveals nothing about the key.
    pub fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        // The thread's CSPRNG (ChaCha12, seeded and reseeded from the OS) rather than a system
        // call for each value.
        rand::thread_rng().fill_bytes(&mut nonce);
        // The version byte is authenticated too, so it cannot be swapped to
        // steer a future decoder to another format.
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &[BLOB_VERSION] })
            .expect("BUG: AES-GCM only fails for plaintexts over 64 GiB");
        let mut blob = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        blob.push(BLOB_VERSION);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        blob
    }

    pub fn decrypt(&self, blob: &[u8]) -> Result<Vec<u8>, KeyError> {
        if blob.len() < 1 + NONCE_LEN + TAG_LEN || blob[0] != BLOB_VERSION {
            return Err(KeyError::Decrypt);
        }
        let (nonce, ciphertext) = blob[1..].split_at(NONCE_LEN);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &[BLOB_VERSION] })
            .map_err(|_| KeyError::Decrypt)
    }

    pub fn encrypt_str(&self, s: &str) -> Vec<u8> {
        self.encrypt(s.as_bytes())
    }

    pub fn decrypt_str(&self, blob: &[u8]) -> Result<String, KeyError> {
        // Authentic but not UTF-8 means the blob was stored as bytes, not text:
        // a caller mix-up, reported the same way as any other unusable blob.
        String::from_utf8(self.decrypt(blob)?).map_err(|_| KeyError::Decrypt)
    }

    /// A keyed hash for exact search and deduplication without storing the value
    /// in clear. `kind` (e.g. "id_number", "phone") keeps equal strings of
    /// different kinds from matching; it must be a fixed label without NUL, as
    /// the NUL separator is what makes the concatenation unambiguous.
    pub fn lookup_hash(&self, kind: &str, normalized_value: &str) -> Vec<u8> {
        debug_assert!(!kind.contains('\0'), "lookup kind must not contain NUL");
        mac_of(self.lookup_mac.clone(), &[kind.as_bytes(), &[0u8], normalized_value.as_bytes()]).to_vec()
    }

    /// One link of the audit log's hash chain: each entry's MAC covers the
    /// previous MAC, so deleting or reordering entries breaks every later link.
    pub fn audit_mac(&self, prev_mac: &[u8], message: &[u8]) -> Vec<u8> {
        hmac_sha256(&self.audit, &[prev_mac, message]).to_vec()
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey(<redacted>, fingerprint={})", self.fingerprint)
    }
}

impl Drop for DataKey {
    // Best effort without unsafe code or extra crates: shortens the time key
    // material lingers in freed memory; it is not a guarantee.
    fn drop(&mut self) {
        wipe(&mut self.master);
        wipe(&mut self.audit);
    }
}

fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    std::hint::black_box(buf);
}

fn truncate_for_message(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    }
}

fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unique_temp_path(tag: &str) -> PathBuf {
        let mut suffix = [0u8; 8];
        OsRng.fill_bytes(&mut suffix);
        std::env::temp_dir().join(format!("pingan-crypto-test-{tag}-{}-{}", std::process::id(), hex::encode(suffix)))
    }

    #[test]
    fn round_trip_bytes_and_str() {
        let key = DataKey::generate();
        let blob = key.encrypt(b"\x00\x01binary\xff");
        assert_eq!(key.decrypt(&blob).expect("decrypts"), b"\x00\x01binary\xff");

        let blob = key.encrypt_str("身份证 110101199003071234");
        assert_eq!(key.decrypt_str(&blob).expect("decrypts"), "身份证 110101199003071234");

        let empty = key.encrypt(b"");
        assert_eq!(empty.len(), 1 + NONCE_LEN + TAG_LEN);
        assert_eq!(key.decrypt(&empty).expect("decrypts"), b"");
    }

    /// Values stored by any earlier build must still read and still be found: both vectors were
    /// computed outside this code (Python's `hmac` and `cryptography` AES-GCM) from the same
    /// derivation (subkey = HMAC-SHA256(master, label)).
    #[test]
    fn reads_and_finds_what_an_independent_implementation_wrote() {
        let key = DataKey::from_master([7u8; KEY_LEN]);
        assert_eq!(
            hex::encode(key.lookup_hash("id_number", "110101199003074514")),
            "8ccc580a7e8c60b2079ce91b0b41429f4a06a86a06c6a537974a8c33b11f584a"
        );
        let blob = hex::decode(
            "01000102030405060708090a0bdadb356ed0ed1ccfe9e96b17c21eb23d9b8133fc77cc46585df6fd8ccf0acd66770de4bd5019d9a9e0",
        )
        .expect("hex");
        assert_eq!(key.decrypt_str(&blob).expect("decrypts"), "张三 110101199003074514");
    }

    #[test]
    fn blob_layout_and_random_nonce() {
        let key = DataKey::generate();
        let a = key.encrypt(b"same");
        let b = key.encrypt(b"same");
        assert_eq!(a[0], 1);
        assert_eq!(a.len(), 1 + NONCE_LEN + 4 + TAG_LEN);
        assert_ne!(a[1..1 + NONCE_LEN], b[1..1 + NONCE_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn tampered_ciphertext_refused() {
        let key = DataKey::generate();
        let blob = key.encrypt(b"13812345678");
        for i in 0..blob.len() {
            let mut t = blob.clone();
            t[i] ^= 0x01;
            assert!(matches!(key.decrypt(&t), Err(KeyError::Decrypt)), "flip at byte {i} accepted");
        }
        assert!(key.decrypt(&blob[..blob.len() - 1]).is_err());
        assert!(key.decrypt(&[]).is_err());
        assert!(key.decrypt(&[1u8; 28]).is_err());
    }

    #[test]
    fn wrong_key_refused() {
        let a = DataKey::generate();
        let b = DataKey::generate();
        let blob = a.encrypt_str("secret");
        assert!(matches!(b.decrypt(&blob), Err(KeyError::Decrypt)));
        assert!(matches!(b.decrypt_str(&blob), Err(KeyError::Decrypt)));
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn non_utf8_plaintext_refused_by_decrypt_str() {
        let key = DataKey::generate();
        let blob = key.encrypt(&[0xff, 0xfe]);
        assert!(matches!(key.decrypt_str(&blob), Err(KeyError::Decrypt)));
    }

    #[test]
    fn lookup_hash_stable_and_kind_separated() {
        let key = DataKey::generate();
        let h1 = key.lookup_hash("phone", "13812345678");
        let h2 = key.lookup_hash("phone", "13812345678");
        assert_eq!(h1, h2);
        assert_eq!(h1.len(), 32);
        assert_ne!(h1, key.lookup_hash("id_number", "13812345678"));
        assert_ne!(h1, key.lookup_hash("phone", "13812345679"));
        // The separator stops "ab"+"c" colliding with "a"+"bc".
        assert_ne!(key.lookup_hash("ab", "c"), key.lookup_hash("a", "bc"));
        // Same master from file text gives the same hash; another key does not.
        let reloaded = DataKey::from_file_text(&key.to_file_text()).expect("parses");
        assert_eq!(h1, reloaded.lookup_hash("phone", "13812345678"));
        assert_ne!(h1, DataKey::generate().lookup_hash("phone", "13812345678"));
    }

    #[test]
    fn subkeys_are_distinct() {
        let key = DataKey::generate();
        let enc = hmac_sha256(&key.master, &[LABEL_ENC]);
        let lookup = hmac_sha256(&key.master, &[LABEL_LOOKUP]);
        let subkeys = [key.master, enc, lookup, key.audit];
        for i in 0..subkeys.len() {
            for j in i + 1..subkeys.len() {
                assert_ne!(subkeys[i], subkeys[j]);
            }
        }
        // The audit chain and lookup hashes must not be interchangeable.
        assert_ne!(key.audit_mac(b"", b"x"), key.lookup_hash("", "x")[..].to_vec());
    }

    #[test]
    fn derivation_matches_spec() {
        let master = [7u8; 32];
        let key = DataKey::from_master(master);
        let enc = hmac_sha256(&master, &[b"pingan/enc/v1"]);
        // The kept cipher is keyed with that subkey: it opens what a cipher built from it sealed.
        let nonce = [3u8; NONCE_LEN];
        let sealed = Aes256Gcm::new_from_slice(&enc)
            .expect("32 bytes")
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: b"x", aad: &[BLOB_VERSION] })
            .expect("encrypts");
        assert_eq!(key.decrypt(&[&[BLOB_VERSION][..], &nonce, &sealed].concat()).expect("decrypts"), b"x");
        let lookup = hmac_sha256(&master, &[b"pingan/lookup/v1"]);
        assert_eq!(key.lookup_hash("phone", "1"), hmac_sha256(&lookup, &[b"phone\x001"]).to_vec());
        let audit = hmac_sha256(&master, &[b"pingan/audit/v1"]);
        assert_eq!(key.audit_mac(b"prev", b"msg"), hmac_sha256(&audit, &[b"prevmsg"]).to_vec());
        let fp_key = hmac_sha256(&master, &[b"pingan/fingerprint/v1"]);
        assert_eq!(key.fingerprint(), hex::encode(&hmac_sha256(&fp_key, &[b"fingerprint"])[..8]));
    }

    #[test]
    fn audit_chain_depends_on_previous_link() {
        let key = DataKey::generate();
        let first = key.audit_mac(&[], b"login alice");
        let second = key.audit_mac(&first, b"view id_number 42");
        assert_eq!(second, key.audit_mac(&first, b"view id_number 42"));
        assert_ne!(second, key.audit_mac(&[0u8; 32], b"view id_number 42"));
        assert_ne!(second, key.audit_mac(&first, b"view id_number 43"));
        assert_eq!(second.len(), 32);
    }

    #[test]
    fn fingerprint_is_16_hex_and_stable() {
        let key = DataKey::generate();
        let fp = key.fingerprint();
        assert_eq!(fp.len(), 16);
        assert!(fp.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let reloaded = DataKey::from_file_text(&key.to_file_text()).expect("parses");
        assert_eq!(reloaded.fingerprint(), fp);
    }

    #[test]
    fn debug_is_redacted() {
        let key = DataKey::from_master([0x41; 32]);
        let shown = format!("{key:?}");
        assert_eq!(shown, format!("DataKey(<redacted>, fingerprint={})", key.fingerprint()));
        let b64 = base64::engine::general_purpose::STANDARD.encode(key.master);
        assert!(!shown.contains(&b64));
        assert!(!shown.contains(&hex::encode(key.master)));
    }

    #[test]
    fn file_text_round_trip() {
        let key = DataKey::generate();
        let text = key.to_file_text();
        assert!(text.starts_with("pingan-data-key-v1 "));
        assert!(text.ends_with('\n'));
        assert_eq!(text.lines().count(), 1);
        let parsed = DataKey::from_file_text(&text).expect("parses");
        assert_eq!(parsed.master, key.master);
        // Editors add CRLF, a BOM or drop the final newline; none of that matters.
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(DataKey::from_file_text(&crlf).expect("crlf").master, key.master);
        let bom = format!("\u{feff}{text}");
        assert_eq!(DataKey::from_file_text(&bom).expect("bom").master, key.master);
        assert_eq!(DataKey::from_file_text(text.trim_end()).expect("no newline").master, key.master);
        // Ciphertext from the original decrypts with the reloaded key.
        assert_eq!(parsed.decrypt_str(&key.encrypt_str("x")).expect("decrypts"), "x");
    }

    #[test]
    fn malformed_file_texts_refused_with_reasons() {
        let good = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        let short = base64::engine::general_purpose::STANDARD.encode([9u8; 16]);
        let zero = base64::engine::general_purpose::STANDARD.encode([0u8; 32]);
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            ("\n  \n".to_string(), "empty"),
            (format!("pingan-data-key-v2 {good}\n"), "start with"),
            (format!("{good}\n"), "start with"),
            ("pingan-data-key-v1\n".to_string(), "missing"),
            ("pingan-data-key-v1 not*base64!\n".to_string(), "base64"),
            (format!("pingan-data-key-v1 {short}\n"), "16 bytes"),
            (format!("pingan-data-key-v1 {zero}\n"), "all zero"),
            (format!("pingan-data-key-v1 {good} extra\n"), "after the key"),
            (format!("pingan-data-key-v1 {good}\npingan-data-key-v1 {good}\n"), "single line"),
        ];
        for (text, expected) in cases {
            match DataKey::from_file_text(&text) {
                Ok(_) => panic!("accepted {text:?}"),
                Err(reason) => assert!(
                    reason.contains(expected),
                    "reason for {text:?} was {reason:?}, expected it to mention {expected:?}"
                ),
            }
        }
    }

    #[test]
    fn write_new_then_load_and_refuse_overwrite() {
        let dir = unique_temp_path("write");
        let path = dir.join("nested").join("data.key");
        let key = DataKey::write_new(&path).expect("writes");
        let loaded = DataKey::load(&path).expect("loads");
        assert_eq!(loaded.fingerprint(), key.fingerprint());
        let before = std::fs::read(&path).expect("read back");

        match DataKey::write_new(&path) {
            Err(KeyError::Exists { path: p }) => assert_eq!(p, path),
            other => panic!("expected Exists, got {other:?}"),
        }
        assert_eq!(std::fs::read(&path).expect("read back"), before);

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn load_reports_missing_and_malformed() {
        let dir = unique_temp_path("load");
        let missing = dir.join("absent.key");
        let err = DataKey::load(&missing).expect_err("missing");
        assert!(matches!(err, KeyError::Missing { .. }));
        assert!(err.to_string().contains("absent.key"));

        std::fs::create_dir_all(&dir).expect("mkdir");
        let bad = dir.join("bad.key");
        std::fs::write(&bad, "hello\n").expect("write");
        let err = DataKey::load(&bad).expect_err("malformed");
        assert!(matches!(err, KeyError::Malformed { .. }));
        assert!(err.to_string().contains("pingan-data-key-v1"), "{err}");

        std::fs::write(&bad, [0xffu8, 0xfe, 0x00]).expect("write");
        let err = DataKey::load(&bad).expect_err("binary");
        assert!(err.to_string().contains("UTF-8"), "{err}");

        // A directory where the file should be is unreadable, not missing.
        let err = DataKey::load(&dir).expect_err("dir");
        assert!(matches!(err, KeyError::Unreadable { .. }), "{err:?}");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
