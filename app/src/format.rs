//! How numbers and times read on the dashboard.

// Numbers are formatted with integer arithmetic: `{:.2}` on a float would pull
// the float printing machinery (about 10 KB) into the browser bundle.

/// The fewest and the most decimals a price is shown with.
pub const MIN_DECIMALS: u32 = 2;
/// Beyond this, digits are noise (a price of 1e-9 shows as 0.00000000).
pub const MAX_DECIMALS: u32 = 8;

/// `value` rounded to `decimals` places, without a sign: `(whole, fraction)`.
/// A float holds about 15 significant digits: past them (a price of billions
/// with 8 decimals) the decimals are fewer, never noise.
fn fixed(value: f64, decimals: u32) -> (u64, String) {
    let mut decimals = decimals;
    while decimals > MIN_DECIMALS && value.abs() * 10u64.pow(decimals) as f64 >= 1e15 {
        decimals -= 1;
    }
    let scale = 10u64.pow(decimals);
    let scaled = (value.abs() * scale as f64).round() as u64;
    let width = decimals as usize;
    (scaled / scale, format!("{:0width$}", scaled % scale))
}

/// How many decimals `value` carries: the fewest (from [`MIN_DECIMALS`] to
/// [`MAX_DECIMALS`]) that write it exactly, up to the float's own noise.
pub fn decimals_of(value: f64) -> u32 {
    let mut decimals = MIN_DECIMALS;
    while decimals < MAX_DECIMALS {
        let scale = 10u64.pow(decimals) as f64;
        let rounded = (value * scale).round() / scale;
        if (rounded - value).abs() <= value.abs() * 1e-12 {
            break;
        }
        decimals += 1;
    }
    decimals
}

/// `whole` with a comma between each group of three digits.
fn grouped(whole: u64) -> String {
    let digits = whole.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// A price with `decimals` decimals and thousands separators: `1,234.50`,
/// `1.08345`.
pub fn price(value: f64, decimals: u32) -> String {
    let (whole, fraction) = fixed(value, decimals);
    let sign = minus(value, whole, &fraction);
    format!("{sign}{}.{fraction}", grouped(whole))
}

/// `-` for a negative value that does not round to zero, as written.
fn minus(value: f64, whole: u64, fraction: &str) -> &'static str {
    let zero = whole == 0 && fraction.bytes().all(|b| b == b'0');
    if value < 0.0 && !zero { "-" } else { "" }
}

/// A number with `decimals` decimals and nothing added for display (no
/// thousands separators, no `+`, an ASCII `-`): `1234.50`, `-0.00040`. For
/// machines: CSV cells and data attributes.
pub fn plain(value: f64, decimals: u32) -> String {
    let (whole, fraction) = fixed(value, decimals);
    let sign = minus(value, whole, &fraction);
    format!("{sign}{whole}.{fraction}")
}

/// An instant in ISO 8601, UTC, to the millisecond: `2026-12-03T19:04:05.006Z`.
pub fn iso_utc(ts_ms: u64) -> String {
    let days = ts_ms / 86_400_000;
    let (h, m, s) = utc_hms(ts_ms);
    let ms = ts_ms % 1000;
    // Howard Hinnant's days-to-civil, for days since 1970-01-01 (never negative here).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

/// A signed change with `decimals` decimals: `+1.25`, `−0.00040`, `0.00`.
///
/// Negative numbers use the typographic minus sign, which lines up with `+`.
pub fn change(value: f64, decimals: u32) -> String {
    signed(value, decimals, "")
}

/// A signed percentage with two decimals: `+0.65%`.
pub fn percent(value: f64) -> String {
    signed(value, 2, "%")
}

fn signed(value: f64, decimals: u32, unit: &str) -> String {
    let (whole, fraction) = fixed(value, decimals);
    let sign = match trend_class(value, decimals) {
        "up" => "+",
        "down" => "\u{2212}",
        _ => "",
    };
    format!("{sign}{}.{fraction}{unit}", grouped(whole))
}

/// Whether a change is up, down or flat at `decimals` decimals, as a CSS class.
pub fn trend_class(value: f64, decimals: u32) -> &'static str {
    let rounded = (value * 10u64.pow(decimals) as f64).round();
    if rounded > 0.0 {
        "up"
    } else if rounded < 0.0 {
        "down"
    } else {
        "flat"
    }
}

/// A time of day, `HH:MM:SS`, from milliseconds since the Unix epoch: the
/// viewer's local time when `local` is set and this runs in the browser, UTC
/// otherwise (the server cannot know the viewer's time zone).
pub fn time_of_day(ts_ms: u64, local: bool) -> String {
    let (h, m, s) = if local {
        local_hms(ts_ms)
    } else {
        utc_hms(ts_ms)
    };
    format!("{h:02}:{m:02}:{s:02}")
}

fn utc_hms(ts_ms: u64) -> (u32, u32, u32) {
    let secs_of_day = (ts_ms / 1000) % 86_400;
    let secs_of_day = u32::try_from(secs_of_day).unwrap_or_default();
    (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60)
}

/// How long ago something happened, from a duration in milliseconds: `now`,
/// `42s`, `3m 05s`, `2h 07m`. Negative durations (clock skew) read `now`.
pub fn age(ms: f64) -> String {
    let secs = (ms / 1000.0).floor();
    if secs < 1.0 {
        return "now".to_owned();
    }
    let secs = secs as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, secs / 60 % 60),
    }
}

/// Whole seconds until a deadline `ms` away, never below zero: `3 s`.
pub fn countdown(ms: f64) -> String {
    let secs = (ms / 1000.0).ceil().max(0.0) as u64;
    format!("{secs} s")
}

/// A duration in milliseconds, whole below ten seconds: `8 ms`, `1,250 ms`,
/// `12.3 s`.
pub fn millis(ms: f64) -> String {
    if ms.abs() < 10_000.0 {
        format!("{} ms", grouped(fixed(ms, 0).0))
    } else {
        let (whole, tenths) = fixed(ms / 1000.0, 1);
        format!("{whole}.{tenths} s")
    }
}

/// A signed duration in milliseconds, for the clock offset: `+12 ms`, `−3 ms`.
pub fn signed_millis(ms: f64) -> String {
    let rounded = ms.round();
    if rounded > 0.0 {
        format!("+{}", millis(rounded))
    } else if rounded < 0.0 {
        format!("\u{2212}{}", millis(-rounded))
    } else {
        "0 ms".to_owned()
    }
}

/// A rate per second with one decimal: `49.8/s`.
pub fn rate(per_second: f64) -> String {
    let (whole, tenths) = fixed(per_second, 1);
    format!("{whole}.{tenths}/s")
}

/// The `points` of a sparkline polyline drawn in a `width` × `height` box: the
/// prices from left to right, the lowest at the bottom and the highest at the
/// top (a flat line in the middle when they are all equal).
pub fn sparkline_points(
    prices: impl ExactSizeIterator<Item = f64> + Clone,
    width: f64,
    height: f64,
) -> String {
    let n = prices.len();
    let (low, high) = prices
        .clone()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p), hi.max(p))
        });
    let step = if n > 1 { width / (n - 1) as f64 } else { 0.0 };
    let mut points = String::with_capacity(n * 10);
    for (i, price) in prices.enumerate() {
        let y = if high > low {
            height - (price - low) / (high - low) * height
        } else {
            height / 2.0
        };
        if i > 0 {
            points.push(' ');
        }
        let (x, x_tenths) = fixed(i as f64 * step, 1);
        let (y, y_tenths) = fixed(y, 1);
        points.push_str(&format!("{x}.{x_tenths},{y}.{y_tenths}"));
    }
    points
}

#[cfg(feature = "hydrate")]
fn local_hms(ts_ms: u64) -> (u32, u32, u32) {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ts_ms as f64));
    (date.get_hours(), date.get_minutes(), date.get_seconds())
}

#[cfg(not(feature = "hydrate"))]
fn local_hms(ts_ms: u64) -> (u32, u32, u32) {
    utc_hms(ts_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers_have_their_decimals_and_nothing_else() {
        assert_eq!(plain(1234.5, 2), "1234.50");
        assert_eq!(plain(-0.0004, 5), "-0.00040");
        assert_eq!(plain(-0.001, 2), "0.00");
        assert_eq!(plain(1_234_567.891, 3), "1234567.891");
    }

    #[test]
    fn instants_read_as_iso_8601_utc() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_utc(1_796_324_645_006), "2026-12-03T19:04:05.006Z");
    }

    #[test]
    fn prices_have_their_decimals_and_grouped_thousands() {
        assert_eq!(price(0.5, 2), "0.50");
        assert_eq!(price(189.532, 2), "189.53");
        assert_eq!(price(1234.5, 2), "1,234.50");
        assert_eq!(price(1_234_567.891, 2), "1,234,567.89");
        assert_eq!(price(999.999, 2), "1,000.00");
        assert_eq!(price(1.08345, 5), "1.08345");
        assert_eq!(price(0.00001234, 8), "0.00001234");
        // The largest price, at the most decimals: no overflow, no noise.
        assert_eq!(price(1e12, 8), "1,000,000,000,000.00");
        assert_eq!(price(184_467_440_737.15, 8), "184,467,440,737.150");
    }

    #[test]
    fn a_price_carries_the_decimals_it_was_written_with() {
        for (value, decimals) in [
            (228.5, 2),
            (228.61, 2),
            (1.08345, 5),
            (0.0001, 4),
            (0.00001234, 8),
            (1.0 / 3.0, 8),
            (1e-9, 8),
            (184_467_440_737.15, 2),
            (1e12, 2),
        ] {
            assert_eq!(decimals_of(value), decimals, "{value}");
        }
    }

    #[test]
    fn changes_are_signed_and_never_negative_zero() {
        assert_eq!(change(1.254, 2), "+1.25");
        assert_eq!(change(-0.4, 2), "\u{2212}0.40");
        assert_eq!(change(-0.001, 2), "0.00");
        assert_eq!(change(-0.00045, 5), "\u{2212}0.00045");
        assert_eq!(change(12_345.5, 2), "+12,345.50");
        assert_eq!(percent(0.651), "+0.65%");
        assert_eq!(trend_class(-0.001, 2), "flat");
        assert_eq!(trend_class(-0.01, 2), "down");
        assert_eq!(trend_class(-0.00045, 5), "down");
    }

    #[test]
    fn ages_durations_and_rates() {
        assert_eq!(age(-50.0), "now");
        assert_eq!(age(999.0), "now");
        assert_eq!(age(42_500.0), "42s");
        assert_eq!(age(185_000.0), "3m 05s");
        assert_eq!(age(7_620_000.0), "2h 07m");
        assert_eq!(countdown(2_100.0), "3 s");
        assert_eq!(countdown(-5.0), "0 s");
        assert_eq!(millis(7.6), "8 ms");
        assert_eq!(millis(1_250.0), "1,250 ms");
        assert_eq!(millis(12_340.0), "12.3 s");
        assert_eq!(signed_millis(12.2), "+12 ms");
        assert_eq!(signed_millis(-3.0), "\u{2212}3 ms");
        assert_eq!(signed_millis(0.3), "0 ms");
        assert_eq!(rate(49.84), "49.8/s");
    }

    #[test]
    fn sparklines_span_the_box() {
        let points = sparkline_points([10.0, 12.0, 11.0].into_iter(), 60.0, 20.0);
        assert_eq!(points, "0.0,20.0 30.0,0.0 60.0,10.0");
        assert_eq!(sparkline_points([5.0].into_iter(), 60.0, 20.0), "0.0,10.0");
    }

    #[test]
    fn times_are_hours_minutes_seconds() {
        // 2025-11-23T12:34:56.789Z
        assert_eq!(time_of_day(1_763_901_296_789, false), "12:34:56");
    }
}
