//! The settings-file parser: any text gives variables or problems, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        portcullis::fuzzing::settings_file(text);
    }
});
