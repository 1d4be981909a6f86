//! The I/O of dialogsync's Spin components, shared by the tick (`spin-tick`) and the status
//! (`spin-status`) components, whose bindings use these (`with`): Spin's database as the sync
//! core's store (`db`), HTTP out and in (`http`), variables and clocks (`env`).
pub mod db;
pub mod env;
pub mod http;

wit_bindgen::generate!({
    world: "dialogsync:spin/shell@0.2.0",
    path: ["../../wit", "wit"],
    generate_all,
});

/// The bindings of a dialogsync Spin component's `world` (in `wit/spin.wit`), using this
/// crate's for everything Spin provides, plus the extra `with` entries given. Called from a
/// crate beside this one (`components/NAME`), which depends on it as `spin_shell`.
#[macro_export]
macro_rules! bindings {
    ($world:literal $(, $key:literal: $path:path)* $(,)?) => {
        wit_bindgen::generate!({
            world: $world,
            path: ["../../wit", "../spin-shell/wit"],
            with: {
                $($key: $path,)*
                "fermyon:spin/sqlite@2.0.0": spin_shell::fermyon::spin::sqlite,
                "fermyon:spin/postgres@2.0.0": spin_shell::fermyon::spin::postgres,
                "fermyon:spin/rdbms-types@2.0.0": spin_shell::fermyon::spin::rdbms_types,
                "fermyon:spin/variables@2.0.0": spin_shell::fermyon::spin::variables,
                "wasi:http/types@0.2.0": spin_shell::wasi::http::types,
                "wasi:http/outgoing-handler@0.2.0": spin_shell::wasi::http::outgoing_handler,
                "wasi:io/poll@0.2.0": spin_shell::wasi::io::poll,
                "wasi:io/streams@0.2.0": spin_shell::wasi::io::streams,
                "wasi:io/error@0.2.0": spin_shell::wasi::io::error,
                "wasi:clocks/wall-clock@0.2.0": spin_shell::wasi::clocks::wall_clock,
                "wasi:clocks/monotonic-clock@0.2.0": spin_shell::wasi::clocks::monotonic_clock,
            },
            generate_all,
        });
    };
}
