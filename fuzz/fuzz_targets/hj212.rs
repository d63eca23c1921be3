//! Fuzz target `hj212`: the checks of `citygrid_protocols::fuzzing::hj212`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    citygrid_protocols::fuzzing::hj212(data);
});
