//! What the bot notices about the visitor, offline and cheap: the language (`whatlang`, whose
//! models are built in and know Hindi and Arabic) and the mood (VADER, a lexicon analyser
//! that ships its English lexicon; other languages score near 0).

use std::sync::LazyLock;

use vader_sentiment::SentimentIntensityAnalyzer;

static VADER: LazyLock<SentimentIntensityAnalyzer<'static>> =
    LazyLock::new(SentimentIntensityAnalyzer::new);

/// The ISO 639-3 code of the language `text` is most likely written in (`eng`, `hin`,
/// `ara`): a guess for the agent, not a verdict. whatlang's confidence is low on short
/// Latin-script text, so a low bar keeps English from coming out as unknown.
pub fn language(text: &str) -> Option<String> {
    let info = whatlang::detect(text)?;
    (info.is_reliable() || info.confidence() >= 0.05).then(|| info.lang().code().to_owned())
}

/// VADER's compound score of `text`, scaled to -100 (very negative) ..= 100.
pub fn sentiment(text: &str) -> i8 {
    let compound = VADER
        .polarity_scores(text)
        .get("compound")
        .copied()
        .unwrap_or(0.0);
    (compound * 100.0).round().clamp(-100.0, 100.0) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_hindi_arabic_and_english() {
        assert_eq!(
            language("मेरा ऑर्डर कहाँ है? मुझे यह जानना है कि यह कब आएगा").as_deref(),
            Some("hin")
        );
        assert_eq!(
            language("أين طلبي؟ أريد أن أعرف متى سيصل").as_deref(),
            Some("ara")
        );
        assert_eq!(
            language("Where is my order? I would like to know when it arrives.").as_deref(),
            Some("eng")
        );
    }

    #[test]
    fn angry_is_negative_and_thanks_is_positive() {
        assert!(sentiment("This is terrible, the worst service ever. I hate it!") < -50);
        assert!(sentiment("Thank you so much, that is great!") > 50);
        assert_eq!(sentiment("I have a question about my order"), 0);
    }
}
