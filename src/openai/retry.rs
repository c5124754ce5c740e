//! Retry policy: which answers are worth resending, and how long to wait first.
//! Mirrors the official SDK (openai-python `_base_client.py`) with a lower cap on hints,
//! because an editor must not hang for minutes (reliability.md §4.3).

use std::time::{Duration, SystemTime};

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

/// No server hint is believed beyond this; a longer one is clamped to it. Hints above
/// `ClientConfig::max_retry_wait` fail at once anyway, so this only bounds what a
/// message can claim ("retry in ~1440 min") and keeps all arithmetic finite.
pub const MAX_HINT: Duration = Duration::from_secs(24 * 60 * 60);

/// Seconds from the network -> a delay, never panicking: negative or NaN is no hint,
/// anything huge (1e30, 2^64, inf) is [`MAX_HINT`].
pub fn hint_from_secs(secs: f64) -> Option<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    Some(
        Duration::try_from_secs_f64(secs)
            .unwrap_or(MAX_HINT)
            .min(MAX_HINT),
    )
}

/// The server's hint: `retry-after-ms`, then `retry-after` (seconds or an HTTP date).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok())
        && let Some(d) = hint_from_secs(ms / 1000.0)
    {
        return Some(d);
    }
    parse_retry_after_value(get("retry-after")?, now)
}

/// `Retry-After` value: delay seconds (fractions tolerated) or an HTTP date (parsed by
/// `httpdate`, which rejects out-of-range years instead of overflowing `SystemTime`).
pub fn parse_retry_after_value(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return hint_from_secs(secs);
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_HINT),
    )
}

/// The delay inside an in-stream `rate_limit_exceeded` message: "Please try again in
/// 11.054s" / "in 20ms" / "in 3 seconds" (the pattern codex uses).
pub fn parse_try_again_in(message: &str) -> Option<Duration> {
    let lower = message.to_ascii_lowercase();
    let idx = lower.find("try again in")?;
    let rest = lower[idx + "try again in".len()..].trim_start();
    // Digits, a fraction and an exponent ("1e23s" is a number, then the unit).
    let bytes = rest.as_bytes();
    let mut num_len = 0;
    while let Some(&b) = bytes.get(num_len) {
        let exponent = b == b'e'
            && num_len > 0
            && bytes
                .get(num_len + 1)
                .is_some_and(|n| n.is_ascii_digit() || *n == b'+' || *n == b'-');
        let sign = (b == b'+' || b == b'-') && num_len > 0 && bytes[num_len - 1] == b'e';
        if b.is_ascii_digit() || b == b'.' || exponent || sign {
            num_len += 1;
        } else {
            break;
        }
    }
    let value: f64 = rest[..num_len].parse().ok()?;
    let unit = rest[num_len..].trim_start();
    let secs = if unit.starts_with("ms") {
        value / 1000.0
    } else if unit.starts_with('s') {
        value
    } else {
        return None;
    };
    hint_from_secs(secs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use reqwest::header::HeaderValue;
    use std::time::UNIX_EPOCH;

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
    fn http_dates() {
        let now = UNIX_EPOCH;
        assert_eq!(
            parse_retry_after_value("Thu, 01 Jan 1970 00:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after_value("Sun, 06 Foo 1994 08:49:37 GMT", now),
            None
        );
    }

    /// Regression: these values panicked in `Duration::from_secs_f64` or overflowed
    /// `SystemTime` arithmetic. Each is either no hint or a hint clamped to MAX_HINT.
    #[test]
    fn hostile_hints_never_panic() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for v in [
            "1e30",
            "18446744073709551616",
            "1e308",
            "inf",
            "99999999999999999999999999999999",
        ] {
            assert_eq!(parse_retry_after_value(v, now), Some(MAX_HINT), "{v}");
        }
        for v in [
            "NaN",
            "-1e30",
            "Tue, 01 Jan 300000000000 00:00:00 GMT",
            "Sun, 06 Nov 99999 08:49:37 GMT",
            "",
        ] {
            assert_eq!(parse_retry_after_value(v, now), None, "{v}");
        }
        assert_eq!(
            parse_retry_after_value("Fri, 31 Dec 9999 23:59:59 GMT", now),
            Some(MAX_HINT)
        );
        let mut h = HeaderMap::new();
        h.insert("retry-after-ms", HeaderValue::from_static("1e300"));
        assert_eq!(retry_after(&h, now), Some(MAX_HINT));
        h.insert("retry-after-ms", HeaderValue::from_static("NaN"));
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(2)));
        assert_eq!(parse_try_again_in("try again in 1e23s"), Some(MAX_HINT));
        assert_eq!(
            parse_try_again_in("try again in 100000000000000000000000s"),
            Some(MAX_HINT)
        );
        assert_eq!(
            parse_try_again_in("try again in 1e-3s"),
            Some(Duration::from_millis(1))
        );
        assert_eq!(parse_try_again_in("try again in 1e400ms"), Some(MAX_HINT));
        assert_eq!(parse_try_again_in("try again in e5s"), None);
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
