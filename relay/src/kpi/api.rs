//! `GET /v1/admin/sites/{site}/kpis?from=…&to=…&group=…&format=json|csv`: a site's KPIs for a
//! period, for the site's admin agents and the operator (the admin API's authentication and
//! per-admin quota).
//!
//! - `from`, `to`: a date `YYYY-MM-DD` in the site's time zone (`to` included: the period
//!   ends at the start of the next day), or Unix milliseconds (`to` excluded); the period is
//!   at most [`MAX_PERIOD_DAYS`] days, [`MAX_HOURLY_DAYS`] with `group=hour`;
//! - `group`: `total` (default), `day`, `hour` (the site's time zone), `team`, `agent`,
//!   `entry` (the entry page group);
//! - `format`: `json` (default) or `csv`.
//!
//! A conversation counts in the period it started in (its visitor's first message).

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use switchboard_protocol::Millis;
use tokio::sync::Semaphore;

use super::report::{aggregate, to_csv, Group};
use crate::client_addr::ClientAddr;
use crate::error::ApiError;
use crate::AppState;

/// The longest period one report covers.
pub const MAX_PERIOD_DAYS: u64 = 400;
/// The longest period of an hourly report (about 2,200 lines).
pub const MAX_HOURLY_DAYS: u64 = 93;
/// The longest value of any parameter.
const MAX_PARAM_BYTES: usize = 32;

const DAY_MS: u64 = 86_400_000;

/// Reports being computed at once, per process: a year of a busy site is a second of a core,
/// so more would only take the cores from the chats.
static REPORTS: Semaphore = Semaphore::const_new(2);

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/admin/sites/{site}/kpis", get(kpis))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    from: String,
    to: String,
    group: Option<String>,
    format: Option<String>,
}

async fn kpis(
    State(state): State<AppState>,
    addr: ClientAddr,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let admin = crate::admin::authenticate(&state, addr, &headers)?;
    let site = crate::admin::served_site(&state, &admin, path)?;
    let Query(p) = query.map_err(|e| ApiError::Invalid(e.body_text()))?;
    let tz = state
        .sites
        .get(&site)
        .and_then(|s| s.time_zone.as_deref())
        .and_then(|name| jiff::tz::TimeZone::get(name).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let (from, to, group, csv) = parse(&p, &tz)?;
    let _permit = REPORTS.acquire().await.map_err(|_| ApiError::Busy)?;
    super::projector::catch_up(state.broker.as_ref(), &site)
        .await
        .map_err(crate::admin::unavailable)?;
    let rows = state
        .broker
        .kpi_rows(&site, from, to, group.dim())
        .await
        .map_err(crate::admin::unavailable)?;
    let report =
        tokio::task::spawn_blocking(move || aggregate(&site, (from, to), &tz, group, &rows))
            .await
            .map_err(|_| ApiError::Unavailable)?;
    if !csv {
        return Ok(Json(report).into_response());
    }
    let body = to_csv(&report).map_err(|e| {
        tracing::warn!(error = %e, "kpi: CSV failed");
        ApiError::Unavailable
    })?;
    // Site keys are the operator's text: only the safe characters go into the header.
    let name: String = report
        .site
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let file = format!("attachment; filename=\"kpis-{name}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, file),
        ],
        body,
    )
        .into_response())
}

/// The period, grouping and format asked for, within bounds.
fn parse(p: &Params, tz: &jiff::tz::TimeZone) -> Result<(Millis, Millis, Group, bool), ApiError> {
    let long = [
        Some(&p.from),
        Some(&p.to),
        p.group.as_ref(),
        p.format.as_ref(),
    ]
    .into_iter()
    .flatten()
    .any(|v| v.len() > MAX_PARAM_BYTES);
    if long {
        return Err(ApiError::Invalid(format!(
            "parameters are at most {MAX_PARAM_BYTES} bytes"
        )));
    }
    let bad_time =
        || ApiError::Invalid("from and to are dates (YYYY-MM-DD) or Unix milliseconds".into());
    let from = instant(&p.from, tz, false).ok_or_else(bad_time)?;
    let to = instant(&p.to, tz, true).ok_or_else(bad_time)?;
    if from >= to {
        return Err(ApiError::Invalid("from must be before to".into()));
    }
    let group = match p.group.as_deref() {
        None => Group::Total,
        Some(g) => Group::parse(g).ok_or_else(|| {
            ApiError::Invalid("group is one of total, day, hour, team, agent, entry".into())
        })?,
    };
    let days = if group == Group::Hour {
        MAX_HOURLY_DAYS
    } else {
        MAX_PERIOD_DAYS
    };
    if to - from > days * DAY_MS {
        return Err(ApiError::Invalid(format!(
            "the period is at most {days} days for group={}",
            group.name()
        )));
    }
    let csv = match p.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::Invalid("format is json or csv".into())),
    };
    Ok((from, to, group, csv))
}

/// Unix milliseconds, or a date's first instant in `tz` (the next day's, for an `end`).
fn instant(s: &str, tz: &jiff::tz::TimeZone, end: bool) -> Option<Millis> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok().filter(|&ms: &Millis| ms < i64::MAX as u64);
    }
    let date: jiff::civil::Date = s.parse().ok()?;
    let date = if end { date.tomorrow().ok()? } else { date };
    let start = date
        .to_zoned_datetime(tz.clone())
        .ok()?
        .timestamp()
        .as_millisecond();
    u64::try_from(start).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(from: &str, to: &str, group: Option<&str>) -> Params {
        Params {
            from: from.into(),
            to: to.into(),
            group: group.map(Into::into),
            format: None,
        }
    }

    #[test]
    fn dates_are_days_of_the_site_time_zone() {
        let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let (from, to, ..) = parse(&params("2026-01-01", "2026-01-01", None), &paris).unwrap();
        // Midnight in Paris is 23:00 UTC the day before, in winter.
        assert_eq!(from, 1_767_222_000_000);
        assert_eq!(to - from, DAY_MS);
        assert!(parse(&params("2026-01-02", "2026-01-01", None), &paris).is_err());
        assert!(parse(&params("2025-01-01", "2026-12-31", None), &paris).is_err());
        assert!(parse(&params("2026-01-01", "2026-06-01", Some("hour")), &paris).is_err());
        assert!(parse(&params("2026-13-01", "2026-12-31", None), &paris).is_err());
        assert!(parse(&params("-5", "10", None), &paris).is_err());
        assert!(parse(&params("99999999999999999999", "1", None), &paris).is_err());
        assert!(parse(&params("0", "1000", Some("weekly")), &paris).is_err());
    }
}
