//! Small builders transformers share.

use crate::types::{Actor, ActorKind, ElementEvent, ElementState, EventKind, Localized, ProcessTask, Timestamp};

/// A text in `language`.
pub fn text(language: &str, value: &str) -> Localized {
    Localized { language: language.into(), value: value.trim().into() }
}

/// A text in Norwegian bokmål.
pub fn nb(value: &str) -> Localized {
    text("nb", value)
}

/// The ISO 639-1 code for Altinn's language codes: LCIDs (`1044` nb, `2068` nn, `1033` en) or
/// ISO codes; `nb` when unknown.
pub fn language(code: Option<&str>) -> String {
    match code.map(|c| c.trim().to_ascii_lowercase()).as_deref() {
        Some("1044" | "nb" | "no" | "nob") => "nb".into(),
        Some("2068" | "nn" | "nno") => "nn".into(),
        Some("1033" | "en" | "eng") => "en".into(),
        Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_lowercase()) => c.into(),
        _ => "nb".into(),
    }
}

/// A dated event; `id` names the performer when the source does.
pub fn event(kind: EventKind, at: Timestamp, actor: ActorKind, id: Option<String>) -> ElementEvent {
    ElementEvent { kind, at, actor: Some(Actor { kind: actor, id, name: None }) }
}

/// A state with nothing set.
pub fn blank_state() -> ElementState {
    ElementState {
        archived: false,
        soft_deleted: false,
        read: false,
        confirmation_needed: false,
        confirmed: false,
        task: ProcessTask::None,
        sub_status: None,
    }
}

/// Status events as Altinn 2 logs them: the same status by the same actor within the same
/// second is one event (its log repeats them microseconds apart). Returns them in time order.
pub fn dedupe(mut events: Vec<ElementEvent>) -> Vec<ElementEvent> {
    events.sort_by_key(|e| e.at);
    let mut seen = std::collections::HashSet::new();
    events.retain(|e| {
        let actor = e.actor.as_ref().and_then(|a| a.id.clone());
        seen.insert((e.kind as u8, e.at.div_euclid(1_000_000), actor))
    });
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupe_on_kind_second_and_actor_in_time_order() {
        let e = |kind, at, who: &str| event(kind, at, ActorKind::PartyRepresentative, Some(who.into()));
        let out = dedupe(vec![
            e(EventKind::Read, 5_000_900, "a"),
            e(EventKind::Read, 5_000_001, "a"),
            e(EventKind::Read, 5_000_002, "b"),
            e(EventKind::Confirmed, 5_000_003, "a"),
            e(EventKind::Read, 6_000_000, "a"),
            e(EventKind::Read, 1_000_000, "a"),
        ]);
        let got: Vec<(EventKind, i64)> = out.iter().map(|e| (e.kind, e.at)).collect();
        assert_eq!(got, vec![
            (EventKind::Read, 1_000_000),
            (EventKind::Read, 5_000_001),
            (EventKind::Read, 5_000_002),
            (EventKind::Confirmed, 5_000_003),
            (EventKind::Read, 6_000_000),
        ]);
        assert_eq!(language(Some("1044")), "nb");
        assert_eq!(language(Some("2068")), "nn");
        assert_eq!(language(None), "nb");
    }
}
