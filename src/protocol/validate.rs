//! Validation of the names and paths clients choose, shared by the socket and REST.

/// Room ids: 1 to 64 of `[A-Za-z0-9_-]`.
pub fn valid_room_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A display or room name: not blank, at most `max` characters, no control characters.
pub fn check_name(name: &str, max: usize) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("name is empty".into());
    }
    check_text("name", name, max)
}

/// A document path: not empty, at most `max` characters, no control characters.
pub fn check_path(path: &str, max: usize) -> Result<(), String> {
    if path.is_empty() {
        return Err("document path is empty".into());
    }
    check_text("document path", path, max)
}

fn check_text(what: &str, s: &str, max: usize) -> Result<(), String> {
    if s.chars().count() > max {
        return Err(format!("{what} longer than {max} characters"));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{what} contains control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_ids() {
        assert!(valid_room_id("a-b_C9"));
        assert!(!valid_room_id("a b") && !valid_room_id("") && !valid_room_id(&"x".repeat(65)));
        assert!(check_name("ada", 8).is_ok());
        assert!(check_name("  ", 8).is_err() && check_name("a\u{7}", 8).is_err());
        assert!(check_name("ninechars", 8).is_err());
        assert!(check_path("src/main.rs", 64).is_ok() && check_path("", 64).is_err());
    }
}
