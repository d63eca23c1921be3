//! Fuzz target `gb28181`: the checks of `citygrid_protocols::fuzzing::gb28181`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    citygrid_protocols::fuzzing::gb28181(data);
});
