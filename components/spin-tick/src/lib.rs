//! Component glue only; the tick is in `tick.rs`, its shell in `spin.rs`, Spin's I/O in the
//! `spin-shell` crate (whose bindings these reuse).
pub mod spin;
pub mod tick;

spin_shell::bindings!("dialogsync:spin/tick@0.2.0",
    "dialogsync:pipeline/types@0.1.0": dialogsync_sdk::types);

use spin_shell::wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Tick;

impl Guest for Tick {
    fn handle_cron_event(metadata: Metadata) -> Result<(), Error> {
        tick::run(metadata.timestamp).map_err(Error::Other)
    }
}

impl exports::wasi::http::incoming_handler::Guest for Tick {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        tick::manual(&request, out)
    }
}

export!(Tick);
