//! Plain-text tables and the formats of times, sizes, durations and dollars the cloud commands
//! print.

use hawkins::time::format_rfc3339;

/// Columns left-aligned to their widest cell, two spaces apart, a header line first; no trailing
/// spaces. No rows: the header and `(none)`.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let w = cell.chars().count();
            match widths.get_mut(i) {
                Some(width) => *width = (*width).max(w),
                None => widths.push(w),
            }
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            let pad = widths[i].saturating_sub(cell.chars().count());
            out.extend(std::iter::repeat_n(' ', pad));
        }
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        out.push('\n');
        out
    };
    let mut out = line(&mut headers.iter().copied());
    if rows.is_empty() {
        out.push_str("(none)\n");
    }
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// A time as `2026-11-27 19:57Z`, or `-`.
pub fn time(seconds: Option<i64>) -> String {
    match seconds {
        Some(t) => {
            let text = format_rfc3339(t);
            // 2026-11-27T19:57:19Z → 2026-11-27 19:57Z
            match (text.get(..10), text.get(11..16)) {
                (Some(date), Some(hm)) => format!("{date} {hm}Z"),
                _ => text,
            }
        }
        None => "-".into(),
    }
}

/// A duration as `45s`, `12m`, `3h 05m` or `2d 04h`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// Bytes as `512 B`, `1.5 KiB`, `12.0 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Dollars with cents (an empty sum's -0.0 shows as $0.00).
pub fn usd(amount: f64) -> String {
    format!("${:.2}", amount + 0.0)
}

/// `1 job`, `2 jobs`.
pub fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("{n} {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_without_trailing_spaces() {
        let text = render(
            &["NAME", "STATUS"],
            &[
                vec!["hawkins-chatbot-eleven".into(), "InService".into()],
                vec!["x".into(), "".into()],
            ],
        );
        assert_eq!(
            text,
            "NAME                    STATUS\nhawkins-chatbot-eleven  InService\nx\n"
        );
        assert_eq!(render(&["A", "B"], &[]), "A  B\n(none)\n");
    }

    #[test]
    fn cells_are_measured_in_characters() {
        let text = render(&["WHO", "X"], &[vec!["Élevén".into(), "1".into()]]);
        assert_eq!(text, "WHO     X\nÉlevén  1\n");
    }

    #[test]
    fn formats() {
        assert_eq!(time(Some(1_795_809_439)), "2026-11-27 19:57Z");
        assert_eq!(time(None), "-");
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(600), "10m");
        assert_eq!(duration(3_900), "1h 05m");
        assert_eq!(duration(2 * 86_400 + 4 * 3600), "2d 04h");
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(12 * 1024 * 1024), "12.0 MiB");
        assert_eq!(usd(2.5), "$2.50");
        assert_eq!(usd(Vec::<f64>::new().into_iter().sum()), "$0.00");
        assert_eq!(count(1, "job"), "1 job");
        assert_eq!(count(0, "endpoint config"), "0 endpoint configs");
    }
}
