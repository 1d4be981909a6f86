//! Component glue only; the routes are in `serve.rs`, Spin's I/O in the `spin-shell` crate
//! (whose bindings these reuse).
pub mod serve;

spin_shell::bindings!("dialogsync:spin/status@0.2.0");

use spin_shell::wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Status;

impl exports::wasi::http::incoming_handler::Guest for Status {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        serve::handle(&request, out)
    }
}

export!(Status);
