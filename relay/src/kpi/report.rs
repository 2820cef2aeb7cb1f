//! The KPIs of a period: [`Rows`] read from the store, aggregated in one pass into a total and
//! one line per group (a day or hour in the site's time zone, a team, an agent, an entry page
//! group), as JSON or CSV. Both stores give the same rows, so the figures are the same.
//!
//! Medians and p90s are nearest-rank (the value at rank ⌈p·n⌉ of the sorted sample): always
//! a duration that occurred, exact and easy to check by hand.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use switchboard_protocol::Millis;

use super::facts::{Dim, Row, Rows};

/// How a report splits its period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Total,
    Day,
    Hour,
    Team,
    Agent,
    Entry,
}

impl Group {
    pub fn parse(s: &str) -> Option<Group> {
        Some(match s {
            "total" => Group::Total,
            "day" => Group::Day,
            "hour" => Group::Hour,
            "team" => Group::Team,
            "agent" => Group::Agent,
            "entry" => Group::Entry,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Group::Total => "total",
            Group::Day => "day",
            Group::Hour => "hour",
            Group::Team => "team",
            Group::Agent => "agent",
            Group::Entry => "entry",
        }
    }

    /// The name the store reads with each row.
    pub fn dim(self) -> Dim {
        match self {
            Group::Team => Dim::Team,
            Group::Agent => Dim::Agent,
            Group::Entry => Dim::Entry,
            Group::Total | Group::Day | Group::Hour => Dim::None,
        }
    }
}

/// A sample of durations: how many, and its nearest-rank median and p90.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Durations {
    pub count: u64,
    pub median_ms: Option<u64>,
    pub p90_ms: Option<u64>,
}

impl Durations {
    fn of(mut sample: Vec<u64>) -> Durations {
        let n = sample.len();
        let mut rank = |p: f64| -> Option<u64> {
            if n == 0 {
                return None;
            }
            let k = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
            Some(*sample.select_nth_unstable(k).1)
        };
        let median_ms = rank(0.5);
        let p90_ms = rank(0.9);
        Durations {
            count: n as u64,
            median_ms,
            p90_ms,
        }
    }
}

/// Visitors' ratings (1 to 5).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Csat {
    pub count: u64,
    pub average: Option<f64>,
    /// How many ratings of 1, 2, 3, 4 and 5.
    pub distribution: [u64; 5],
}

/// The KPIs of a set of conversations (those that started in the period, or in a group).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Kpis {
    pub conversations: u64,
    pub messages: u64,
    pub messages_per_conversation: Option<f64>,
    pub first_response: Durations,
    pub time_to_assignment: Durations,
    pub resolution: Durations,
    pub queue_wait: Durations,
    pub resolved: u64,
    /// Conversations reopened at least once.
    pub reopened: u64,
    /// `reopened` over the conversations resolved at some point (resolved now, or reopened).
    pub reopen_rate: Option<f64>,
    /// Conversations a bot wrote in.
    pub bot_conversations: u64,
    /// Of those, resolved with no agent ever writing or assigned.
    pub contained: u64,
    pub containment_rate: Option<f64>,
    pub handed_off: u64,
    /// `handed_off` over `bot_conversations`.
    pub handoff_rate: Option<f64>,
    pub handoff_reasons: BTreeMap<String, u64>,
    pub csat: Csat,
}

#[derive(Default)]
struct Acc {
    conversations: u64,
    messages: u64,
    first_response: Vec<u64>,
    assign: Vec<u64>,
    resolve: Vec<u64>,
    queue: Vec<u64>,
    resolved: u64,
    reopened: u64,
    ever_resolved: u64,
    bot: u64,
    contained: u64,
    handed_off: u64,
    reasons: HashMap<u32, u64>,
    csat: [u64; 5],
}

impl Acc {
    fn add(&mut self, r: &Row) {
        self.conversations += 1;
        self.messages += r.messages as u64;
        self.first_response.extend(r.first_response_ms);
        self.assign.extend(r.assign_ms);
        self.resolve.extend(r.resolve_ms);
        self.queue.extend(r.queue_ms);
        self.resolved += r.resolved as u64;
        self.reopened += r.reopened as u64;
        self.ever_resolved += (r.resolved || r.reopened) as u64;
        self.bot += r.bot as u64;
        self.contained += (r.bot && !r.human && r.resolved) as u64;
        if let Some(reason) = r.handoff {
            self.handed_off += 1;
            *self.reasons.entry(reason).or_default() += 1;
        }
        if let Some(c @ 1..=5) = r.csat {
            self.csat[c as usize - 1] += 1;
        }
    }

    fn finish(self, names: &[String]) -> Kpis {
        let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
        let rated: u64 = self.csat.iter().sum();
        let points: u64 = (1..=5u64).zip(self.csat).map(|(s, n)| s * n).sum();
        Kpis {
            conversations: self.conversations,
            messages: self.messages,
            messages_per_conversation: ratio(self.messages, self.conversations),
            first_response: Durations::of(self.first_response),
            time_to_assignment: Durations::of(self.assign),
            resolution: Durations::of(self.resolve),
            queue_wait: Durations::of(self.queue),
            resolved: self.resolved,
            reopened: self.reopened,
            reopen_rate: ratio(self.reopened, self.ever_resolved),
            bot_conversations: self.bot,
            contained: self.contained,
            containment_rate: ratio(self.contained, self.bot),
            handed_off: self.handed_off,
            handoff_rate: ratio(self.handed_off, self.bot),
            handoff_reasons: self
                .reasons
                .into_iter()
                .map(|(i, n)| {
                    let name = names[i as usize].as_str();
                    (if name.is_empty() { "unknown" } else { name }.to_owned(), n)
                })
                .collect(),
            csat: Csat {
                count: rated,
                average: ratio(points, rated),
                distribution: self.csat,
            },
        }
    }
}

/// One group's line.
#[derive(Clone, Debug, Serialize)]
pub struct Line {
    /// `2026-03-01` (day), `2026-03-01T14` (hour, local), or the team, agent or entry group;
    /// `none` for conversations without one.
    pub key: String,
    #[serde(flatten)]
    pub kpis: Kpis,
}

/// A report: `GET /v1/admin/sites/{site}/kpis`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub site: String,
    pub from: Millis,
    pub to: Millis,
    pub time_zone: String,
    pub group: &'static str,
    pub total: Kpis,
    pub groups: Vec<Line>,
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Aggregates `rows` (the conversations that started in `[from, to)`).
pub fn aggregate(
    site: &str,
    (from, to): (Millis, Millis),
    tz: &jiff::tz::TimeZone,
    group: Group,
    rows: &Rows,
) -> Report {
    let mut total = Acc::default();
    let mut by: HashMap<i64, Acc> = HashMap::new();
    for r in &rows.rows {
        total.add(r);
        let key = match group {
            Group::Total => continue,
            Group::Day | Group::Hour => {
                let local = r.started as i64 + local_offset_ms(tz, r.started);
                local.div_euclid(if group == Group::Day { DAY_MS } else { HOUR_MS })
            }
            Group::Team | Group::Agent | Group::Entry => r.dim.map_or(-1, i64::from),
        };
        by.entry(key).or_default().add(r);
    }
    let mut groups: Vec<(i64, Acc)> = by.into_iter().collect();
    groups.sort_by_key(|(k, _)| *k);
    let mut groups: Vec<Line> = groups
        .into_iter()
        .map(|(k, acc)| Line {
            key: group_key(group, k, &rows.names),
            kpis: acc.finish(&rows.names),
        })
        .collect();
    if matches!(group, Group::Team | Group::Agent | Group::Entry) {
        groups.sort_by(|a, b| a.key.cmp(&b.key));
    }
    Report {
        site: site.to_owned(),
        from,
        to,
        time_zone: tz.iana_name().unwrap_or("UTC").to_owned(),
        group: group.name(),
        total: total.finish(&rows.names),
        groups,
    }
}

fn local_offset_ms(tz: &jiff::tz::TimeZone, at: Millis) -> i64 {
    jiff::Timestamp::from_millisecond(at as i64)
        .map_or(0, |t| tz.to_offset(t).seconds() as i64 * 1000)
}

fn group_key(group: Group, k: i64, names: &[String]) -> String {
    let date = |days: i64| {
        jiff::Timestamp::from_second(days * 86_400)
            .map(|t| {
                t.to_zoned_datetime(jiff::tz::TimeZone::UTC)
                    .date()
                    .to_string()
            })
            .unwrap_or_default()
    };
    match group {
        Group::Day => date(k),
        Group::Hour => format!("{}T{:02}", date(k.div_euclid(24)), k.rem_euclid(24)),
        Group::Total => "total".into(),
        _ => match usize::try_from(k).ok().and_then(|i| names.get(i)) {
            Some(name) if !name.is_empty() => name.clone(),
            _ => "none".into(),
        },
    }
}

/// The report as CSV: a header, the total (`group` = `total`), then one line per group.
/// Handoff reasons are one field, `reason=n` joined by spaces.
pub fn to_csv(report: &Report) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "group",
        "key",
        "conversations",
        "messages",
        "messages_per_conversation",
    ]
    .map(String::from)
    .to_vec();
    for d in [
        "first_response",
        "time_to_assignment",
        "resolution",
        "queue_wait",
    ] {
        header.extend(["count", "median_ms", "p90_ms"].map(|s| format!("{d}_{s}")));
    }
    header.extend(
        [
            "resolved",
            "reopened",
            "reopen_rate",
            "bot_conversations",
            "contained",
            "containment_rate",
            "handed_off",
            "handoff_rate",
            "handoff_reasons",
            "csat_count",
            "csat_average",
            "csat_1",
            "csat_2",
            "csat_3",
            "csat_4",
            "csat_5",
        ]
        .map(String::from),
    );
    w.write_record(&header)?;
    let lines = std::iter::once(("total", "total", &report.total)).chain(
        report
            .groups
            .iter()
            .map(|l| (report.group, l.key.as_str(), &l.kpis)),
    );
    for (group, key, k) in lines {
        w.write_record(record(group, key, k))?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8(bytes).expect("CSV of strings is UTF-8"))
}

fn record(group: &str, key: &str, k: &Kpis) -> Vec<String> {
    let n = |v: u64| v.to_string();
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let rate = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut r = vec![
        group.to_owned(),
        key.to_owned(),
        n(k.conversations),
        n(k.messages),
        rate(k.messages_per_conversation),
    ];
    for d in [
        &k.first_response,
        &k.time_to_assignment,
        &k.resolution,
        &k.queue_wait,
    ] {
        r.extend([n(d.count), opt(d.median_ms), opt(d.p90_ms)]);
    }
    let reasons = k
        .handoff_reasons
        .iter()
        .map(|(reason, n)| format!("{reason}={n}"))
        .collect::<Vec<_>>()
        .join(" ");
    r.extend([
        n(k.resolved),
        n(k.reopened),
        rate(k.reopen_rate),
        n(k.bot_conversations),
        n(k.contained),
        rate(k.containment_rate),
        n(k.handed_off),
        rate(k.handoff_rate),
        reasons,
        n(k.csat.count),
        rate(k.csat.average),
    ]);
    r.extend(k.csat.distribution.iter().map(|&v| n(v)));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let d = Durations::of((1..=10).map(|i| i * 1000).collect());
        assert_eq!(
            (d.count, d.median_ms, d.p90_ms),
            (10, Some(5000), Some(9000))
        );
        let d = Durations::of(vec![7]);
        assert_eq!((d.median_ms, d.p90_ms), (Some(7), Some(7)));
        assert_eq!(Durations::of(vec![]).median_ms, None);
    }

    #[test]
    fn days_follow_the_site_time_zone() {
        // 2026-03-29 00:30 UTC is 01:30 in Paris (CET), the night clocks go forward at 02:00.
        let at = 1_774_744_200_000;
        let mut rows = Rows::default();
        rows.rows.push(Row {
            started: at,
            ..Row::default()
        });
        rows.rows.push(Row {
            started: at + 2 * HOUR_MS as u64,
            ..Row::default()
        });
        let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let r = aggregate("s", (0, u64::MAX), &paris, Group::Hour, &rows);
        let keys: Vec<_> = r.groups.iter().map(|l| l.key.as_str()).collect();
        // 02:30 UTC is 04:30 CEST: the hour 02 local never existed.
        assert_eq!(keys, ["2026-03-29T01", "2026-03-29T04"]);
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let r = aggregate("s", (0, u64::MAX), &ny, Group::Day, &rows);
        assert_eq!(r.groups[0].key, "2026-03-28");
        let csv = to_csv(&r).unwrap();
        assert!(csv.starts_with("group,key,conversations,messages,"));
        assert_eq!(csv.lines().count(), 3, "{csv}");
    }
}
