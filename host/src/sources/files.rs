//! The `files` connector: a folder (searched recursively, in name order) of
//! - `*.ndjson` / `*.jsonl`: one record per line (blank lines ignored);
//! - `*.json`: an Altinn Storage query page `{"instances": [...], "next": ...}`, a JSON array of
//!   records, or one record.
//!
//! Payloads keep the source's own bytes (no re-encoding). Lines are streamed; a `.json` file is
//! read whole.

use super::{Fetched, ReadFailure, RecordKeys};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Every record under `dir`, lazily.
pub fn read(dir: &Path, keys: RecordKeys) -> std::io::Result<impl Iterator<Item = Fetched>> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    Ok(files.into_iter().flat_map(move |f| read_file(f, keys.clone())))
}

/// The bytes of every record file under `dir`: a backfill's progress is read against it.
pub fn size(dir: &Path) -> std::io::Result<u64> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    Ok(files.iter().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum())
}

/// Records read and unreadable per file, in the order files were read.
#[derive(Default)]
pub struct PerFile(Vec<(String, u64, u64)>);

impl PerFile {
    pub fn count(&mut self, f: &Fetched) {
        let (origin, ok) = match f {
            Ok(r) => (&r.origin, true),
            Err(e) => (&e.origin, false),
        };
        let file = file_of(origin);
        if self.0.last().is_none_or(|l| l.0 != file) {
            self.0.push((file.to_string(), 0, 0));
        }
        let last = self.0.last_mut().expect("just pushed");
        if ok { last.1 += 1 } else { last.2 += 1 }
    }

    /// Files of which no record could be read.
    pub fn unreadable(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter(|(_, ok, bad)| *ok == 0 && *bad > 0).map(|(f, _, _)| f.as_str())
    }
}

/// `dir/a.ndjson:12` → `dir/a.ndjson`; `dir/b.json#instances[3]` → `dir/b.json`.
fn file_of(origin: &str) -> &str {
    if let Some((file, _)) = origin.split_once('#') {
        return file;
    }
    match origin.rsplit_once(':') {
        Some((file, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => file,
        _ => origin,
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("json" | "ndjson" | "jsonl")) {
            out.push(path);
        }
    }
    Ok(())
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b)
}

fn read_file(path: PathBuf, keys: RecordKeys) -> Box<dyn Iterator<Item = Fetched>> {
    let name = path.display().to_string();
    let failed = |origin: String, error: String| -> Box<dyn Iterator<Item = Fetched>> {
        Box::new(std::iter::once(Err(ReadFailure { origin, error, payload: None })))
    };
    if path.extension().is_some_and(|e| e != "json") {
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => return failed(name, format!("cannot open: {e}")),
        };
        let lines = std::io::BufReader::new(file).split(b'\n').enumerate();
        return Box::new(lines.filter_map(move |(i, line)| {
            let origin = format!("{name}:{}", i + 1);
            match line {
                Err(e) => Some(Err(ReadFailure { origin, error: format!("cannot read: {e}"), payload: None })),
                Ok(l) => {
                    let l = if i == 0 { strip_bom(&l).to_vec() } else { l };
                    let l = l.trim_ascii();
                    (!l.is_empty()).then(|| keys.record(l.to_vec(), origin))
                }
            }
        }));
    }
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => return failed(name, format!("cannot read: {e}")),
    };
    let bytes = strip_bom(&bytes);

    #[derive(Deserialize)]
    struct Page<'a> {
        #[serde(borrow)]
        instances: Vec<&'a RawValue>,
    }
    let items: Vec<(String, Vec<u8>)> = if let Ok(page) = serde_json::from_slice::<Page>(bytes) {
        enumerate(&name, "#instances", page.instances)
    } else if let Ok(list) = serde_json::from_slice::<Vec<&RawValue>>(bytes) {
        enumerate(&name, "#", list)
    } else {
        match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => vec![(name, bytes.to_vec())],
            Err(e) => return failed(name, format!("invalid JSON: {e}")),
        }
    };
    Box::new(items.into_iter().map(move |(origin, payload)| keys.record(payload, origin)))
}

fn enumerate(name: &str, at: &str, items: Vec<&RawValue>) -> Vec<(String, Vec<u8>)> {
    items.into_iter().enumerate().map(|(i, r)| (format!("{name}{at}[{i}]"), r.get().as_bytes().to_vec())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> RecordKeys {
        RecordKeys { id_field: "id".into(), version_fields: vec!["lastChanged".into(), "created".into()], created_fields: vec![] }
    }

    #[test]
    fn reads_every_shape_and_names_failures() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.ndjson"), "{\"id\":\"1\",\"created\":\"2020-01-01T00:00:00Z\"}\n\n{oops\n{\"created\":\"2020-01-01T00:00:00Z\"}\n").unwrap();
        std::fs::write(d.join("b.json"), "\u{feff}{\"instances\":[{\"id\":\"2\",\"lastChanged\":5},{\"id\":3,\"created\":\"2020-01-01T00:00:00+01:00\"}],\"next\":null}").unwrap();
        std::fs::write(d.join("c.json"), "[{\"id\":\"4\",\"created\":\"x\"}]").unwrap();
        std::fs::write(d.join("d.json"), "{\"id\":\"5\", \"created\": \"2020-01-01T00:00:00Z\"}").unwrap();
        std::fs::write(d.join("e.json"), "{\"id\": ").unwrap();
        std::fs::write(d.join("notes.txt"), "ignored").unwrap();
        let got: Vec<Fetched> = read(d, keys()).unwrap().collect();
        let summary: Vec<String> = got
            .iter()
            .map(|f| match f {
                Ok(r) => format!("ok {} {} {}", r.source_id, r.version, r.origin.rsplit('/').next().unwrap()),
                Err(e) => format!("err {} {}", e.origin.rsplit('/').next().unwrap(), e.error),
            })
            .collect();
        assert_eq!(summary[0], "ok 1 1577836800000000 a.ndjson:1");
        assert!(summary[1].starts_with("err a.ndjson:3 invalid JSON"), "{}", summary[1]);
        assert_eq!(summary[2], "err a.ndjson:4 no `id` field naming the record");
        assert_eq!(summary[3], "ok 2 5 b.json#instances[0]");
        assert_eq!(summary[4], "ok 3 1577833200000000 b.json#instances[1]");
        assert!(summary[5].starts_with("err c.json#[0] bad version: `created`"), "{}", summary[5]);
        assert_eq!(summary[6], "ok 5 1577836800000000 d.json");
        assert!(summary[7].starts_with("err e.json invalid JSON"), "{}", summary[7]);
        assert_eq!(got.len(), 8);
        // payload keeps the source's bytes
        assert_eq!(got[6].as_ref().unwrap().payload, b"{\"id\":\"5\", \"created\": \"2020-01-01T00:00:00Z\"}");
    }
}
