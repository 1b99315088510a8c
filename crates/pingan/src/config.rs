//! Deployment settings only (listen address, database, paths, secrets). Business settings live
//! in the database. Each source overrides the last: defaults, `pingan.toml`,
//! `PINGAN_SECTION__KEY` environment variables, command-line flags.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub paths: PathsConfig,
    pub map: MapConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Addresses of reverse proxies whose X-Forwarded-For we believe.
    pub trusted_proxies: Vec<IpAddr>,
    /// Marks session cookies `Secure`; on by default, off only for plain-HTTP labs and tests.
    pub secure_cookies: bool,
}

#[derive(Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Empty: an SQLite file `pingan.db` in the data directory.
    pub url: String,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A PostgreSQL URL may hold a password.
        let shown = match self.url.split_once('@') {
            Some((scheme_user, host)) => {
                let scheme = scheme_user.split("://").next().unwrap_or("");
                format!("{scheme}://<redacted>@{host}")
            }
            None => self.url.clone(),
        };
        f.debug_struct("DatabaseConfig").field("url", &shown).finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathsConfig {
    pub data_dir: PathBuf,
    /// The data key: encrypts personal identifiers, keys lookups and the audit chain.
    pub key_file: PathBuf,
}

/// The map's base layer. Empty `tile_url` (the default): no tiles, nothing fetched from anywhere;
/// the grids are drawn on a plain background. Set, the map draws Web-Mercator tiles from that
/// server (an intranet one: the police network has no internet) and the pages' CSP admits
/// images from its origin, and only from it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MapConfig {
    /// e.g. `http://tiles.intranet/{z}/{x}/{y}.png`: XYZ tiles, 256 px, y counted from the north.
    pub tile_url: String,
    /// Shown in the corner of the map, e.g. "底图 © 市测绘院".
    pub attribution: String,
    /// The highest zoom the server has tiles for; nearer, its tiles are enlarged.
    pub max_zoom: u8,
}

impl Default for MapConfig {
    fn default() -> Self {
        MapConfig { tile_url: String::new(), attribution: String::new(), max_zoom: 18 }
    }
}

impl MapConfig {
    /// Refuses what would break the map or the CSP header, naming the key.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.max_zoom > 22 {
            anyhow::bail!("map.max_zoom: 0 to 22");
        }
        if self.attribution.chars().count() > 200 || self.attribution.chars().any(char::is_control) {
            anyhow::bail!("map.attribution: at most 200 characters, no control characters");
        }
        if !self.tile_url.is_empty() {
            tile_origin(&self.tile_url).map_err(|why| anyhow::anyhow!("map.tile_url {:?}: {why}", self.tile_url))?;
        }
        Ok(())
    }

    /// `scheme://host[:port]` of the tile server, for the CSP; None without one.
    pub fn tile_origin(&self) -> Option<String> {
        tile_origin(&self.tile_url).ok()
    }
}

/// The origin of a tile URL template, or why the template is refused. The origin lands in a
/// header, so its host is held to letters, digits, `-` and `.` (or a bracketed IPv6 address).
fn tile_origin(template: &str) -> Result<String, &'static str> {
    for p in ["{z}", "{x}", "{y}"] {
        if template.matches(p).count() != 1 {
            return Err("needs each of {z}, {x} and {y} exactly once");
        }
    }
    let filled = template.replace("{z}", "0").replace("{x}", "0").replace("{y}", "0");
    if filled.contains(['{', '}']) || filled.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("only {z}, {x} and {y} may be filled in, and no spaces");
    }
    if !(filled.starts_with("http://") || filled.starts_with("https://")) {
        return Err("must start with http:// or https://");
    }
    let uri: axum::http::Uri = filled.parse().map_err(|_| "not a URL")?;
    let scheme =
        uri.scheme_str().filter(|s| *s == "http" || *s == "https").ok_or("must start with http:// or https://")?;
    let authority = uri.authority().ok_or("needs a host")?;
    if authority.as_str().contains('@') {
        return Err("may not carry a user name or password");
    }
    let host = authority.host();
    let plain = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let ipv6 = host.starts_with('[')
        && host.ends_with(']')
        && host[1..host.len() - 1].chars().all(|c| c.is_ascii_hexdigit() || c == ':');
    if !(plain || ipv6) {
        return Err("the host may hold only letters, digits, - and .");
    }
    Ok(match authority.port_u16() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            trusted_proxies: Vec::new(),
            secure_cookies: true,
        }
    }
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig { data_dir: PathBuf::from("data"), key_file: PathBuf::new() }
    }
}

/// The environment variables we read, so unknown `PINGAN_*` names can be warned about.
const KNOWN_ENV: &[&str] = &[
    "PINGAN_CONFIG",
    "PINGAN_SERVER__LISTEN",
    "PINGAN_SERVER__TRUSTED_PROXIES",
    "PINGAN_SERVER__SECURE_COOKIES",
    "PINGAN_DATABASE__URL",
    "PINGAN_DATABASE__URL_FILE",
    "PINGAN_PATHS__DATA_DIR",
    "PINGAN_PATHS__KEY_FILE",
    "PINGAN_MAP__TILE_URL",
    "PINGAN_MAP__ATTRIBUTION",
    "PINGAN_MAP__MAX_ZOOM",
    "PINGAN_LOG",
];

impl Config {
    /// Loads defaults, then the TOML file if given (or `pingan.toml` if present), then the
    /// environment. Flags are applied by the caller afterwards.
    pub fn load(file: Option<&Path>, env: &BTreeMap<String, String>) -> anyhow::Result<(Config, Vec<String>)> {
        let mut warnings = Vec::new();
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?
            }
            None => Config::default(),
        };
        for (k, v) in env.iter().filter(|(k, _)| k.starts_with("PINGAN_")) {
            match k.as_str() {
                "PINGAN_SERVER__LISTEN" => {
                    cfg.server.listen = v.parse().map_err(|_| anyhow::anyhow!("{k}: not an address:port"))?
                }
                "PINGAN_SERVER__TRUSTED_PROXIES" => {
                    cfg.server.trusted_proxies = v
                        .split(',')
                        .filter(|s| !s.trim().is_empty())
                        .map(|s| s.trim().parse())
                        .collect::<Result<_, _>>()
                        .map_err(|_| anyhow::anyhow!("{k}: not a comma-separated list of IP addresses"))?
                }
                "PINGAN_SERVER__SECURE_COOKIES" => cfg.server.secure_cookies = parse_bool(k, v)?,
                "PINGAN_DATABASE__URL" => cfg.database.url = v.clone(),
                "PINGAN_DATABASE__URL_FILE" => {
                    cfg.database.url = std::fs::read_to_string(v)
                        .map_err(|e| anyhow::anyhow!("{k}: cannot read {v}: {e}"))?
                        .trim()
                        .to_string()
                }
                "PINGAN_PATHS__DATA_DIR" => cfg.paths.data_dir = PathBuf::from(v),
                "PINGAN_PATHS__KEY_FILE" => cfg.paths.key_file = PathBuf::from(v),
                "PINGAN_MAP__TILE_URL" => cfg.map.tile_url = v.clone(),
                "PINGAN_MAP__ATTRIBUTION" => cfg.map.attribution = v.clone(),
                "PINGAN_MAP__MAX_ZOOM" => {
                    cfg.map.max_zoom = v.parse().map_err(|_| anyhow::anyhow!("{k}: a whole number from 0 to 22"))?
                }
                other if KNOWN_ENV.contains(&other) => {}
                other => warnings.push(format!("unknown environment variable {other} ignored")),
            }
        }
        cfg.map.check()?;
        Ok((cfg, warnings))
    }

    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.paths.data_dir.join("pingan.db").display())
        } else {
            self.database.url.clone()
        }
    }

    pub fn key_path(&self) -> PathBuf {
        if self.paths.key_file.as_os_str().is_empty() {
            self.paths.data_dir.join("pingan.key")
        } else {
            self.paths.key_file.clone()
        }
    }
}

fn parse_bool(name: &str, v: &str) -> anyhow::Result<bool> {
    match v {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => anyhow::bail!("{name}: expected true or false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_file_and_warns_on_unknown_names() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pingan.toml");
        std::fs::write(&file, "[server]\nlisten = \"0.0.0.0:9000\"\n").unwrap();
        let env = BTreeMap::from([
            ("PINGAN_DATABASE__URL".to_string(), "postgres://u:secret@h/db".to_string()),
            ("PINGAN_TYPO".to_string(), "1".to_string()),
        ]);
        let (cfg, warnings) = Config::load(Some(&file), &env).unwrap();
        assert_eq!(cfg.server.listen.port(), 9000);
        assert_eq!(cfg.database_url(), "postgres://u:secret@h/db");
        assert!(!format!("{:?}", cfg).contains("secret"));
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn a_tile_server_is_optional_and_its_origin_is_what_the_csp_admits() {
        assert_eq!(MapConfig::default().tile_origin(), None, "no tiles by default");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pingan.toml");
        let text = "[map]\ntile_url = \"http://tiles.intranet:8080/{z}/{x}/{y}.png?style=2\"\nattribution = \"底图 © 市测绘院\"\nmax_zoom = 17\n";
        std::fs::write(&file, text).unwrap();
        let (cfg, _) = Config::load(Some(&file), &BTreeMap::new()).unwrap();
        assert_eq!(cfg.map.tile_origin().as_deref(), Some("http://tiles.intranet:8080"));
        assert_eq!((cfg.map.max_zoom, cfg.map.attribution.as_str()), (17, "底图 © 市测绘院"));
        let env = BTreeMap::from([("PINGAN_MAP__TILE_URL".to_string(), "https://[fd00::7]/t/{z}/{y}/{x}".to_string())]);
        let (cfg, warnings) = Config::load(None, &env).unwrap();
        assert_eq!((cfg.map.tile_origin().as_deref(), warnings.len()), (Some("https://[fd00::7]"), 0));
    }

    #[test]
    fn bad_tile_urls_and_zooms_are_refused_naming_the_key() {
        for bad in [
            "tiles.intranet/{z}/{x}/{y}.png",
            "ftp://tiles.intranet/{z}/{x}/{y}.png",
            "http://tiles.intranet/{z}/{x}.png",
            "http://tiles.intranet/{z}/{x}/{y}/{y}.png",
            "http://{s}.tiles.intranet/{z}/{x}/{y}.png",
            "http://user:secret@tiles.intranet/{z}/{x}/{y}.png",
            "http://tiles;intranet/{z}/{x}/{y}.png",
            "http://tiles intranet/{z}/{x}/{y}.png",
            "http:///{z}/{x}/{y}.png",
        ] {
            let env = BTreeMap::from([("PINGAN_MAP__TILE_URL".to_string(), bad.to_string())]);
            let err = Config::load(None, &env).expect_err(bad).to_string();
            assert!(err.starts_with("map.tile_url"), "{bad}: {err}");
        }
        let env = BTreeMap::from([("PINGAN_MAP__MAX_ZOOM".to_string(), "23".to_string())]);
        assert!(Config::load(None, &env).unwrap_err().to_string().contains("map.max_zoom"));
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pingan.toml");
        std::fs::write(&file, "[server]\nlisten_port = 9000\n").unwrap();
        let err = Config::load(Some(&file), &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("listen_port"));
    }
}
