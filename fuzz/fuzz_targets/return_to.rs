//! `return_to` validation: never panics, and what it accepts stays on our
//! origin when a browser resolves it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(path) = server::flow::return_to::validate(value) {
        assert!(path.starts_with('/') && !path.starts_with("//"), "{path:?}");
        assert!(!path.contains('\\'), "{path:?}");
    }
});
