//! The numbers of a day, one slot per [`Measure`] of the field table.

use super::rules::{MEASURES, Measure, NumberRule, Unrecorded};

/// A day's measures. A measure whose unrecorded value is 0 ([`Unrecorded::Zero`]) always holds a
/// number; the others hold `None` until recorded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measures([Option<f64>; Measure::COUNT]);

impl Default for Measures {
    fn default() -> Self {
        Self(MEASURES.map(|spec| match spec.unrecorded {
            Unrecorded::Zero => Some(0.0),
            Unrecorded::Null => None,
        }))
    }
}

impl Measures {
    pub fn get(&self, measure: Measure) -> Option<f64> {
        self.0[measure as usize]
    }

    /// 0 when not recorded.
    pub fn figure(&self, measure: Measure) -> f64 {
        self.get(measure).unwrap_or(0.0)
    }

    /// Records `value` (`None`: not recorded, which is 0 for the old backend's fields).
    pub fn set(&mut self, measure: Measure, value: Option<f64>) {
        self.0[measure as usize] = match (value, measure.spec().unrecorded) {
            (None, Unrecorded::Zero) => Some(0.0),
            (value, _) => value,
        };
    }

    /// Builder form of [`Measures::set`].
    pub fn with(mut self, measure: Measure, value: f64) -> Self {
        self.set(measure, Some(value));
        self
    }

    /// Every measure with its value, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (Measure, Option<f64>)> + '_ {
        Measure::all().map(|measure| (measure, self.get(measure)))
    }

    /// Every measure set to a value its rule allows, with a fraction where one is allowed: what the
    /// document format's fingerprint renders.
    pub(super) fn sample() -> Self {
        let mut measures = Self::default();
        for spec in &MEASURES {
            let value = match spec.rule {
                NumberRule::Integer(rule) => rule.max as f64,
                NumberRule::Decimal(rule) => rule.max as f64 - 0.5,
            };
            measures.set(spec.measure, Some(value));
        }
        measures
    }
}
