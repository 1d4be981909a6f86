//! Maskinporten's JWT grant against `simulate`'s Maskinporten-like token endpoint, which checks
//! it as Maskinporten does: the token comes back for the right key, and the API trusts it; a
//! wrong key is a clear error naming the client, not a retry; an expired grant, a reused `jti`
//! and the wrong audience are refused.

use super::common::{self, Sim};
use dialogsync::maskinporten::{Maskinporten, MaskinportenConfig, MaskinportenError};
use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    common::root().join("tests/fixtures/maskinporten").join(name)
}

fn client(sim: &Sim, key: &str) -> MaskinportenConfig {
    MaskinportenConfig { client_id: "my-client".into(), key: fixture(key), kid: None, environment: format!("{}/maskinporten", sim.url), token_url: None, exchange_url: None }
}

#[test]
fn the_grant_gets_a_token_the_api_trusts_and_a_wrong_one_is_refused_once() {
    let registered = format!("my-client:912345678:{}", fixture("client.jwks.json").display());
    let sim = Sim::start(71, &["--days", "1", "--per-day", "1", "--maskinporten-client", &registered], &[]);
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("issuer-jwks.json");
    std::fs::write(&jwks, sim.get("/maskinporten/jwks").to_string()).unwrap();
    let keys = dialogsync::api::auth::Keys::load(&jwks).unwrap();

    // From the command line, as an operator checks the configuration.
    let config = dir.path().join("dialogsync.toml");
    let write = |key: &str| std::fs::write(&config, format!("[maskinporten]\nclient_id = \"my-client\"\nkey = \"{}\"\nenvironment = \"{}/maskinporten\"\n", fixture(key).display(), sim.url)).unwrap();
    write("client.pem");
    let run = || Command::new(env!("CARGO_BIN_EXE_dialogsync")).arg("--config").arg(&config).args(["maskinporten", "--scope", "digdir:dialogporten.serviceprovider"]).output().unwrap();
    let out = run();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let claims = keys.verify(String::from_utf8(out.stdout).unwrap().trim()).expect("the API trusts the issuer's token");
    assert_eq!(claims.scope, "digdir:dialogporten.serviceprovider");
    assert_eq!(claims.consumer.map(|c| c.id).as_deref(), Some("0192:912345678"), "the client's organisation");

    // Signed with another key: one line naming the client and why, and no retry.
    write("other.pem");
    let out = run();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("Maskinporten refused client my-client") && err.contains("Invalid JWT signature"), "{err}");
    assert!(!err.contains("PRIVATE KEY"), "{err}");
    let e = Maskinporten::new(&client(&sim, "other.pem")).unwrap().token("s").unwrap_err();
    assert!(matches!(e, MaskinportenError::Refused { .. }) && !e.transient(), "a refused grant is not worth another try: {e}");

    // The endpoint checks what Maskinporten checks.
    let m = Maskinporten::new(&client(&sim, "client.private.jwk.json")).unwrap();
    let post = |grant: &str| {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut r = agent.post(format!("{}/maskinporten/token", sim.url)).send_form([("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", grant)]).unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    let now = chrono::Utc::now().timestamp();
    let (code, body) = post(&m.grant("s", now - 3600).unwrap());
    assert_eq!(code, 400);
    assert!(body.contains("invalid_grant") && body.contains("expired"), "{body}");
    let grant = m.grant("s", now).unwrap();
    assert_eq!(post(&grant).0, 200, "a fresh grant");
    let (code, body) = post(&grant);
    assert!(code == 400 && body.contains("jti"), "the same grant twice: {body}");
    let elsewhere = Maskinporten::new(&MaskinportenConfig { environment: "test".into(), token_url: Some(format!("{}/maskinporten/token", sim.url)), ..client(&sim, "client.pem") }).unwrap();
    let e = elsewhere.token("s").unwrap_err().to_string();
    assert!(e.contains("Invalid audience"), "a grant for test.maskinporten.no: {e}");

    // Cached until shortly before it expires; forgotten after a 401, then fetched anew.
    let first = m.token("digdir:dialogporten.serviceprovider").unwrap();
    assert_eq!(m.token("digdir:dialogporten.serviceprovider").unwrap(), first, "cached");
    m.forget("digdir:dialogporten.serviceprovider");
    assert_ne!(m.token("digdir:dialogporten.serviceprovider").unwrap(), first, "fetched anew");
}
