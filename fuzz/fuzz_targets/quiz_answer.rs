#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| learnns::fuzzing::quiz_answer(data));
