//! Formats amounts for people: the browser's `Intl.NumberFormat` when a currency is known.

pub fn format(amount: f64, currency: Option<&str>) -> String {
    match currency {
        // Intl throws on a malformed code (any three letters are well-formed), so check first.
        Some(code) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) => {
            let options = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&options, &"style".into(), &"currency".into());
            let _ = js_sys::Reflect::set(&options, &"currency".into(), &code.into());
            let fmt =
                js_sys::Intl::NumberFormat::new(&js_sys::Array::of1(&"en-US".into()), &options);
            fmt.format()
                .call1(&fmt, &amount.into())
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_else(|| format!("{amount:.2} {code}"))
        }
        Some(code) => format!("{amount:.2} {code}"),
        None => format!("{amount:.2}"),
    }
}
