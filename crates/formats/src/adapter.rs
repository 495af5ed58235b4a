//! PEFT adapter directories: `adapter_config.json` beside `adapter_model.safetensors` (or
//! `adapter_model.bin`), as `PeftModel.save_pretrained` writes them. The weights file is read by
//! its own reader; this module reads the config that says how its LoRA factors combine.

use std::path::{Path, PathBuf};

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use crate::FormatError;

/// The adapter's config file name.
pub const CONFIG: &str = "adapter_config.json";
/// The adapter's weights files, in order of preference.
pub const FILES: [&str; 2] = ["adapter_model.safetensors", "adapter_model.bin"];
/// A config larger than this is refused (real ones are a few KB).
const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// What svdiag needs of an adapter's config.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterConfig {
    /// The config file.
    pub path: PathBuf,
    /// `peft_type` (`LORA`; others are listed, not analyzed).
    pub peft_type: String,
    /// The default rank `r`.
    pub r: usize,
    /// The default `lora_alpha`.
    pub lora_alpha: f64,
    /// rsLoRA: the scale is `lora_alpha/√r` instead of `lora_alpha/r`.
    pub use_rslora: bool,
    /// DoRA: the update is rescaled column by column by learned magnitudes.
    pub use_dora: bool,
    /// The base layer stores its weight transposed (`Conv1D`, e.g. GPT-2): `ΔW` is `(s·B·A)ᵀ`.
    pub fan_in_fan_out: bool,
    /// Module-name patterns with their own rank, in the file's order (the first match wins, as in PEFT).
    pub rank_pattern: Vec<(String, usize)>,
    /// Module-name patterns with their own `lora_alpha`, in the file's order.
    pub alpha_pattern: Vec<(String, f64)>,
}

/// A JSON object's entries in the order the file lists them.
struct Ordered<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Ordered(out))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Ordered(Vec::new())) // `null`
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(serde::Deserialize)]
struct Raw {
    peft_type: Option<String>,
    r: Option<usize>,
    lora_alpha: Option<f64>,
    #[serde(default)]
    use_rslora: Option<bool>,
    #[serde(default)]
    use_dora: Option<bool>,
    #[serde(default)]
    fan_in_fan_out: Option<bool>,
    #[serde(default)]
    rank_pattern: Option<Ordered<usize>>,
    #[serde(default)]
    alpha_pattern: Option<Ordered<f64>>,
}

impl AdapterConfig {
    /// Reads and checks `path`. A LoRA config must give `r ≥ 1` and a finite `lora_alpha`; another
    /// `peft_type` is read as far as its name (its tensors are listed, not analyzed).
    pub fn read(path: &Path) -> Result<Self, FormatError> {
        let invalid =
            |reason: String| FormatError::Invalid { path: path.to_path_buf(), format: "PEFT adapter config", reason };
        let io = |source| FormatError::Io { path: path.to_path_buf(), source };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_CONFIG_BYTES {
            return Err(invalid(format!("{len} bytes; a config is at most {MAX_CONFIG_BYTES}")));
        }
        let text = std::fs::read(path).map_err(io)?;
        let raw: Raw = serde_json::from_slice(&text).map_err(|e| invalid(e.to_string()))?;
        let peft_type = raw.peft_type.ok_or_else(|| invalid("no peft_type".into()))?;
        let lora = peft_type == "LORA";
        let r = match raw.r {
            Some(r) if r >= 1 => r,
            Some(_) if lora => return Err(invalid("r must be at least 1".into())),
            None if lora => return Err(invalid("no r (the LoRA rank)".into())),
            _ => 0,
        };
        let lora_alpha = match raw.lora_alpha {
            Some(a) if a.is_finite() => a,
            _ if lora => return Err(invalid("no finite lora_alpha".into())),
            _ => f64::NAN,
        };
        let rank_pattern = raw.rank_pattern.map_or_else(Vec::new, |o| o.0);
        if let Some((key, _)) = rank_pattern.iter().find(|(_, r)| *r == 0) {
            return Err(invalid(format!("rank_pattern gives '{key}' rank 0")));
        }
        let alpha_pattern = raw.alpha_pattern.map_or_else(Vec::new, |o| o.0);
        if let Some((key, _)) = alpha_pattern.iter().find(|(_, a)| !a.is_finite()) {
            return Err(invalid(format!("alpha_pattern gives '{key}' a non-finite alpha")));
        }
        Ok(Self {
            path: path.to_path_buf(),
            peft_type,
            r,
            lora_alpha,
            use_rslora: raw.use_rslora.unwrap_or(false),
            use_dora: raw.use_dora.unwrap_or(false),
            fan_in_fan_out: raw.fan_in_fan_out.unwrap_or(false),
            rank_pattern,
            alpha_pattern,
        })
    }

    /// The scale `s` of `ΔW = s·B·A` for rank `r` and alpha `alpha`: `alpha/r`, or `alpha/√r` with rsLoRA.
    pub fn scale(&self, r: usize, alpha: f64) -> f64 {
        if self.use_rslora {
            alpha / (r as f64).sqrt()
        } else {
            alpha / r as f64
        }
    }
}

/// The adapter config that goes with a checkpoint file: `adapter_config.json` in the same
/// directory, for a file named like an adapter's weights (`adapter_model.*`).
pub fn config_beside(file: &Path) -> Option<PathBuf> {
    let name = file.file_name()?.to_str()?;
    if !FILES.contains(&name) {
        return None;
    }
    let config = file.with_file_name(CONFIG);
    config.is_file().then_some(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join(CONFIG);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_what_peft_writes_and_refuses_what_it_cannot_use() {
        let dir = std::env::temp_dir().join(format!("svdiag-adapter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = write(
            &dir,
            r#"{"peft_type": "LORA", "r": 8, "lora_alpha": 16, "use_rslora": true, "use_dora": false,
                "rank_pattern": {"z.q_proj": 4, "a.q_proj": 2}, "alpha_pattern": {}, "fan_in_fan_out": null,
                "target_modules": ["q_proj"], "task_type": null}"#,
        );
        let c = AdapterConfig::read(&p).unwrap();
        assert_eq!((c.r, c.lora_alpha, c.use_rslora, c.fan_in_fan_out), (8, 16.0, true, false));
        assert_eq!(c.rank_pattern, vec![("z.q_proj".to_string(), 4), ("a.q_proj".to_string(), 2)]);
        assert_eq!(c.scale(4, 16.0), 8.0);
        let ia3 = write(&dir, r#"{"peft_type": "IA3", "target_modules": ["k_proj"]}"#);
        assert_eq!(AdapterConfig::read(&ia3).unwrap().peft_type, "IA3");
        for (text, why) in [
            (r#"{"peft_type": "LORA", "lora_alpha": 16}"#, "no r"),
            (r#"{"peft_type": "LORA", "r": 0, "lora_alpha": 16}"#, "at least 1"),
            (r#"{"peft_type": "LORA", "r": 4}"#, "lora_alpha"),
            (r#"{"r": 4, "lora_alpha": 1}"#, "no peft_type"),
            (r#"{"peft_type": "LORA", "r": 4, "lora_alpha": 1, "rank_pattern": {"x": 0}}"#, "rank 0"),
            (r#"{"peft_type": "LORA", "r": -4"#, "PEFT adapter config"),
        ] {
            let p = write(&dir, text);
            let e = AdapterConfig::read(&p).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("adapter_config.json"), "{text}: {e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
