//! Calendar time for group-by labels: CF time units, the CF calendars, and the
//! groupings climate code uses (`month`, `dayofyear`, `season`, `year`).
//!
//! A time axis is described as an origin date and offsets in a unit — CF's
//! `"days since 2001-01-01"` — either from a store's `time` coordinate or from the
//! CLI's `--time-origin` and `--time-step`. Offsets become calendar dates in the
//! coordinate's calendar: `standard`/`gregorian`/`proleptic_gregorian` (the proleptic
//! Gregorian calendar, exact for any date after 1582), `noleap`/`365_day`,
//! `all_leap`/`366_day` and `360_day` (model calendars), so a climatology of model
//! output with no leap days groups its days correctly.
//!
//! ```
//! use chunkwise::time::{Calendar, CfTime, GroupBy};
//! let t = CfTime::parse_units("days since 2001-01-01", Calendar::Standard).unwrap();
//! let days: Vec<f64> = (0..365).map(f64::from).collect();
//! let (labels, n) = GroupBy::Month.labels(&t, &days).unwrap();
//! assert_eq!(n, 12);
//! assert_eq!((labels[0], labels[31], labels[364]), (0, 1, 11));
//! ```

use crate::error::{Error, Result};

/// A CF calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Calendar {
    /// Proleptic Gregorian (CF `standard`, `gregorian`, `proleptic_gregorian`).
    Standard,
    /// 365 days every year (`noleap`, `365_day`).
    NoLeap,
    /// 366 days every year (`all_leap`, `366_day`).
    AllLeap,
    /// Twelve 30-day months (`360_day`).
    Day360,
}

impl Calendar {
    /// Parses a CF `calendar` attribute.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a calendar this crate does not implement (`julian`).
    pub fn parse(s: &str) -> Result<Calendar> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "standard" | "gregorian" | "proleptic_gregorian" | "" => Calendar::Standard,
            "noleap" | "365_day" => Calendar::NoLeap,
            "all_leap" | "366_day" => Calendar::AllLeap,
            "360_day" => Calendar::Day360,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unsupported CF calendar '{other}' (standard, proleptic_gregorian, noleap, all_leap, 360_day)"
                )));
            }
        })
    }

    fn month_lengths(self, year: i64) -> [i64; 12] {
        let leap = match self {
            Calendar::Standard => (year % 4 == 0 && year % 100 != 0) || year % 400 == 0,
            Calendar::NoLeap => false,
            Calendar::AllLeap => true,
            Calendar::Day360 => return [30; 12],
        };
        [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    }

    fn year_length(self, year: i64) -> i64 {
        self.month_lengths(year).iter().sum()
    }

    /// Days from 0000-01-01 of this calendar to `date`.
    fn day_number(self, d: Date) -> i64 {
        if self == Calendar::Standard {
            return days_from_civil(d.year, d.month, d.day);
        }
        let per_year = self.year_length(0);
        let before: i64 = self.month_lengths(d.year)[..(d.month - 1) as usize].iter().sum();
        d.year * per_year + before + d.day - 1
    }

    /// The date `n` days after 0000-01-01 of this calendar.
    fn date(self, n: i64) -> Date {
        if self == Calendar::Standard {
            let (year, month, day) = civil_from_days(n);
            return Date { year, month, day };
        }
        let per_year = self.year_length(0);
        let year = n.div_euclid(per_year);
        let mut r = n.rem_euclid(per_year);
        let mut month = 1;
        for len in self.month_lengths(year) {
            if r < len {
                break;
            }
            r -= len;
            month += 1;
        }
        Date {
            year,
            month,
            day: r + 1,
        }
    }
}

/// A calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date {
    /// Year (astronomical: 0 is 1 BC).
    pub year: i64,
    /// 1–12.
    pub month: i64,
    /// 1–31.
    pub day: i64,
}

// Howard Hinnant's days_from_civil / civil_from_days, shifted so 0000-03-01 is day 60.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe + 60
}

fn civil_from_days(n: i64) -> (i64, i64, i64) {
    let z = n - 60;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Parses `YYYY-MM-DD`, optionally followed by `T` or a space and `hh[:mm[:ss]]`;
/// returns the date and the seconds into the day.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the text.
pub fn parse_datetime(s: &str) -> Result<(Date, f64)> {
    let bad = || Error::InvalidArgument(format!("'{s}' is not a date (YYYY-MM-DD[ hh:mm:ss])"));
    let s = s.trim();
    let (date, time) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], s[i + 1..].trim()),
        None => (s, ""),
    };
    let neg = date.starts_with('-');
    let parts: Vec<&str> = date.trim_start_matches('-').split('-').collect();
    if parts.len() != 3 {
        return Err(bad());
    }
    let num = |t: &str| t.parse::<i64>().map_err(|_| bad());
    let year = if neg { -num(parts[0])? } else { num(parts[0])? };
    let (month, day) = (num(parts[1])?, num(parts[2])?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(bad());
    }
    let time = time.trim_end_matches('Z');
    let mut secs = 0.0;
    if !time.is_empty() {
        let hms: Vec<&str> = time.split(':').collect();
        let scale = [3600.0, 60.0, 1.0];
        if hms.len() > 3 {
            return Err(bad());
        }
        for (t, k) in hms.iter().zip(scale) {
            secs += t.parse::<f64>().map_err(|_| bad())? * k;
        }
    }
    Ok((Date { year, month, day }, secs))
}

/// Parses a step such as `1d`, `6h`, `30min`, `15s` (also `day`, `hours`); seconds.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the text.
pub fn parse_step(s: &str) -> Result<f64> {
    let t = s.trim();
    let i = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(i);
    let n: f64 = if num.is_empty() {
        1.0
    } else {
        num.trim()
            .parse()
            .map_err(|_| Error::InvalidArgument(format!("'{s}' is not a time step (e.g. 1d, 6h, 30min)")))?
    };
    let u = unit_seconds(unit)
        .ok_or_else(|| Error::InvalidArgument(format!("'{s}': unknown time unit '{unit}' (d, h, min, s)")))?;
    if n <= 0.0 {
        return Err(Error::InvalidArgument(format!("time step '{s}' must be positive")));
    }
    Ok(n * u)
}

fn unit_seconds(u: &str) -> Option<f64> {
    Some(match u.trim().to_ascii_lowercase().as_str() {
        "d" | "day" | "days" => 86400.0,
        "h" | "hr" | "hour" | "hours" => 3600.0,
        "min" | "minute" | "minutes" => 60.0,
        "s" | "sec" | "second" | "seconds" => 1.0,
        _ => return None,
    })
}

/// A time axis: offsets in a unit after an origin, in a calendar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CfTime {
    /// Seconds per offset unit.
    pub unit_seconds: f64,
    /// The origin.
    pub origin: Date,
    /// Seconds into the origin's day.
    pub origin_seconds: f64,
    /// The calendar.
    pub calendar: Calendar,
}

impl CfTime {
    /// Parses CF `units` such as `"days since 2001-01-01"` or
    /// `"hours since 1900-01-01 00:00:00.0"`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for units that are not `<unit> since <date>`.
    pub fn parse_units(units: &str, calendar: Calendar) -> Result<CfTime> {
        let (u, since) = units
            .split_once(" since ")
            .ok_or_else(|| Error::InvalidArgument(format!("time units '{units}' are not '<unit> since <date>'")))?;
        let unit_seconds = unit_seconds(u)
            .ok_or_else(|| Error::InvalidArgument(format!("time units '{units}': unknown unit '{u}'")))?;
        let (origin, origin_seconds) = parse_datetime(since.trim().trim_end_matches(" UTC"))?;
        Ok(CfTime {
            unit_seconds,
            origin,
            origin_seconds,
            calendar,
        })
    }

    /// The offset of `date` at `seconds` into its day (the inverse of [`CfTime::date`]):
    /// what a time coordinate in these units holds for that moment.
    #[must_use]
    pub fn offset(&self, date: Date, seconds: f64) -> f64 {
        let days = self.calendar.day_number(date) - self.calendar.day_number(self.origin);
        (days as f64 * 86400.0 + seconds - self.origin_seconds) / self.unit_seconds
    }

    /// The date of offset `t` (NaN has none).
    #[must_use]
    pub fn date(&self, t: f64) -> Option<Date> {
        if !t.is_finite() {
            return None;
        }
        let secs = self.origin_seconds + t * self.unit_seconds;
        let days = (secs / 86400.0).floor() as i64;
        Some(self.calendar.date(self.calendar.day_number(self.origin) + days))
    }
}

/// A grouping of a time axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// 12 groups, January first.
    Month,
    /// Day of the year, 1 → group 0 (366 groups; 360 in the 360-day calendar).
    DayOfYear,
    /// xarray's `time.season` groups, in its (alphabetical) order: DJF, JJA, MAM, SON.
    Season,
    /// One group per calendar year from the first year present.
    Year,
}

impl GroupBy {
    /// Parses `month`, `dayofyear`, `season` or `year`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] listing the choices.
    pub fn parse(s: &str) -> Result<GroupBy> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "month" | "time.month" => GroupBy::Month,
            "dayofyear" | "doy" | "time.dayofyear" => GroupBy::DayOfYear,
            "season" | "time.season" => GroupBy::Season,
            "year" | "time.year" => GroupBy::Year,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "unknown --groupby '{other}' (month, dayofyear, season, year)"
                )));
            }
        })
    }

    /// Names of the groups (for output metadata).
    #[must_use]
    pub fn group_names(self, ngroups: usize, first_year: i64) -> Vec<String> {
        match self {
            GroupBy::Month => [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ]
            .iter()
            .map(ToString::to_string)
            .collect(),
            GroupBy::Season => ["DJF", "JJA", "MAM", "SON"].iter().map(ToString::to_string).collect(),
            GroupBy::DayOfYear => (1..=ngroups).map(|d| d.to_string()).collect(),
            GroupBy::Year => (0..ngroups as i64).map(|k| (first_year + k).to_string()).collect(),
        }
    }

    /// The value xarray gives group `g` in its coordinate (`time.month` → 1–12,
    /// `time.dayofyear` → 1–366, `time.year` → the year, `time.season` → its name).
    pub fn group_value(self, g: usize, first_year: i64) -> GroupValue {
        match self {
            GroupBy::Month | GroupBy::DayOfYear => GroupValue::Int(g as i64 + 1),
            GroupBy::Year => GroupValue::Int(first_year + g as i64),
            GroupBy::Season => GroupValue::Name(self.group_names(4, first_year).swap_remove(g.min(3))),
        }
    }

    /// Labels (one per offset; -1 for NaN offsets) and the number of groups.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when no offset is a valid time.
    pub fn labels(self, t: &CfTime, offsets: &[f64]) -> Result<(Vec<i64>, usize)> {
        let dates: Vec<Option<Date>> = offsets.iter().map(|&o| t.date(o)).collect();
        let first_year = dates.iter().flatten().map(|d| d.year).min();
        let last_year = dates.iter().flatten().map(|d| d.year).max();
        let (Some(y0), Some(y1)) = (first_year, last_year) else {
            return Err(Error::InvalidArgument("the time axis has no valid time".into()));
        };
        let ngroups = match self {
            GroupBy::Month => 12,
            GroupBy::Season => 4,
            GroupBy::DayOfYear => t.calendar.year_length(2000) as usize,
            GroupBy::Year => (y1 - y0 + 1) as usize,
        };
        let label = |d: Date| -> i64 {
            match self {
                GroupBy::Month => d.month - 1,
                GroupBy::Season => match d.month {
                    12 | 1 | 2 => 0,
                    6..=8 => 1,
                    3..=5 => 2,
                    _ => 3,
                },
                GroupBy::DayOfYear => {
                    let c = t.calendar;
                    c.day_number(d)
                        - c.day_number(Date {
                            year: d.year,
                            month: 1,
                            day: 1,
                        })
                }
                GroupBy::Year => d.year - y0,
            }
        };
        Ok((dates.iter().map(|d| d.map_or(-1, label)).collect(), ngroups))
    }
}

/// A group's coordinate value, as xarray labels it: a number or a season's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupValue {
    /// Month (1–12), day of the year (1–366) or year.
    Int(i64),
    /// A season (`DJF`).
    Name(String),
}

/// The groups that have at least one row, and the labels renumbered to them.
///
/// [`GroupBy::labels`] numbers every group the key can have (12 months, 366 days of
/// the year, every year from the first to the last), as flox's `expected_groups`
/// does; xarray's `groupby` keeps only the groups present, in their sorted order: a
/// June–August selection has three months, a span of non-leap years 365 days of the
/// year. Returns the labels renumbered `0..k` in group order (negative labels stay
/// negative: rows left out) and, for each new group, the group it was.
pub fn present_groups(labels: &[i64], ngroups: usize) -> (Vec<i64>, Vec<usize>) {
    let mut seen = vec![false; ngroups];
    for &l in labels {
        if let Some(s) = usize::try_from(l).ok().and_then(|l| seen.get_mut(l)) {
            *s = true;
        }
    }
    let kept: Vec<usize> = (0..ngroups).filter(|&g| seen[g]).collect();
    let mut new = vec![-1i64; ngroups];
    for (i, &g) in kept.iter().enumerate() {
        new[g] = i as i64;
    }
    let relabelled = labels
        .iter()
        .map(|&l| usize::try_from(l).ok().and_then(|l| new.get(l).copied()).unwrap_or(-1))
        .collect();
    (relabelled, kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_groups_keep_the_groups_with_rows_in_order() {
        // June–August of daily months, a left-out row in between.
        let labels = [5, 5, -1, 6, 7, 7];
        let (l, kept) = present_groups(&labels, 12);
        assert_eq!(kept, vec![5, 6, 7]);
        assert_eq!(l, vec![0, 0, -1, 1, 2, 2]);
        // Nothing present, and every group present (unchanged).
        assert_eq!(present_groups(&[-1, -1], 4), (vec![-1, -1], vec![]));
        assert_eq!(present_groups(&[3, 0, 2, 1], 4), (vec![3, 0, 2, 1], vec![0, 1, 2, 3]));
        // Group values as xarray's coordinate gives them.
        assert_eq!(GroupBy::Month.group_value(5, 2001), GroupValue::Int(6));
        assert_eq!(GroupBy::DayOfYear.group_value(364, 2001), GroupValue::Int(365));
        assert_eq!(GroupBy::Year.group_value(1, 2001), GroupValue::Int(2002));
        assert_eq!(GroupBy::Season.group_value(2, 2001), GroupValue::Name("MAM".into()));
    }

    #[test]
    fn civil_round_trip_and_known_dates() {
        for n in -800_000..800_000i64 {
            if n % 997 != 0 {
                continue;
            }
            let (y, m, d) = civil_from_days(n);
            assert_eq!(days_from_civil(y, m, d), n);
        }
        // 1970-01-01 and 2000-03-01 are 719528 and 730545 days after 0000-01-01.
        assert_eq!(days_from_civil(1970, 1, 1), 719_528);
        assert_eq!(days_from_civil(2000, 3, 1), 730_545);
        assert_eq!(civil_from_days(730_545), (2000, 3, 1));
    }

    #[test]
    fn offsets_invert_dates() {
        let d = |year, month, day| Date { year, month, day };
        let t = CfTime::parse_units("hours since 2000-02-28 12:00:00", Calendar::Standard).unwrap();
        assert_eq!(t.offset(d(2000, 2, 29), 0.0), 12.0);
        assert_eq!(t.offset(d(2000, 3, 1), 6.0 * 3600.0), 42.0);
        let n = CfTime::parse_units("days since 2001-01-01", Calendar::NoLeap).unwrap();
        assert_eq!(n.offset(d(2004, 3, 1), 0.0), 365.0 * 3.0 + 59.0);
        for o in [0.0, 59.0, 364.0, 1000.0] {
            let back = n.date(o).unwrap();
            assert_eq!(n.offset(back, 0.0), o);
        }
    }

    #[test]
    fn calendars_and_groupings() {
        let t = CfTime::parse_units("hours since 2000-02-28 12:00:00", Calendar::Standard).unwrap();
        assert_eq!(
            t.date(12.0),
            Some(Date {
                year: 2000,
                month: 2,
                day: 29
            })
        );
        let n = CfTime::parse_units("days since 2001-01-01", Calendar::NoLeap).unwrap();
        assert_eq!(
            n.date(365.0 * 3.0 + 59.0),
            Some(Date {
                year: 2004,
                month: 3,
                day: 1
            })
        );
        let d = CfTime::parse_units("days since 2001-01-01", Calendar::Day360).unwrap();
        assert_eq!(
            d.date(359.0),
            Some(Date {
                year: 2001,
                month: 12,
                day: 30
            })
        );
        let (l, g) = GroupBy::Season
            .labels(&n, &[0.0, 59.0, 151.0, 243.0, 334.0, f64::NAN])
            .unwrap();
        assert_eq!((l, g), (vec![0, 2, 1, 3, 0, -1], 4));
        let (l, g) = GroupBy::DayOfYear.labels(&t, &[-12.0, 12.0, 24.0 * 300.0]).unwrap();
        assert_eq!(g, 366);
        assert_eq!(l[..2], [58, 59]);
        let (l, g) = GroupBy::Year.labels(&n, &[0.0, 400.0, 800.0]).unwrap();
        assert_eq!((l, g), (vec![0, 1, 2], 3));
        assert_eq!(parse_step("6h").unwrap(), 21600.0);
        assert_eq!(parse_step("1d").unwrap(), 86400.0);
        assert!(parse_step("3 fortnights").is_err());
        assert!(Calendar::parse("julian").is_err());
        assert!(parse_datetime("2001-13-01").is_err());
    }
}
