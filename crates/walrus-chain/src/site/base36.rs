//! Object IDs as DNS labels, as the reference portal writes them (`base-x` with the alphabet
//! `0-9a-z`): the 32 bytes read as one big-endian number in base 36, one `0` per leading zero
//! byte; read case-insensitively.

use walrus_core::ObjectId;

const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// The label of `id` (at most 50 characters for IDs with no leading zero byte).
pub fn encode(id: &ObjectId) -> String {
    let zeros = id.0.iter().take_while(|&&b| b == 0).count();
    // Repeated division of the big-endian number by 36.
    let mut number: Vec<u8> = id.0[zeros..].to_vec();
    let mut digits = Vec::new();
    while !number.is_empty() {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 36) as u8;
            remainder = value % 36;
        }
        digits.push(ALPHABET[remainder as usize]);
        let lead = number.iter().take_while(|&&b| b == 0).count();
        number.drain(..lead);
    }
    digits.extend(std::iter::repeat_n(b'0', zeros));
    digits.reverse();
    String::from_utf8(digits).expect("ASCII digits")
}

/// The object ID a label names, if it is base36 of exactly 32 bytes.
pub fn decode(label: &str) -> Option<ObjectId> {
    if label.is_empty() || label.len() > 64 {
        return None;
    }
    let label = label.to_ascii_lowercase();
    let zeros = label.bytes().take_while(|&c| c == b'0').count();
    // The number, little-endian bytes, multiplied by 36 and added to digit by digit.
    let mut number: Vec<u8> = Vec::new();
    for c in label.bytes().skip(zeros) {
        let mut carry = ALPHABET.iter().position(|&a| a == c)? as u32;
        for byte in number.iter_mut() {
            let value = u32::from(*byte) * 36 + carry;
            *byte = value as u8;
            carry = value >> 8;
        }
        while carry > 0 {
            number.push(carry as u8);
            carry >>= 8;
        }
    }
    if zeros + number.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (i, b) in number.iter().rev().enumerate() {
        bytes[zeros + i] = *b;
    }
    Some(ObjectId(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_vector() {
        // From the reference site-builder's `util.rs` tests.
        let id: ObjectId =
            "0x05fb8843a23017cbf1c907bd559a2d6191b77bc595d4c83853cca14cc784c0a8".parse().expect("hex");
        let label = "5d8t4gd5q8x4xcfyctpygyr5pnk85x54o7ndeq2j4pg9l7rmw";
        assert_eq!(encode(&id), label);
        assert_eq!(decode(label), Some(id));
        assert_eq!(decode(&label.to_uppercase()), Some(id));
    }

    #[test]
    fn round_trips_and_refuses_what_is_not_32_bytes() {
        for id in [
            ObjectId([0; 32]),
            ObjectId([0xff; 32]),
            ObjectId([0, 0, 7, 1].repeat(8).try_into().expect("32 bytes")),
        ] {
            assert_eq!(decode(&encode(&id)), Some(id), "{}", encode(&id));
        }
        assert_eq!(encode(&ObjectId([0; 32])), "0".repeat(32));
        assert_eq!(decode("docs"), None);
        assert_eq!(decode("not-base36"), None);
        assert_eq!(decode(""), None);
        assert_eq!(decode(&"z".repeat(51)), None);
    }
}
