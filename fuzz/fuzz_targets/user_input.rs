#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| learnns::fuzzing::user_input(data));
