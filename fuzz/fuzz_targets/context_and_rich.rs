//! The visitor's context and rich messages, as the page or a bot could send them: validation
//! is total, and what it accepts stays within the limits agents' screens rely on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_protocol::context::Context;
use switchboard_protocol::limits::MAX_CONTEXT_BYTES;
use switchboard_protocol::rich::Rich;

fuzz_target!(|data: &[u8]| {
    if let Ok(context) = serde_json::from_slice::<Context>(data) {
        if context.validate().is_ok() {
            let size = serde_json::to_vec(&context).expect("contexts serialize").len();
            assert!(size <= MAX_CONTEXT_BYTES);
        }
    }
    if let Ok(rich) = serde_json::from_slice::<Rich>(data) {
        let _ = (rich.is_empty(), rich.validate());
    }
});
