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
    pub dev: DevSettings,
    pub oauth: OAuthSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub shutdown_grace_secs: u64,
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
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be > 0")));
            }
        }
        self.oauth.validate().map_err(ConfigError::Invalid)
    }

    /// Full path of the database file.
    pub fn db_path(&self) -> PathBuf {
        self.server.data_dir.join(&self.storage.file)
    }

    /// The effective settings as TOML, for `codeplatform config`.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}"))
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
        assert!(s.dev.anonymous);
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
