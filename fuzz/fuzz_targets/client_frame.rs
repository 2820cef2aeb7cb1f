//! Every frame a client can send: decoding classifies any input without panicking, and a
//! frame that decodes and validates still decodes from its own encoding (what the relay
//! stores and forwards).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_protocol::ClientMsg;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ClientMsg::decode(text) {
        Ok(msg) => {
            let _ = msg.kind();
            if msg.validate().is_ok() {
                let again = ClientMsg::decode(&msg.to_json());
                assert!(again.is_ok(), "{msg:?} does not decode from its own JSON");
            }
        }
        Err(e) => {
            let _ = (e.code(), e.to_string());
        }
    }
});
