//! Where a bot's handoff goes and how urgent it is. The team the bot named wins; else the
//! first team of the site that speaks the visitor's language as the bot detected it (else the
//! site's default team, as for any conversation). A visitor the bot measured as strongly
//! negative is raised to at least `high`, so an upset customer does not wait behind routine
//! questions in a queue sorted by priority.

use switchboard_protocol::handoff::{Handoff, Priority};

use crate::config::Config;

/// The bot-measured sentiment (from -100) at and below which a handoff is raised to `high`:
/// VADER's compound score of -0.5, which its authors call clearly negative.
pub const STRONG_NEGATIVE: i8 = -50;

pub struct Route {
    pub team: Option<String>,
    pub priority: Priority,
}

pub fn route(config: &Config, site: &str, handoff: &Handoff) -> Route {
    let team = handoff.team.clone().or_else(|| {
        let language = handoff.language.as_deref()?;
        config
            .teams
            .iter()
            .find(|t| t.site == site && t.speaks(language))
            .map(|t| t.id.clone())
    });
    let upset = handoff.sentiment.is_some_and(|s| s <= STRONG_NEGATIVE);
    let priority = if upset {
        handoff.priority.max(Priority::High)
    } else {
        handoff.priority
    };
    Route { team, priority }
}
