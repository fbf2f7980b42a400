//! The languages receivers speak.

use super::*;

/// The language of a message people read (`locale` of a receiver, `[daemon] locale`,
/// `preview --locale`): every built-in text comes in each. Log events are not translated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Locale {
    /// `en`
    #[default]
    En,
    /// `zh-CN`: Simplified Chinese, in Huawei Cloud's console terms.
    ZhCn,
}

impl Locale {
    /// Every locale, the default first.
    pub const ALL: [Locale; 2] = [Locale::En, Locale::ZhCn];

    /// The name the config and the command line use (a BCP 47 tag).
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

    /// The locale a name stands for, exactly as [`Locale::as_str`] writes it.
    pub fn from_name(name: &str) -> Option<Locale> {
        Locale::ALL.into_iter().find(|l| l.as_str() == name)
    }

    /// `en, zh-CN`: for error messages.
    pub fn names() -> String {
        Locale::ALL.map(Locale::as_str).join(", ")
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Locale {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
