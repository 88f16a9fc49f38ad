//! Reading Kubernetes quantities (`1Gi`, `500M`, `1.5Ti`) as numbers, to compare sizes.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// The number of bytes (or units) `quantity` stands for; `None` when it is not a quantity.
pub fn bytes(quantity: &Quantity) -> Option<f64> {
    let text = quantity.0.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let multiplier = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    Some(number * multiplier)
}

#[cfg(test)]
mod tests {
    use super::bytes;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn of(text: &str) -> Option<f64> {
        bytes(&Quantity(text.into()))
    }

    #[test]
    fn suffixes_multiply() {
        assert_eq!(of("1Gi"), Some(1_073_741_824.0));
        assert_eq!(of("1536Mi"), Some(1_610_612_736.0));
        assert_eq!(of("2G"), Some(2e9));
        assert_eq!(of("1e3"), Some(1000.0));
        assert_eq!(of("100"), Some(100.0));
        assert_eq!(of("250m"), Some(0.25));
        assert_eq!(of("1.5Ki"), Some(1536.0));
        assert_eq!(of("1Xi"), None);
        assert_eq!(of("Gi"), None);
    }
}
