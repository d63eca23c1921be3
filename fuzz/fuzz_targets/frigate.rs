//! Fuzz target `frigate`: the checks of `citygrid_protocols::fuzzing::frigate`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    citygrid_protocols::fuzzing::frigate(data);
});
