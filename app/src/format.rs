//! How numbers and times read on the dashboard.

/// A price with two decimals and thousands separators: `1,234.50`.
pub fn price(value: f64) -> String {
    let text = format!("{value:.2}");
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let (sign, digits) = match whole.strip_prefix('-') {
        Some(digits) => ("-", digits),
        None => ("", whole),
    };
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}.{cents}")
}

/// A signed change with two decimals: `+1.25`, `−0.40`, `0.00`.
///
/// Negative numbers use the typographic minus sign, which lines up with `+`.
pub fn change(value: f64) -> String {
    signed(value, "")
}

/// A signed percentage with two decimals: `+0.65%`.
pub fn percent(value: f64) -> String {
    signed(value, "%")
}

fn signed(value: f64, unit: &str) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    if rounded > 0.0 {
        format!("+{rounded:.2}{unit}")
    } else if rounded < 0.0 {
        format!("\u{2212}{:.2}{unit}", -rounded)
    } else {
        format!("0.00{unit}")
    }
}

/// Whether a change is up, down or flat, as a CSS class.
pub fn trend_class(value: f64) -> &'static str {
    let rounded = (value * 100.0).round();
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
    fn prices_have_two_decimals_and_grouped_thousands() {
        assert_eq!(price(0.5), "0.50");
        assert_eq!(price(189.532), "189.53");
        assert_eq!(price(1234.5), "1,234.50");
        assert_eq!(price(1_234_567.891), "1,234,567.89");
        assert_eq!(price(999.999), "1,000.00");
    }

    #[test]
    fn changes_are_signed_and_never_negative_zero() {
        assert_eq!(change(1.254), "+1.25");
        assert_eq!(change(-0.4), "\u{2212}0.40");
        assert_eq!(change(-0.001), "0.00");
        assert_eq!(percent(0.651), "+0.65%");
        assert_eq!(trend_class(-0.001), "flat");
        assert_eq!(trend_class(-0.01), "down");
    }

    #[test]
    fn times_are_hours_minutes_seconds() {
        // 2025-11-23T12:34:56.789Z
        assert_eq!(time_of_day(1_763_901_296_789, false), "12:34:56");
    }
}
