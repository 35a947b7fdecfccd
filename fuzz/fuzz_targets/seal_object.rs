//! Seal's `EncryptedObject` (`walrus_seal::object`), as a reader of a stored blob or a
//! downloaded file decodes it: any bytes either are refused with an error or decode to an
//! object whose encoding is exactly those bytes; decrypting a decoded object with keys that are
//! not its own fails with an error, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use walrus_seal::EncryptedObject;

fuzz_target!(|data: &[u8]| {
    let Ok(object) = EncryptedObject::from_bytes(data) else { return };
    assert_eq!(object.to_bytes(), data, "decoding is canonical");
    // A G1 point that is no one's key for this identity (the compressed generator).
    let mut generator = [0u8; 48];
    generator.copy_from_slice(&hex_g1_generator());
    let keys: Vec<([u8; 32], [u8; 48])> = object.services.iter().map(|(id, _)| (*id, generator)).collect();
    let _ = walrus_seal::decrypt(&object, &keys, None);
});

fn hex_g1_generator() -> [u8; 48] {
    const G1: &str = "97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb";
    let mut out = [0u8; 48];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&G1[2 * i..2 * i + 2], 16).expect("hex");
    }
    out
}
