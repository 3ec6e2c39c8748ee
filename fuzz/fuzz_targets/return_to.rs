//! `return_to` validation: never panics, and what it accepts stays on our
//! origin when a browser resolves it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(path) = portcullis::fuzzing::return_to(value) {
        assert!(path.starts_with('/') && !path.starts_with("//"), "{path:?}");
        assert!(!path.contains('\\'), "{path:?}");
    }
});
