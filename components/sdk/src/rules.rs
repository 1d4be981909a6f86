//! Dialogporten's rules that its specs don't carry (DESIGN.md "Dialog rules"), shared by the
//! projector (which keeps them) and the host (which checks every dialog before storing it).

/// Longest title, summary and sender name.
pub const MAX_TEXT: usize = 255;
/// Longest additional info.
pub const MAX_ADDITIONAL_INFO: usize = 1023;
/// Longest extended status.
pub const MAX_EXTENDED_STATUS: usize = 25;
/// Length range of a search tag.
pub const SEARCH_TAG_LEN: std::ops::RangeInclusive<usize> = 3..=63;
/// Length range of a service-owner label, and how many a dialog may have.
pub const LABEL_LEN: std::ops::RangeInclusive<usize> = 3..=255;
pub const MAX_LABELS: usize = 20;
/// Statuses a migrated dialog may have.
pub const STATUSES: [&str; 6] = ["InProgress", "Draft", "RequiresAttention", "Completed", "NotApplicable", "Awaiting"];
/// System labels a migrated dialog may have.
pub const SYSTEM_LABELS: [&str; 3] = ["Default", "Bin", "Archive"];

/// Cuts `s` to at most `max` characters (not bytes), ending in `…` when cut; borrowed when not.
pub fn clamp(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    // A string of at most `max` bytes has at most `max` characters: no need to count them.
    if s.len() <= max || s.chars().count() <= max {
        return s.into();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out.into()
}

/// Whether `urn` is a party Dialogporten accepts.
pub fn valid_party(urn: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(p) = urn.strip_prefix("urn:altinn:person:identifier-no:") {
        digits(p, 11)
    } else if let Some(o) = urn.strip_prefix("urn:altinn:organization:identifier-no:") {
        digits(o, 9)
    } else if let Some(u) = urn.strip_prefix("urn:altinn:person:legacy-selfidentified:") {
        !u.is_empty()
    } else if let Some(e) = urn.strip_prefix("urn:altinn:person:idporten-email:") {
        e.contains('@')
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamp_counts_characters() {
        assert_eq!(clamp("æøå", 3), "æøå");
        assert_eq!(clamp("æøåæ", 3), "æø…");
        assert_eq!(clamp(&"x".repeat(300), MAX_TEXT).chars().count(), 255);
    }

    #[test]
    fn parties() {
        assert!(valid_party("urn:altinn:person:identifier-no:01044091042"));
        assert!(valid_party("urn:altinn:organization:identifier-no:725736800"));
        assert!(!valid_party("urn:altinn:organization:identifier-no:72573680"));
        assert!(!valid_party("urn:altinn:person:identifier-no:0104409104x"));
        assert!(!valid_party("1337"));
    }
}
