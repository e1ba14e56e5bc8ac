//! lz-string's `decompressFromBase64`, as older posthog-js versions used for `compression=lz64`.
//! Written from the algorithm's description; output is capped so a crafted input cannot balloon.
use crate::{Error, Result};

const ALPHABET: &[u8; 65] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

struct Bits<'a> {
    input: &'a [u8],
    val: u32,
    position: u32,
    index: usize,
}

impl Bits<'_> {
    fn value(&self, i: usize) -> u32 {
        self.input
            .get(i)
            .and_then(|c| ALPHABET.iter().position(|a| a == c))
            .unwrap_or(0) as u32
    }
    fn read(&mut self, n: u32) -> u32 {
        let mut bits = 0;
        for p in 0..n {
            let b = self.val & self.position;
            self.position >>= 1;
            if self.position == 0 {
                self.position = 32;
                self.val = self.value(self.index);
                self.index += 1;
            }
            if b != 0 {
                bits |= 1 << p;
            }
        }
        bits
    }
}

/// Decode lz-string's base64 form into text. `cap` bounds the output in UTF-16 units.
pub fn decompress_from_base64(input: &str, cap: usize) -> Result<String> {
    let bad = || Error::invalid("lz64 body", "not valid lz-string data");
    let input = input.trim().as_bytes();
    if input.is_empty() || !input.iter().all(|c| ALPHABET.contains(c)) {
        return Err(bad());
    }
    let mut bits = Bits {
        input,
        val: 0,
        position: 32,
        index: 1,
    };
    bits.val = bits.value(0);
    let mut dict: Vec<Vec<u16>> = vec![vec![], vec![], vec![]];
    let mut enlarge_in: u32 = 4;
    let mut num_bits: u32 = 3;
    let mut out: Vec<u16> = Vec::new();
    let c = match bits.read(2) {
        0 => bits.read(8) as u16,
        1 => bits.read(16) as u16,
        _ => return Ok(String::new()),
    };
    dict.push(vec![c]);
    let mut w = vec![c];
    out.push(c);
    loop {
        if bits.index > input.len() {
            return Err(bad());
        }
        let mut code = bits.read(num_bits) as usize;
        match code {
            0 | 1 => {
                let ch = bits.read(if code == 0 { 8 } else { 16 }) as u16;
                dict.push(vec![ch]);
                code = dict.len() - 1;
                enlarge_in -= 1;
            }
            2 => return String::from_utf16(&out).map_err(|_| bad()),
            _ => {}
        }
        if enlarge_in == 0 {
            enlarge_in = 1 << num_bits;
            num_bits += 1;
        }
        let entry = if code < dict.len() {
            dict[code].clone()
        } else if code == dict.len() {
            let mut e = w.clone();
            e.push(w[0]);
            e
        } else {
            return Err(bad());
        };
        out.extend_from_slice(&entry);
        if out.len() > cap {
            return Err(Error::Limit {
                context: "lz64 body".into(),
                what: "decompressed size".into(),
                limit: cap as u64,
                hint: "--max-bytes",
            });
        }
        let mut next = w;
        next.push(entry[0]);
        dict.push(next);
        enlarge_in -= 1;
        w = entry;
        if enlarge_in == 0 {
            enlarge_in = 1 << num_bits;
            num_bits += 1;
        }
        if num_bits > 30 {
            return Err(bad());
        }
    }
}
