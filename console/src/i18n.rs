//! The console's words in the agent's language (the widget's twelve: English, Spanish, French,
//! German, Portuguese, Italian, Dutch, Turkish, Hindi, Arabic, Chinese, Japanese; chosen once
//! from the browser's `navigator.languages`), and dates and numbers in the agent's locale
//! through the browser's `Intl` (no formatting library in the wasm).
//!
//! Counts in sentences take no plural tables: a template either holds its number where no
//! plural agrees with it (`{n} unread`) or has a field per case the screen tells apart (none,
//! one, many), as the search count does.
//!
//! Templates name their holes (`{name}`, `{n}`, …) and are filled with [`fill`], so a
//! translation may put them where its grammar wants them.

use std::sync::OnceLock;

mod ar;
mod de;
mod en;
mod es;
mod fr;
mod hi;
mod it;
mod ja;
mod nl;
mod pt;
mod tr;
mod zh;

pub use en::Strings;

/// The strings for a BCP 47 tag such as `de-CH`; English for anything else.
pub fn for_locale(tag: &str) -> &'static Strings {
    match tag
        .split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
        .as_str()
    {
        "de" => &de::DE,
        "fr" => &fr::FR,
        "es" => &es::ES,
        "pt" => &pt::PT,
        "it" => &it::IT,
        "nl" => &nl::NL,
        "tr" => &tr::TR,
        "hi" => &hi::HI,
        "ar" => &ar::AR,
        "zh" => &zh::ZH,
        "ja" => &ja::JA,
        _ => &en::EN,
    }
}

/// Every language the console speaks, English first.
pub fn all() -> [&'static Strings; 12] {
    [
        &en::EN,
        &es::ES,
        &fr::FR,
        &de::DE,
        &pt::PT,
        &it::IT,
        &nl::NL,
        &tr::TR,
        &hi::HI,
        &ar::AR,
        &zh::ZH,
        &ja::JA,
    ]
}

/// The first of the browser's preferred languages the console speaks, else English.
fn chosen() -> &'static Strings {
    let Some(nav) = web_sys::window().map(|w| w.navigator()) else {
        return &en::EN;
    };
    let languages = nav.languages();
    let preferred = languages
        .iter()
        .filter_map(|l| l.as_string())
        .chain(nav.language());
    for tag in preferred {
        let s = for_locale(&tag);
        if s.lang != "en" || tag.to_ascii_lowercase().starts_with("en") {
            return s;
        }
    }
    &en::EN
}

/// The agent's strings (chosen on first use; the language does not change under a page).
pub fn t() -> &'static Strings {
    // wasm is single-threaded; a OnceLock is the std way to keep the choice.
    static CHOSEN: OnceLock<usize> = OnceLock::new();
    let all = all();
    let at = *CHOSEN.get_or_init(|| {
        let s = chosen();
        all.iter().position(|x| x.lang == s.lang).unwrap_or(0)
    });
    all[at]
}

impl Strings {
    /// The direction the console is laid out in for these words.
    pub fn dir(&self) -> &'static str {
        match self.lang {
            "ar" | "he" | "fa" | "ur" => "rtl",
            _ => "ltr",
        }
    }
}

/// `template` with each `{key}` replaced by its value.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (key, value) in values {
        out = out.replace(&format!("{{{key}}}"), value);
    }
    out
}

/// The agent's locales for `Intl`: the browser's preferred languages (`navigator.languages`,
/// as the strings follow), since `Intl`'s own default is the system's, which may differ.
pub fn locales() -> js_sys::Array {
    web_sys::window()
        .map(|w| w.navigator().languages())
        .unwrap_or_default()
}

fn options(pairs: &[(&str, &str)]) -> js_sys::Object {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        let _ = js_sys::Reflect::set(&o, &(*k).into(), &(*v).into());
    }
    o
}

fn call_format(format: js_sys::Function, this: &wasm_bindgen::JsValue, arg: f64) -> Option<String> {
    format.call1(this, &arg.into()).ok()?.as_string()
}

/// A whole number with the locale's grouping (`1,234`, `1.234`, `1 234`).
pub fn number(n: u64) -> String {
    let f = js_sys::Intl::NumberFormat::new(&locales(), &js_sys::Object::new());
    call_format(f.format(), &f, n as f64).unwrap_or_else(|| n.to_string())
}

/// A count of a unit (`5 min`, `3 h`, `2 d` in English, the locale's short forms elsewhere).
fn unit(n: u64, unit: &str) -> String {
    let f = js_sys::Intl::NumberFormat::new(
        &locales(),
        &options(&[("style", "unit"), ("unit", unit), ("unitDisplay", "narrow")]),
    );
    call_format(f.format(), &f, n as f64).unwrap_or_else(|| format!("{n} {unit}"))
}

fn date_format(at: u64, pairs: &[(&str, &str)]) -> String {
    let f = js_sys::Intl::DateTimeFormat::new(&locales(), &options(pairs));
    call_format(f.format(), &f, at as f64).unwrap_or_default()
}

/// The time of a protocol timestamp in the agent's locale, with the date in front when it is
/// not today.
pub fn clock(at: u64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at as f64));
    let today = js_sys::Date::new_0();
    if d.to_date_string() == today.to_date_string() {
        date_format(at, &[("timeStyle", "short")])
    } else {
        date_format(at, &[("dateStyle", "medium"), ("timeStyle", "short")])
    }
}

/// "now", "5 min", "3 h", "2 d" (in the locale's words): short enough for the inbox column.
pub fn relative(at: u64, now: f64) -> String {
    let secs = ((now - at as f64) / 1000.0).max(0.0) as u64;
    match secs {
        0..60 => t().now.to_owned(),
        60..3_600 => unit(secs / 60, "minute"),
        3_600..86_400 => unit(secs / 3_600, "hour"),
        _ => unit(secs / 86_400, "day"),
    }
}

/// Sets the page's `lang` and `dir` to the console's language, so screen readers pronounce
/// it right and the layout follows its direction.
pub fn apply_to_document() {
    let s = t();
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("lang", s.lang);
        let _ = root.set_attribute("dir", s.dir());
    }
}
