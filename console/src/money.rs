//! Amounts for people: the browser's `Intl.NumberFormat` in the agent's locale when the
//! currency is known, two decimals otherwise. Amounts are display-only (see the protocol's
//! `context` module), so f64 is fine here.

pub fn format(amount: f64, currency: Option<&str>) -> String {
    match currency.map(str::trim) {
        // Intl throws on a malformed code, and js-sys would turn that into a panic; any three
        // ASCII letters are well-formed.
        Some(code) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) => {
            let options = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&options, &"style".into(), &"currency".into());
            let _ = js_sys::Reflect::set(&options, &"currency".into(), &code.into());
            // The agent's locale decides separators and symbol position.
            let fmt = js_sys::Intl::NumberFormat::new(&crate::i18n::locales(), &options);
            fmt.format()
                .call1(&fmt, &amount.into())
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_else(|| format!("{amount:.2} {code}"))
        }
        Some(code) if !code.is_empty() => format!("{amount:.2} {code}"),
        _ => format!("{amount:.2}"),
    }
}
