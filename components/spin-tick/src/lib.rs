//! Component glue only; the tick is in `tick.rs`, its I/O in `spin.rs`.
pub mod spin;
pub mod tick;

wit_bindgen::generate!({
    world: "dialogsync:spin-tick/tick@0.1.0",
    path: ["../../wit", "wit"],
    with: { "dialogsync:pipeline/types@0.1.0": dialogsync_sdk::types },
    generate_all,
});

struct Tick;

impl Guest for Tick {
    fn handle_cron_event(metadata: fermyon::spin_cron::cron_types::Metadata) -> Result<(), fermyon::spin_cron::cron_types::Error> {
        tick::run(metadata.timestamp).map_err(fermyon::spin_cron::cron_types::Error::Other)
    }
}

export!(Tick);
