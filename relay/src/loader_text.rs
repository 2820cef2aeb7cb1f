//! The loader's own words (the placeholder launcher's name and the consent prompt) in the
//! widget's twelve languages. The loader has a 2,048 B brotli budget and is on every page view,
//! so it ships the English words only; the relay puts the visitor's language's words in their
//! place when it serves `widget.js`, chosen from `Accept-Language` (the browser's languages,
//! the last of the widget's own choices: the page's language is not known to the relay). The
//! launcher names are the widget's (`widget/src/i18n.rs`), so the swap keeps the name.

/// `[lang, launcher name, consent question, allow, later]`, English first (as in
/// `widget/loader.js`, whose array of words the relay looks for).
pub const WORDS: [[&str; 5]; 12] = [
    [
        "en",
        "Open chat",
        "Chat keeps the conversation on this device. Allow it?",
        "Allow chat",
        "Not now",
    ],
    [
        "es",
        "Abrir chat",
        "El chat guarda la conversación en este dispositivo. ¿Lo permites?",
        "Permitir el chat",
        "Ahora no",
    ],
    [
        "fr",
        "Ouvrir le chat",
        "Le chat conserve la conversation sur cet appareil. L’autoriser ?",
        "Autoriser le chat",
        "Pas maintenant",
    ],
    [
        "de",
        "Chat öffnen",
        "Der Chat speichert das Gespräch auf diesem Gerät. Erlauben?",
        "Chat erlauben",
        "Jetzt nicht",
    ],
    [
        "pt",
        "Abrir chat",
        "O chat guarda a conversa neste dispositivo. Permitir?",
        "Permitir o chat",
        "Agora não",
    ],
    [
        "it",
        "Apri la chat",
        "La chat conserva la conversazione su questo dispositivo. Consentirlo?",
        "Consenti la chat",
        "Non ora",
    ],
    [
        "nl",
        "Chat openen",
        "De chat bewaart het gesprek op dit apparaat. Toestaan?",
        "Chat toestaan",
        "Niet nu",
    ],
    [
        "tr",
        "Sohbeti aç",
        "Sohbet, konuşmayı bu cihazda saklar. İzin veriyor musunuz?",
        "Sohbete izin ver",
        "Şimdi değil",
    ],
    [
        "hi",
        "चैट खोलें",
        "चैट इस डिवाइस पर बातचीत सहेजता है। क्या आप अनुमति देते हैं?",
        "चैट की अनुमति दें",
        "अभी नहीं",
    ],
    [
        "ar",
        "افتح المحادثة",
        "تحفظ المحادثة على هذا الجهاز. هل تسمح بذلك؟",
        "السماح بالمحادثة",
        "ليس الآن",
    ],
    [
        "zh",
        "打开聊天",
        "聊天会在此设备上保存对话。是否允许？",
        "允许聊天",
        "以后再说",
    ],
    [
        "ja",
        "チャットを開く",
        "チャットはこの端末に会話を保存します。許可しますか？",
        "チャットを許可",
        "今はしない",
    ],
];

/// The words of the first language in `Accept-Language` the widget speaks (in the order the
/// browser lists them; `q=0` means "not this one"), English otherwise.
pub fn choose(accept_language: Option<&str>) -> &'static [&'static str; 5] {
    accept_language
        .unwrap_or("")
        .split(',')
        .take(16)
        .filter_map(|item| {
            let mut parts = item.split(';');
            let tag = parts.next()?.trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (!refused).then_some(tag)
        })
        .find_map(|tag| {
            let primary = tag.split(['-', '_']).next()?;
            WORDS.iter().find(|w| w[0].eq_ignore_ascii_case(primary))
        })
        .unwrap_or(&WORDS[0])
}

/// The loader's array of words as `cargo xtask dist` writes it (no space after the commas).
pub fn array(words: &[&str; 5], escape: impl Fn(&str) -> String) -> String {
    let inner: Vec<String> = words[1..].iter().map(|w| escape(w)).collect();
    format!("[\"{}\"]", inner.join("\",\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_language_the_widget_speaks_wins() {
        assert_eq!(choose(Some("ar-EG,ar;q=0.9,en;q=0.8"))[0], "ar");
        assert_eq!(choose(Some("sv-SE, hi-IN;q=0.7, en;q=0.5"))[0], "hi");
        assert_eq!(choose(Some("zh_CN"))[0], "zh");
        assert_eq!(choose(Some("de;q=0, fr"))[0], "fr");
        for none in [
            None,
            Some(""),
            Some("sv, fi"),
            Some(";;;,,"),
            Some("x-klingon"),
        ] {
            assert_eq!(choose(none)[0], "en", "{none:?}");
        }
        let long = format!("{}ja", "sv,".repeat(10_000));
        assert_eq!(choose(Some(&long))[0], "en", "only the first 16 are read");
    }

    #[test]
    fn every_language_has_every_word() {
        for w in WORDS {
            assert!(w.iter().all(|s| !s.trim().is_empty()), "{w:?}");
        }
        assert_eq!(
            array(&WORDS[0], str::to_owned),
            r#"["Open chat","Chat keeps the conversation on this device. Allow it?","Allow chat","Not now"]"#
        );
    }
}
