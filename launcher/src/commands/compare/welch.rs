//! Welch's t-test: whether two samples' means differ by more than their spread
//! explains, without assuming equal variances (repeats of two schedulers or kernels
//! rarely have them).

use std::f64::consts::PI;

/// Continued-fraction steps and tolerance of the incomplete beta function.
const MAX_STEPS: usize = 300;
const EPSILON: f64 = 1e-12;
const TINY: f64 = 1e-300;

/// The two-sided p-value of Welch's test of `a` against `b`; None when a side has
/// fewer than two values (no spread to judge by).
pub fn p_value(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (ma, va) = mean_variance(a);
    let (mb, vb) = mean_variance(b);
    let (sa, sb) = (va / a.len() as f64, vb / b.len() as f64);
    let se2 = sa + sb;
    if se2 == 0.0 {
        // No spread on either side: any difference is beyond it.
        return Some(if ma == mb { 1.0 } else { 0.0 });
    }
    let t = (mb - ma) / se2.sqrt();
    let df = se2 * se2 / (sa * sa / (a.len() as f64 - 1.0) + sb * sb / (b.len() as f64 - 1.0));
    Some(two_sided(t, df))
}

pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Mean and sample variance (n - 1).
fn mean_variance(values: &[f64]) -> (f64, f64) {
    let m = mean(values);
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    (m, ss / (values.len() as f64 - 1.0))
}

/// P(|T| >= |t|) for Student's t with `df` degrees of freedom.
fn two_sided(t: f64, df: f64) -> f64 {
    incomplete_beta(df / 2.0, 0.5, df / (df + t * t)).clamp(0.0, 1.0)
}

/// The regularized incomplete beta function I_x(a, b).
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of I_x(a, b), by the modified Lentz method.
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    let nonzero = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / nonzero(1.0 - (a + b) * x / (a + 1.0));
    let mut h = d;
    for m in 1..=MAX_STEPS {
        let m = m as f64;
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / nonzero(1.0 + even * d);
        c = nonzero(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / nonzero(1.0 + odd * d);
        c = nonzero(1.0 + odd / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < EPSILON {
            break;
        }
    }
    h
}

/// ln Γ(x), by Lanczos' approximation (g = 7, 9 terms).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const TERMS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return PI.ln() - (PI * x).sin().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + G + 0.5;
    let sum = TERMS[1..]
        .iter()
        .enumerate()
        .fold(TERMS[0], |s, (i, c)| s + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() < tolerance
    }

    #[test]
    fn student_t_matches_its_tables() {
        // Two-sided 5 % critical values: df 1 → 12.706, df 10 → 2.228, df 30 → 2.042.
        assert!(close(two_sided(12.706, 1.0), 0.05, 1e-4));
        assert!(close(two_sided(2.228, 10.0), 0.05, 1e-4));
        assert!(close(two_sided(2.042, 30.0), 0.05, 1e-4));
        assert!(close(two_sided(0.0, 5.0), 1.0, 1e-9));
        assert!(close(ln_gamma(5.0), 24f64.ln(), 1e-10));
    }

    #[test]
    fn welch_tells_a_shift_from_noise() {
        let a = [100.0, 104.0, 98.0, 101.0];
        assert!(p_value(&a, &[160.0, 158.0, 163.0, 161.0]).unwrap() < 0.001);
        assert!(p_value(&a, &[99.0, 103.0, 100.0, 102.0]).unwrap() > 0.5);
        assert_eq!(p_value(&a, &[1.0]), None);
        assert_eq!(p_value(&[3.0, 3.0], &[3.0, 3.0]), Some(1.0));
        assert_eq!(p_value(&[3.0, 3.0], &[4.0, 4.0]), Some(0.0));
    }
}
