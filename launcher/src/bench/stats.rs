//! Summaries of repeated measurements: median and range, and ratios of medians.

/// The values one row measured, one per run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples(pub Vec<f64>);

impl Samples {
    pub fn push(&mut self, value: f64) {
        self.0.push(value);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The middle value (the mean of the two middle ones for an even count).
    pub fn median(&self) -> Option<f64> {
        let v = self.sorted();
        let n = v.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(v[n / 2]),
            _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        }
    }

    pub fn min_max(&self) -> Option<(f64, f64)> {
        let v = self.sorted();
        Some((*v.first()?, *v.last()?))
    }

    /// `median unit (min–max)`, each number written by `show`.
    pub fn summary(&self, show: impl Fn(f64) -> String, unit: &str) -> String {
        match (self.median(), self.min_max()) {
            (Some(m), Some((lo, hi))) if self.0.len() > 1 => {
                format!("{} {unit} ({}–{})", show(m), show(lo), show(hi))
            }
            (Some(m), _) => format!("{} {unit}", show(m)),
            _ => "-".to_string(),
        }
    }
}

/// `a / b` of two medians, written as `1.23×`; `-` when either is missing or b is zero.
pub fn ratio(a: &Samples, b: &Samples) -> String {
    match (a.median(), b.median()) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "-".to_string(),
    }
}

/// Milliseconds as seconds with two decimals (the unit is "s").
pub fn seconds(ms: f64) -> String {
    format!("{:.2}", ms / 1000.0)
}

/// Whole milliseconds (the unit is "ms").
pub fn millis(ms: f64) -> String {
    format!("{ms:.0}")
}

/// A fraction as a percentage with two decimals (the unit is "%").
pub fn percent(fraction: f64) -> String {
    format!("{:.2}", fraction * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(Samples(vec![3.0, 1.0, 2.0]).median(), Some(2.0));
        assert_eq!(Samples(vec![4.0, 1.0, 3.0, 2.0]).median(), Some(2.5));
        assert_eq!(Samples::default().median(), None);
    }

    #[test]
    fn summary_and_ratio() {
        let a = Samples(vec![1500.0, 1000.0, 2000.0]);
        assert_eq!(a.summary(seconds, "s"), "1.50 s (1.00–2.00)");
        assert_eq!(Samples(vec![5.0]).summary(millis, "ms"), "5 ms");
        assert_eq!(ratio(&a, &Samples(vec![500.0])), "3.00×");
        assert_eq!(ratio(&a, &Samples::default()), "-");
    }
}
