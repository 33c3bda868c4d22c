//! Parsers for remote racadm's text output (`key = value` lines, grouped in sections for
//! `getsysinfo`, in `----` separated blocks for `swinventory`). Unknown lines are ignored, so
//! a newer racadm that prints more still parses.
use crate::idrac::records::{category_of_fqdd, meaningful, FirmwareComponent, Generation, PowerState};

/// What `racadm getsysinfo` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SysInfo {
    pub rac_firmware_version: Option<String>,
    pub rac_mac: Option<String>,
    pub rac_ip: Option<String>,
    pub model: Option<String>,
    pub bios_version: Option<String>,
    pub service_tag: Option<String>,
    pub host_name: Option<String>,
    pub os_name: Option<String>,
    pub power_state: PowerState,
}

fn key_value(line: &str) -> Option<(&str, &str)> {
    let (k, v) = line.split_once('=')?;
    Some((k.trim(), v.trim()))
}

/// Parse `racadm getsysinfo`.
pub fn parse_getsysinfo(text: &str) -> SysInfo {
    let mut info = SysInfo::default();
    let mut section = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if line.ends_with(':') && !line.contains('=') {
            section = line.trim_end_matches(':').to_ascii_lowercase();
            continue;
        }
        let Some((key, value)) = key_value(line) else { continue };
        let value = meaningful(Some(value));
        match (section.as_str(), key) {
            ("rac information", "Firmware Version") => info.rac_firmware_version = value,
            ("rac information", "MAC Address") => info.rac_mac = value,
            ("ipv4 settings", "Current IP Address") => info.rac_ip = value,
            ("system information", "System Model") => info.model = value,
            ("system information", "System BIOS Version") => info.bios_version = value,
            ("system information", "Service Tag") => info.service_tag = value,
            ("system information", "Host Name") => info.host_name = value,
            ("system information", "OS Name") => info.os_name = value,
            ("system information", "Power Status") => {
                info.power_state = match value.as_deref().map(str::to_ascii_uppercase).as_deref() {
                    Some("ON") => PowerState::On,
                    Some("OFF") => PowerState::Off,
                    _ => PowerState::Unknown,
                }
            }
            _ => {}
        }
    }
    info
}

/// What `racadm getversion` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versions {
    pub bios: Option<String>,
    pub idrac: Option<String>,
    pub lifecycle_controller: Option<String>,
}

/// Parse `racadm getversion`.
pub fn parse_getversion(text: &str) -> Versions {
    let mut v = Versions::default();
    for line in text.lines() {
        let Some((key, value)) = key_value(line) else { continue };
        let value = meaningful(Some(value));
        match key {
            "Bios Version" | "BIOS Version" => v.bios = value,
            "iDRAC Version" => v.idrac = value,
            "Lifecycle Controller Version" | "Lifecycle Controller 2 Version" => v.lifecycle_controller = value,
            _ => {}
        }
    }
    v
}

/// Parse `racadm swinventory`: one block per image; blocks with a `Current Version` are the
/// installed ones (`Rollback Version` / `Available Version` blocks are skipped).
pub fn parse_swinventory(text: &str) -> Vec<FirmwareComponent> {
    let mut out: Vec<FirmwareComponent> = Vec::new();
    let mut block: Vec<(String, String)> = Vec::new();
    let mut flush = |block: &mut Vec<(String, String)>| {
        let get = |k: &str| block.iter().find(|(key, _)| key == k).and_then(|(_, v)| meaningful(Some(v)));
        if let (Some(fqdd), Some(version)) = (get("FQDD"), get("Current Version")) {
            if !out.iter().any(|f| f.fqdd == fqdd) {
                out.push(FirmwareComponent {
                    category: Some(category_of_fqdd(&fqdd).to_owned()),
                    name: get("ElementName").unwrap_or_else(|| fqdd.clone()),
                    component_id: get("ComponentID"),
                    version,
                    updateable: get("Updateable").map(|u| !u.eq_ignore_ascii_case("false")).unwrap_or(true),
                    fqdd,
                });
            }
        }
        block.clear();
    };
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("----") {
            flush(&mut block);
            continue;
        }
        if let Some((k, v)) = key_value(t) {
            block.push((k.to_owned(), v.to_owned()));
        }
    }
    flush(&mut block);
    out.sort_by(|a, b| a.fqdd.cmp(&b.fqdd));
    out
}

/// The iDRAC generation from a PowerEdge model name: the second digit of the number is the
/// server generation (R620 → 12G → iDRAC7, R630 → 13G → iDRAC8, R640/R650/R660 → iDRAC9).
pub fn generation_from_model(model: &str) -> Option<Generation> {
    let name = model.trim().strip_prefix("PowerEdge")?.trim();
    let digits: String =
        name.chars().skip_while(|c| c.is_ascii_alphabetic()).take_while(|c| c.is_ascii_digit()).collect();
    if digits.len() < 3 {
        return None;
    }
    let generation_digit = digits.chars().nth(digits.len() - 2)?.to_digit(10)?;
    Generation::from_server_generation(&format!("1{generation_digit}G"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_numbers_tell_the_generation() {
        assert_eq!(generation_from_model("PowerEdge R620"), Some(Generation::Idrac7));
        assert_eq!(generation_from_model("PowerEdge R730xd"), Some(Generation::Idrac8));
        assert_eq!(generation_from_model("PowerEdge R640"), Some(Generation::Idrac9));
        assert_eq!(generation_from_model("PowerEdge MX750c"), Some(Generation::Idrac9));
        assert_eq!(generation_from_model("ProLiant DL380"), None);
    }
}
