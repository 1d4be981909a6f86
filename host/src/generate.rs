//! `dialogsync generate`: realistic records for each source, deterministic per seed, with the
//! defects real exports have — times in the DST hours and around midnight, Altinn 2 status
//! events repeated microseconds apart, older versions arriving after newer ones, missing
//! optional fields, Norwegian letters, titles over 255 characters, Altinn 2 forms never
//! completed, records gone at the source, and a chosen fraction of malformed records.

use anyhow::{Context, Result, bail};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

pub struct Options {
    pub source: String,
    pub count: usize,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub seed: u64,
    /// Fraction of records written malformed (truncated JSON or a required field missing).
    pub bad_ratio: f64,
    pub out: PathBuf,
}

/// What was written.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub file: PathBuf,
    pub records: usize,
    pub malformed: usize,
    /// Older versions written after a newer one.
    pub out_of_order: usize,
    /// `parties.csv` beside the records: the party ids some records name alone.
    pub parties_file: PathBuf,
    /// Entries in it.
    pub parties: usize,
}

const TITLES: &[&str] = &[
    "Vedtak om skatteoppgjør for 2024",
    "Søknad om dagpenger",
    "Melding om endring i ytelse",
    "Årsregnskap for aksjeselskap",
    "Næringsoppgave – særskilt vedlegg",
    "Bekreftelse på mottatt søknad",
    "Varsel om tvangsmulkt",
    "Innkalling til møte i Nærings- og fiskeridepartementet",
    "Påminnelse: frist for å levere a-melding",
    "Økonomisk sosialhjelp – vedtak",
];

struct Gen {
    rng: ChaCha8Rng,
    o: Options,
    parties: BTreeMap<String, String>,
}

impl Gen {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|i| char::from(b'0' + self.rng.random_range(if i == 0 { 1 } else { 0 }..10u8))).collect()
    }

    /// A wall time in the range, often in the awkward places: the DST hours, around midnight.
    fn wall_time(&mut self) -> NaiveDateTime {
        let days = (self.o.to - self.o.from).num_days().max(0);
        let mut day = self.o.from + Duration::days(self.rng.random_range(0..=days));
        let roll = self.rng.random_range(0..100);
        if roll < 10 {
            // A DST change day of the record's year (last Sunday of March or October), if in range.
            let month = if self.chance(0.5) { 3 } else { 10 };
            let last = NaiveDate::from_ymd_opt(day.year(), month, 31).unwrap();
            let sunday = last - Duration::days(last.weekday().num_days_from_sunday() as i64);
            debug_assert_eq!(sunday.weekday(), Weekday::Sun);
            if sunday >= self.o.from && sunday <= self.o.to {
                day = sunday;
            }
            let t = NaiveTime::from_hms_micro_opt(2, self.rng.random_range(0..60), self.rng.random_range(0..60), self.rng.random_range(0..1_000_000)).unwrap();
            return day.and_time(t);
        }
        if roll < 20 {
            let t = if self.chance(0.5) { NaiveTime::from_hms_opt(23, self.rng.random_range(45..60), 0) } else { NaiveTime::from_hms_opt(0, self.rng.random_range(0..15), 0) };
            return day.and_time(t.unwrap());
        }
        day.and_time(NaiveTime::from_hms_micro_opt(self.rng.random_range(6..22), self.rng.random_range(0..60), self.rng.random_range(0..60), self.rng.random_range(0..1_000_000)).unwrap())
    }

    fn title(&mut self) -> String {
        let t = TITLES[self.rng.random_range(0..TITLES.len())];
        if self.chance(0.03) { format!("{t} – ").repeat(12) } else { t.to_string() }
    }

    /// A reportee: mostly a number, sometimes only a party id (written to parties.csv).
    fn reportee(&mut self) -> Value {
        let party_id = format!("5{}", self.digits(7));
        match self.rng.random_range(0..10) {
            0..6 => json!({ "partyId": party_id, "ssn": self.digits(11) }),
            6..9 => json!({ "partyId": party_id, "orgNumber": self.digits(9) }),
            _ => {
                let org = self.digits(9);
                self.parties.insert(party_id.clone(), org);
                json!({ "partyId": party_id })
            }
        }
    }

    /// One record's versions, oldest first.
    fn versions(&mut self, i: usize) -> Vec<Value> {
        match self.o.source.as_str() {
            "a2-correspondence" => self.a2_correspondence(i),
            "a2-archived-forms" => self.a2_archived_form(i),
            "a3-correspondence" => self.a3_correspondence(i),
            _ => self.a3_app_instance(i),
        }
    }

    fn a2_correspondence(&mut self, i: usize) -> Vec<Value> {
        let wall = |t: NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S%.f").to_string();
        let created = self.wall_time();
        let reportee = self.reportee();
        let mut base = json!({
            "correspondenceId": 40_000_000 + i,
            "reporteeElementId": 90_000_000 + i,
            "serviceCode": (["4503", "5252", "2000"][i % 3]),
            "serviceEditionCode": 1 + i % 3,
            "reportee": reportee,
            "sender": { "serviceOwnerCode": (["skd", "nav", "brg"][i % 3]), "name": (["Skatteetaten", "NAV", "Brønnøysundregistrene"][i % 3]) },
            "language": (["1044", "2068", "1033"][i % 3]),
            "title": self.title(),
            "createdDate": wall(created),
            "confirmationNeeded": self.chance(0.3),
            "lastChanged": wall(created),
        });
        if self.chance(0.7) {
            base["summary"] = json!("Du har fått en ny melding. Logg inn for å lese den.");
        }
        if self.chance(0.2) {
            base["dueDate"] = json!(wall(created + Duration::days(30)));
        }
        let mut out = vec![base.clone()];
        let mut events: Vec<Value> = Vec::new();
        let mut t = created;
        for status in ["Read", "Confirmed", "Archived", "Deleted", "Restored"] {
            if !self.chance(0.5) {
                continue;
            }
            t += Duration::minutes(self.rng.random_range(1..20_000));
            events.push(json!({ "status": status, "time": wall(t), "actor": base["reportee"]["ssn"] }));
            if status == "Read" && self.chance(0.3) {
                // Altinn 2 logs the same read twice, microseconds apart.
                events.push(json!({ "status": status, "time": wall(t + Duration::microseconds(self.rng.random_range(1..900))), "actor": base["reportee"]["ssn"] }));
            }
            let mut v = base.clone();
            v["statusEvents"] = json!(events);
            v["lastChanged"] = json!(wall(t));
            out.push(v);
        }
        if self.chance(0.01) {
            let mut v = out.last().unwrap().clone();
            t += Duration::days(400);
            v["statusEvents"].as_array_mut().map(|e| e.push(json!({ "status": "Purged", "time": wall(t) })));
            v["lastChanged"] = json!(wall(t));
            out.push(v);
        }
        out
    }

    fn a2_archived_form(&mut self, i: usize) -> Vec<Value> {
        let wall = |t: NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        let archived = self.wall_time();
        let mut v = json!({
            "archiveReference": format!("AR{}", 10_000_000 + i),
            "reporteeElementId": 70_000_000 + i,
            "serviceCode": (["2000", "3127", "4712"][i % 3]),
            "serviceEditionCode": 1 + i % 4,
            "serviceOwnerCode": (["skd", "ssb", "brg"][i % 3]),
            "reportee": self.reportee(),
            "archivedDate": wall(archived),
            "isCompleted": !self.chance(0.1),
        });
        if self.chance(0.9) {
            v["formTitle"] = json!(self.title());
        }
        if self.chance(0.6) {
            v["createdDate"] = json!(wall(archived - Duration::minutes(self.rng.random_range(1..3000))));
        }
        if self.chance(0.5) {
            v["formData"] = json!([{ "id": "main", "name": "Hovedskjema", "url": format!("https://www.altinn.no/api/archive/AR{}/main.xml", 10_000_000 + i), "mimeType": "application/xml" }]);
        }
        vec![v]
    }

    fn a3_correspondence(&mut self, i: usize) -> Vec<Value> {
        let utc = |t: NaiveDateTime| t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let created = self.wall_time();
        let recipient = if self.chance(0.6) { self.digits(11) } else { format!("0192:{}", self.digits(9)) };
        let mut base = json!({
            "correspondenceId": format!("0192a3c5-0000-7000-8000-{:012x}", i),
            "resourceId": (["skd-vedtak", "nav-melding", "brg-varsel"][i % 3]),
            "sender": (["0192:974761076", "0192:889640782", "0192:974757486"][i % 3]),
            "messageSender": (["Skatteetaten", "NAV", "Brønnøysundregistrene"][i % 3]),
            "recipient": recipient,
            "content": { "language": (["nb", "nn", "en"][i % 3]), "messageTitle": self.title(), "messageSummary": "Ny melding i innboksen" },
            "isConfirmationNeeded": self.chance(0.3),
            "created": utc(created),
            "statusHistory": [{ "status": "Initialized", "statusChanged": utc(created) }],
            "lastChanged": utc(created),
        });
        if self.chance(0.5) {
            base["altinn2CorrespondenceId"] = json!(30_000_000 + i);
        }
        let mut out = vec![base.clone()];
        let mut t = created;
        let statuses: &[&str] = if self.chance(0.03) { &["Reserved"] } else { &["Published", "Read", "Confirmed", "Archived", "PurgedByRecipient"] };
        for (k, status) in statuses.iter().enumerate() {
            let p = match *status { "Published" | "Reserved" => 0.97, "PurgedByRecipient" => 0.02, _ => 0.5 };
            if k > 0 && !self.chance(p) {
                continue;
            }
            t += Duration::minutes(self.rng.random_range(1..5000));
            let mut v = out.last().unwrap().clone();
            v["statusHistory"].as_array_mut().unwrap().push(json!({ "status": status, "statusChanged": utc(t) }));
            v["lastChanged"] = json!(utc(t));
            out.push(v);
        }
        out
    }

    fn a3_app_instance(&mut self, i: usize) -> Vec<Value> {
        let utc = |t: NaiveDateTime| t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let created = self.wall_time();
        let reportee = self.reportee();
        let mut owner = json!({ "partyId": reportee["partyId"] });
        if let Some(ssn) = reportee.get("ssn") {
            owner["personNumber"] = ssn.clone();
        } else if let Some(org) = reportee.get("orgNumber") {
            owner["organisationNumber"] = org.clone();
        }
        let app = ["skd/mva-melding", "nav/soknad-dagpenger", "brg/aarsregnskap", "ttd/endring-av-navn"][i % 4];
        let base = json!({
            "id": format!("{}/6f1c2a3b-0000-4000-8000-{:012x}", owner["partyId"].as_str().unwrap(), i),
            "instanceOwner": owner,
            "appId": app,
            "org": app.split('/').next().unwrap(),
            "title": { "nb": self.title() },
            "process": { "started": utc(created), "currentTask": { "elementId": "Task_1", "altinnTaskType": (["data", "signing", "confirmation", "feedback"][i % 4]) } },
            "status": { "isArchived": false, "isSoftDeleted": false, "isHardDeleted": false },
            "created": utc(created),
            "lastChanged": utc(created),
            "_rid": "leftover", "_ts": 1,
        });
        let mut out = vec![base.clone()];
        let mut t = created;
        if self.chance(0.6) {
            t += Duration::minutes(self.rng.random_range(1..3000));
            let mut v = base.clone();
            v["status"]["isArchived"] = json!(true);
            v["status"]["archived"] = json!(utc(t));
            v["process"] = json!({ "started": utc(created), "ended": utc(t) });
            v["lastChanged"] = json!(utc(t));
            v["instanceEvents"] = json!([{ "eventType": "Submited", "created": utc(t) }]);
            out.push(v);
        }
        if self.chance(0.1) {
            t += Duration::minutes(self.rng.random_range(1..3000));
            let mut v = out.last().unwrap().clone();
            v["status"]["isSoftDeleted"] = json!(true);
            v["status"]["softDeleted"] = json!(utc(t));
            v["lastChanged"] = json!(utc(t));
            out.push(v);
        }
        if self.chance(0.02) {
            t += Duration::minutes(self.rng.random_range(1..3000));
            let mut v = out.last().unwrap().clone();
            v["status"]["isHardDeleted"] = json!(true);
            v["lastChanged"] = json!(utc(t));
            out.push(v);
        }
        out
    }

    /// Breaks a record: truncated JSON, or its required id removed.
    fn break_it(&mut self, v: &Value) -> String {
        let text = v.to_string();
        if self.chance(0.5) {
            let mut cut = text.len() / 2;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text[..cut].to_string()
        } else {
            let mut v = v.clone();
            let id = ["id", "correspondenceId", "archiveReference"];
            v.as_object_mut().unwrap().retain(|k, _| !id.contains(&k.as_str()));
            v.to_string()
        }
    }
}

/// Generated records one at a time, for the source simulator: each record's versions,
/// created on a chosen day.
pub struct Versions {
    g: Gen,
}

impl Versions {
    pub fn new(source: &str, seed: u64) -> Result<Versions> {
        if crate::config::known(source).is_none() {
            bail!("unknown source `{source}`");
        }
        let day = NaiveDate::MIN;
        let o = Options { source: source.into(), count: 0, from: day, to: day, seed, bad_ratio: 0.0, out: PathBuf::new() };
        Ok(Versions { g: Gen { rng: ChaCha8Rng::seed_from_u64(seed), o, parties: BTreeMap::new() } })
    }

    /// Record number `i`'s versions, oldest first, created on `day`.
    pub fn record(&mut self, i: usize, day: NaiveDate) -> Vec<Value> {
        (self.g.o.from, self.g.o.to) = (day, day);
        self.g.versions(i)
    }

    /// The party ids records named alone, with their organisation numbers.
    pub fn parties(&self) -> &BTreeMap<String, String> {
        &self.g.parties
    }
}

/// Writes `--count` records of one source to `OUT/<source>.ndjson` and `OUT/parties.csv`.
pub fn generate(o: Options) -> Result<Report> {
    if crate::config::known(&o.source).is_none() {
        bail!("unknown source `{}`", o.source);
    }
    if o.from > o.to {
        bail!("--from {} is after --to {}", o.from, o.to);
    }
    std::fs::create_dir_all(&o.out).with_context(|| format!("creating {}", o.out.display()))?;
    let file = o.out.join(format!("{}.ndjson", o.source));
    let parties_file = o.out.join("parties.csv");
    // A backfill reads every record file in the folder: another source's would be read as this
    // one's; and a parties.csv that is not this source's own would be lost.
    let others: Vec<String> = std::fs::read_dir(&o.out)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| *p != file && matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "ndjson" | "jsonl")))
        .map(|p| p.display().to_string())
        .collect();
    if !others.is_empty() {
        bail!("{} already holds other records ({}): a backfill of it would read them as {}'s; give each source its own --out", o.out.display(), others.join(", "), o.source);
    }
    if parties_file.exists() && !file.exists() {
        bail!("{} holds a parties.csv that is not from generating {} here; give this source its own --out", o.out.display(), o.source);
    }
    let mut w = std::io::BufWriter::new(std::fs::File::create(&file).with_context(|| format!("creating {}", file.display()))?);
    let mut g = Gen { rng: ChaCha8Rng::seed_from_u64(o.seed), o, parties: BTreeMap::new() };
    let (mut written, mut malformed, mut out_of_order, mut i) = (0, 0, 0, 0);
    while written < g.o.count {
        let mut versions = g.versions(i);
        i += 1;
        // Usually only the newest version is fetched; sometimes several, sometimes out of order.
        if versions.len() > 1 && g.chance(0.15) {
            let older = versions[g.rng.random_range(0..versions.len() - 1)].clone();
            versions = vec![versions.pop().unwrap(), older];
            out_of_order += 1;
        } else {
            versions = vec![versions.pop().unwrap()];
        }
        for v in versions.iter().take(g.o.count - written) {
            let line = if g.chance(g.o.bad_ratio) {
                malformed += 1;
                g.break_it(v)
            } else {
                v.to_string()
            };
            writeln!(w, "{line}")?;
            written += 1;
        }
    }
    w.flush()?;
    let csv: String = g.parties.iter().map(|(id, org)| format!("{id},{org}\n")).collect();
    std::fs::write(&parties_file, format!("partyId,identifier\n{csv}"))?;
    Ok(Report { file, records: written, malformed, out_of_order, parties_file, parties: g.parties.len() })
}
