//! UTC calendar fields of a `SystemTime`, computed by hand (Howard Hinnant's `civil_from_days`)
//! because two hot paths format dates: the signers' `x-acs-date` and `Date` headers on every
//! request (`edas::signer`) and the journal's times, two per change order (`apply::engine`).
//! Pure.

use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC date and time, whole seconds, years 0000 to 9999.
pub(crate) struct Civil {
    pub(crate) year: u32,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    /// 0 is Sunday.
    pub(crate) weekday: u32,
}

/// The first and last second the four-digit forms can show (0000-01-01T00:00:00Z and
/// 9999-12-31T23:59:59Z). A clock outside is clamped to them: the formatters this replaced
/// panicked there instead; the service refuses such a date either way.
pub(crate) const FIRST_SECOND: i64 = -62_167_219_200;
pub(crate) const LAST_SECOND: i64 = 253_402_300_799;

/// The calendar fields of `date` in UTC, clamped to [`FIRST_SECOND`]..=[`LAST_SECOND`].
pub(crate) fn civil(date: SystemTime) -> Civil {
    let seconds = match date.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        // Before 1970: whole seconds round down, as for dates after.
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            let partial = i64::from(before.subsec_nanos() > 0);
            whole.saturating_add(partial).saturating_neg()
        }
    }
    .clamp(FIRST_SECOND, LAST_SECOND);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    // Howard Hinnant's `civil_from_days` (days since 1970-01-01 to the proleptic Gregorian
    // date): eras of 400 years starting on March 1st, so the leap day ends each year.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Every value is within its field's range after the clamp; the conversions cannot fail.
    let small = |value: i64| u32::try_from(value).unwrap_or(0);
    Civil {
        year: small(year),
        month: small(month),
        day: small(day),
        hour: small(of_day / 3_600),
        minute: small(of_day % 3_600 / 60),
        second: small(of_day % 60),
        // 1970-01-01 was a Thursday.
        weekday: small((days + 4).rem_euclid(7)),
    }
}

/// `value`'s last `out.len()` decimal digits, zero-padded, into `out`.
pub(crate) fn put_digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}
