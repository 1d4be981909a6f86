//! The party register file: legacy Altinn party id → Dialogporten party URN (DESIGN.md
//! "Party resolution"). Accepted forms, one entry per line or element:
//! - CSV: `partyId,identifier` (a header line is allowed);
//! - JSON array or NDJSON of objects with `partyId` and one of `personNumber`, `ssn`,
//!   `organisationNumber`, `orgNumber` or `urn`.
//!
//! An identifier is 11 digits (person), 9 digits (organisation) or a full party URN.

use dialogsync_sdk::rules::valid_party;
use serde_json::Value;

/// A national identity number: 11 digits.
pub fn is_person(s: &str) -> bool {
    s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An organisation number: 9 digits.
pub fn is_org(s: &str) -> bool {
    s.len() == 9 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Reads a register file; the first bad entry stops the import with its line. A file with no
/// entry, a CSV line with more than two columns, and a party id given two identifiers are
/// refused; an entry given twice alike counts once.
pub fn parse(name: &str, text: &str) -> anyhow::Result<Vec<(String, String)>> {
    let text = text.trim_start_matches('\u{feff}');
    let trimmed = text.trim_start();
    // (party id, urn, where it was read)
    let mut found: Vec<(String, String, String)> = Vec::new();
    if trimmed.starts_with('[') {
        let items: Vec<Value> = serde_json::from_str(text).map_err(|e| anyhow::anyhow!("{name}: invalid JSON: {e}"))?;
        for (i, v) in items.iter().enumerate() {
            let (id, urn) = entry(v).map_err(|e| anyhow::anyhow!("{name}[{i}]: {e}"))?;
            found.push((id, urn, format!("{name}[{i}]")));
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |e: String| anyhow::anyhow!("{name}:{}: {e}", i + 1);
            if line.starts_with('{') {
                let v: Value = serde_json::from_str(line).map_err(|e| at(format!("invalid JSON: {e}")))?;
                let (id, urn) = entry(&v).map_err(at)?;
                found.push((id, urn, format!("{name}:{}", i + 1)));
                continue;
            }
            let fields: Vec<&str> = line.split([',', ';', '\t']).map(|f| f.trim().trim_matches('"')).collect();
            if found.is_empty() && i == 0 && !fields[0].chars().all(|c| c.is_ascii_digit()) {
                continue; // header
            }
            if fields.len() != 2 {
                return Err(at(format!("{} columns; a register line is `partyId,identifier`", fields.len())));
            }
            let (id, urn) = pair(fields[0], fields[1]).map_err(at)?;
            found.push((id, urn, format!("{name}:{}", i + 1)));
        }
    }
    anyhow::ensure!(!found.is_empty(), "{name}: no register entries (expected `partyId,identifier` lines, or JSON objects with `partyId`)");
    let mut first: std::collections::HashMap<&str, (&str, &str)> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for (id, urn, at) in &found {
        match first.get(id.as_str()) {
            Some((u, _)) if u == urn => {}
            Some((u, where_)) => anyhow::bail!("party id {id} is given two identifiers: {u} at {where_}, {urn} at {at}"),
            None => {
                first.insert(id, (urn, at));
                out.push((id.clone(), urn.clone()));
            }
        }
    }
    Ok(out)
}

fn entry(v: &Value) -> Result<(String, String), String> {
    let text = |k: &str| match v.get(k) {
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let id = text("partyId").ok_or("no `partyId`")?;
    let ident = ["urn", "personNumber", "ssn", "organisationNumber", "orgNumber"]
        .iter()
        .find_map(|k| text(k).filter(|s| !s.is_empty()))
        .ok_or("no `personNumber`, `organisationNumber` or `urn`")?;
    pair(&id, &ident)
}

fn pair(id: &str, ident: &str) -> Result<(String, String), String> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("party id `{id}` is not a number"));
    }
    let digits = ident.chars().all(|c| c.is_ascii_digit());
    let urn = match ident.len() {
        11 if digits => format!("urn:altinn:person:identifier-no:{ident}"),
        9 if digits => format!("urn:altinn:organization:identifier-no:{ident}"),
        _ => ident.to_string(),
    };
    if !valid_party(&urn) {
        return Err(format!("`{ident}` is neither an 11-digit person number, a 9-digit organisation number nor a party URN"));
    }
    Ok((id.to_string(), urn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_json_and_ndjson() {
        let csv = parse("p.csv", "partyId,identifier\n1337,910000001\n1600, 01044091042\n").unwrap();
        assert_eq!(csv, vec![
            ("1337".into(), "urn:altinn:organization:identifier-no:910000001".into()),
            ("1600".into(), "urn:altinn:person:identifier-no:01044091042".into()),
        ]);
        let json = parse("p.json", r#"[{"partyId": 1000, "orgNumber": "910000002"}]"#).unwrap();
        assert_eq!(json[0].1, "urn:altinn:organization:identifier-no:910000002");
        let nd = parse("p.ndjson", "{\"partyId\":\"1\",\"urn\":\"urn:altinn:person:identifier-no:01044091042\"}\n").unwrap();
        assert_eq!(nd.len(), 1);
        let bad = parse("p.csv", "1337,910000001\n1338,12345\n").unwrap_err().to_string();
        assert!(bad.starts_with("p.csv:2:"), "{bad}");
    }

    #[test]
    fn conflicts_empty_files_and_extra_columns_are_refused() {
        let twice = parse("p.csv", "partyId,identifier\n1337,910000001\n1400,910000002\n1337,910000003\n").unwrap_err().to_string();
        assert_eq!(twice, "party id 1337 is given two identifiers: urn:altinn:organization:identifier-no:910000001 at p.csv:2, urn:altinn:organization:identifier-no:910000003 at p.csv:4");
        assert_eq!(parse("p.csv", "1337,910000001\n1337,910000001\n").unwrap().len(), 1, "the same entry twice is one");
        assert!(parse("p.csv", "").unwrap_err().to_string().contains("no register entries"));
        assert!(parse("p.csv", "partyId,identifier\n").unwrap_err().to_string().contains("no register entries"));
        let extra = parse("p.csv", "1337,910000001,oops\n").unwrap_err().to_string();
        assert!(extra.starts_with("p.csv:1: 3 columns"), "{extra}");
    }
}
