//! Typed settings: the embedded `config/default.toml`, overlaid by an optional file,
//! then by `CODEPLATFORM_<SECTION>__<KEY>` environment variables (nested sections add
//! segments: `CODEPLATFORM_OAUTH__GITHUB__CLIENT_SECRET`). Unknown keys from any
//! source are rejected, so a typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::auth::oauth::settings::OAuthSettings;

/// The defaults compiled into the binary; also the documented list of every setting.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");
/// Prefix of environment variables that override settings.
pub const ENV_PREFIX: &str = "CODEPLATFORM_";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("environment variable {0}: expected CODEPLATFORM_<SECTION>__<KEY>")]
    EnvName(String),
    #[error("invalid settings: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub log: LogSettings,
    pub storage: StorageSettings,
    pub socket: SocketSettings,
    pub limits: Limits,
    pub rooms: RoomSettings,
    pub auth: AuthSettings,
    pub dev: DevSettings,
    pub oauth: OAuthSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub shutdown_grace_secs: u64,
    pub frontend_url: Vec<String>,
    /// PEM certificate chain; with `tls_key`, the server speaks only TLS.
    pub tls_cert: PathBuf,
    /// PEM private key of `tls_cert`.
    pub tls_key: PathBuf,
}

impl ServerSettings {
    /// Whether TLS is configured (both files set; validation refuses only one).
    pub fn tls(&self) -> bool {
        !self.tls_cert.as_os_str().is_empty() && !self.tls_key.as_os_str().is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub file: String,
    pub cache_mib: usize,
    pub commit_max_batch: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketSettings {
    pub max_frame_bytes: usize,
    pub heartbeat_secs: u64,
    pub hello_timeout_secs: u64,
    pub outbound_queue_frames: usize,
    pub max_in_flight: usize,
    pub max_errors_per_minute: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_rooms_per_session: usize,
    pub max_members_per_room: usize,
    pub max_doc_chars: usize,
    pub max_insert_chars: usize,
    pub max_ops_per_edit: usize,
    pub edits_per_sec: u32,
    pub edits_burst: u32,
    pub chat_per_sec: u32,
    pub chat_burst: u32,
    pub max_chat_chars: usize,
    pub max_name_chars: usize,
    pub max_path_chars: usize,
    pub max_docs_per_room: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomSettings {
    pub idle_passivate_secs: u64,
    pub history_window: usize,
    pub snapshot_every: usize,
    pub presence_flush_ms: u64,
    pub restart_intensity: u32,
    pub restart_period_secs: u64,
    pub chat_page_max: usize,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Secret: never printed (see the Debug impl and `to_toml`).
    pub jwt_keys: Vec<String>,
    pub issuer: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_days: u64,
    /// Secret: never printed.
    pub data_key: String,
    pub min_password_chars: usize,
    pub attempts_per_min_ip: u32,
    pub attempts_per_min_account: u32,
    pub challenge_ttl_secs: u64,
    pub max_sessions_per_user: usize,
    pub totp_issuer: String,
}

impl AuthSettings {
    fn redacted(&self) -> Self {
        let mut r = self.clone();
        r.jwt_keys = r
            .jwt_keys
            .iter()
            .map(|k| match k.split_once(':') {
                Some((kid, _)) => format!("{kid}:<redacted>"),
                None => "<redacted>".into(),
            })
            .collect();
        if !r.data_key.is_empty() {
            r.data_key = "<redacted>".into();
        }
        r
    }
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.redacted();
        f.debug_struct("AuthSettings")
            .field("jwt_keys", &r.jwt_keys)
            .field("issuer", &r.issuer)
            .field("access_ttl_secs", &r.access_ttl_secs)
            .field("data_key", &r.data_key)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevSettings {
    pub anonymous: bool,
}

impl Settings {
    /// The embedded defaults alone.
    pub fn defaults() -> Self {
        Self::from_table(parse_table(DEFAULT_TOML, "embedded defaults").expect("valid defaults"))
            .expect("valid defaults")
    }

    /// Defaults, then `file` if given, then the `CODEPLATFORM_*` variables of `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = parse_table(DEFAULT_TOML, "embedded defaults")?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            merge(&mut table, parse_table(&text, &path.display().to_string())?);
        }
        for (name, value) in env {
            if let Some(rest) = name.strip_prefix(ENV_PREFIX) {
                apply_env(&mut table, &name, rest, &value)?;
            }
        }
        Self::from_table(table)
    }

    fn from_table(table: toml::Table) -> Result<Self, ConfigError> {
        let settings: Settings =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    origin: "settings".into(),
                    message: e.to_string(),
                })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("socket.max_frame_bytes", self.socket.max_frame_bytes),
            (
                "socket.outbound_queue_frames",
                self.socket.outbound_queue_frames,
            ),
            ("socket.max_in_flight", self.socket.max_in_flight),
            ("storage.commit_max_batch", self.storage.commit_max_batch),
            ("rooms.history_window", self.rooms.history_window),
            ("rooms.snapshot_every", self.rooms.snapshot_every),
            ("limits.max_ops_per_edit", self.limits.max_ops_per_edit),
            ("limits.edits_per_sec", self.limits.edits_per_sec as usize),
            ("limits.chat_per_sec", self.limits.chat_per_sec as usize),
            ("socket.heartbeat_secs", self.socket.heartbeat_secs as usize),
            ("auth.access_ttl_secs", self.auth.access_ttl_secs as usize),
            ("auth.refresh_ttl_days", self.auth.refresh_ttl_days as usize),
            (
                "auth.max_sessions_per_user",
                self.auth.max_sessions_per_user,
            ),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be > 0")));
            }
        }
        let cert = !self.server.tls_cert.as_os_str().is_empty();
        let key = !self.server.tls_key.as_os_str().is_empty();
        if cert != key {
            let (set, unset) = if cert {
                ("server.tls_cert", "server.tls_key")
            } else {
                ("server.tls_key", "server.tls_cert")
            };
            return Err(ConfigError::Invalid(format!(
                "{set} is set but {unset} is empty: TLS needs both (PEM file paths), \
                 plain HTTP needs neither"
            )));
        }
        self.oauth.validate().map_err(ConfigError::Invalid)
    }

    /// Full path of the database file.
    pub fn db_path(&self) -> PathBuf {
        self.server.data_dir.join(&self.storage.file)
    }

    /// The effective settings as TOML, for `codeplatform config`, secrets redacted.
    pub fn to_toml(&self) -> String {
        let mut shown = self.clone();
        shown.auth = self.auth.redacted();
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

fn parse_table(text: &str, origin: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| ConfigError::Parse {
        origin: origin.into(),
        message: e.to_string(),
    })
}

/// Deep-merges `over` into `base`; a key present in both takes `over`'s value.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn apply_env(
    table: &mut toml::Table,
    name: &str,
    rest: &str,
    value: &str,
) -> Result<(), ConfigError> {
    // SECTION__KEY, or SECTION__SUBSECTION__KEY for nested tables.
    let path: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
    if path.len() < 2 || path.iter().any(String::is_empty) {
        return Err(ConfigError::EnvName(name.into()));
    }
    // A value that parses as a TOML literal (number, bool, array) keeps its type;
    // anything else is a string, so `listen=127.0.0.1:0` needs no quoting.
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.into()));
    let (key, sections) = path.split_last().expect("two segments or more");
    let mut current = table;
    for section in sections {
        let entry = current
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match entry {
            toml::Value::Table(t) => current = t,
            _ => return Err(ConfigError::EnvName(name.into())),
        }
    }
    current.insert(key.clone(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_validate() {
        let s = Settings::defaults();
        assert_eq!(s.server.listen.port(), 8080);
        assert!(!s.dev.anonymous, "anonymous sockets are opt-in");
    }

    #[test]
    fn env_overrides_and_unknown_keys_fail() {
        let s = Settings::load(
            None,
            [
                ("CODEPLATFORM_SERVER__LISTEN".into(), "127.0.0.1:0".into()),
                ("CODEPLATFORM_LIMITS__EDITS_PER_SEC".into(), "7".into()),
                ("OTHER".into(), "x".into()),
            ],
        )
        .unwrap();
        assert_eq!(s.server.listen.port(), 0);
        assert_eq!(s.limits.edits_per_sec, 7);

        let err = Settings::load(None, [("CODEPLATFORM_LIMITS__NOPE".into(), "1".into())]);
        assert!(err.unwrap_err().to_string().contains("nope"));
        let err = Settings::load(None, [("CODEPLATFORM_BOGUS".into(), "1".into())]);
        assert!(matches!(err, Err(ConfigError::EnvName(_))));
    }

    #[test]
    fn secrets_are_never_printed() {
        let s = Settings::load(
            None,
            [
                (
                    "CODEPLATFORM_AUTH__JWT_KEYS".into(),
                    r#"["k9:0123456789abcdef0123456789abcdefXYZ"]"#.into(),
                ),
                (
                    "CODEPLATFORM_AUTH__DATA_KEY".into(),
                    "c2VjcmV0LWRhdGEta2V5".into(),
                ),
            ],
        )
        .unwrap();
        assert_eq!(s.auth.jwt_keys.len(), 1);
        for shown in [s.to_toml(), format!("{s:?}")] {
            assert!(!shown.contains("0123456789abcdef"), "{shown}");
            assert!(!shown.contains("c2VjcmV0LWRhdGEta2V5"), "{shown}");
            assert!(shown.contains("k9:<redacted>"), "{shown}");
        }
    }

    #[test]
    fn file_overlay_rejects_unknown_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[rooms]\nhistory_window = 10\n").unwrap();
        let s = Settings::load(Some(&path), []).unwrap();
        assert_eq!(s.rooms.history_window, 10);
        std::fs::write(&path, "[nonsense]\nx = 1\n").unwrap();
        assert!(Settings::load(Some(&path), []).is_err());
    }
}
