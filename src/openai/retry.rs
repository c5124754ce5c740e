//! Retry policy: which answers are worth resending, and how long to wait first.
//! Mirrors the official SDK (openai-python `_base_client.py`) with a lower cap on hints,
//! because an editor must not hang for minutes (reliability.md §4.3).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

/// Statuses the SDK retries: timeout, lock conflict, rate limit, server errors.
pub fn status_is_retryable(status: u16) -> bool {
    matches!(status, 408 | 409 | 429 | 500..=599)
}

/// `x-should-retry: true|false`, which overrides the status rule both ways.
pub fn should_retry_header(headers: &HeaderMap) -> Option<bool> {
    let v = headers.get("x-should-retry")?.to_str().ok()?.trim();
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Exponential backoff for retry number `n` (0-based): min(0.5 s·2^n, 8 s) × (1 − 0.25·rand).
pub fn backoff(n: u32) -> Duration {
    let base = (0.5 * 2f64.powi(n.min(16) as i32)).min(8.0);
    Duration::from_secs_f64(base * (1.0 - 0.25 * fastrand::f64()))
}

/// The server's hint: `retry-after-ms`, then `retry-after` (seconds or an HTTP date).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    parse_retry_after_value(get("retry-after")?, now)
}

/// `Retry-After` value: delay seconds (fractions tolerated) or an IMF-fixdate.
pub fn parse_retry_after_value(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = parse_http_date(v)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// "Sun, 06 Nov 1994 08:49:37 GMT" (the only format servers must send; RFC 9110 §5.6.7).
fn parse_http_date(s: &str) -> Option<SystemTime> {
    let mut it = s.split_whitespace();
    let _weekday = it.next()?;
    let day: u64 = it.next()?.parse().ok()?;
    let month = match it.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if it.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day as i64);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + sec;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The delay inside an in-stream `rate_limit_exceeded` message: "Please try again in
/// 11.054s" / "in 20ms" / "in 3 seconds" (the pattern codex uses).
pub fn parse_try_again_in(message: &str) -> Option<Duration> {
    let lower = message.to_ascii_lowercase();
    let idx = lower.find("try again in")?;
    let rest = lower[idx + "try again in".len()..].trim_start();
    let num_len = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let value: f64 = rest[..num_len].parse().ok()?;
    let unit = rest[num_len..].trim_start();
    let secs = if unit.starts_with("ms") {
        value / 1000.0
    } else if unit.starts_with('s') {
        value
    } else {
        return None;
    };
    secs.is_finite().then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_bounds() {
        for _ in 0..100 {
            let b0 = backoff(0).as_secs_f64();
            assert!((0.375..=0.5).contains(&b0), "{b0}");
            let b1 = backoff(1).as_secs_f64();
            assert!((0.75..=1.0).contains(&b1), "{b1}");
            let b9 = backoff(9).as_secs_f64();
            assert!((6.0..=8.0).contains(&b9), "{b9}");
        }
        assert!(backoff(u32::MAX) <= Duration::from_secs(8));
    }

    #[test]
    fn retry_after_headers() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert("retry-after", HeaderValue::from_static("600"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(600)));
        h.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(1500)));
        h.remove("retry-after-ms");
        h.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 06 Nov 1994 08:50:07 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 06 Nov 1994 08:00:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
        h.insert("retry-after", HeaderValue::from_static("-3"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn http_date_epoch_math() {
        assert_eq!(
            parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(UNIX_EPOCH)
        );
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        assert_eq!(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), None);
    }

    #[test]
    fn should_retry_and_status() {
        let mut h = HeaderMap::new();
        assert_eq!(should_retry_header(&h), None);
        h.insert("x-should-retry", HeaderValue::from_static("false"));
        assert_eq!(should_retry_header(&h), Some(false));
        h.insert("x-should-retry", HeaderValue::from_static("TRUE"));
        assert_eq!(should_retry_header(&h), Some(true));
        for s in [408, 409, 429, 500, 502, 503, 504] {
            assert!(status_is_retryable(s));
        }
        for s in [400, 401, 403, 404, 422] {
            assert!(!status_is_retryable(s));
        }
    }

    #[test]
    fn try_again_in() {
        let p = parse_try_again_in;
        assert_eq!(
            p("Rate limit reached. Please try again in 11.054s. Visit ..."),
            Some(Duration::from_secs_f64(11.054))
        );
        assert_eq!(p("try again in 20ms"), Some(Duration::from_millis(20)));
        assert_eq!(p("Try again in 3 seconds"), Some(Duration::from_secs(3)));
        assert_eq!(p("try again later"), None);
    }
}
