//! The small pieces of text both signers write, written by hand because they sit on the path
//! of every request: the two date forms, RFC 3986 percent-encoding by byte table, lowercase
//! hex, and the split of a raw query that needs no decoding. Each one reproduces what the
//! crate it replaced wrote (`humantime`, `httpdate`, `write!("%{:02X}")`, `hex`), byte for
//! byte; the tests below compare them over many inputs. Pure.

use crate::civil_time::{civil, put_digits};
use std::time::SystemTime;

/// Per byte, what it is to the encoders and decoders below (bit flags).
const UNRESERVED: u8 = 1; // RFC 3986 unreserved, `A-Z a-z 0-9 - _ . ~`: V3 leaves it as is
const PATH_PLAIN: u8 = 2; // unreserved or `/`: a V3 path keeps it
const DECODED: u8 = 4; // `%` or `+`: the query decoder changes it

static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut index = 0;
    while index < 256 {
        let byte = index as u8;
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            table[index] = UNRESERVED | PATH_PLAIN;
        } else if byte == b'/' {
            table[index] = PATH_PLAIN;
        } else if matches!(byte, b'%' | b'+') {
            table[index] = DECODED;
        }
        index += 1;
    }
    table
};

/// True when every byte of `text` has `flag`; no early exit, so the loop has no branch.
fn all_have(text: &[u8], flag: u8) -> bool {
    text.iter()
        .fold(flag, |all, &byte| all & CLASS[usize::from(byte)])
        == flag
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

pub(super) fn is_unreserved(byte: u8) -> bool {
    CLASS[usize::from(byte)] & UNRESERVED != 0
}

/// True when every byte is unreserved or `/`: such a path is its own decoding and its own
/// encoding, the case of every path this tool sends.
pub(super) fn is_plain_path(path: &str) -> bool {
    all_have(path.as_bytes(), PATH_PLAIN)
}

/// True when every byte is unreserved: percent-encoding leaves such text as it is.
pub(super) fn is_plain(text: &str) -> bool {
    all_have(text.as_bytes(), UNRESERVED)
}

/// Appends `text` percent-encoded: unreserved characters and the bytes in `keep` as they
/// are, everything else `%XX` with uppercase hex.
pub(super) fn push_percent_encoded(out: &mut String, text: &str, keep: &[u8]) {
    for byte in text.bytes() {
        if is_unreserved(byte) || keep.contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(byte >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(byte & 0x0f)]));
        }
    }
}

/// A header value as the V3 canonical request shows it: `str::trim`, without its Unicode
/// scan when the value starts and ends with a visible ASCII character (every Unicode space
/// is outside ASCII, so there is nothing to trim).
pub(super) fn trim_header_value(value: &str) -> &str {
    let solid = |byte: &u8| (0x21..0x7f).contains(byte);
    let bytes = value.as_bytes();
    if bytes.first().is_some_and(solid) && bytes.last().is_some_and(solid) {
        value
    } else {
        value.trim()
    }
}

/// Lowercase hex of `bytes` into `out`, two characters a byte; `out` must be twice as long.
pub(super) fn hex_lower_into(bytes: &[u8], out: &mut [u8]) {
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX_LOWER[usize::from(byte >> 4)];
        pair[1] = HEX_LOWER[usize::from(byte & 0x0f)];
    }
}

/// Lowercase hex of `bytes` appended to `out`.
pub(super) fn push_hex_lower(out: &mut String, bytes: &[u8]) {
    for byte in bytes {
        out.push(char::from(HEX_LOWER[usize::from(byte >> 4)]));
        out.push(char::from(HEX_LOWER[usize::from(byte & 0x0f)]));
    }
}

/// How many query pairs the allocation-free split holds; our requests carry two.
pub(super) const MAX_PLAIN_PAIRS: usize = 8;

/// A raw query split by [`split_plain_query`].
pub(super) struct PlainQuery {
    /// How many pairs were written.
    pub(super) count: usize,
    /// Every key and value is made of unreserved characters only: percent-encoding leaves
    /// each as it is (V3 can sign them as they are).
    pub(super) unreserved: bool,
}

/// The pairs of a raw query split the way `decode_query` splits it (`&` between pairs, empty
/// pairs skipped, the key up to the first `=`, no `=` at all: no value), but borrowed, for a
/// raw query in which no byte needs decoding (no `%`, no `+`). `None` when
/// decoding is needed or there are more than [`MAX_PLAIN_PAIRS`] pairs: the caller then
/// decodes with `decode_query`.
pub(super) fn split_plain_query<'a>(
    raw_query: &'a str,
    pairs: &mut [(&'a str, Option<&'a str>); MAX_PLAIN_PAIRS],
) -> Option<PlainQuery> {
    let mut count = 0;
    let mut unreserved = true;
    for pair in raw_query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = match pair.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (pair, None),
        };
        let mut any = 0;
        let mut all = UNRESERVED;
        for &byte in key.as_bytes().iter().chain(value.unwrap_or("").as_bytes()) {
            let class = CLASS[usize::from(byte)];
            any |= class;
            all &= class;
        }
        if any & DECODED != 0 {
            return None;
        }
        unreserved &= all == UNRESERVED;
        *pairs.get_mut(count)? = (key, value);
        count += 1;
    }
    Some(PlainQuery { count, unreserved })
}

/// `2026-11-01T00:00:00Z`: the `x-acs-date` of signature V3.
pub(super) fn acs3_date(date: SystemTime) -> [u8; 20] {
    let time = civil(date);
    let mut text = *b"0000-00-00T00:00:00Z";
    put_digits(&mut text[0..4], time.year);
    put_digits(&mut text[5..7], time.month);
    put_digits(&mut text[8..10], time.day);
    put_digits(&mut text[11..13], time.hour);
    put_digits(&mut text[14..16], time.minute);
    put_digits(&mut text[17..19], time.second);
    text
}

/// `Sun, 01 Nov 2026 00:00:00 GMT` (RFC 9110 IMF-fixdate): the `Date` of ROA v1.
pub(super) fn http_date(date: SystemTime) -> [u8; 29] {
    const WEEKDAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let time = civil(date);
    let mut text = *b"Sun, 00 Jan 0000 00:00:00 GMT";
    let weekday = WEEKDAYS[time.weekday as usize % 7];
    let month = MONTHS[(time.month as usize).clamp(1, 12) - 1];
    text[0..3].copy_from_slice(weekday);
    put_digits(&mut text[5..7], time.day);
    text[8..11].copy_from_slice(month);
    put_digits(&mut text[12..16], time.year);
    put_digits(&mut text[17..19], time.hour);
    put_digits(&mut text[20..22], time.minute);
    put_digits(&mut text[23..25], time.second);
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;
    use std::time::Duration;
    use std::time::UNIX_EPOCH;

    /// Seconds spread over 1970..9999 plus the edges: leap days, century years, year ends.
    fn sample_seconds() -> Vec<u64> {
        let mut seconds: Vec<u64> = vec![
            0,
            59,
            86_399,
            86_400,
            951_782_400,   // 2000-02-29
            951_868_799,   // 2000-02-29T23:59:59
            4_107_542_400, // 2100-03-01
            4_107_455_999, // 2100-02-28T23:59:59
            1_793_491_200, // 2026-11-01
            253_402_300_799,
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            // xorshift: deterministic, no dependency.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            seconds.push(state % 253_402_300_800);
        }
        seconds
    }

    #[test]
    fn the_acs3_date_is_what_humantime_wrote() {
        for second in sample_seconds() {
            let date = UNIX_EPOCH + Duration::new(second, 999_999_999);
            assert_eq!(
                std::str::from_utf8(&acs3_date(date)).unwrap(),
                humantime::format_rfc3339_seconds(date).to_string(),
                "{second}"
            );
        }
    }

    #[test]
    fn the_http_date_is_what_httpdate_wrote() {
        for second in sample_seconds() {
            let date = UNIX_EPOCH + Duration::new(second, 500_000_000);
            assert_eq!(
                std::str::from_utf8(&http_date(date)).unwrap(),
                httpdate::fmt_http_date(date),
                "{second}"
            );
        }
    }

    #[test]
    fn dates_before_1970_and_after_9999_are_clamped_not_a_panic() {
        let before = UNIX_EPOCH - Duration::from_millis(500);
        assert_eq!(&acs3_date(before), b"1969-12-31T23:59:59Z");
        assert_eq!(&http_date(before), b"Wed, 31 Dec 1969 23:59:59 GMT");
        let long_ago = UNIX_EPOCH - Duration::from_secs(70_000_000_000);
        assert_eq!(&acs3_date(long_ago), b"0000-01-01T00:00:00Z");
        let far = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert_eq!(&acs3_date(far), b"9999-12-31T23:59:59Z");
        assert_eq!(&http_date(far), b"Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn percent_encoding_by_table_is_the_formatted_one_for_every_byte() {
        for byte in 0..=255u8 {
            let mut expected = String::new();
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
                expected.push(char::from(byte));
            } else {
                write!(expected, "%{byte:02X}").unwrap();
            }
            let mut encoded = String::new();
            let text = [byte];
            // Bytes above 0x7f are not text alone; encode them as part of a UTF-8 sequence.
            if let Ok(text) = std::str::from_utf8(&text) {
                push_percent_encoded(&mut encoded, text, b"/");
                assert_eq!(encoded, expected, "{byte:#x}");
            }
        }
        let mut encoded = String::new();
        push_percent_encoded(&mut encoded, "é ~*+/", b"");
        assert_eq!(encoded, "%C3%A9%20~%2A%2B%2F");
    }

    #[test]
    fn the_header_value_trim_is_str_trim() {
        for value in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta b\t",
            "\u{a0}x\u{a0}",
            "x\u{2003}",
            "\u{1c}x",
            "é",
        ] {
            assert_eq!(trim_header_value(value), value.trim(), "{value:?}");
        }
    }

    #[test]
    fn hex_is_what_the_hex_crate_writes() {
        let bytes: Vec<u8> = (0..=255).collect();
        let mut text = String::new();
        push_hex_lower(&mut text, &bytes);
        assert_eq!(text, hex::encode(&bytes));
        let mut out = [0u8; 512];
        hex_lower_into(&bytes, &mut out);
        assert_eq!(std::str::from_utf8(&out).unwrap(), hex::encode(&bytes));
    }

    #[test]
    fn the_plain_split_is_decode_query_when_nothing_needs_decoding() {
        for raw in [
            "ChangeOrderId=6b55106c-c7f2&RegionId=cn-hangzhou",
            "a=1&&b&c=&=d&e=f=g",
            "",
            "&",
        ] {
            let mut pairs = [("", None); MAX_PLAIN_PAIRS];
            let count = split_plain_query(raw, &mut pairs).unwrap().count;
            let split: Vec<(String, Option<String>)> = pairs[..count]
                .iter()
                .map(|(key, value)| (key.to_string(), value.map(str::to_string)))
                .collect();
            assert_eq!(split, super::super::decode_query(raw), "{raw}");
        }
        let mut pairs = [("", None); MAX_PLAIN_PAIRS];
        assert!(split_plain_query("a=b+c", &mut pairs).is_none());
        assert!(split_plain_query("a=%20", &mut pairs).is_none());
        assert!(split_plain_query(&"a&".repeat(9), &mut pairs).is_none());
        let unreserved = |raw| split_plain_query(raw, &mut [("", None); MAX_PLAIN_PAIRS]);
        assert!(
            unreserved("Id=6b55-c7f2_x.y~z&RegionId=cn-hangzhou")
                .unwrap()
                .unreserved
        );
        for needs_encoding in ["a=b=c", "a*=1", "a=é", "a=/"] {
            assert!(
                !unreserved(needs_encoding).unwrap().unreserved,
                "{needs_encoding}"
            );
        }
    }
}
